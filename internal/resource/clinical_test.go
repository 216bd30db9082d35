package resource

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/clinikapi/clinikapi/internal/fhir"
)

// TestClinicalCodes: contract words become codes of their HL7 systems, and
// the search parameters translate the same words.
func TestClinicalCodes(t *testing.T) {
	res, is := Conditions.ToFHIR(map[string]any{"patientId": "pt-1", "clinicalStatus": "active", "verificationStatus": "provisional",
		"category": []any{"encounter-diagnosis"}, "severity": "severe"}, testNow)
	if len(is) > 0 {
		t.Fatal(is)
	}
	for _, want := range []string{
		`"clinicalStatus":{"coding":[{"code":"active","display":"Active","system":"http://terminology.hl7.org/CodeSystem/condition-clinical"}]}`,
		`"verificationStatus":{"coding":[{"code":"provisional","display":"Provisional","system":"http://terminology.hl7.org/CodeSystem/condition-ver-status"}]}`,
		`"category":[{"coding":[{"code":"encounter-diagnosis","display":"Encounter Diagnosis","system":"http://terminology.hl7.org/CodeSystem/condition-category"}]}]`,
		`"severity":{"coding":[{"code":"24484000","display":"Severe","system":"http://snomed.info/sct"}]}`,
	} {
		if !strings.Contains(marshal(res), want) {
			t.Errorf("condition lacks %s:\n%s", want, marshal(res))
		}
	}
	for _, c := range []struct {
		d    *Def
		q    url.Values
		want url.Values
	}{
		{Allergies, url.Values{"clinicalStatus": {"active"}}, url.Values{"clinical-status": {sysAllergyClinical + "|active"}}},
		{Conditions, url.Values{"severity": {"mild"}}, url.Values{"severity": {sysSNOMED + "|255604002"}}},
		{Goals, url.Values{"achievementStatus": {"achieved"}}, url.Values{"achievement-status": {sysGoalAchievement + "|achieved"}}},
		{FamilyHistory, url.Values{"relationship": {"mother"}}, url.Values{"relationship": {sysV3RoleCode + "|MTH"}}},
		{CarePlans, url.Values{"category": {"diabetes"}, "authorId": {"pr-1"}}, url.Values{"category": {sysLocalCarePlanCat + "|diabetes"}, "author": {"Practitioner/pr-1"}}},
		{Tasks, url.Values{"dateFrom": {"2026-01-01"}, "sort": {"-date"}}, url.Values{"authored-on": {"ge2026-01-01"}, "_sort": {"-authored-on"}}},
		{ImmunizationRecommendations, url.Values{"vaccineCode": {"141"}}, url.Values{"vaccine-type": {"141"}}},
		{Devices, url.Values{"modelNumber": {"X1"}}, url.Values{"model": {"X1"}}},
	} {
		got, unknown, is := c.d.Search(c.q)
		if len(is) > 0 || len(unknown) > 0 || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %v: %v (%v %v), want %v", c.d.Path, c.q, got, unknown, is, c.want)
		}
	}
}

// TestElementParams: parameters over elements R4 gives none are indexed
// and known to the index.
func TestElementParams(t *testing.T) {
	res, _ := CarePlans.ToFHIR(map[string]any{"status": "active", "intent": "plan", "patientId": "pt-1", "authorId": "pr-7"}, testNow)
	vals, err := testIndex.Extract(res)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(vals, func(v fhir.Value) bool {
		return v.Param == "author" && v.RefType == "Practitioner" && v.RefID == "pr-7"
	}) {
		t.Errorf("no author value: %v", vals)
	}
	ra, _ := RiskAssessments.ToFHIR(map[string]any{"status": "final", "patientId": "pt-1"}, testNow)
	vals, _ = testIndex.Extract(ra)
	if !slices.ContainsFunc(vals, func(v fhir.Value) bool { return v.Param == "status" && v.Type == fhir.Token && v.Code == "final" }) {
		t.Errorf("no status value: %v", vals)
	}
	if sp, ok := testIndex.Lookup("DeviceUseStatement", "status"); !ok || sp.Type != fhir.Token {
		t.Errorf("lookup: %v %v", sp, ok)
	}
	if !slices.ContainsFunc(testIndex.Params("CarePlan"), func(p fhir.SearchParam) bool { return p.Code == "author" }) {
		t.Error("author not listed for CarePlan")
	}
}

