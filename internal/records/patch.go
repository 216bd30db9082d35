package records

import (
	"encoding/json"
	"strconv"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/fhir"
)

// MaxPatchOps bounds the operations of one JSON Patch.
const MaxPatchOps = 1000

// patchOps are the operations of RFC 6902, and whether each has a from.
var patchOps = map[string]bool{"add": false, "remove": false, "replace": false, "move": true, "copy": true, "test": false}

// checkPatch checks every operation before any is applied: a known op, and
// paths that point inside the resource ("/…"; the empty path, the whole
// document, is not something a patch of a resource may touch).
func checkPatch(p jsonpatch.Patch) error {
	for i, op := range p {
		name := op.Kind()
		hasFrom, ok := patchOps[name]
		if !ok {
			return invalidOp(i, `"op" must be one of add, remove, replace, move, copy, test`)
		}
		if path, err := op.Path(); err != nil || !strings.HasPrefix(path, "/") {
			return invalidOp(i, `"path" must be a JSON Pointer into the resource, starting with /`)
		}
		if hasFrom {
			if from, err := op.From(); err != nil || !strings.HasPrefix(from, "/") {
				return invalidOp(i, `"from" must be a JSON Pointer into the resource, starting with /`)
			}
		}
	}
	return nil
}

func invalidOp(i int, rule string) error {
	return &errs.Error{Code: errs.Invalid, Reason: errs.ReasonValidation, Message: "JSON Patch operation " + strconv.Itoa(i) + ": " + rule + "."}
}

// ApplyPatch applies a JSON Patch document (RFC 6902) to a resource.
func ApplyPatch(doc, patch []byte) (fhir.Resource, error) {
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		return nil, &errs.Error{Code: errs.Invalid, Reason: errs.ReasonInvalidJSON, Message: "The body is not a JSON Patch array of operations."}
	}
	if len(p) > MaxPatchOps {
		return nil, &errs.Error{Code: errs.Invalid, Reason: errs.ReasonValidation, Message: "A JSON Patch may hold at most 1,000 operations."}
	}
	if err := checkPatch(p); err != nil {
		return nil, err
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
