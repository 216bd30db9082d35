package validate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/clinikapi/clinikapi/internal/fhir/definitions"
)

var (
	testOnce sync.Once
	testV    *Validator
	testErr  error
)

// validator returns one Validator shared by the tests (New costs ~150 ms).
func validator(t testing.TB) *Validator {
	t.Helper()
	testOnce.Do(func() { testV, testErr = New() })
	if testErr != nil {
		t.Fatalf("New: %v", testErr)
	}
	return testV
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Valid resources of the kinds the API serves most.
var validResources = map[string]string{
	"Patient minimal": `{"resourceType": "Patient"}`,
	"Patient with primitive extension only": `{"resourceType": "Patient",
		"birthDate": "1970-01-01",
		"_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime", "valueDateTime": "1970-01-01T10:32:00+01:00"}]}}`,
	"Patient partial dates and leap day": `{"resourceType": "Patient", "birthDate": "2000-02-29",
		"deceasedDateTime": "2024", "address": [{"period": {"start": "2019-03", "end": "2020-12-31T23:59:60Z"}}]}`,
	"Patient with no-break space in name": "{\"resourceType\": \"Patient\", \"name\": [{\"family\": \"van\u00a0Dijk\"}]}",
	"Observation": `{
		"resourceType": "Observation", "id": "obs.1-a",
		"status": "final",
		"category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
		"code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
		"subject": {"reference": "Patient/pt-1"},
		"effectiveDateTime": "2024-05-14T09:21:37+02:00",
		"issued": "2024-05-14T09:30:00.123Z",
		"valueQuantity": {"value": 72, "unit": "beats/minute", "system": "http://unitsofmeasure.org", "code": "/min"},
		"component": [{"code": {"text": "irregular"}, "valueBoolean": false}],
		"referenceRange": [{"low": {"value": 60.5}, "high": {"value": 1e2}}]
	}`,
	"Observation status given as extension only": `{"resourceType": "Observation",
		"_status": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]},
		"code": {"text": "x"}}`,
	"Encounter": `{
		"resourceType": "Encounter", "status": "in-progress",
		"class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
		"subject": {"reference": "Patient/pt-1"},
		"participant": [{"individual": {"reference": "Practitioner/pr-1"}}],
		"period": {"start": "2024-05-14T09:00:00Z"},
		"length": {"value": 30, "unit": "min"},
		"hospitalization": {"dischargeDisposition": {"text": "home"}}
	}`,
	"MedicationRequest": `{
		"resourceType": "MedicationRequest", "status": "active", "intent": "order",
		"medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "197361"}]},
		"subject": {"reference": "Patient/pt-1"},
		"authoredOn": "2024-05-14",
		"dosageInstruction": [{"sequence": 1, "text": "1 tablet daily",
			"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
			"doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}]}],
		"dispenseRequest": {"numberOfRepeatsAllowed": 0, "quantity": {"value": 30}}
	}`,
	"Condition with contained Practitioner": `{
		"resourceType": "Condition",
		"contained": [{"resourceType": "Practitioner", "id": "p1", "name": [{"family": "Who"}]}],
		"code": {"text": "Hypertension"},
		"subject": {"reference": "Patient/pt-1"},
		"recorder": {"reference": "#p1"}
	}`,
	"null placeholders in primitive arrays": `{"resourceType": "Patient",
		"name": [{"given": ["Ann", null], "_given": [null, {"extension": [{"url": "http://example.org/x", "valueBoolean": true}]}]}]}`,
	"null placeholder in a code array": `{"resourceType": "ObservationDefinition", "code": {"text": "x"},
		"permittedDataType": ["Quantity", null], "_permittedDataType": [null, {"id": "t"}]}`,
	"Bundle": `{"resourceType": "Bundle", "type": "transaction", "entry": [
		{"resource": {"resourceType": "Patient", "active": true}, "request": {"method": "POST", "url": "Patient"}}]}`,
}

func TestValidResources(t *testing.T) {
	v := validator(t)
	for name, body := range validResources {
		t.Run(name, func(t *testing.T) {
			if got := v.ValidateJSON([]byte(body)); got != nil {
				t.Errorf("got issues %v, want none", got)
			}
		})
	}
	t.Run("testdata/patient.json", func(t *testing.T) {
		if got := v.Validate("Patient", readTestdata(t, "patient.json")); got != nil {
			t.Errorf("got issues %v, want none", got)
		}
	})
}

func TestInvalidResources(t *testing.T) {
	v := validator(t)
	tests := []struct {
		name string
		want string // the type the caller expects ("" = any)
		body string
		// want is the exact list of issues, as Issue.String.
		issues []string
	}{
		{"wrong type string for boolean", "", `{"resourceType": "Patient", "active": "yes"}`,
			[]string{"Patient.active: must be a boolean"}},
		{"wrong type number for string", "", `{"resourceType": "Patient", "name": [{"given": ["Ann", 7]}]}`,
			[]string{"Patient.name[0].given[1]: must be a string"}},
		{"object for array", "", `{"resourceType": "Patient", "name": {"family": "Doe"}}`,
			[]string{"Patient.name: must be an array"}},
		{"fractional integer", "", `{"resourceType": "Patient", "multipleBirthInteger": 1.5}`,
			[]string{"Patient.multipleBirthInteger: must be an integer"}},
		{"integer out of range", "", `{"resourceType": "Patient", "multipleBirthInteger": 2147483648}`,
			[]string{"Patient.multipleBirthInteger: must be at most 2147483647"}},
		{"positiveInt zero", "", `{"resourceType": "Patient", "telecom": [{"rank": 0}]}`,
			[]string{"Patient.telecom[0].rank: must be at least 1"}},
		{"string for a reference", "", `{"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": "Patient/1"}`,
			[]string{"Observation.subject: must be an object"}},
		{"string for a HumanName", "", `{"resourceType": "Patient", "name": ["Ann Smith"]}`,
			[]string{"Patient.name[0]: must be an object"}},
		{"null element", "", `{"resourceType": "Patient", "maritalStatus": null}`,
			[]string{"Patient.maritalStatus: must be an object"}},
		{"null in a non-primitive array", "", `{"resourceType": "Patient", "name": [null]}`,
			[]string{"Patient.name[0]: must be an object"}},
		{"bad code in a code array", "", `{"resourceType": "ObservationDefinition", "code": {"text": "x"}, "permittedDataType": ["Quantity", "bogus"]}`,
			[]string{"ObservationDefinition.permittedDataType[1]: must be one of: Quantity, CodeableConcept, string, boolean, integer, Range, Ratio, SampledData, time, dateTime, Period"}},
		{"narrative div not a string", "", `{"resourceType": "Patient", "text": {"status": "generated", "div": 5}}`,
			[]string{"Patient.text.div: must be a string"}},
		{"narrative div not XHTML", "", `{"resourceType": "Patient", "text": {"status": "generated", "div": "Ann"}}`,
			[]string{"Patient.text.div: must be XHTML whose root element is a div"}},
		{"narrative without status", "", `{"resourceType": "Patient", "text": {"div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Ann</div>"}}`,
			[]string{"Patient.text.status: is required"}},
		{"unknown element", "", `{"resourceType": "Patient", "birthdate": "1970-01-01"}`,
			[]string{"Patient.birthdate: is not allowed"}},
		{"unknown nested element", "", `{"resourceType": "Patient", "name": [{"first": "Ann"}]}`,
			[]string{"Patient.name[0].first: is not allowed"}},
		{"bad gender", "", `{"resourceType": "Patient", "gender": "F"}`,
			[]string{"Patient.gender: must be one of: male, female, other, unknown"}},
		{"month 13", "", `{"resourceType": "Patient", "birthDate": "2020-13-01"}`,
			[]string{"Patient.birthDate: must be a date: YYYY, YYYY-MM or YYYY-MM-DD"}},
		{"yesterday", "", `{"resourceType": "Patient", "birthDate": "yesterday"}`,
			[]string{"Patient.birthDate: must be a date: YYYY, YYYY-MM or YYYY-MM-DD"}},
		{"US date", "", `{"resourceType": "Patient", "birthDate": "07/22/1984"}`,
			[]string{"Patient.birthDate: must be a date: YYYY, YYYY-MM or YYYY-MM-DD"}},
		{"datetime for date", "", `{"resourceType": "Patient", "birthDate": "1984-07-22T00:00:00Z"}`,
			[]string{"Patient.birthDate: must be a date: YYYY, YYYY-MM or YYYY-MM-DD"}},
		{"February 30", "", `{"resourceType": "Patient", "birthDate": "2021-02-30"}`,
			[]string{"Patient.birthDate: must be a real calendar date (that month has no such day)"}},
		{"February 30 and trailing text", "", `{"resourceType": "Patient", "birthDate": "2021-02-30x"}`,
			[]string{"Patient.birthDate: must be a date: YYYY, YYYY-MM or YYYY-MM-DD"}},
		{"February 29 of a common year", "", `{"resourceType": "Patient", "deceasedDateTime": "2023-02-29T10:00:00Z"}`,
			[]string{"Patient.deceasedDateTime: must be a real calendar date (that month has no such day)"}},
		{"April 31 in an instant", "", `{"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "issued": "2024-04-31T10:00:00Z"}`,
			[]string{"Observation.issued: must be a real calendar date (that month has no such day)"}},
		{"dateTime without time zone", "", `{"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "effectiveDateTime": "2024-05-14T09:21:37"}`,
			[]string{"Observation.effectiveDateTime: must be a dateTime: YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss(.sss) with a time zone (Z or ±hh:mm)"}},
		{"instant without seconds", "", `{"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "issued": "2024-05-14T09:21Z"}`,
			[]string{"Observation.issued: must be an instant: YYYY-MM-DDThh:mm:ss(.sss) with a time zone (Z or ±hh:mm)"}},
		{"id with space", "", `{"resourceType": "Patient", "id": "a b"}`,
			[]string{"Patient.id: must be an id: 1 to 64 characters, each A-Z, a-z, 0-9, '-' or '.'"}},
		{"id with underscore", "", `{"resourceType": "Patient", "id": "pt_1"}`,
			[]string{"Patient.id: must be an id: 1 to 64 characters, each A-Z, a-z, 0-9, '-' or '.'"}},
		{"id too long", "", `{"resourceType": "Patient", "id": "` + strings.Repeat("a", 65) + `"}`,
			[]string{"Patient.id: must be an id: 1 to 64 characters, each A-Z, a-z, 0-9, '-' or '.'"}},
		{"empty id", "", `{"resourceType": "Patient", "id": ""}`,
			[]string{"Patient.id: must be an id: 1 to 64 characters, each A-Z, a-z, 0-9, '-' or '.'"}},
		{"empty string", "", `{"resourceType": "Patient", "name": [{"family": ""}]}`,
			[]string{"Patient.name[0].family: must be a non-empty string without control characters other than tab, CR and LF"}},
		{"vertical tab in string", "", "{\"resourceType\": \"Patient\", \"name\": [{\"family\": \"a\\u000bb\"}]}",
			[]string{"Patient.name[0].family: must be a non-empty string without control characters other than tab, CR and LF"}},
		{"code with spaces around", "", `{"resourceType": "Patient", "telecom": [{"system": "phone", "value": "1", "use": " home"}]}`,
			[]string{"Patient.telecom[0].use: must be one of: home, work, temp, old, mobile"}},
		{"uri with space", "", `{"resourceType": "Patient", "identifier": [{"system": "http://a b"}]}`,
			[]string{"Patient.identifier[0].system: must be a URI without whitespace"}},
		{"empty array", "", `{"resourceType": "Patient", "telecom": []}`,
			[]string{"Patient.telecom: must not be an empty array (leave the element out instead)"}},
		{"empty object", "", `{"resourceType": "Patient", "maritalStatus": {}}`,
			[]string{"Patient.maritalStatus: must not be an empty object (leave the element out instead)"}},
		{"Observation missing status and code", "", `{"resourceType": "Observation"}`,
			[]string{"Observation.code: is required", "Observation.status: is required"}},
		{"Observation bad status", "", `{"resourceType": "Observation", "status": "done", "code": {"text": "x"}}`,
			[]string{"Observation.status: must be one of: registered, preliminary, final, amended, corrected, cancelled, entered-in-error, unknown"}},
		{"MedicationRequest missing choice", "", `{"resourceType": "MedicationRequest", "status": "active", "intent": "order", "subject": {"reference": "Patient/1"}}`,
			[]string{"MedicationRequest.medication[x]: is required (as one of: medicationCodeableConcept, medicationReference)"}},
		{"Encounter missing status and class", "", `{"resourceType": "Encounter"}`,
			[]string{"Encounter.class: is required", "Encounter.status: is required"}},
		{"extension without url", "", `{"resourceType": "Patient", "extension": [{"valueString": "x"}]}`,
			[]string{"Patient.extension[0].url: is required"}},
		{"resourceType missing", "", `{"id": "1"}`,
			[]string{"resourceType: is required"}},
		{"resourceType unknown", "", `{"resourceType": "Patients"}`,
			[]string{"resourceType: must be a FHIR R4 resource type"}},
		{"resourceType not FHIR (Medplum's)", "", `{"resourceType": "Project"}`,
			[]string{"resourceType: must be a FHIR R4 resource type"}},
		{"resourceType not a string", "", `{"resourceType": 1}`,
			[]string{"resourceType: must be a string"}},
		{"resourceType mismatch", "Patient", `{"resourceType": "Observation", "status": "final", "code": {"text": "x"}}`,
			[]string{"resourceType: must be Patient"}},
		{"expected type unknown", "Patientt", `{"resourceType": "Patient"}`,
			[]string{"resourceType: must be a FHIR R4 resource type"}},
		{"not an object", "", `[{"resourceType": "Patient"}]`,
			[]string{"must be a JSON object (a FHIR resource)"}},
		{"not JSON", "", `{"resourceType": "Patient",}`,
			[]string{"must be a single valid JSON value"}},
		{"two JSON values", "", `{"resourceType": "Patient"} {}`,
			[]string{"must be a single valid JSON value"}},
		{"contained without resourceType", "", `{"resourceType": "Patient", "contained": [{"id": "x"}]}`,
			[]string{"Patient.contained[0].resourceType: is required"}},
		{"contained unknown type", "", `{"resourceType": "Patient", "contained": [{"resourceType": "Bot"}]}`,
			[]string{"Patient.contained[0].resourceType: must be a FHIR R4 resource type"}},
		{"contained invalid", "", `{"resourceType": "Patient", "contained": [{"resourceType": "Observation", "status": "final"}]}`,
			[]string{"Patient.contained[0].code: is required"}},
		{"bundle entry invalid", "", `{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Patient", "gender": "f"}}, {"resource": {"resourceType": "Observation", "code": {"text": "x"}}}]}`,
			[]string{"Bundle.entry[0].resource.gender: must be one of: male, female, other, unknown", "Bundle.entry[1].resource.status: is required"}},
		{"several, sorted by path with numeric indexes", "", `{"resourceType": "Patient",
			"name": [{"given": [1]}, {"given": [2]}, {"given": [3]}, {"given": [4]}, {"given": [5]}, {"given": [6]},
				{"given": [7]}, {"given": [8]}, {"given": [9]}, {"given": [10]}, {"given": [11]}],
			"active": 1, "zzz": true}`,
			[]string{
				"Patient.active: must be a boolean",
				"Patient.name[0].given[0]: must be a string", "Patient.name[1].given[0]: must be a string",
				"Patient.name[2].given[0]: must be a string", "Patient.name[3].given[0]: must be a string",
				"Patient.name[4].given[0]: must be a string", "Patient.name[5].given[0]: must be a string",
				"Patient.name[6].given[0]: must be a string", "Patient.name[7].given[0]: must be a string",
				"Patient.name[8].given[0]: must be a string", "Patient.name[9].given[0]: must be a string",
				"Patient.name[10].given[0]: must be a string",
				"Patient.zzz: is not allowed",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			issues := v.Validate(tt.want, []byte(tt.body))
			got := make([]string, len(issues))
			for i, is := range issues {
				got[i] = is.String()
			}
			if !slices.Equal(got, tt.issues) {
				t.Errorf("got issues\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.issues, "\n\t"))
			}
		})
	}
}

func TestIssueCodes(t *testing.T) {
	v := validator(t)
	issues := v.ValidateJSON([]byte(`{"resourceType": "Observation", "code": {"text": "x"}, "valueBoolean": "no", "foo": 1, "language": "en "}`))
	got := map[string]string{}
	for _, is := range issues {
		got[is.Path] = is.Code
	}
	want := map[string]string{
		"Observation.status":       "required",
		"Observation.valueBoolean": "structure",
		"Observation.foo":          "structure",
		"Observation.language":     "value",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got codes %v, want %v (issues %v)", got, want, issues)
	}
	if got := v.ValidateJSON([]byte(`{"resourceType": "Nope"}`)); len(got) != 1 || got[0].Code != "not-supported" {
		t.Errorf("unknown type: got %v, want one not-supported issue", got)
	}
}

func TestMaxIssues(t *testing.T) {
	v := validator(t)
	var names []string
	for i := range 30 {
		names = append(names, fmt.Sprintf(`{"given": [%d]}`, i))
	}
	body := `{"resourceType": "Patient", "name": [` + strings.Join(names, ",") + `]}`
	issues := v.ValidateJSON([]byte(body))
	if len(issues) != MaxIssues+1 {
		t.Fatalf("got %d issues, want %d (MaxIssues and a summary)", len(issues), MaxIssues+1)
	}
	if got, want := issues[MaxIssues-1].Path, fmt.Sprintf("Patient.name[%d].given[0]", MaxIssues-1); got != want {
		t.Errorf("last listed issue at %s, want %s", got, want)
	}
	if got, want := issues[MaxIssues].String(), "Patient: has 10 more issues not listed"; got != want || issues[MaxIssues].Code != "informational" {
		t.Errorf("summary %q, want %q", got, want)
	}
	// Deterministic: the same input gives the same list every time (the
	// library walks objects in Go's random map order).
	for range 20 {
		again := v.ValidateJSON([]byte(body))
		if !slices.Equal(again, issues) {
			t.Fatalf("issues differ between runs:\n%v\n%v", again, issues)
		}
	}
}

// secret is a value no issue may ever contain.
const secret = "ZZSECRETZZ"

func TestIssuesNeverContainValues(t *testing.T) {
	v := validator(t)
	bodies := []string{
		`{"resourceType": "Patient",
			"id": "ZZSECRETZZ ZZSECRETZZ",
			"active": "ZZSECRETZZ",
			"gender": "ZZSECRETZZ",
			"birthDate": "ZZSECRETZZ",
			"deceasedDateTime": "2021-02-30ZZSECRETZZ",
			"multipleBirthInteger": "ZZSECRETZZ",
			"name": [{"family": ["ZZSECRETZZ"], "given": "ZZSECRETZZ", "use": "ZZSECRETZZ", "period": "ZZSECRETZZ"}],
			"telecom": [{"system": "ZZSECRETZZ", "value": {"v": "ZZSECRETZZ"}, "rank": "ZZSECRETZZ"}],
			"address": "ZZSECRETZZ",
			"identifier": [{"system": "ZZSECRETZZ with spaces", "value": 12345}],
			"maritalStatus": {"coding": [{"code": "ZZSECRETZZ ", "ZZSECRETZZ-not-a-name": 1}]},
			"contained": [{"resourceType": "ZZSECRETZZ"}, {"resourceType": "Observation", "status": "ZZSECRETZZ", "code": "ZZSECRETZZ", "valueQuantity": {"value": "ZZSECRETZZ"}}],
			"extension": [{"url": "ZZSECRETZZ ZZSECRETZZ", "valueDate": "ZZSECRETZZ"}],
			"ZZSECRETZZ with spaces": "ZZSECRETZZ",
			"_birthDate": "ZZSECRETZZ",
			"text": {"status": "ZZSECRETZZ", "div": "ZZSECRETZZ"},
			"generalPractitioner": ["ZZSECRETZZ", {"reference": ["ZZSECRETZZ"]}],
			"photo": [{"data": "ZZSECRETZZ!!"}]
		}`,
		`{"resourceType": "ZZSECRETZZ", "name": "ZZSECRETZZ"}`,
		`{"resourceType": ["ZZSECRETZZ"]}`,
		`{"resourceType": "Patient ZZSECRETZZ"}`,
		`"ZZSECRETZZ"`,
		`{"resourceType": "Patient", "name": "ZZSECRETZZ"`,
		`{"resourceType": "Bundle", "type": "ZZSECRETZZ", "entry": [{"resource": {"resourceType": "Patient", "gender": "ZZSECRETZZ"}}]}`,
	}
	for i, body := range bodies {
		for _, want := range []string{"", "Patient", "ZZSECRETZZ"} {
			issues := v.Validate(want, []byte(body))
			if len(issues) == 0 {
				t.Errorf("body %d: no issues", i)
			}
			for _, is := range issues {
				for _, s := range []string{is.Path, is.Constraint, is.Code, is.String(), fmt.Sprintf("%+v", is)} {
					if strings.Contains(strings.ToUpper(s), secret) {
						t.Errorf("body %d: issue %q contains the value", i, s)
					}
				}
			}
		}
	}

	// The test means something: the library's own message quotes values.
	sch, err := v.schema("Patient")
	if err != nil {
		t.Fatal(err)
	}
	inst, _ := decodeJSON([]byte(`{"resourceType": "Patient", "birthDate": "ZZSECRETZZ"}`))
	if err := sch.Validate(inst); err == nil || !strings.Contains(err.Error(), secret) {
		t.Errorf("library error %v does not quote the value: this test would not catch a leak", err)
	}
}

func TestUnknownElementNames(t *testing.T) {
	v := validator(t)
	// A name that looks like a FHIR element name is reported (it is the
	// most useful hint: birthdate vs birthDate); anything else is not.
	issues := v.ValidateJSON([]byte(`{"resourceType": "Patient", "Jane Doe 1970-01-01": true, "_ext": 1}`))
	got := make([]string, len(issues))
	for i, is := range issues {
		got[i] = is.String()
	}
	want := []string{
		"Patient: has an element that is not allowed and whose name is not a valid FHIR element name",
		"Patient._ext: is not allowed",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestValidateValue(t *testing.T) {
	v := validator(t)
	body := readTestdata(t, "patient.json")

	var plain map[string]any // float64 numbers
	if err := json.Unmarshal(body, &plain); err != nil {
		t.Fatal(err)
	}
	if got := v.ValidateValue("Patient", plain); got != nil {
		t.Errorf("decoded with encoding/json: got %v, want none", got)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var numbers map[string]any
	if err := dec.Decode(&numbers); err != nil {
		t.Fatal(err)
	}
	if got := v.ValidateValue("Patient", numbers); got != nil {
		t.Errorf("decoded with UseNumber: got %v, want none", got)
	}

	// Go types that are not what encoding/json decodes into any.
	type coding struct {
		System string `json:"system"`
		Code   string `json:"code"`
	}
	typed := map[string]any{
		"resourceType": "Observation",
		"status":       "final",
		"code":         map[string]any{"coding": []coding{{System: "http://loinc.org", Code: "8867-4"}}},
		"valueInteger": 72,
		"note":         []map[string]string{{"text": "ok"}},
	}
	if got := v.ValidateValue("Observation", typed); got != nil {
		t.Errorf("typed Go values: got %v, want none", got)
	}
	typed["valueInteger"] = 7.5
	if got := v.ValidateValue("Observation", typed); len(got) != 1 || got[0].String() != "Observation.valueInteger: must be an integer" {
		t.Errorf("typed Go values, bad integer: got %v", got)
	}
	if got := v.ValidateValue("", map[string]any{"resourceType": "Patient", "x": make(chan int)}); len(got) != 1 || got[0].Code != "structure" {
		t.Errorf("unmarshalable value: got %v, want one structure issue", got)
	}
}

func TestConcurrentFirstUse(t *testing.T) {
	v, err := New() // fresh: every type but Patient still to compile
	if err != nil {
		t.Fatal(err)
	}
	bodies := []string{
		validResources["Observation"], validResources["Encounter"], validResources["MedicationRequest"],
		validResources["Condition with contained Practitioner"], validResources["Bundle"],
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := bodies[i%len(bodies)]
			if got := v.ValidateJSON([]byte(body)); got != nil {
				errs <- fmt.Sprint(got)
			}
			if got := v.ValidateJSON([]byte(`{"resourceType": "Observation"}`)); len(got) != 2 {
				errs <- fmt.Sprint("invalid Observation: ", got)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestPrecompileAllTypes(t *testing.T) {
	v := validator(t)
	if err := v.Precompile(); err != nil {
		t.Fatal(err)
	}
	if err := v.Precompile("Patient", "NotAType"); err == nil {
		t.Error("Precompile of an unknown type: got nil error")
	}
	// Every type accepts its minimal instance, or names exactly what it lacks.
	for _, rt := range ResourceTypes() {
		for _, is := range v.ValidateJSON([]byte(`{"resourceType": "` + rt + `"}`)) {
			if is.Code != "required" {
				t.Errorf("%s: minimal instance: unexpected issue %v", rt, is)
			}
		}
	}
}

func TestResourceTypes(t *testing.T) {
	types := ResourceTypes()
	if len(types) != 146 {
		t.Errorf("got %d R4 resource types, want 146", len(types))
	}
	if !slices.IsSorted(types) {
		t.Error("ResourceTypes is not sorted")
	}
	types[0] = "changed"
	if ResourceTypes()[0] != "Account" {
		t.Error("ResourceTypes shares its backing array")
	}
	// Each is a resource in the schema: its definition fixes resourceType.
	var schema struct {
		Definitions map[string]struct {
			Properties struct {
				ResourceType struct {
					Const string `json:"const"`
				} `json:"resourceType"`
			} `json:"properties"`
		} `json:"definitions"`
	}
	if err := json.Unmarshal(definitions.Schema, &schema); err != nil {
		t.Fatal(err)
	}
	for _, rt := range ResourceTypes() {
		if got := schema.Definitions[rt].Properties.ResourceType.Const; got != rt {
			t.Errorf("%s: schema resourceType const %q", rt, got)
		}
	}
	for _, name := range []string{"Patient", "Bundle", "Binary", "Parameters"} {
		if !IsResourceType(name) {
			t.Errorf("IsResourceType(%q) = false", name)
		}
	}
	for _, name := range []string{"patient", "Resource", "DomainResource", "Project", "User", "ClientApplication", "HumanName", ""} {
		if IsResourceType(name) {
			t.Errorf("IsResourceType(%q) = true", name)
		}
	}
}

func TestDefault(t *testing.T) {
	if a, b := Default(), Default(); a != b {
		t.Error("Default returns different validators")
	}
	if got := Default().ValidateJSON([]byte(`{"resourceType": "Patient"}`)); got != nil {
		t.Errorf("got %v", got)
	}
}

func TestCalendarDate(t *testing.T) {
	for s, ok := range map[string]bool{
		"2024": true, "2024-02": true, "2024-02-29": true, "2023-02-28": true, "2023-02-29": false,
		"1900-02-29": false, "2000-02-29": true, "2024-04-30": true, "2024-04-31": false, "2024-12-31T23:59:59Z": true,
		"2024-06-31T00:00:00+01:00": false, "2024-01-32": true, /* pattern's job */
	} {
		if got := calendarDate(s) == nil; got != ok {
			t.Errorf("calendarDate(%q) ok = %v, want %v", s, got, ok)
		}
	}
}

func FuzzValidate(f *testing.F) {
	v := validator(f)
	for _, body := range validResources {
		f.Add([]byte(body))
	}
	f.Add(readTestdata(f, "patient.json"))
	f.Add([]byte(`{"resourceType": "Observation", "contained": [{"resourceType": "Bundle", "entry": [{"resource": {}}]}]}`))
	f.Add([]byte(`{"resourceType": "Patient", "name": [null, {"given": [null]}], "_birthDate": null}`))
	f.Add([]byte(`[1, "a", null]`))
	f.Add([]byte(`{"resourceType": "Questionnaire", "item": [{"item": [{"item": [{"linkId": 1}]}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		issues := v.ValidateJSON(body)
		if len(issues) > MaxIssues+1 {
			t.Errorf("%d issues, want at most %d", len(issues), MaxIssues+1)
		}
		for _, is := range issues {
			if is.Constraint == "" || is.Code == "" {
				t.Errorf("incomplete issue %+v", is)
			}
		}
	})
}

func BenchmarkValidatePatient(b *testing.B) {
	v := validator(b)
	body := readTestdata(b, "patient.json")
	if got := v.Validate("Patient", body); got != nil {
		b.Fatal(got)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if v.Validate("Patient", body) != nil {
			b.Fatal("invalid")
		}
	}
}

// BenchmarkValidateValuePatient is validation alone, for a caller that has
// already decoded the body.
func BenchmarkValidateValuePatient(b *testing.B) {
	v := validator(b)
	value, err := decodeJSON(readTestdata(b, "patient.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if v.ValidateValue("Patient", value) != nil {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkValidateInvalidPatient(b *testing.B) {
	v := validator(b)
	body := []byte(`{"resourceType": "Patient", "gender": "F", "birthDate": "yesterday", "name": [{"given": [1]}], "foo": 1}`)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if len(v.Validate("Patient", body)) != 4 {
			b.Fatal("want 4 issues")
		}
	}
}

// BenchmarkNew is what New costs: decoding and rewriting the 3.6 MB schema,
// checking it against the draft-06 metaschema, and compiling the shared
// definitions through Patient.
func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewPrecompileAll adds compiling all 146 resource types.
func BenchmarkNewPrecompileAll(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		v, err := New()
		if err != nil {
			b.Fatal(err)
		}
		if err := v.Precompile(); err != nil {
			b.Fatal(err)
		}
	}
}
