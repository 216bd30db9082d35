package store

import (
	"bytes"
	"testing"
	"time"
)

func TestCopyWriter(t *testing.T) {
	for _, c := range []struct {
		name  string
		write func(w rowWriter)
		want  []byte
	}{
		{"text", func(w rowWriter) { w.text("ab") }, []byte{0, 0, 0, 2, 'a', 'b'}},
		{"empty text", func(w rowWriter) { w.text("") }, []byte{0, 0, 0, 0}},
		{"NULL", func(w rowWriter) { w.nullText("") }, []byte{0xff, 0xff, 0xff, 0xff}},
		{"nullable text", func(w rowWriter) { w.nullText("x") }, []byte{0, 0, 0, 1, 'x'}},
		{"integer", func(w rowWriter) { w.int4(-2) }, []byte{0, 0, 0, 4, 0xff, 0xff, 0xff, 0xfe}},
		{"bigint", func(w rowWriter) { w.int8(258) }, []byte{0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 1, 2}},
		// Microseconds from PostgreSQL's epoch, 2000-01-01 UTC, either side.
		{"time after the epoch", func(w rowWriter) { w.time(time.Date(2000, 1, 1, 0, 0, 0, 1000, time.UTC)) }, []byte{0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1}},
		{"time before it", func(w rowWriter) { w.time(time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC)) },
			[]byte{0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	} {
		w := &copyWriter{}
		c.write(w)
		if !bytes.Equal(w.b, c.want) {
			t.Errorf("%s: %v, want %v", c.name, w.b, c.want)
		}
	}
	// The same row as statement arguments: NULL as nil.
	a := &argsWriter{}
	a.nullText("")
	a.nullText("x")
	a.int4(3)
	if len(a.args) != 3 || a.args[0] != nil || a.args[1] != "x" || a.args[2] != int32(3) {
		t.Errorf("argsWriter = %#v", a.args)
	}
}
