package resource

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/clinikapi/clinikapi/internal/fhir"
	"github.com/clinikapi/clinikapi/internal/fhir/searchparam"
	"github.com/clinikapi/clinikapi/internal/fhir/validate"
)

// Declared fields and query parameters that the contract does not list:
// what the official SDK sends besides.
var extraFields = []string{
	"patients.active", "practitioners.active", "practitioner-roles.active",
	"consents.provision.code", "consents.provision.provision",
}

var extraParams = []string{"notes.category", "notes.date", "documents.date"}

var testNow = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

var testIDs = strings.NewReplacer("{{patientId}}", "pt-t1", "{{practitionerId}}", "pr-t1", "{{encounterId}}", "enc-t1")

// otherIDs are the examples' other placeholders ({{scheduleId}}, …): each
// becomes an id of its own (schedule-t1).
var otherIDs = regexp.MustCompile(`\{\{([a-zA-Z]+)Id\}\}`)

// example reads a resource's example create body (testdata/<path>.json).
func example(t *testing.T, d *Def) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/" + d.Path + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(otherIDs.ReplaceAllString(testIDs.Replace(string(b)), "$1-t1")), &body); err != nil {
		t.Fatalf("%s example: %v", d.Path, err)
	}
	return body
}

type registry struct{ *searchparam.Registry }

func (r registry) Params(t string) []fhir.SearchParam {
	var out []fhir.SearchParam
	for _, p := range r.For(t) {
		out = append(out, p)
	}
	return out
}

var testIndex = Index{Base: registry{searchparam.Default()}}

func TestContractLoads(t *testing.T) {
	c := DefaultContract()
	if !c.Doc().IsOpenAPI31OrLater() {
		t.Fatalf("the contract is OpenAPI %s; this package expects 3.1", c.Doc().OpenAPI)
	}
	if len(core) != 14 || len(All) < len(core) {
		t.Fatalf("%d core resources of %d routed, want the 14 core ones", len(core), len(All))
	}
}

// TestDeclarationsCoverContract: every property of every create schema is
// mapped (recursively), every declared field is in the contract (or a known
// extra), every path parses, and every query parameter maps to a FHIR
// search parameter of the right type.
func TestDeclarationsCoverContract(t *testing.T) {
	c := DefaultContract()
	for _, d := range All {
		s, ok := c.Schema(d.Schema)
		if !ok {
			t.Errorf("%s: no contract schema %s", d.Path, d.Schema)
			continue
		}
		checkFields(t, d.Path, s, d.Fields, nil)
		for _, f := range d.Fixed {
			mustPath(f.Path)
		}
		for _, g := range slices.Concat(d.Exclusive, d.Conflicts) {
			for _, name := range g {
				if d.field(name) == nil {
					t.Errorf("%s: exclusive group names unknown field %s", d.Path, name)
				}
			}
		}
		cps := c.QueryParams(d.Path)
		if len(cps) == 0 {
			t.Errorf("%s: the contract has no GET /v1/%s", d.Path, d.Path)
		}
		for name := range cps {
			switch name {
			case CountParam, CursorParam:
				continue
			case SortParam:
				if d.Sorts == nil {
					t.Errorf("%s: the contract has sort, the declaration no Sorts", d.Path)
				}
				continue
			}
			if !slices.ContainsFunc(d.Params, func(p Param) bool { return p.Name == name }) {
				t.Errorf("%s: contract query parameter %s is not declared", d.Path, name)
			}
		}
		if _, ok := cps[SortParam]; !ok && d.Sorts != nil {
			t.Errorf("%s: Sorts declared, but the contract has no sort parameter", d.Path)
		}
		for _, p := range d.Params {
			if cps[p.Name] == nil && !slices.Contains(extraParams, d.Path+"."+p.Name) {
				t.Errorf("%s: query parameter %s is not in the contract", d.Path, p.Name)
			}
			code, _, _ := strings.Cut(p.Code, ":")
			sp, ok := testIndex.Lookup(d.Type, code)
			if !ok {
				t.Errorf("%s: %s maps to %s, not a search parameter of %s", d.Path, p.Name, p.Code, d.Type)
				continue
			}
			want := map[ParamKind]fhir.ParamType{RefParam: fhir.Reference, From: fhir.Date, To: fhir.Date, Token: fhir.Token}[p.Kind]
			if want != "" && sp.Type != want {
				t.Errorf("%s: %s maps to %s, a %s parameter; want %s", d.Path, p.Name, p.Code, sp.Type, want)
			}
		}
		for k, sp := range d.Sorts {
			if _, ok := testIndex.Lookup(d.Type, sp); !ok && sp != "_lastUpdated" {
				t.Errorf("%s: sort %s maps to unknown %s", d.Path, k, sp)
			}
		}
	}
}

