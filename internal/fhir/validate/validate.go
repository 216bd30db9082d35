// Package validate checks FHIR R4 resources against the R4 JSON schema
// (definitions.Schema) plus rules the schema lacks, and reports what is wrong
// as paths and constraints that never contain the offending values: a value
// in a clinical resource may be PHI, and VALIDATION_ERROR bodies and logs
// must not carry it (README.md, "Design rules": no PHI outside the datastore).
//
// A Validator is safe for concurrent use. The schema of each resource type
// is compiled on first use and cached; Precompile compiles them up front.
//
//	v := validate.Default()
//	if issues := v.Validate("Patient", body); issues != nil {
//		// 422: for each issue, issue.Path and issue.Constraint (or String()).
//	}
package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/clinikapi/clinikapi/internal/fhir/definitions"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// MaxIssues is the most issues Validate reports one by one; past it, a final
// issue says how many more there were.
const MaxIssues = 20

// Issue is one reason a resource is invalid. It names where (Path) and which
// rule (Constraint); it never contains a value taken from the resource, apart
// from element names that are valid FHIR element names (an unknown element is
// reported by its name, e.g. "Patient.birthdate: is not allowed").
type Issue struct {
	// Path is a FHIRPath-like location: "Patient.name[0].given[1]",
	// "Observation.status", "resourceType". Empty for the document itself.
	Path string
	// Constraint says what the element must be: "is required", "must be a
	// string", "is not allowed", "must be one of: male, female, other,
	// unknown", "must be a valid date (YYYY, YYYY-MM or YYYY-MM-DD)".
	Constraint string
	// Code is the FHIR IssueType for an OperationOutcome.issue.code:
	// "structure" (wrong JSON type, unknown element, not JSON), "required",
	// "value" (pattern, enum, range, empty), "not-supported" (unknown
	// resource type), "informational" (the "N more issues" summary that
	// follows MaxIssues issues: severity information, not error) or
	// "exception" (the schema could not be compiled: a bug, not the client's).
	Code string
}

// String renders the issue as "Path: Constraint" (or just the constraint
// when there is no path), suitable for OperationOutcome diagnostics.
func (i Issue) String() string {
	if i.Path == "" {
		return i.Constraint
	}
	return i.Path + ": " + i.Constraint
}

// Validator validates resources against the R4 schema.
type Validator struct {
	mu       sync.Mutex // serialises compiler use
	compiler *jsonschema.Compiler
	// schemas has one slot per R4 resource type, filled on first use; the
	// map itself is never written after New.
	schemas map[string]*atomic.Pointer[jsonschema.Schema]
	// prims maps a primitive type's pattern to the type's name.
	prims map[string]string
}

// New prepares the embedded R4 schema (about 160 ms and 9 MB kept). It
// compiles the definitions every resource shares (data types, Meta,
// Extension, …) through Patient, the type most used; every other type
// compiles on first use (about 1 ms each) or with Precompile (about 100 ms
// and 16 MB more for all of them).
func New() (*Validator, error) {
	doc, prims, err := prepareSchema(definitions.Schema)
	if err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	v := &Validator{
		schemas: make(map[string]*atomic.Pointer[jsonschema.Schema], len(resourceTypes)),
		prims:   prims,
	}
	for _, t := range resourceTypes {
		v.schemas[t] = new(atomic.Pointer[jsonschema.Schema])
	}
	v.compiler, err = newCompiler(doc, prims, v.compileVocab)
	if err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	if _, err := v.schema("Patient"); err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	return v, nil
}

var (
	defaultOnce      sync.Once
	defaultValidator *Validator
	defaultErr       error
)

// Default returns a process-wide Validator, created on first call. The
// schema is embedded and covered by this package's tests, so failing to
// build it is a programming error: Default panics then.
func Default() *Validator {
	defaultOnce.Do(func() {
		defaultValidator, defaultErr = New()
	})
	if defaultErr != nil {
		panic(defaultErr)
	}
	return defaultValidator
}

// Precompile compiles the schemas of the given resource types now (all R4
// types when none are given), so that no request pays for it later. Unknown
// types are an error.
func (v *Validator) Precompile(types ...string) error {
	if len(types) == 0 {
		types = resourceTypes[:]
	}
	for _, t := range types {
		if !IsResourceType(t) {
			return fmt.Errorf("validate: %q is not a FHIR R4 resource type", t)
		}
		if _, err := v.schema(t); err != nil {
			return fmt.Errorf("validate: %w", err)
		}
	}
	return nil
}

