package records

import (
	"testing"

	"github.com/clinikapi/clinikapi/internal/errs"
)

// FuzzApplyPatch: any patch on any document either applies or fails with a
// client error (errs.Invalid, answered 400 or 422) — never a panic or an
// internal error.
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
		`[{"op":"test","path":""}]`, `[{"op":"copy","from":"","path":"/x"}]`, `[{"op":"bogus","path":"/id"}]`,
	} {
		f.Add(doc, p)
	}
	f.Fuzz(func(t *testing.T, doc, patch string) {
		_, err := ApplyPatch([]byte(doc), []byte(patch))
		if err == nil {
			return
		}
		if !errs.Is(err, errs.Invalid) {
			t.Fatalf("patch failure is not an input error: %v", err)
		}
		if r := errs.ReasonOf(err); r != errs.ReasonInvalidJSON && r != errs.ReasonValidation {
			t.Fatalf("patch failure has reason %q, want INVALID_JSON or VALIDATION_ERROR", r)
		}
	})
}