func checkFields(t *testing.T, where string, s *openapi3.Schema, fields []Field, enclosing []Field) {
	t.Helper()
	for name := range s.Properties {
		if !slices.ContainsFunc(fields, func(f Field) bool { return f.Name == name }) {
			t.Errorf("%s.%s: the contract field is not mapped", where, name)
		}
	}
	for _, f := range fields {
		at := where + "." + f.Name
		if _, err := parsePath(f.Path); err != nil {
			t.Errorf("%s: %v", at, err)
		}
		if f.Kind == Const || f.Name == "" {
			t.Errorf("%s: fields need a name and a kind other than Const", at)
		}
		if (f.Kind == Ref || f.Kind == Refs || f.Kind == Canonical) && len(f.Targets) == 0 {
			t.Errorf("%s: a reference without Targets", at)
		}
		ps := s.Properties[f.Name]
		if ps == nil || ps.Value == nil {
			if !slices.Contains(extraFields, at[strings.Index(at, ".")+1:]) && !slices.Contains(extraFields, at) {
				t.Errorf("%s: declared, but not in the contract", at)
			}
			continue
		}
		switch f.Kind {
		case Object:
			checkFields(t, at, ps.Value, f.Fields, fields)
		case List:
			items := ps.Value.Items
			if items == nil || items.Value == nil {
				t.Errorf("%s: a List field whose contract property is not an array", at)
				continue
			}
			sub := f.Fields
			if f.Self {
				sub = fields
				// The nested items list a subset of the fields; check they are mapped.
				for name := range items.Value.Properties {
					if !slices.ContainsFunc(sub, func(f Field) bool { return f.Name == name }) {
						t.Errorf("%s.%s: the contract field is not mapped", at, name)
					}
				}
				continue
			}
			checkFields(t, at, items.Value, sub, fields)
		}
	}
}

// TestRoundTrips: each example validates against the contract, maps to a
// resource that validates against the R4 schema, and reads back to itself
// (plus the defaults).
func TestRoundTrips(t *testing.T) {
	c := DefaultContract()
	v := validate.Default()
	for _, d := range All {
		t.Run(d.Path, func(t *testing.T) {
			body := example(t, d)
			if is := c.Validate(d.Schema, body); len(is) > 0 {
				t.Fatalf("the example does not match %s: %v", d.Schema, is)
			}
			res, is := d.ToFHIR(body, testNow)
			if len(is) > 0 {
				t.Fatalf("ToFHIR: %v", is)
			}
			if is := v.ValidateValue(d.Type, map[string]any(res)); len(is) > 0 {
				b, _ := json.MarshalIndent(res, "", " ")
				t.Fatalf("not valid R4: %v\n%s", is, b)
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
				keys := map[string]bool{}
				for k := range got {
					keys[k] = true
				}
				for k := range want {
					keys[k] = true
				}
				var diffs []string
				for k := range keys {
					g, _ := json.Marshal(got[k])
					w, _ := json.Marshal(want[k])
					if string(g) != string(w) {
						diffs = append(diffs, fmt.Sprintf("%s: got %s, want %s", k, g, w))
					}
				}
				sort.Strings(diffs)
				t.Fatalf("read back differs:\n%s", strings.Join(diffs, "\n"))
			}
		})
	}
}

