package resource

import (
	"net/url"
	"reflect"
	"slices"
	"testing"

	"github.com/clinikapi/clinikapi/internal/fhir"
)

// TestAdminElementParams: contract query parameters over R4 elements that R4
// does not search are indexed from the element (codes, booleans and
// codings as tokens; references), looked up and listed like R4 ones.
func TestAdminElementParams(t *testing.T) {
	res, is := ChargeItems.ToFHIR(map[string]any{"status": "billable", "code": "93000", "patientId": "pt-1"}, testNow)
	if len(is) > 0 {
		t.Fatal(is)
	}
	vals, err := testIndex.Extract(res)
	if err != nil {
		t.Fatal(err)
	}
	var got []fhir.Value
	for _, v := range vals {
		if v.Param == "status" {
			got = append(got, v)
		}
	}
	if !slices.Equal(got, []fhir.Value{{Param: "status", Type: fhir.Token, Code: "billable"}}) {
		t.Errorf("ChargeItem status values: %+v", got)
	}
	if sp, ok := testIndex.Lookup("ChargeItem", "status"); !ok || sp.Type != fhir.Token || sp.Expression != "ChargeItem.status" {
		t.Errorf("lookup: %+v %v", sp, ok)
	}
	if !slices.ContainsFunc(testIndex.Params("Person"), func(p fhir.SearchParam) bool { return p.Code == "active" }) {
		t.Error("Person active not listed")
	}
	person, _ := Persons.ToFHIR(map[string]any{"firstName": "A", "lastName": "B"}, testNow)
	vals, _ = testIndex.Extract(person)
	if !slices.Contains(vals, fhir.Value{Param: "active", Type: fhir.Token, Code: "true"}) {
		t.Errorf("Person active (a boolean) not indexed: %+v", vals)
	}

	er, _ := EnrollmentRequests.ToFHIR(map[string]any{"candidateId": "pt-1", "insurerId": "r-org1"}, testNow)
	vals, _ = testIndex.Extract(er)
	if !slices.ContainsFunc(vals, func(v fhir.Value) bool {
		return v.Param == "insurer" && v.Type == fhir.Reference && v.RefType == "Organization" && v.RefID == "r-org1"
	}) {
		t.Errorf("EnrollmentRequest insurer not indexed: %+v", vals)
	}
	if sp, ok := testIndex.Lookup("EnrollmentRequest", "insurer"); !ok || sp.Type != fhir.Reference {
		t.Errorf("insurer lookup: %+v", sp)
	}

	ad, _ := ActivityDefinitions.ToFHIR(map[string]any{"status": "active", "kind": "ServiceRequest",
		"code": map[string]any{"system": sysLOINC, "code": "4548-4"}}, testNow)
	vals, _ = testIndex.Extract(ad)
	for _, want := range []fhir.Value{{Param: "kind", Type: fhir.Token, Code: "ServiceRequest"}, {Param: "code", Type: fhir.Token, System: sysLOINC, Code: "4548-4"}} {
		if !slices.Contains(vals, want) {
			t.Errorf("ActivityDefinition lacks %+v", want)
		}
	}
}

// TestLocalCanonical: a canonical stored as Type/id is indexed as a local
// reference as well as a URL.
func TestLocalCanonical(t *testing.T) {
	mr, is := MeasureReports.ToFHIR(map[string]any{"status": "complete", "type": "summary", "measureId": "r-m1",
		"period": map[string]any{"start": "2026-01-01", "end": "2026-12-31"}}, testNow)
	if len(is) > 0 || mr["measure"] != "Measure/r-m1" {
		t.Fatalf("measure: %v %v", mr["measure"], is)
	}
	vals, _ := testIndex.Extract(mr)
	if !slices.ContainsFunc(vals, func(v fhir.Value) bool {
		return v.Param == "measure" && v.RefType == "Measure" && v.RefID == "r-m1" && v.URL == "Measure/r-m1"
	}) {
		t.Errorf("measure not indexed as a local reference: %+v", vals)
	}
	mr["measure"] = "https://example.org/fhir/Measure/cms122"
	vals, _ = testIndex.Extract(mr)
	for _, v := range vals {
		if v.Param == "measure" && v.URL != "https://example.org/fhir/Measure/cms122" {
			t.Errorf("absolute canonical: %+v", v)
		}
	}
}

func TestAdminSearchTranslation(t *testing.T) {
	for _, c := range []struct {
		d    *Def
		q    url.Values
		want url.Values
	}{
		{Slots, url.Values{"scheduleId": {"r-s1"}, "status": {"free"}, "dateFrom": {"2026-12-07"}, "dateTo": {"2026-12-11"}},
			url.Values{"schedule": {"Schedule/r-s1"}, "status": {"free"}, "start": {"ge2026-12-07", "le2026-12-11"}}},
		{Slots, url.Values{"specialty": {"Family Medicine"}}, url.Values{"specialty": {sysLocalSpecialty + "|Family Medicine"}}},
		{AppointmentResponses, url.Values{"participantStatus": {"accepted"}}, url.Values{"part-status": {"accepted"}}},
		{Coverages, url.Values{"type": {"dental"}, "patientId": {"pt-1"}}, url.Values{"type": {sysV3ActCode + "|DENTAL"}, "beneficiary": {"Patient/pt-1"}}},
		{EnrollmentRequests, url.Values{"candidateId": {"pt-1"}, "insurerId": {"r-o1"}}, url.Values{"subject": {"Patient/pt-1"}, "insurer": {"Organization/r-o1"}}},
		{ChargeItems, url.Values{"dateFrom": {"2026-11-01"}}, url.Values{"entered-date": {"ge2026-11-01"}}},
		{Organizations, url.Values{"type": {"insurer"}}, url.Values{"type": {sysOrgType + "|ins"}}},
		{MeasureReports, url.Values{"measureId": {"https://example.org/fhir/Measure/cms122"}}, url.Values{"measure": {"https://example.org/fhir/Measure/cms122"}}},
	} {
		got, unknown, is := c.d.Search(c.q)
		if len(is) > 0 || len(unknown) > 0 || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %v: %v (%v %v), want %v", c.d.Path, c.q, got, unknown, is, c.want)
		}
	}
}

// TestAdminMappedValues: fields without an element of their own in R4.
func TestAdminMappedValues(t *testing.T) {
	claim, _ := Claims.ToFHIR(example(t, Claims), testNow)
	changes, is := Claims.Merge(claim, map[string]any{"note": "Amended note"})
	if len(is) > 0 {
		t.Fatal(is)
	}
	Claims.Apply(claim, changes, testNow)
	if got := marshal(claim["supportingInfo"]); got != `[{"category":{"coding":[{"code":"info","system":"http://terminology.hl7.org/CodeSystem/claiminformationcategory"}]},"sequence":1,"valueString":"Amended note"}]` {
		t.Errorf("claim note patched: %s", got)
	}
	hs, _ := HealthcareServices.ToFHIR(map[string]any{"name": "Rehab", "locationNames": []any{"North Wing", "Location/r-l1"}}, testNow)
	if got := marshal(hs["location"]); got != `[{"display":"North Wing"},{"reference":"Location/r-l1"}]` {
		t.Errorf("locationNames: %s", got)
	}
	if got, _ := HealthcareServices.ToSimple(hs)["locationNames"].([]any); len(got) != 2 || got[0] != "North Wing" {
		t.Errorf("locationNames read back: %v", got)
	}
}
