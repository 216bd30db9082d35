package web_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

func init() { caseSets = append(caseSets, clinicalCases) }

// clinicalCases are the round-trip cases of the clinical resources
// (resource.clinical). Their examples refer to the patient, practitioner
// and encounter fixtures only; other references name ids of resources
// that need not exist.
func clinicalCases(t *testing.T, env *apptest.Env, key string, f fixtures) (map[string]roundTripCase, map[string]string) {
	pt, pr, enc := f.patient, f.practitioner, f.encounter
	subject := `"subject":{"reference":"Patient/` + pt + `"}`
	patient := `"patient":{"reference":"Patient/` + pt + `"}`
	encounter := `"encounter":{"reference":"Encounter/` + enc + `"}`
	return map[string]roundTripCase{
		"allergies": {
			fhir: []string{patient, `"clinicalStatus":{"coding":[{"code":"active","display":"Active","system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"}]}`,
				`"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"`, `"code":"7980"`, `"category":["medication"]`},
			queries: map[string]string{"patientId": pt, "clinicalStatus": "active", "type": "allergy", "category": "medication", "criticality": "high", "code": "7980"},
			patch:   `{"clinicalStatus":"resolved","note":"Tolerated a supervised challenge in 2026."}`,
			after:   map[string]any{"clinicalStatus": "resolved", "note": "Tolerated a supervised challenge in 2026.", "verificationStatus": "confirmed"},
		},
		"conditions": {
			fhir: []string{subject, encounter, `"system":"http://terminology.hl7.org/CodeSystem/condition-clinical"`,
				`{"code":"problem-list-item","display":"Problem List Item","system":"http://terminology.hl7.org/CodeSystem/condition-category"}`,
				`{"code":"6736007","display":"Moderate","system":"http://snomed.info/sct"}`, `"detail":[{"reference":"Observation/obs-hba1c1"}]`},
			queries: map[string]string{"patientId": pt, "clinicalStatus": "active", "verificationStatus": "confirmed", "category": "problem-list-item",
				"severity": "moderate", "code": "E11.9"},
			patch: `{"clinicalStatus":"remission","abatementDateTime":"2026-11-30"}`,
			after: map[string]any{"clinicalStatus": "remission", "abatementDateTime": "2026-11-30", "abatementString": nil},
		},
		"immunizations": {
			fhir: []string{patient, `"code":"208","display":"COVID-19 mRNA, LNP-S, PF, 30 mcg/0.3 mL dose","system":"http://hl7.org/fhir/sid/cvx"`,
				`"manufacturer":{"display":"Pfizer-BioNTech"}`, `"actor":{"reference":"Practitioner/` + pr + `"}`, `"doseNumberPositiveInt":3`},
			queries: map[string]string{"patientId": pt, "status": "completed", "vaccineCode": "208", "dateFrom": "2026-11-20", "dateTo": "2026-11-20"},
			patch:   `{"status":"not-done","statusReason":"Patient declined"}`,
			after:   map[string]any{"status": "not-done", "statusReason": "Patient declined", "lotNumber": "FK5127"},
		},
		"immunization-evaluations": {
			fhir: []string{patient, `"immunizationEvent":{"reference":"Immunization/imm-covid3"}`, `"system":"http://terminology.hl7.org/CodeSystem/immunization-evaluation-dose-status"`,
				`"code":"840539006"`},
			queries: map[string]string{"patientId": pt, "status": "completed", "immunizationEventId": "imm-covid3", "targetDisease": "COVID-19"},
			patch:   `{"doseStatus":"not-valid","description":"Given too early."}`,
			after:   map[string]any{"doseStatus": "not-valid", "description": "Given too early.", "series": "COVID-19 primary"},
		},
		"immunization-recommendations": {
			fhir:    []string{patient, `"code":"141","system":"http://hl7.org/fhir/sid/cvx"`, `"system":"http://terminology.hl7.org/CodeSystem/immunization-recommendation-status"`, `"code":"6142004"`},
			queries: map[string]string{"patientId": pt, "vaccineCode": "141", "targetDisease": "Influenza", "dateFrom": "2026-11-20", "dateTo": "2026-11-20"},
		},
		"care-plans": {
			fhir: []string{subject, `"author":{"reference":"Practitioner/` + pr + `"}`, `"detail":{"code":{"text":"HbA1c measurement"},"description":"Check HbA1c every three months"`,
				`"system":"https://clinikapi.com/fhir/CodeSystem/care-plan-category"`, `"addresses":[{"reference":"Condition/cnd-diabetes1"}]`},
			queries: map[string]string{"patientId": pt, "status": "active", "category": "diabetes-management", "authorId": pr},
			patch:   `{"status":"on-hold","note":"Paused while the patient travels."}`,
			after:   map[string]any{"status": "on-hold", "note": "Paused while the patient travels.", "title": "Diabetes management plan"},
		},
		"care-teams": {
			fhir: []string{subject, `{"system":"phone","value":"+1-555-0142"}`, `{"system":"email","value":"diabetes-team@example.com"}`,
				`"code":"LA28865-6"`, `"member":{"reference":"Practitioner/` + pr + `"}`},
			queries: map[string]string{"patientId": pt, "status": "active", "category": "longitudinal-care"},
			patch:   `{"status":"inactive","phone":"+1-555-0199"}`,
			after:   map[string]any{"status": "inactive", "phone": "+1-555-0199", "email": "diabetes-team@example.com"},
		},
		"goals": {
			fhir: []string{subject, `"description":{"text":"HbA1c below 7%"}`, `"system":"http://terminology.hl7.org/CodeSystem/goal-achievement"`,
				`{"code":"high-priority","display":"High Priority","system":"http://terminology.hl7.org/CodeSystem/goal-priority"}`, `"code":"4548-4","system":"http://loinc.org"`},
			queries: map[string]string{"patientId": pt, "lifecycleStatus": "active", "achievementStatus": "improving", "category": "dietary"},
			patch:   `{"achievementStatus":"achieved","lifecycleStatus":"completed"}`,
			after:   map[string]any{"achievementStatus": "achieved", "lifecycleStatus": "completed", "priority": "high-priority"},
		},
		"family-history": {
			fhir:    []string{patient, `{"code":"MTH","display":"mother","system":"http://terminology.hl7.org/CodeSystem/v3-RoleCode"}`, `"system":"http://hl7.org/fhir/administrative-gender"`, `"onsetString":"Age 45"`},
			queries: map[string]string{"patientId": pt, "status": "completed", "relationship": "mother", "dateFrom": "2026-11-20", "dateTo": "2026-11-20", "sort": "-date"},
			patch:   `{"deceasedDate":"2026-10-01","note":"Died of a stroke."}`,
			after:   map[string]any{"deceasedDate": "2026-10-01", "deceasedBoolean": nil, "note": "Died of a stroke."},
		},
		"service-requests": {
			fhir: []string{subject, encounter, `"requester":{"reference":"Practitioner/` + pr + `"}`, `{"code":"108252007","display":"Laboratory procedure","system":"http://snomed.info/sct"}`,
				`"basedOn":[{"reference":"CarePlan/cp-diabetes1"}]`},
			queries: map[string]string{"patientId": pt, "status": "active", "priority": "routine", "category": "laboratory", "requesterId": pr,
				"performerId": pr, "code": "4548-4", "dateFrom": "2026-11-20", "dateTo": "2026-11-20", "sort": "-date"},
			patch: `{"priority":"urgent","occurrencePeriod":{"start":"2026-11-25T08:00:00Z","end":"2026-11-26T17:00:00Z"}}`,
			after: map[string]any{"priority": "urgent", "occurrenceDateTime": nil, "occurrencePeriod": map[string]any{"start": "2026-11-25T08:00:00Z", "end": "2026-11-26T17:00:00Z"}},
		},
		"specimens": {
			fhir:    []string{subject, `{"code":"BLD","display":"Whole blood","system":"http://terminology.hl7.org/CodeSystem/v2-0487"}`, `"collector":{"reference":"Practitioner/` + pr + `"}`},
			queries: map[string]string{"patientId": pt, "status": "available", "type": "blood", "dateFrom": "2026-12-01", "dateTo": "2026-12-01"},
			patch:   `{"status":"unsatisfactory","note":"Haemolysed on arrival."}`,
			after:   map[string]any{"status": "unsatisfactory", "note": "Haemolysed on arrival.", "type": "blood"},
		},
		"imaging-studies": {
			fhir:    []string{subject, `"modality":[{"code":"CT","display":"Computed Tomography","system":"http://dicom.nema.org/resources/ontology/DCM"}]`, `"numberOfInstances":120`},
			queries: map[string]string{"patientId": pt, "status": "available", "modality": "CT", "dateFrom": "2026-11-20", "dateTo": "2026-11-20"},
			patch:   `{"note":"Small nodule in the right upper lobe; follow up in 12 months."}`,
			after:   map[string]any{"note": "Small nodule in the right upper lobe; follow up in 12 months.", "status": "available"},
		},
		"media": {
			fhir:    []string{subject, `{"code":"image","display":"Image","system":"http://terminology.hl7.org/CodeSystem/media-type"}`, `"contentType":"image/jpeg"`, `"deviceName":"DermLite DL4"`},
			queries: map[string]string{"patientId": pt, "status": "completed", "type": "image", "modality": "Dermatoscope", "dateFrom": "2026-11-20", "dateTo": "2026-11-20"},
			patch:   `{"note":"Reviewed: benign.","content":{"title":"Left forearm mole, reviewed"}}`,
			after: map[string]any{"note": "Reviewed: benign.",
				"content": map[string]any{"contentType": "image/jpeg", "url": "https://images.example.com/derm/mole-1.jpg", "title": "Left forearm mole, reviewed"}},
		},
		"medication-statements": {
			fhir: []string{subject, `"context":{"reference":"Encounter/` + enc + `"}`, `"dosage":[{"text":"500 mg by mouth twice daily with meals"}]`,
				`"system":"http://terminology.hl7.org/CodeSystem/medication-statement-category"`},
			queries: map[string]string{"patientId": pt, "status": "active", "medication": "860975", "category": "community"},
			patch:   `{"status":"stopped","statusReason":["Switched to insulin"]}`,
			after:   map[string]any{"status": "stopped", "statusReason": []any{"Switched to insulin"}, "dosageText": "500 mg by mouth twice daily with meals"},
		},
		"medication-dispenses": {
			fhir: []string{subject, `"context":{"reference":"Encounter/` + enc + `"}`, `"daysSupply":{"code":"d","system":"http://unitsofmeasure.org","unit":"d","value":30}`,
				`"dosageInstruction":[{"text":"Take 1 tablet by mouth twice daily with meals"}]`, `"authorizingPrescription":[{"reference":"MedicationRequest/rx-metformin1"}]`},
			queries: map[string]string{"patientId": pt, "status": "completed", "medication": "860975"},
			patch:   `{"daysSupply":60,"quantity":{"value":120,"unit":"tablet"}}`,
			after:   map[string]any{"daysSupply": 60.0, "quantity": map[string]any{"value": 120.0, "unit": "tablet"}, "status": "completed"},
		},
		"medication-knowledge": {
			fhir:    []string{`"manufacturer":{"reference":"Organization/org-teva1"}`, `{"code":"385055001","display":"Tablet","system":"http://snomed.info/sct"}`, `"synonym":["Glucophage"]`},
			queries: map[string]string{"code": "861007", "status": "active", "doseForm": "tablet", "manufacturer": "org-teva1"},
			patch:   `{"status":"inactive","synonym":["Glucophage","Riomet"]}`,
			after:   map[string]any{"status": "inactive", "synonym": []any{"Glucophage", "Riomet"}, "manufacturer": "Organization/org-teva1"},
		},
		"risk-assessments": {
			fhir: []string{subject, `"condition":{"reference":"Condition/cnd-diabetes1"}`, `"basedOn":{"reference":"Observation/obs-ldl1"}`,
				`{"code":"moderate","display":"Moderate likelihood","system":"http://terminology.hl7.org/CodeSystem/risk-probability"}`},
			queries: map[string]string{"patientId": pt, "status": "final", "method": "ASCVD-risk-calculator", "conditionId": "cnd-diabetes1"},
			patch:   `{"status":"amended","mitigation":"Statin started."}`,
			after:   map[string]any{"status": "amended", "mitigation": "Statin started.", "note": "Discussed with the patient."},
		},
		"nutrition-orders": {
			fhir:    []string{patient, `"orderer":{"reference":"Practitioner/` + pr + `"}`, `"allergyIntolerance":[{"reference":"AllergyIntolerance/alg-peanut1"}]`, `"productName":"Glucerna"`},
			queries: map[string]string{"patientId": pt, "status": "active", "dateFrom": "2026-11-20", "dateTo": "2026-11-20"},
			patch:   `{"status":"completed","enteralFormula":{"baseFormulaProductName":"Jevity 1.2","routeOfAdministration":"Nasogastric"}}`,
			after:   map[string]any{"status": "completed", "enteralFormula": map[string]any{"baseFormulaProductName": "Jevity 1.2", "routeOfAdministration": "Nasogastric"}},
		},
		"vision-prescriptions": {
			fhir:    []string{patient, `"prescriber":{"reference":"Practitioner/` + pr + `"}`, `"system":"http://terminology.hl7.org/CodeSystem/ex-visionprescriptionproduct"`, `"prism":[{"amount":0.5,"base":"in"}]`},
			queries: map[string]string{"patientId": pt, "status": "active", "prescriberId": pr, "dateFrom": "2026-11-20", "dateTo": "2026-11-20"},
			patch:   `{"status":"cancelled"}`,
			after:   map[string]any{"status": "cancelled", "prescriberId": pr},
		},
		"device-requests": {
			fhir:    []string{subject, `"codeCodeableConcept":{"coding":[{"code":"337414009"`, `"basedOn":[{"reference":"CarePlan/cp-diabetes1"}]`},
			queries: map[string]string{"patientId": pt, "status": "active", "intent": "order", "code": "337414009"},
			patch:   `{"status":"completed","note":"Delivered with 100 strips."}`,
			after:   map[string]any{"status": "completed", "note": "Delivered with 100 strips.", "priority": "routine"},
		},
		"device-use-statements": {
			fhir:    []string{subject, `"device":{"reference":"Device/dev-glucometer1"}`, `"status":"active"`},
			queries: map[string]string{"patientId": pt, "status": "active", "deviceId": "dev-glucometer1"},
			patch:   `{"status":"completed","timingDateTime":"2026-12-20T10:00:00Z"}`,
			after:   map[string]any{"status": "completed", "timingDateTime": "2026-12-20T10:00:00Z", "timingPeriod": nil},
		},
		"devices": {
			fhir:    []string{patient, `"deviceName":[{"name":"Accu-Chek Guide","type":"user-friendly-name"}]`, `"modelNumber":"AG-2026"`, `"system":"https://clinikapi.com/fhir/CodeSystem/device-type"`},
			queries: map[string]string{"patientId": pt, "status": "active", "type": "glucose-meter", "manufacturer": "Roche", "modelNumber": "AG-2026"},
			patch:   `{"status":"inactive","deviceName":"Accu-Chek Guide Me"}`,
			after:   map[string]any{"status": "inactive", "deviceName": "Accu-Chek Guide Me", "serialNumber": "SN-88412"},
		},
		"tasks": {
			fhir: []string{`"for":{"reference":"Patient/` + pt + `"}`, `"focus":{"reference":"ServiceRequest/sr-hba1c1"}`, `"basedOn":[{"reference":"CarePlan/cp-diabetes1"}]`,
				`{"code":"fulfill","display":"Fulfill the focal request","system":"http://hl7.org/fhir/CodeSystem/task-code"}`},
			queries: map[string]string{"patientId": pt, "status": "requested", "ownerId": pr, "requesterId": pr, "priority": "routine", "code": "fulfill",
				"dateFrom": "2026-11-20", "dateTo": "2026-11-20", "sort": "-date"},
			patch: `{"status":"completed","output":[{"type":"Specimen identifier","valueString":"spec-hba1c1"}]}`,
			after: map[string]any{"status": "completed", "output": []any{map[string]any{"type": "Specimen identifier", "valueString": "spec-hba1c1"}}},
		},
		"audit-events": {
			fhir: []string{`"who":{"reference":"Practitioner/` + pr + `"}`, `"network":{"address":"10.0.1.42"}`, `"observer":{"display":"EHR Application"}`,
				`{"code":"rest","display":"RESTful Operation","system":"http://terminology.hl7.org/CodeSystem/audit-event-type"}`, `"what":{"reference":"Patient/` + pt + `"}`},
			queries: map[string]string{"action": "R", "outcome": "0", "agent": pr, "dateFrom": "2026-11-20", "dateTo": "2026-11-20"},
		},
	}, nil
}