func marshal(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func normalize(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func TestMappedValues(t *testing.T) {
	res, is := Patients.ToFHIR(map[string]any{
		"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com", "phone": "555",
		"maritalStatus": "married", "languages": []any{map[string]any{"language": "en"}}, "generalPractitionerId": "pr-1",
	}, testNow)
	if len(is) > 0 {
		t.Fatal(is)
	}
	b, _ := json.Marshal(res)
	for _, want := range []string{
		`"name":[{"family":"Lovelace","given":["Ada"]}]`,
		`{"system":"email","value":"ada@example.com"}`,
		`{"system":"phone","value":"555"}`,
		`"maritalStatus":{"coding":[{"code":"M","display":"Married","system":"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"}]}`,
		`"communication":[{"language":{"coding":[{"code":"en","system":"urn:ietf:bcp:47"}]}}]`,
		`"generalPractitioner":[{"reference":"Practitioner/pr-1"}]`,
		`"active":true`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("patient lacks %s:\n%s", want, b)
		}
	}
	enc, is := Encounters.ToFHIR(map[string]any{"status": "planned", "class": "VR", "patientId": "pt-9", "practitionerId": "pr-9", "lengthMinutes": 15.0}, testNow)
	if len(is) > 0 {
		t.Fatal(is)
	}
	b, _ = json.Marshal(enc)
	for _, want := range []string{
		`"subject":{"reference":"Patient/pt-9"}`,
		`"class":{"code":"VR","display":"virtual","system":"http://terminology.hl7.org/CodeSystem/v3-ActCode"}`,
		`"individual":{"reference":"Practitioner/pr-9"}`, `"code":"PPRF"`,
		`"length":{"code":"min","system":"http://unitsofmeasure.org","unit":"min","value":15}`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("encounter lacks %s:\n%s", want, b)
		}
	}
	spec, _ := Practitioners.ToFHIR(map[string]any{"firstName": "A", "lastName": "B", "specialty": "Cardiology", "npi": "123"}, testNow)
	b, _ = json.Marshal(spec)
	if !strings.Contains(string(b), `{"url":"https://clinikapi.com/fhir/StructureDefinition/specialty","valueCodeableConcept":{"text":"Cardiology"}}`) ||
		!strings.Contains(string(b), `{"system":"http://hl7.org/fhir/sid/us-npi","value":"123"}`) {
		t.Errorf("practitioner: %s", b)
	}
}

func TestMappingRefusals(t *testing.T) {
	_, is := Encounters.ToFHIR(map[string]any{"status": "planned", "class": "AMB", "patientId": "not an id!", "bogus": 1,
		"participants": []any{"x"}, "diagnosis": []any{map[string]any{"condition": "Asthma", "nope": true}}}, testNow)
	got := fmt.Sprint(is)
	for _, want := range []string{"patientId: must be the id of a Patient", "bogus: is not a known field", "participants[0]: must be an object", "diagnosis[0].nope: is not a known field"} {
		if !strings.Contains(got, want) {
			t.Errorf("issues %s lack %q", got, want)
		}
	}
	if strings.Contains(got, "not an id!") {
		t.Errorf("an issue carries the value: %s", got)
	}
	_, is = Observations.ToFHIR(map[string]any{"status": "final", "code": "x", "patientId": "pt-1", "valueString": "a", "valueQuantity": map[string]any{"value": 1.0}}, testNow)
	if !strings.Contains(fmt.Sprint(is), "cannot be combined") {
		t.Errorf("choice variants together: %v", is)
	}
	_, is = Prescriptions.ToFHIR(map[string]any{"patientId": "Patient/pt-1", "prescriberId": "Encounter/enc-1", "medication": "x"}, testNow)
	if !strings.Contains(fmt.Sprint(is), "prescriberId: must be the id of a Practitioner, or Type/id") {
		t.Errorf("reference to a type not allowed: %v", is)
	}
}