// TestContractAllows: the operations the routes are registered from.
func TestContractAllows(t *testing.T) {
	c := DefaultContract()
	for _, x := range []struct {
		method, path string
		want         bool
	}{
		{http.MethodPatch, "conditions/{id}", true}, {http.MethodDelete, "conditions/{id}", true},
		{http.MethodPatch, "audit-events/{id}", false}, {http.MethodDelete, "audit-events/{id}", true},
		{http.MethodPatch, "immunization-recommendations/{id}", false}, {http.MethodGet, "audit-events", true},
		{http.MethodGet, "nowhere", false},
	} {
		if got := c.Allows(x.method, x.path); got != x.want {
			t.Errorf("Allows(%s, %s) = %v, want %v", x.method, x.path, got, x.want)
		}
	}
}

// TestImpliedVariant: a true boolean variant of a choice element given
// with another variant is implied by it (the docs' family members have
// deceasedBoolean and deceasedDate); a false one contradicts it.
func TestImpliedVariant(t *testing.T) {
	body := map[string]any{"status": "completed", "patientId": "pt-1", "relationship": "father", "deceasedBoolean": true, "deceasedDate": "2020-06-10"}
	res, is := FamilyHistory.ToFHIR(body, testNow)
	if len(is) > 0 || res["deceasedDate"] != "2020-06-10" || res["deceasedBoolean"] != nil || body["deceasedBoolean"] != true {
		t.Fatalf("%v %v %v", is, res, body)
	}
	body["deceasedBoolean"] = false
	if _, is := FamilyHistory.ToFHIR(body, testNow); fmt.Sprint(is) != "[deceasedDate: cannot be combined with deceasedBoolean]" {
		t.Fatalf("false and a date: %v", is)
	}
	changes, is := FamilyHistory.Merge(res, map[string]any{"deceasedBoolean": true, "deceasedDate": "2021-01-01"})
	if len(is) > 0 || changes["deceasedDate"] != "2021-01-01" || changes["deceasedBoolean"] != nil {
		t.Fatalf("patch: %v %v", is, changes)
	}
}

// TestDocumentedWords: words the docs send for coded fields are codes of
// the standard systems and read back as sent.
func TestDocumentedWords(t *testing.T) {
	for _, c := range []struct {
		d          *Def
		body       map[string]any
		field, has string
	}{
		{ImmunizationRecommendations, map[string]any{"patientId": "pt-1", "date": "2026-01-02", "recommendation": []any{map[string]any{"vaccineCode": []any{"MMR"}, "forecastStatus": "due"}}},
			"recommendation", `{"code":"03","display":"measles, mumps and rubella virus vaccine","system":"http://hl7.org/fhir/sid/cvx"}`},
		{ImmunizationEvaluations, map[string]any{"status": "completed", "patientId": "pt-1", "targetDisease": "Measles", "immunizationEventId": "imm-1", "doseStatus": "not-valid"},
			"doseStatus", `"code":"notvalid"`},
		{CareTeams, map[string]any{"name": "Team", "category": []any{"encounter-based"}}, "category", `"code":"LA27976-2"`},
		{Tasks, map[string]any{"status": "requested", "intent": "order", "code": "lab-draw"}, "code", `{"code":"lab-draw","system":"https://clinikapi.com/fhir/CodeSystem/task-code"}`},
	} {
		res, is := c.d.ToFHIR(c.body, testNow)
		if len(is) > 0 || !strings.Contains(marshal(res), c.has) {
			t.Errorf("%s: %v %s lacks %s", c.d.Path, is, marshal(res), c.has)
			continue
		}
		if got := c.d.ToSimple(res)[c.field]; marshal(got) != marshal(c.body[c.field]) {
			t.Errorf("%s.%s reads back %s, sent %s", c.d.Path, c.field, marshal(got), marshal(c.body[c.field]))
		}
	}
	if got, _, _ := Immunizations.Search(url.Values{"vaccineCode": {"Tdap"}}); got.Get("vaccine-code") != sysCVX+"|115" {
		t.Errorf("vaccineCode=Tdap: %v", got)
	}
}