// TestSimplifiedClinicalIncludes: patients.read(id, {include}) as the SDK
// sends it (Type:subject and Type:patient) brings the clinical resources
// that refer to the patient by subject or by patient.
func TestSimplifiedClinicalIncludes(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a, _ := twoTenants(t, env)
		pt := dataOf(t, simpleCall(t, env, "POST", "/v1/patients", a.test, `{"firstName":"Chart","lastName":"Include"}`, "application/json"))["id"].(string)
		made := map[string]string{}
		for path, body := range map[string]string{
			"Condition":          `/v1/conditions {"patientId":"` + pt + `","clinicalStatus":"active","code":"Asthma"}`,
			"AllergyIntolerance": `/v1/allergies {"patientId":"` + pt + `","clinicalStatus":"active","code":"Peanut"}`,
			"Immunization":       `/v1/immunizations {"patientId":"` + pt + `","status":"completed","vaccineCode":"141"}`,
			"CarePlan":           `/v1/care-plans {"patientId":"` + pt + `","status":"active","intent":"plan"}`,
			"Goal":               `/v1/goals {"patientId":"` + pt + `","lifecycleStatus":"active","description":"Walk daily"}`,
			"Task":               `/v1/tasks {"patientId":"` + pt + `","status":"requested","intent":"order"}`,
		} {
			route, b, _ := strings.Cut(body, " ")
			r := simpleCall(t, env, "POST", route, a.test, b, "application/fhir+json")
			if r.Status != 201 {
				t.Fatalf("%s: %d %s", route, r.Status, r.Raw)
			}
			made[dataOf(t, r)["id"].(string)] = path
		}
		q := url.Values{}
		for _, typ := range made {
			q.Add("_revinclude", typ+":subject")
			q.Add("_revinclude", typ+":patient")
		}
		r := simpleCall(t, env, "GET", "/v1/patients/"+pt+"?"+q.Encode(), a.test, nil, "")
		if r.Status != 200 {
			t.Fatalf("read with _revinclude: %d %s", r.Status, r.Raw)
		}
		got := map[string]string{}
		for _, e := range entries(dataOf(t, r)) {
			res := e.(map[string]any)["resource"].(map[string]any)
			got[res["id"].(string)] = res["resourceType"].(string)
		}
		for id, typ := range made {
			if got[id] != typ {
				t.Errorf("%s/%s is not in the patient's Bundle: %v", typ, id, got)
			}
		}
	})
}