func TestPatchMerges(t *testing.T) {
	body := example(t, Patients)
	res, _ := Patients.ToFHIR(body, testNow)
	res["id"] = "pt-1"
	res["identifier"] = []any{map[string]any{"system": "urn:mrn", "value": "MRN-7"}} // set through raw FHIR: kept
	changes, is := Patients.Merge(res, map[string]any{
		"address": map[string]any{"city": "Salem", "state": nil},
		"email":   nil,
		"phone":   "+1-555-9999",
		"contact": []any{map[string]any{"firstName": "Obi"}},
	})
	if len(is) > 0 {
		t.Fatal(is)
	}
	if is := Patients.Apply(res, changes, testNow); len(is) > 0 {
		t.Fatal(is)
	}
	if is := validate.Default().ValidateValue("Patient", map[string]any(res)); len(is) > 0 {
		t.Fatal(is)
	}
	got := Patients.ToSimple(res)
	addr := got["address"].(map[string]any)
	if addr["city"] != "Salem" || addr["state"] != nil || addr["postalCode"] != "97201" || len(addr["line"].([]any)) != 2 {
		t.Errorf("address not merged: %v", addr)
	}
	if got["email"] != nil || got["phone"] != "+1-555-9999" || got["firstName"] != "Amara" {
		t.Errorf("email/phone/firstName: %v %v %v", got["email"], got["phone"], got["firstName"])
	}
	if c := got["contact"].([]any); len(c) != 1 || c[0].(map[string]any)["firstName"] != "Obi" {
		t.Errorf("contact not replaced: %v", c)
	}
	if res["identifier"] == nil || res["id"] != "pt-1" {
		t.Errorf("elements outside the mapping were lost: %v", res)
	}
	tel, _ := json.Marshal(res["telecom"])
	if strings.Contains(string(tel), "email") {
		t.Errorf("email telecom left behind: %s", tel)
	}

	// A choice variant replaces the other.
	obs, _ := Observations.ToFHIR(map[string]any{"status": "final", "code": "8867-4", "patientId": "pt-1", "valueString": "fast"}, testNow)
	changes, _ = Observations.Merge(obs, map[string]any{"valueQuantity": map[string]any{"value": 88.0, "unit": "/min"}})
	Observations.Apply(obs, changes, testNow)
	if obs["valueString"] != nil || obs["valueQuantity"] == nil {
		t.Errorf("valueQuantity did not replace valueString: %v", obs)
	}
	// Unknown fields are refused.
	if _, is := Observations.Merge(obs, map[string]any{"nope": 1}); fmt.Sprint(is) != "[nope: is not a known field]" {
		t.Errorf("unknown field in a patch: %v", is)
	}
	// Wrapped elements (the primary performer) are replaced, not duplicated.
	enc, _ := Encounters.ToFHIR(map[string]any{"status": "planned", "class": "AMB", "patientId": "pt-1", "practitionerId": "pr-1",
		"participants": []any{map[string]any{"practitionerId": "pr-2", "role": "consultant"}}}, testNow)
	changes, _ = Encounters.Merge(enc, map[string]any{"practitionerId": "pr-3"})
	Encounters.Apply(enc, changes, testNow)
	got = Encounters.ToSimple(enc)
	if got["practitionerId"] != "pr-3" || len(enc["participant"].([]any)) != 2 || len(got["participants"].([]any)) != 1 {
		t.Errorf("primary performer patch: %v / %v", got, enc["participant"])
	}
}

func TestContractValidation(t *testing.T) {
	c := DefaultContract()
	const marker = "ZZMARKERZZ"
	contacts := make([]any, 11)
	for i := range contacts {
		contacts[i] = map[string]any{"firstName": marker}
	}
	is := c.Validate("PatientCreate", map[string]any{
		"firstName": strings.Repeat(marker, 20), "gender": marker, "email": marker, "contact": contacts,
		"languages": []any{map[string]any{"preferred": true}}, "birthDate": 5.0,
	})
	got := fmt.Sprint(is)
	for _, want := range []string{
		"lastName: is required", "firstName: at most 100 characters", "gender: must be one of male, female, other, unknown",
		"email: must be an email address", "contact: at most 10 items", "languages[0].language: is required", "birthDate: must be a string",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("issues %s lack %q", got, want)
		}
	}
	if strings.Contains(got, marker) {
		t.Errorf("an issue carries a submitted value: %s", got)
	}
	is = c.Validate("ConsentCreate", map[string]any{"patientId": "p", "scope": "s", "category": 5.0})
	if fmt.Sprint(is) != "[category: must be a string or an array of strings]" {
		t.Errorf("oneOf: %v", is)
	}
	is = c.Validate("EncounterCreate", map[string]any{"status": "planned", "class": "AMB", "patientId": "p", "period": map[string]any{"start": "yesterday"}, "lengthMinutes": 20000.0})
	if got := fmt.Sprint(is); !strings.Contains(got, "period.start: must be a date-time") || !strings.Contains(got, "lengthMinutes: at most 10080") {
		t.Errorf("format/maximum: %v", got)
	}
	if is := c.ValidatePartial("PatientCreate", map[string]any{"gender": "x"}); fmt.Sprint(is) != "[gender: must be one of male, female, other, unknown]" {
		t.Errorf("partial: %v", is)
	}
	q := url.Values{"dateFrom": {"last week"}, "count": {"7"}, "status": {"finished"}}
	if is := c.ValidateQuery("encounters", q); fmt.Sprint(is) != "[dateFrom: must be a date (YYYY-MM-DD)]" {
		t.Errorf("query: %v", is)
	}
	if is := c.ValidateQuery("patients", url.Values{"active": {"yes"}}); fmt.Sprint(is) != "[active: must be a boolean]" {
		t.Errorf("boolean query: %v", is)
	}
}

