package api

import (
	"errors"
	"testing"
)

// FuzzApplyPatch: any patch on any document either applies or fails with a
// 4xx API error — never a panic or a 500.
func FuzzApplyPatch(f *testing.F) {
	doc := `{"resourceType":"Patient","id":"p1","name":[{"family":"A","given":["B","C"]}],"meta":{"tag":[{"system":"https://clinikapi.com/tenant","code":"org_x"}]}}`
	for _, p := range []string{
		`[{"op":"replace","path":"/name/0/family","value":"Z"}]`,
		`[{"op":"remove","path":"/meta/tag/0"}]`,
		`[{"op":"add","path":"/name/-","value":{"family":"Q"}}]`,
		`[{"op":"copy","from":"/name","path":"/name2"}]`,
		`[{"op":"move","from":"/name/0","path":"/name/1"}]`,
		`[{"op":"test","path":"/id","value":"p2"}]`,
		`{"op":"replace"}`, `[]`, `[{"op":"replace","path":"/name/-1","value":1}]`, `not json`,
	} {
		f.Add(doc, p)
	}
	f.Fuzz(func(t *testing.T, doc, patch string) {
		_, err := ApplyPatch([]byte(doc), []byte(patch))
		if err == nil {
			return
		}
		var ae *Error
		if !errors.As(err, &ae) || ae.Status < 400 || ae.Status >= 500 {
			t.Fatalf("patch failure is not a 4xx API error: %v", err)
		}
	})
}
