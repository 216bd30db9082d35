package resource

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/clinikapi/clinikapi/internal/fhir/definitions"
	"github.com/clinikapi/clinikapi/internal/fhir/validate"
)

// A synthesized round trip: a body with every field of a declaration,
// each value made from its contract schema and the R4 JSON schema of the
// element it maps to (a date where R4 wants a date, the first code of an
// enum), must convert to valid R4 and read back to itself. It is the
// check a generated declaration passes before it is routed.

type fhirNode struct {
	Ref        string               `json:"$ref"`
	Type       string               `json:"type"`
	Pattern    string               `json:"pattern"`
	Enum       []string             `json:"enum"`
	Items      *fhirNode            `json:"items"`
	Properties map[string]*fhirNode `json:"properties"`
}

var fhirDefs = func() map[string]*fhirNode {
	var s struct {
		Definitions map[string]*fhirNode `json:"definitions"`
	}
	if err := json.Unmarshal(definitions.Schema, &s); err != nil {
		panic(err)
	}
	return s.Definitions
}()

// deref follows $refs and array items to an element's definition.
func deref(n *fhirNode) *fhirNode {
	for n != nil {
		switch {
		case n.Items != nil:
			n = n.Items
		case n.Ref != "":
			n = fhirDefs[strings.TrimPrefix(n.Ref, "#/definitions/")]
		default:
			return n
		}
	}
	return nil
}

// at is the R4 schema of the element at a field path below n.
func at(n *fhirNode, path string) *fhirNode {
	for _, seg := range elements(path) {
		n = deref(n)
		if n == nil {
			return nil
		}
		n = n.Properties[seg]
	}
	return n
}

var sampleStrings = []string{"Sample text", "sample", "http://example.org/sample", "2026-01-02T10:00:00Z", "2026-01-02", "10:00:00", "c2FtcGxl"}

func sampleString(n *fhirNode) string {
	if n = deref(n); n == nil {
		return "Sample text"
	}
	if len(n.Enum) > 0 {
		return n.Enum[0]
	}
	re, err := regexp.Compile(n.Pattern)
	if n.Pattern == "" || err != nil {
		return "Sample text"
	}
	for _, s := range sampleStrings {
		if re.MatchString(s) {
			return s
		}
	}
	return "Sample text"
}

// sampleValue is a value of contract schema s for the R4 element n.
func sampleValue(s *openapi3.Schema, n *fhirNode) any {
	switch {
	case len(s.Enum) > 0:
		return s.Enum[0]
	case len(s.OneOf) > 0:
		return sampleValue(s.OneOf[0].Value, n)
	case s.Type.Is(openapi3.TypeObject) || len(s.Properties) > 0:
		out := map[string]any{}
		for name, p := range s.Properties {
			var pn *fhirNode
			if d := deref(n); d != nil {
				pn = d.Properties[name]
			}
			out[name] = sampleValue(p.Value, pn)
		}
		return out
	case s.Type.Is(openapi3.TypeArray):
		return []any{sampleValue(s.Items.Value, n)}
	case s.Type.Is(openapi3.TypeInteger), s.Type.Is(openapi3.TypeNumber):
		return 1.0
	case s.Type.Is(openapi3.TypeBoolean):
		return true
	}
	switch s.Format {
	case "email":
		return "a@example.org"
	case "date":
		return "2026-01-02"
	case "date-time":
		return "2026-01-02T10:00:00Z"
	}
	return fit(s, sampleString(n))
}

// fit cuts a sample string to the contract's maxLength.
func fit(s *openapi3.Schema, v string) string {
	if s.MaxLength != nil && uint64(len(v)) > *s.MaxLength {
		return v[:*s.MaxLength]
	}
	return v
}

func sampleCode(s *openapi3.Schema) any {
	switch {
	case len(s.Enum) > 0:
		return s.Enum[0]
	case len(s.OneOf) > 0:
		return sampleCode(s.OneOf[0].Value)
	case len(s.Properties) > 0:
		return map[string]any{"system": "http://example.org/codes", "code": "c1", "display": "Sample"}
	}
	return fit(s, "Sample text")
}