func TestSearchTranslation(t *testing.T) {
	fq, unknown, is := Encounters.Search(url.Values{"patientId": {"pt-1"}, "status": {"finished"}, "dateFrom": {"2026-01-01"},
		"dateTo": {"2026-12-31"}, "sort": {"-date"}, "count": {"5"}, "cursor": {"x"}, "bogus": {"1"}})
	if len(is) > 0 || !slices.Equal(unknown, []string{"bogus"}) {
		t.Fatalf("issues %v, unknown %v", is, unknown)
	}
	want := url.Values{"subject": {"Patient/pt-1"}, "status": {"finished"}, "date": {"ge2026-01-01", "le2026-12-31"}, "_sort": {"-date"}}
	if !reflect.DeepEqual(fq, want) {
		t.Errorf("encounters: %v, want %v", fq, want)
	}
	cases := []struct {
		d    *Def
		q    url.Values
		want url.Values
	}{
		{Notes, url.Values{"type": {"progress-note"}}, url.Values{"type": {"http://loinc.org|11506-3"}}},
		{Practitioners, url.Values{"npi": {"123"}, "name": {"mar"}}, url.Values{"identifier": {sysNPI + "|123"}, "name:contains": {"mar"}}},
		{PractitionerRoles, url.Values{"status": {"inactive"}}, url.Values{"active": {"false"}}},
		{Patients, url.Values{"name": {"Smith, John"}}, url.Values{"name:contains": {`Smith\, John`}}},
		{Appointments, url.Values{"patientId": {"Patient/pt-2"}}, url.Values{"patient": {"Patient/pt-2"}}},
		{Documents, url.Values{"type": {"visit-summary"}}, url.Values{"type": {sysLocalDocType + "|visit-summary"}}},
	}
	for _, c := range cases {
		got, unknown, is := c.d.Search(c.q)
		if len(is) > 0 || len(unknown) > 0 || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %v: %v (%v %v), want %v", c.d.Path, c.q, got, unknown, is, c.want)
		}
	}
	if _, _, is := Encounters.Search(url.Values{"sort": {"colour"}}); len(is) != 1 || !strings.Contains(is[0].Constraint, "date") {
		t.Errorf("bad sort: %v", is)
	}
	if _, _, is := Encounters.Search(url.Values{"patientId": {"a b"}}); len(is) != 1 {
		t.Errorf("bad id: %v", is)
	}
	if _, unknown, _ := Medications.Search(url.Values{"sort": {"date"}}); !slices.Equal(unknown, []string{"sort"}) {
		t.Errorf("sort on a list without: %v", unknown)
	}
}

func TestPaths(t *testing.T) {
	res := map[string]any{}
	set(res, mustPath("telecom[system=email].value"), "a@b")
	set(res, mustPath("telecom[system=phone].value"), "1")
	set(res, mustPath("telecom[system=email].use"), "work")
	set(res, mustPath("identifier[system=http://x.org/a.b].value"), "7")
	b, _ := json.Marshal(res)
	if string(b) != `{"identifier":[{"system":"http://x.org/a.b","value":"7"}],"telecom":[{"system":"email","use":"work","value":"a@b"},{"system":"phone","value":"1"}]}` {
		t.Fatalf("set: %s", b)
	}
	if get(res, mustPath("telecom[system=phone].value")) != "1" || get(res, mustPath("telecom[system=fax].value")) != nil {
		t.Fatal("get")
	}
	removePath(res, mustPath("telecom[system=email].value"))
	removePath(res, mustPath("telecom[system=email].use"))
	removePath(res, mustPath("identifier[system=http://x.org/a.b].value"))
	b, _ = json.Marshal(res)
	if string(b) != `{"telecom":[{"system":"phone","value":"1"}]}` {
		t.Fatalf("remove and prune: %s", b)
	}
	set(res, mustPath("name[0].given[0]"), "A")
	set(res, mustPath("name[0].family"), "B")
	removePath(res, mustPath("name[0].given[0]"))
	removePath(res, mustPath("name[0].family"))
	if _, ok := res["name"]; ok {
		t.Fatalf("empty name left: %v", res)
	}
	for _, bad := range []string{"", "a.", "a[", "a[=x]", "a[x=]", "[x=y]", "a..b"} {
		if _, err := parsePath(bad); err == nil {
			t.Errorf("parsePath(%q) accepted", bad)
		}
	}
}

