package searchparam

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/clinikapi/clinikapi/internal/fhir"
	"github.com/clinikapi/clinikapi/internal/fhir/definitions"
)

func TestRegistryFor(t *testing.T) {
	r := Default()
	patient := r.For("Patient")
	for _, code := range []string{"_id", "_lastUpdated", "_tag", "_profile", "_security", "_source",
		"name", "family", "given", "birthdate", "gender", "identifier", "telecom", "email", "phone",
		"address", "address-city", "deceased", "death-date", "general-practitioner", "organization"} {
		if _, ok := patient[code]; !ok {
			t.Errorf("For(Patient) lacks %s", code)
		}
	}
	for _, code := range []string{"_text", "_content", "_query", "_list", "_has", "near"} {
		if _, ok := patient[code]; ok {
			t.Errorf("For(Patient) has unsupported %s", code)
		}
	}
	tests := []struct {
		typ, code string
		want      fhir.SearchParam
	}{
		{"Patient", "name", fhir.SearchParam{Code: "name", Type: fhir.String, Expression: "Patient.name"}},
		{"Practitioner", "family", fhir.SearchParam{Code: "family", Type: fhir.String, Expression: "Practitioner.name.family"}},
		{"Patient", "_id", fhir.SearchParam{Code: "_id", Type: fhir.Token, Expression: "Resource.id"}},
		{"Binary", "_lastUpdated", fhir.SearchParam{Code: "_lastUpdated", Type: fhir.Date, Expression: "Resource.meta.lastUpdated"}},
		{"Observation", "value-quantity", fhir.SearchParam{Code: "value-quantity", Type: fhir.Quantity,
			Expression: "(Observation.value.ofType(Quantity)) | (Observation.value.ofType(SampledData))"}},
		{"Observation", "patient", fhir.SearchParam{Code: "patient", Type: fhir.Reference,
			Expression: "Observation.subject.where(resolve() is Patient)", Targets: []string{"Patient"}}},
		{"Patient", "deceased", fhir.SearchParam{Code: "deceased", Type: fhir.Token,
			Expression: "Patient.deceased.exists() and Patient.deceased != false"}},
		{"MedicationRequest", "code", fhir.SearchParam{Code: "code", Type: fhir.Token,
			Expression: "(MedicationRequest.medication.ofType(CodeableConcept))"}},
		{"Encounter", "date", fhir.SearchParam{Code: "date", Type: fhir.Date, Expression: "Encounter.period"}},
	}
	for _, tt := range tests {
		got, ok := r.Lookup(tt.typ, tt.code)
		if !ok {
			t.Errorf("Lookup(%s, %s): not found", tt.typ, tt.code)
			continue
		}
		if got.Code != tt.want.Code || got.Type != tt.want.Type || got.Expression != tt.want.Expression ||
			(tt.want.Targets != nil && !slices.Equal(got.Targets, tt.want.Targets)) {
			t.Errorf("Lookup(%s, %s) = %+v, want %+v", tt.typ, tt.code, got, tt.want)
		}
	}
	if sp, _ := r.Lookup("Observation", "subject"); !slices.Contains(sp.Targets, "Patient") || !slices.Contains(sp.Targets, "Group") {
		t.Errorf("Observation subject targets = %v", sp.Targets)
	}
	// For returns a copy.
	delete(patient, "name")
	if _, ok := r.Lookup("Patient", "name"); !ok {
		t.Error("For returned the registry's own map")
	}
	if r.For("NoSuchType") != nil {
		t.Error("For(NoSuchType) != nil")
	}
	if _, ok := r.Lookup("NoSuchType", "_id"); ok {
		t.Error("Lookup(NoSuchType) found something")
	}
}

func TestRegistryTypesAndUnsupported(t *testing.T) {
	r := Default()
	types := r.Types()
	if !sort.StringsAreSorted(types) {
		t.Error("Types() not sorted")
	}
	for _, want := range []string{"Patient", "Observation", "Encounter", "Binary", "Bundle", "Parameters", "MedicationRequest"} {
		if !slices.Contains(types, want) {
			t.Errorf("Types() lacks %s", want)
		}
	}
	if slices.Contains(types, "Resource") || slices.Contains(types, "DomainResource") {
		t.Error("Types() lists an abstract type")
	}
	if len(types) != 146 {
		t.Errorf("len(Types()) = %d, want the 146 R4 resource types", len(types))
	}
	tests := []struct {
		typ     string
		want    []string
		notWant []string
	}{
		{"Patient", []string{"_content", "_has", "_list", "_query", "_text"}, []string{"name"}},
		{"Binary", []string{"_content", "_has", "_list", "_query"}, []string{"_text"}}, // not a DomainResource
		{"Location", []string{"near"}, nil},
		{"Observation", []string{"code-value-quantity", "combo-code-value-concept", "component-code-value-quantity"}, []string{"component-code", "code"}},
	}
	for _, tt := range tests {
		got := r.Unsupported(tt.typ)
		if !sort.StringsAreSorted(got) {
			t.Errorf("Unsupported(%s) not sorted", tt.typ)
		}
		for _, w := range tt.want {
			if !slices.Contains(got, w) {
				t.Errorf("Unsupported(%s) = %v, lacks %s", tt.typ, got, w)
			}
			if r.UnsupportedReason(tt.typ, w) == "" {
				t.Errorf("UnsupportedReason(%s, %s) is empty", tt.typ, w)
			}
		}
		for _, w := range tt.notWant {
			if slices.Contains(got, w) {
				t.Errorf("Unsupported(%s) lists %s", tt.typ, w)
			}
		}
	}
}