// schema returns the compiled schema of an R4 resource type.
func (v *Validator) schema(resourceType string) (*jsonschema.Schema, error) {
	slot := v.schemas[resourceType]
	if slot == nil {
		return nil, fmt.Errorf("%q is not a FHIR R4 resource type", resourceType)
	}
	if s := slot.Load(); s != nil {
		return s, nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if s := slot.Load(); s != nil {
		return s, nil
	}
	s, err := v.compiler.Compile(schemaURL + "#/definitions/" + resourceType)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", resourceType, err)
	}
	slot.Store(s)
	return s, nil
}

// ValidateJSON validates a JSON resource of whatever type it declares.
func (v *Validator) ValidateJSON(body []byte) []Issue {
	return v.Validate("", body)
}

// Validate validates a JSON resource that must be of resourceType (any R4
// type when resourceType is ""). It returns nil when the resource is valid.
// A body that is not JSON gives a single issue with Code "structure"; the
// API maps INVALID_JSON before calling this, so that should not happen.
func (v *Validator) Validate(resourceType string, body []byte) []Issue {
	value, err := decodeJSON(body)
	if err != nil {
		return []Issue{{Path: "", Constraint: "must be a single valid JSON value", Code: "structure"}}
	}
	return v.validate(resourceType, value)
}

// ValidateValue validates a decoded resource (fhir.Resource, or anything
// encoding/json can marshal to an object) that must be of resourceType (any
// R4 type when resourceType is ""). It returns nil when the resource is
// valid. Values decoded by encoding/json (with or without UseNumber) are
// validated as they are; other Go types (structs, []string, …) are
// converted through encoding/json first.
func (v *Validator) ValidateValue(resourceType string, value any) []Issue {
	if !plainJSON(value, 0) {
		b, err := json.Marshal(value)
		if err != nil {
			return []Issue{{Path: "", Constraint: "cannot be represented as JSON", Code: "structure"}}
		}
		if value, err = decodeJSON(b); err != nil {
			return []Issue{{Path: "", Constraint: "cannot be represented as JSON", Code: "structure"}}
		}
	}
	return v.validate(resourceType, value)
}

func (v *Validator) validate(want string, value any) []Issue {
	obj, ok := value.(map[string]any)
	if !ok {
		return []Issue{{Path: "", Constraint: "must be a JSON object (a FHIR resource)", Code: "structure"}}
	}
	if want != "" && !IsResourceType(want) {
		return []Issue{{Path: "resourceType", Constraint: "must be a FHIR R4 resource type", Code: "not-supported"}}
	}
	rtv, present := obj["resourceType"]
	rt, isString := rtv.(string)
	switch {
	case !present:
		return []Issue{{Path: "resourceType", Constraint: "is required", Code: "required"}}
	case !isString:
		return []Issue{{Path: "resourceType", Constraint: "must be a string", Code: "structure"}}
	case want != "" && rt != want:
		return []Issue{{Path: "resourceType", Constraint: "must be " + want, Code: "value"}}
	case !IsResourceType(rt):
		return []Issue{{Path: "resourceType", Constraint: "must be a FHIR R4 resource type", Code: "not-supported"}}
	}
	sch, err := v.schema(rt)
	if err != nil {
		return []Issue{{Path: rt, Constraint: "cannot be validated: the server's schema for this type failed to compile", Code: "exception"}}
	}
	err = sch.Validate(obj)
	if err == nil {
		return nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return []Issue{{Path: rt, Constraint: "cannot be validated", Code: "exception"}}
	}
	return issuesFrom(rt, obj, verr, v.prims)
}

// decodeJSON decodes exactly one JSON value, numbers as json.Number.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	return v, nil
}

// plainJSON reports whether x is made only of the types encoding/json
// decodes into any (the only ones the schema validator understands).
func plainJSON(x any, depth int) bool {
	if depth > 10000 {
		return false
	}
	switch x := x.(type) {
	case nil, bool, string, float64, json.Number:
		return true
	case map[string]any:
		for _, e := range x {
			if !plainJSON(e, depth+1) {
				return false
			}
		}
		return true
	case []any:
		for _, e := range x {
			if !plainJSON(e, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}