func TestExtensionIndex(t *testing.T) {
	res, _ := Practitioners.ToFHIR(map[string]any{"firstName": "A", "lastName": "B", "specialty": map[string]any{"system": "http://nucc.org/provider-taxonomy", "code": "207RC0000X", "display": "Cardiovascular Disease"}}, testNow)
	vals, err := testIndex.Extract(res)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vals {
		if v.Param == "specialty" {
			got = append(got, v.Exact)
		}
	}
	if !slices.Equal(got, []string{"Cardiovascular Disease", "207RC0000X"}) {
		t.Errorf("specialty values: %v", got)
	}
	if sp, ok := testIndex.Lookup("Practitioner", "specialty"); !ok || sp.Type != fhir.String {
		t.Errorf("lookup: %v %v", sp, ok)
	}
	if !slices.ContainsFunc(testIndex.Params("Practitioner"), func(p fhir.SearchParam) bool { return p.Code == "specialty" }) {
		t.Error("specialty not listed")
	}
	if _, ok := testIndex.Lookup("Patient", "specialty"); ok {
		t.Error("specialty on Patient")
	}
}

func TestFieldOf(t *testing.T) {
	for _, c := range []struct {
		d          *Def
		path, want string
	}{
		{Patients, "Patient.name[0].given[0]", "firstName"},
		{Patients, "Patient.birthDate", "birthDate"},
		{Patients, "Patient.telecom[1].value", "email or phone"},
		{Patients, "Patient.contact[0].telecom[0].value", "contact.phone or contact.email"},
		{Patients, "Patient.communication[0].language.coding[0].code", "languages.language"},
		{Patients, "Patient.meta.tag", ""},
		{Patients, "Observation.status", ""},
		{Practitioners, "Practitioner.extension[0].valueCodeableConcept.text", "specialty"},
		{Prescriptions, "MedicationRequest.dosageInstruction[0].timing.repeat.periodUnit", "dosage.periodUnit"},
		{Notes, "DocumentReference.content[0].attachment.data", "content"},
	} {
		if got := c.d.FieldOf(c.path); got != c.want {
			t.Errorf("%s FieldOf(%s) = %q, want %q", c.d.Path, c.path, got, c.want)
		}
	}
}

func TestAliases(t *testing.T) {
	role, is := PractitionerRoles.ToFHIR(map[string]any{"practitionerId": "pr-1", "role": "nurse",
		"availableDays": []any{"mon", "fri"}, "availableStartTime": "08:00:00", "availableEndTime": "12:00:00"}, testNow)
	if len(is) > 0 {
		t.Fatal(is)
	}
	if got := marshal(role["availableTime"]); got != `[{"availableEndTime":"12:00:00","availableStartTime":"08:00:00","daysOfWeek":["mon","fri"]}]` {
		t.Fatalf("legacy schedule: %s", got)
	}
	changes, _ := PractitionerRoles.Merge(role, map[string]any{"availableDays": []any{"tue"}})
	PractitionerRoles.Apply(role, changes, testNow)
	if got := marshal(role["availableTime"]); got != `[{"availableEndTime":"12:00:00","availableStartTime":"08:00:00","daysOfWeek":["tue"]}]` {
		t.Fatalf("legacy schedule patched: %s", got)
	}
	if s := PractitionerRoles.ToSimple(role); s["availableDays"] != nil || s["availableTime"] == nil {
		t.Fatalf("legacy fields read back: %v", s)
	}
	_, is = PractitionerRoles.ToFHIR(map[string]any{"practitionerId": "pr-1", "role": "nurse", "availableDays": []any{"mon"},
		"availableTime": []any{map[string]any{"allDay": true}}}, testNow)
	if fmt.Sprint(is) != "[availableDays: cannot be combined with availableTime]" {
		t.Fatalf("legacy and new schedule together: %v", is)
	}
	consent, is := Consents.ToFHIR(map[string]any{"patientId": "pt-1", "scope": "treatment", "category": "x", "policyUri": "https://example.org/p"}, testNow)
	if len(is) > 0 || marshal(consent["policy"]) != `[{"uri":"https://example.org/p"}]` {
		t.Fatalf("policyUri: %v %s", is, marshal(consent["policy"]))
	}
	if s := Consents.ToSimple(consent); marshal(s["policies"]) != `[{"uri":"https://example.org/p"}]` {
		t.Fatalf("policyUri reads back as policies: %v", s)
	}
}
