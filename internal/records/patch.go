package records

import (
	"encoding/json"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/fhir"
)

// MaxPatchOps bounds the operations of one JSON Patch.
const MaxPatchOps = 1000

// ApplyPatch applies a JSON Patch document (RFC 6902) to a resource.
func ApplyPatch(doc, patch []byte) (fhir.Resource, error) {
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		return nil, &errs.Error{Code: errs.Invalid, Reason: errs.ReasonInvalidJSON, Message: "The body is not a JSON Patch array of operations."}
	}
	if len(p) > MaxPatchOps {
		return nil, &errs.Error{Code: errs.Invalid, Reason: errs.ReasonValidation, Message: "A JSON Patch may hold at most 1,000 operations."}
	}
	out, err := p.ApplyWithOptions(doc, &jsonpatch.ApplyOptions{SupportNegativeIndices: false, AccumulatedCopySizeLimit: 1 << 20})
	if err != nil {
		return nil, &errs.Error{Code: errs.Invalid, Reason: errs.ReasonValidation, Message: "The JSON Patch cannot be applied: a path does not exist or a test failed."}
	}
	var r fhir.Resource
	if err := json.Unmarshal(out, &r); err != nil || r == nil {
		return nil, &errs.Error{Code: errs.Invalid, Reason: errs.ReasonValidation, Message: "The patched document is not a JSON object."}
	}
	return r, nil
}
