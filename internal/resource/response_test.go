package resource

import (
	"testing"

	"github.com/clinikapi/clinikapi/internal/fhir"
)

func TestPatientResponse(t *testing.T) {
	res := fhir.Resource{
		"resourceType": "Patient", "id": "pt-1",
		"meta": map[string]any{"versionId": "3", "lastUpdated": "2026-12-01T10:00:00.000Z",
			"tag": []any{map[string]any{"system": "https://clinikapi.com/tenant", "code": "org_x"}}},
		"name": []any{
			map[string]any{"prefix": []any{"Dr."}, "given": []any{"Amara", "Ngozi"}, "family": "Okafor", "suffix": []any{"Jr."}},
			map[string]any{"use": "nickname", "given": []any{"Amy"}},
		},
		"telecom":    []any{map[string]any{"system": "phone", "value": "+1-555-0100"}},
		"identifier": []any{map[string]any{"system": "urn:mrn", "value": "MRN-1"}},
	}
	got := Patients.Response(res)
	want := map[string]any{
		"id": "pt-1", "resourceType": "Patient", "firstName": "Amara", "lastName": "Okafor", "middleName": "Ngozi",
		"prefix": "Dr.", "suffix": "Jr.", "fullName": "Dr. Amara Ngozi Okafor Jr.", "phone": "+1-555-0100",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	meta, _ := got["meta"].(map[string]any)
	if meta["versionId"] != "3" || meta["lastUpdated"] != "2026-12-01T10:00:00.000Z" || meta["tag"] != nil {
		t.Errorf("meta = %v, want versionId and lastUpdated only (no tenant tag)", meta)
	}
	for _, k := range []string{"name", "telecom", "identifier"} {
		if _, ok := got[k]; ok {
			t.Errorf("the simplified answer has the FHIR element %s", k)
		}
	}

	// No name at all: the display fields are there, empty.
	got = Patients.Response(fhir.Resource{"resourceType": "Patient", "id": "pt-2"})
	for _, k := range []string{"fullName", "firstName", "lastName"} {
		if v, ok := got[k]; !ok || v != "" {
			t.Errorf("nameless patient: %s = %v, want \"\"", k, v)
		}
	}
	// Only a text name.
	got = Patients.Response(fhir.Resource{"resourceType": "Patient", "id": "pt-3", "name": []any{map[string]any{"text": "Baby Okafor"}}})
	if got["fullName"] != "Baby Okafor" {
		t.Errorf("text-only name: fullName = %v", got["fullName"])
	}
	// Other types get no display fields.
	if _, ok := Practitioners.Response(fhir.Resource{"resourceType": "Practitioner", "id": "pr-1"})["fullName"]; ok {
		t.Errorf("a practitioner answer has fullName")
	}
}
