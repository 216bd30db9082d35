package store

import (
	"encoding/json"
	"testing"
)

// detailJSON writes what encoding/json writes, plain maps or not.
func TestDetailJSONMatchesEncodingJSON(t *testing.T) {
	for _, d := range []map[string]string{
		nil,
		{"env": "test"},
		{"env": "live", "prefix": "clk_live_AbCd", "grace": "1h"},
		{"reason": `quote " and \ backslash`},
		{"name": "<script>&", "ctl": "a\nb\tc"},
		{"name": "Zoë 東京"},
	} {
		got, err := detailJSON(d)
		if err != nil {
			t.Fatal(err)
		}
		want := "{}"
		if len(d) > 0 {
			b, _ := json.Marshal(d)
			want = string(b)
		}
		if got != want {
			t.Errorf("detailJSON(%v) = %s, want %s", d, got, want)
		}
	}
}