// knownUnsupported are (type, code) pairs of supported parameter types
// whose expressions the evaluator cannot handle, with the reason. Keep it
// tiny.
var knownUnsupported = map[string]string{}

// TestEveryExpressionCompiles walks every (type, parameter) of the
// supported types in the Bundle and asserts that its expression, restricted
// to the type, parses and uses only what the evaluator implements.
func TestEveryExpressionCompiles(t *testing.T) {
	r := Default()
	var b struct {
		Entry []bundleEntry `json:"entry"`
	}
	if err := json.Unmarshal(definitions.SearchParameters, &b); err != nil {
		t.Fatal(err)
	}
	if len(b.Entry) != 1378 {
		t.Errorf("%d entries, want 1378", len(b.Entry))
	}
	supported := map[string]bool{"string": true, "token": true, "reference": true, "date": true, "number": true, "quantity": true, "uri": true}
	pairs := 0
	for _, e := range b.Entry {
		d := e.Resource
		if !supported[d.Type] || d.Expression == "" || d.Code == "_query" || d.Code == "_content" || d.Code == "_text" {
			continue
		}
		for _, base := range d.Base {
			typ := base
			if base == "Resource" || base == "DomainResource" {
				typ = "Patient"
			}
			key := typ + "." + d.Code
			pairs++
			sp, ok := r.Lookup(typ, d.Code)
			if !ok {
				if _, known := knownUnsupported[key]; !known {
					t.Errorf("%s (%s) is not supported: %s", key, d.Expression, r.UnsupportedReason(typ, d.Code))
				}
				continue
			}
			if !strings.HasPrefix(strings.TrimLeft(sp.Expression, "("), base) && key != "InsurancePlan.name" {
				t.Errorf("%s: expression %q does not start with %s", key, sp.Expression, base)
			}
			if strings.Count(sp.Expression, "|") > strings.Count(d.Expression, "|") {
				t.Errorf("%s: restricted expression %q longer than %q", key, sp.Expression, d.Expression)
			}
			// The restricted text parses on its own and checks.
			e, err := parse(sp.Expression)
			if err == nil {
				err = r.m.check(e)
			}
			if err != nil {
				t.Errorf("%s: %q: %v", key, sp.Expression, err)
			}
			for _, part := range unionParts(e, nil) {
				if root := rootName(part); root != base && root != "name" && root != "alias" {
					t.Errorf("%s: part %q starts with %s", key, sp.Expression[part.pos:part.end], root)
				}
			}
		}
	}
	t.Logf("%d (type, parameter) expressions compiled", pairs)
}

// TestExpressionResultTypes infers the types every supported expression
// yields and checks that Extract knows how to index each for the
// parameter's type, so no parameter silently indexes nothing.
func TestExpressionResultTypes(t *testing.T) {
	r := Default()
	stringy := []string{"string", "code", "id", "markdown", "uri", "url", "canonical", "oid", "uuid"}
	handled := map[fhir.ParamType][]string{
		fhir.String:    append([]string{"HumanName", "Address"}, stringy...),
		fhir.Token:     append([]string{"Coding", "CodeableConcept", "Identifier", "ContactPoint", "boolean"}, stringy...),
		fhir.Reference: {"Reference", "canonical", "uri", "url", "Resource", "Composition", "MessageHeader"},
		fhir.Date:      {"date", "dateTime", "instant", "Period", "Timing"},
		fhir.Number:    {"decimal", "integer", "positiveInt", "unsignedInt", "Range"},
		fhir.Quantity:  {"Quantity", "Age", "Duration", "Count", "Distance", "Money", "Range"},
		fhir.URI:       {"uri", "url", "canonical", "oid", "uuid"},
	}
	// Element types that a parameter's expression can reach but that the
	// spec gives no index value for; documented on Extract's helpers.
	ignored := map[fhir.ParamType][]string{
		fhir.Date:      {"Age", "Range", "string"}, // Procedure.performed[x], Immunization.occurrence[x] …
		fhir.Reference: {"Attachment"},             // Consent.source[x]
		fhir.Quantity:  {"SampledData"},            // Observation.value[x]
	}
	seen := map[string]int{}
	for _, typ := range r.Types() {
		for _, c := range r.byType[typ].compiled {
			_, got := r.m.annotate(c.e, []string{typ})
			if len(got) == 0 {
				t.Errorf("%s.%s (%s) yields no type", typ, c.sp.Code, c.sp.Expression)
			}
			for _, rt := range got {
				seen[fmt.Sprintf("%s<-%s", c.sp.Type, rt)]++
				switch {
				case strings.HasPrefix(rt, "?"):
					t.Errorf("%s.%s (%s): unknown element %s", typ, c.sp.Code, c.sp.Expression, rt[1:])
				case slices.Contains(handled[c.sp.Type], rt), slices.Contains(ignored[c.sp.Type], rt):
				case c.sp.Code == "deceased" && rt == "boolean":
				default:
					t.Errorf("%s.%s (%s) yields %s, which a %s parameter does not index", typ, c.sp.Code, c.sp.Expression, rt, c.sp.Type)
				}
			}
		}
	}
	var keys []string
	for k, n := range seen {
		keys = append(keys, fmt.Sprintf("%s ×%d", k, n))
	}
	sort.Strings(keys)
	t.Logf("parameter type <- element type: %s", strings.Join(keys, ", "))
}
