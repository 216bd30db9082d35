package store

import (
	"bytes"
	"testing"
	"time"
)

func TestAppendCopyValue(t *testing.T) {
	for _, c := range []struct {
		v    any
		want []byte
	}{
		{nil, []byte{0xff, 0xff, 0xff, 0xff}},
		{"ab", []byte{0, 0, 0, 2, 'a', 'b'}},
		{"", []byte{0, 0, 0, 0}},
		{int32(-2), []byte{0, 0, 0, 4, 0xff, 0xff, 0xff, 0xfe}},
		{int64(258), []byte{0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 1, 2}},
		{true, []byte{0, 0, 0, 1, 1}},
		{time.Date(2000, 1, 1, 0, 0, 0, 1000, time.UTC), []byte{0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1}}, // 1 µs after PostgreSQL's epoch
		{time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC), []byte{0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	} {
		got, err := appendCopyValue(nil, c.v)
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("appendCopyValue(%#v) = %v, %v; want %v", c.v, got, err, c.want)
		}
	}
	// A value of no fixed width is refused, not guessed.
	if _, err := appendCopyValue(nil, 7); err == nil {
		t.Error("appendCopyValue(int) did not fail")
	}
}