// sampleBody makes a body with every field of fields (Self lists left
// out) from the contract schema s; n is the R4 schema of their element.
func sampleBody(fields []Field, s *openapi3.Schema, n *fhirNode) map[string]any {
	out := map[string]any{}
	for _, f := range fields {
		ps := s.Properties[f.Name]
		if ps == nil || ps.Value == nil || f.Self {
			continue
		}
		p := ps.Value
		// A value or a list of values: the list.
		for _, alt := range p.OneOf {
			if alt.Value != nil && alt.Value.Type.Is(openapi3.TypeArray) {
				p = alt.Value
			}
		}
		list := p.Type.Is(openapi3.TypeArray) && p.Items != nil
		var v any
		switch f.Kind {
		case Ref, Canonical:
			v = "x-1"
		case Refs:
			v = []any{"x-1"}
		case Concept, Coding:
			v = sampleCode(p)
		case Concepts, Codings:
			if list {
				v = []any{sampleCode(p.Items.Value)}
			} else {
				v = sampleCode(p)
			}
		case Quantity:
			v = 1.0
		case Base64, Narrative:
			v = "Sample text"
		case Object:
			v = sampleBody(f.Fields, p, at(n, f.Path))
		case List:
			if !list {
				continue
			}
			v = []any{sampleBody(f.Fields, p.Items.Value, at(n, f.Path))}
		default:
			v = sampleValue(p, at(n, f.Path))
		}
		out[f.Name] = v
	}
	return out
}

// roundTrip converts a synthesized body of d to FHIR and back.
func roundTrip(d *Def) error {
	s, ok := DefaultContract().Schema(d.Schema)
	if !ok {
		return fmt.Errorf("no contract schema %s", d.Schema)
	}
	body := sampleBody(d.Fields, s, fhirDefs[d.Type])
	// Choice variants: one of each group.
	for _, g := range d.Exclusive {
		for _, name := range g[1:] {
			delete(body, name)
		}
	}
	for _, g := range d.Conflicts {
		for _, name := range g[1:] {
			delete(body, name)
		}
	}
	if is := DefaultContract().Validate(d.Schema, body); len(is) > 0 {
		return fmt.Errorf("the synthesized body does not match %s: %v", d.Schema, is)
	}
	res, is := d.ToFHIR(body, testNow)
	if len(is) > 0 {
		return fmt.Errorf("ToFHIR: %v", is)
	}
	if is := validate.Default().ValidateValue(d.Type, map[string]any(res)); len(is) > 0 {
		return fmt.Errorf("not valid R4: %v", is)
	}
	want := map[string]any{}
	for k, x := range body {
		want[k] = x
	}
	for _, f := range d.Fields {
		if _, ok := body[f.Name]; !ok && f.Default != nil {
			want[f.Name] = f.Default
			if f.Default == Now {
				want[f.Name] = testNow.Format(time.RFC3339)
			}
		}
	}
	got := d.ToSimple(res)
	if !reflect.DeepEqual(normalize(got), normalize(want)) {
		var diffs []string
		for k := range want {
			if g, w := marshal(got[k]), marshal(want[k]); g != w {
				diffs = append(diffs, fmt.Sprintf("%s: got %s, want %s", k, g, w))
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s: got %s, want nothing", k, marshal(got[k])))
			}
		}
		slices.Sort(diffs)
		return fmt.Errorf("reads back differently: %s", strings.Join(diffs, "; "))
	}
	return nil
}

// TestGeneratedRoundTrips runs the synthesized round trip over every
// declaration: the routed ones must pass it; for the others it says which
// could be routed as they are and what stops the rest (go test -v).
func TestGeneratedRoundTrips(t *testing.T) {
	var ready []string
	for _, d := range Generated {
		routed := slices.Contains(All, d)
		if u := d.Unmapped(); len(u) > 0 {
			if routed {
				t.Errorf("%s: routed with unmapped %v", d.Path, u)
			}
			t.Logf("%s: unmapped %s", d.Path, strings.Join(u, ", "))
			continue
		}
		err := roundTrip(d)
		switch {
		case err != nil && routed:
			t.Errorf("%s: %v", d.Path, err)
		case err != nil:
			t.Logf("%s: maps every field, but %v", d.Path, err)
		case !routed:
			ready = append(ready, d.Path)
		}
	}
	t.Logf("not routed, every field mapped and the round trip passes: %d (%s)", len(ready), strings.Join(ready, ", "))
}
