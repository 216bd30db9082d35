package web_test

import (
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

func init() { caseSets = append(caseSets, adminCases) }

// adminFixtures creates, through /v1/fhir, what the administrative
// examples refer to besides the patient, practitioner and encounter, and
// returns their ids by placeholder name.
func adminFixtures(t *testing.T, env *apptest.Env, key string, f fixtures) map[string]string {
	t.Helper()
	mk := func(typ, body string) string {
		t.Helper()
		r := fhirCall(t, env, "POST", "/v1/fhir/"+typ, key, body)
		if r.Status != 201 {
			t.Fatalf("fixture %s: %d %s", typ, r.Status, r.Raw)
		}
		return r.Body["id"].(string)
	}
	pt, pr := `{"reference":"Patient/`+f.patient+`"}`, `{"reference":"Practitioner/`+f.practitioner+`"}`
	m := map[string]string{}
	m["organizationId"] = mk("Organization", `{"resourceType":"Organization","name":"Cascade Health Plan","type":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/organization-type","code":"ins"}]}]}`)
	org := `{"reference":"Organization/` + m["organizationId"] + `"}`
	m["locationId"] = mk("Location", `{"resourceType":"Location","name":"Riverside Main Campus","status":"active"}`)
	m["scheduleId"] = mk("Schedule", `{"resourceType":"Schedule","active":true,"actor":[`+pr+`]}`)
	m["appointmentId"] = mk("Appointment", `{"resourceType":"Appointment","status":"booked","start":"2026-12-02T15:00:00Z","end":"2026-12-02T15:30:00Z",`+
		`"participant":[{"actor":`+pt+`,"status":"accepted"},{"actor":`+pr+`,"status":"needs-action"}]}`)
	m["coverageId"] = mk("Coverage", `{"resourceType":"Coverage","status":"active","beneficiary":`+pt+`,"payor":[`+org+`]}`)
	cov := `{"reference":"Coverage/` + m["coverageId"] + `"}`
	m["accountId"] = mk("Account", `{"resourceType":"Account","status":"active","name":"Riverside household"}`)
	m["claimId"] = mk("Claim", `{"resourceType":"Claim","status":"active","use":"claim","created":"2026-11-20T16:00:00Z",`+
		`"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/claim-type","code":"professional"}]},"patient":`+pt+`,"provider":`+pr+`,`+
		`"priority":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/processpriority","code":"normal"}]},"insurance":[{"sequence":1,"focal":true,"coverage":`+cov+`}]}`)
	m["claimResponseId"] = mk("ClaimResponse", `{"resourceType":"ClaimResponse","status":"active","use":"claim","created":"2026-11-27T10:00:00Z","outcome":"complete",`+
		`"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/claim-type","code":"professional"}]},"patient":`+pt+`,"insurer":`+org+`,`+
		`"request":{"reference":"Claim/`+m["claimId"]+`"}}`)
	m["reconciliationId"] = mk("PaymentReconciliation", `{"resourceType":"PaymentReconciliation","status":"active","created":"2026-11-30T11:00:00Z",`+
		`"paymentDate":"2026-11-30","paymentAmount":{"value":196,"currency":"USD"}}`)
	m["eligibilityRequestId"] = mk("CoverageEligibilityRequest", `{"resourceType":"CoverageEligibilityRequest","status":"active","purpose":["validation"],`+
		`"patient":`+pt+`,"created":"2026-11-18T08:30:00Z","insurer":`+org+`}`)
	m["enrollmentRequestId"] = mk("EnrollmentRequest", `{"resourceType":"EnrollmentRequest","status":"active","candidate":`+pt+`,"insurer":`+org+`}`)
	m["measureId"] = mk("Measure", `{"resourceType":"Measure","status":"active","name":"DiabetesHbA1c"}`)
	return m
}

func adminCases(t *testing.T, env *apptest.Env, key string, f fixtures) (map[string]roundTripCase, map[string]string) {
	t.Helper()
	m := adminFixtures(t, env, key, f)
	pt, pr, org := f.patient, f.practitioner, m["organizationId"]
	return map[string]roundTripCase{
		"organizations": {
			fhir: []string{`{"system":"email","value":"frontdesk@riverside-health.example.com"}`, `"partOf":{"reference":"Organization/` + org + `"}`,
				`"code":"prov","system":"http://terminology.hl7.org/CodeSystem/organization-type"`, `"name":{"family":"Whitfield","given":["Dana"]}`, `"code":"BILL"`},
			queries: map[string]string{"name": "riverside fam", "type": "provider", "active": "true"},
			patch:   `{"phone":"+1-555-0199","contact":[{"purpose":"admin","firstName":"Lee","lastName":"Park"}]}`,
			after: map[string]any{"phone": "+1-555-0199", "email": "frontdesk@riverside-health.example.com",
				"contact": []any{map[string]any{"purpose": "admin", "firstName": "Lee", "lastName": "Park"}}},
		},
		"locations": {
			fhir: []string{`"managingOrganization":{"reference":"Organization/` + org + `"}`, `"code":"wi"`, `"code":"CARD","system":"http://terminology.hl7.org/CodeSystem/v3-RoleCode"`,
				`{"system":"phone","value":"+1-555-0150"}`, `"latitude":45.5231`},
			queries: map[string]string{"name": "cardiology", "status": "active", "type": "CARD", "address": "Portland", "sort": "status"},
			patch:   `{"status":"suspended","availabilityExceptions":"Closed for renovation in January"}`,
			after:   map[string]any{"status": "suspended", "availabilityExceptions": "Closed for renovation in January", "physicalType": "wing"},
		},
		"healthcare-services": {
			fhir: []string{`"providedBy":{"reference":"Organization/` + org + `"}`, `"location":[{"display":"Riverside Cardiology Clinic"}]`,
				`"code":"Cardiology","system":"https://clinikapi.com/fhir/CodeSystem/specialty"`, `"code":"elec"`, `"code":"es","system":"urn:ietf:bcp:47"`},
			queries: map[string]string{"name": "cardiac rehab", "type": "Cardiac rehabilitation", "specialty": "Cardiology", "active": "true"},
			patch:   `{"locationNames":["Riverside Cardiology Clinic","North Campus Gym"],"appointmentRequired":false}`,
			after:   map[string]any{"locationNames": []any{"Riverside Cardiology Clinic", "North Campus Gym"}, "appointmentRequired": false, "email": "rehab@riverside-health.example.com"},
		},
		"schedules": {
			fhir:    []string{`"actor":[{"reference":"Practitioner/` + pr + `"}]`, `"code":"General consultation"`, `"planningHorizon":{"end":"2026-12-31T23:59:59Z","start":"2026-12-01T00:00:00Z"}`},
			queries: map[string]string{"actorId": pr, "serviceType": "General consultation", "specialty": "Family Medicine", "active": "true", "dateFrom": "2026-12-01", "dateTo": "2026-12-31", "sort": "-date"},
			patch:   `{"comment":"Dr. Marquez, mornings and Thursday afternoons","active":false}`,
			after:   map[string]any{"comment": "Dr. Marquez, mornings and Thursday afternoons", "active": false, "actorIds": []any{pr}},
		},
		"slots": {
			fhir:    []string{`"schedule":{"reference":"Schedule/` + m["scheduleId"] + `"}`, `"status":"free"`, `"code":"ROUTINE"`, `"code":"Family Medicine"`},
			queries: map[string]string{"scheduleId": m["scheduleId"], "status": "free", "serviceType": "General consultation", "specialty": "Family Medicine", "dateFrom": "2026-12-07", "dateTo": "2026-12-07"},
			patch:   `{"status":"busy","comment":"Booked by phone"}`,
			after:   map[string]any{"status": "busy", "comment": "Booked by phone", "scheduleId": m["scheduleId"]},
		},
		"appointment-responses": {
			fhir:    []string{`"appointment":{"reference":"Appointment/` + m["appointmentId"] + `"}`, `"actor":{"reference":"Practitioner/` + pr + `"}`, `"participantStatus":"tentative"`, `"code":"ATND"`},
			queries: map[string]string{"appointmentId": m["appointmentId"], "actorId": pr, "participantStatus": "tentative"},
			patch:   `{"participantStatus":"accepted","comment":"Confirmed for the original time"}`,
			after:   map[string]any{"participantStatus": "accepted", "comment": "Confirmed for the original time", "participantType": "attender"},
		},
		"persons": {
			fhir:    []string{`"name":[{"family":"Okafor","given":["Amara"]}]`, `"link":[{"assurance":"level3","target":{"reference":"Patient/` + pt + `"}}]`, `"active":true`},
			queries: map[string]string{"name": "okaf", "email": "amara.okafor@example.com", "phone": "+1-555-0100", "active": "true", "sort": "-lastUpdated"},
			patch:   `{"phone":"+1-555-0177","email":null}`,
			after:   map[string]any{"phone": "+1-555-0177", "email": nil, "lastName": "Okafor"},
		},
		"accounts": {
			fhir:    []string{`"subject":[{"reference":"Patient/` + pt + `"}]`, `"code":"PBILLACCT"`, `"owner":{"reference":"Organization/` + org + `"}`, `"coverage":{"reference":"Coverage/` + m["coverageId"] + `"}`},
			queries: map[string]string{"patientId": pt, "status": "active", "type": "patient", "ownerId": org},
			patch:   `{"status":"on-hold","description":"On hold pending insurance verification"}`,
			after:   map[string]any{"status": "on-hold", "description": "On hold pending insurance verification", "type": "patient"},
		},
		"coverages": {
			fhir: []string{`"beneficiary":{"reference":"Patient/` + pt + `"}`, `"payor":[{"reference":"Organization/` + org + `"}]`, `"code":"HIP"`,
				`"subscriber":{"reference":"Patient/` + pt + `"}`, `"code":"self"`, `"code":"group","system":"http://terminology.hl7.org/CodeSystem/coverage-class"`},
			queries: map[string]string{"patientId": pt, "status": "active", "type": "medical", "payorId": org},
			patch:   `{"network":"Cascade Select Network","order":2}`,
			after:   map[string]any{"network": "Cascade Select Network", "order": 2.0, "relationship": "self"},
		},
		"claims": {
			fhir: []string{`"insurance":[{"coverage":{"reference":"Coverage/` + m["coverageId"] + `"},"focal":true,"sequence":1}]`, `"insurer":{"reference":"Organization/` + org + `"}`,
				`"code":"I20.8","system":"http://hl7.org/fhir/sid/icd-10-cm"`, `"code":"93000","system":"http://www.ama-assn.org/go/cpt"`,
				`"valueString":"ECG performed during the follow-up visit for chest pain"`},
			queries: map[string]string{"patientId": pt, "status": "active", "use": "claim", "providerId": pr, "dateFrom": "2026-11-20", "dateTo": "2026-11-20"},
			patch:   `{"note":"ECG with interpretation during the follow-up visit","priority":"deferred"}`,
			after:   map[string]any{"note": "ECG with interpretation during the follow-up visit", "priority": "deferred", "type": "professional"},
		},
		"claim-responses": {
			fhir: []string{`"request":{"reference":"Claim/` + m["claimId"] + `"}`, `"code":"benefit","system":"http://terminology.hl7.org/CodeSystem/adjudication"`,
				`"url":"https://clinikapi.com/fhir/StructureDefinition/note","valueString":"Adjudicated automatically; no records requested"`},
			queries: map[string]string{"patientId": pt, "status": "active", "use": "claim", "outcome": "complete", "requestId": m["claimId"]},
			patch:   `{"outcome":"partial","note":"Second line pended for review"}`,
			after:   map[string]any{"outcome": "partial", "note": "Second line pended for review", "disposition": "Claim settled as per contract"},
		},
		"eobs": {
			fhir: []string{`"claim":{"reference":"Claim/` + m["claimId"] + `"}`, `"claimResponse":{"reference":"ClaimResponse/` + m["claimResponseId"] + `"}`,
				`"code":"copay"`, `"outcome":"complete"`},
			queries: map[string]string{"patientId": pt, "status": "active", "use": "claim", "outcome": "complete", "claimId": m["claimId"]},
			patch:   `{"disposition":"Reprocessed after appeal","processNote":[{"number":1,"text":"Appeal granted"}]}`,
			after:   map[string]any{"disposition": "Reprocessed after appeal", "processNote": []any{map[string]any{"number": 1.0, "text": "Appeal granted"}}, "outcome": "complete"},
		},
		"invoices": {
			fhir:    []string{`"issuer":{"reference":"Organization/` + org + `"}`, `"account":{"reference":"Account/` + m["accountId"] + `"}`, `"chargeItemCodeableConcept":{"coding":[{"code":"99214"`},
			queries: map[string]string{"patientId": pt, "status": "issued", "issuerId": org, "dateFrom": "2026-11-21", "dateTo": "2026-11-21"},
			patch:   `{"status":"balanced","paymentTerms":"Paid in full on 2026-12-05"}`,
			after:   map[string]any{"status": "balanced", "paymentTerms": "Paid in full on 2026-12-05", "note": "Insurance portion billed separately"},
		},
		"charge-items": {
			fhir:    []string{`"context":{"reference":"Encounter/` + f.encounter + `"}`, `"bodysite":[{"text":"Chest"}]`, `"account":[{"reference":"Account/` + m["accountId"] + `"}]`},
			queries: map[string]string{"patientId": pt, "status": "billable", "code": "93000", "dateFrom": "2026-11-20", "dateTo": "2026-11-20"},
			patch:   `{"status":"billed","overrideReason":"Contracted rate, 2026 schedule"}`,
			after:   map[string]any{"status": "billed", "overrideReason": "Contracted rate, 2026 schedule", "code": "93000"},
		},
		"payment-notices": {
			fhir: []string{`"request":{"reference":"Claim/` + m["claimId"] + `"}`, `"response":{"reference":"ClaimResponse/` + m["claimResponseId"] + `"}`,
				`"payment":{"reference":"PaymentReconciliation/` + m["reconciliationId"] + `"}`, `"code":"paid"`},
			queries: map[string]string{"status": "active", "dateFrom": "2026-11-30", "dateTo": "2026-11-30", "providerId": pr},
			patch:   `{"paymentStatus":"cleared"}`,
			after:   map[string]any{"paymentStatus": "cleared", "requestId": m["claimId"]},
		},
		"payment-reconciliations": {
			fhir:    []string{`"request":{"reference":"Claim/` + m["claimId"] + `"}`, `"code":"adjustment","system":"http://terminology.hl7.org/CodeSystem/payment-type"`, `"paymentAmount":{"currency":"USD","value":396}`},
			queries: map[string]string{"status": "active", "dateFrom": "2026-11-30", "dateTo": "2026-11-30", "outcome": "complete"},
			patch:   `{"disposition":"November remittance, corrected","outcome":"partial"}`,
			after:   map[string]any{"disposition": "November remittance, corrected", "outcome": "partial", "paymentDate": "2026-11-30"},
		},
		"eligibility-requests": {
			fhir:    []string{`"purpose":["validation","benefits"]`, `"insurer":{"reference":"Organization/` + org + `"}`, `"coverage":{"reference":"Coverage/` + m["coverageId"] + `"}`},
			queries: map[string]string{"patientId": pt, "status": "active", "dateFrom": "2026-11-18", "dateTo": "2026-11-18"},
			patch:   `{"servicedDate":"2026-11-21","item":[{"productOrService":"93000"}]}`,
			after:   map[string]any{"servicedDate": "2026-11-21", "item": []any{map[string]any{"productOrService": "93000"}}},
		},
		"eligibility-responses": {
			fhir:    []string{`"request":{"reference":"CoverageEligibilityRequest/` + m["eligibilityRequestId"] + `"}`, `"inforce":true`, `"error":[{"code":{"text":"No prior authorization on file"}}]`},
			queries: map[string]string{"patientId": pt, "status": "active", "outcome": "complete", "requestId": m["eligibilityRequestId"]},
			patch:   `{"error":null,"disposition":"Coverage active; authorization on file"}`,
			after:   map[string]any{"error": nil, "disposition": "Coverage active; authorization on file", "outcome": "complete"},
		},
		"enrollment-requests": {
			fhir:    []string{`"candidate":{"reference":"Patient/` + pt + `"}`, `"insurer":{"reference":"Organization/` + org + `"}`},
			queries: map[string]string{"candidateId": pt, "status": "active", "insurerId": org},
			patch:   `{"status":"cancelled"}`,
			after:   map[string]any{"status": "cancelled", "candidateId": pt},
		},
		"enrollment-responses": {
			fhir:    []string{`"request":{"reference":"EnrollmentRequest/` + m["enrollmentRequestId"] + `"}`, `"organization":{"reference":"Organization/` + org + `"}`},
			queries: map[string]string{"status": "active", "outcome": "complete"},
			patch:   `{"outcome":"error","disposition":"Member not found in the payer's roster"}`,
			after:   map[string]any{"outcome": "error", "disposition": "Member not found in the payer's roster", "requestId": m["enrollmentRequestId"]},
		},
		"measures": {
			fhir:    []string{`"code":"proportion"`, `"code":"Diabetes","system":"https://clinikapi.com/fhir/CodeSystem/topic"`, `"code":"assessment","system":"http://terminology.hl7.org/CodeSystem/definition-topic"`},
			queries: map[string]string{"status": "active", "name": "hba1c", "title": "poor control", "topic": "Diabetes"},
			patch:   `{"status":"retired","guidance":"Superseded by the 2027 version"}`,
			after:   map[string]any{"status": "retired", "guidance": "Superseded by the 2027 version", "scoring": "proportion"},
		},
		"measure-reports": {
			fhir:    []string{`"measure":"Measure/` + m["measureId"] + `"`, `"reporter":{"reference":"Organization/` + org + `"}`, `"code":"denominator"`},
			queries: map[string]string{"patientId": pt, "status": "complete", "measureId": m["measureId"], "dateFrom": "2026-11-25", "dateTo": "2026-11-25"},
			patch:   `{"status":"pending"}`,
			after:   map[string]any{"status": "pending", "measureId": m["measureId"]},
		},
		"plan-definitions": {
			fhir:    []string{`"code":"clinical-protocol"`, `"code":"high-priority"`, `"definitionUri":"https://riverside-health.example.com/fhir/ActivityDefinition/hba1c"`},
			queries: map[string]string{"status": "active", "name": "annualcare", "title": "annual care", "type": "clinical-protocol"},
			patch:   `{"status":"retired","usage":"Replaced by the 2027 protocol"}`,
			after:   map[string]any{"status": "retired", "usage": "Replaced by the 2027 protocol", "type": "clinical-protocol"},
		},
		"activity-definitions": {
			fhir:    []string{`"kind":"ServiceRequest"`, `"code":"4548-4","display":"Hemoglobin A1c/Hemoglobin.total in Blood","system":"http://loinc.org"`, `"location":{"reference":"Location/` + m["locationId"] + `"}`},
			queries: map[string]string{"status": "active", "name": "hba1c", "title": "hemoglobin", "kind": "ServiceRequest", "code": "4548-4"},
			patch:   `{"priority":"urgent","timingPeriod":{"start":"2026-12-15T09:00:00Z","end":"2026-12-15T12:00:00Z"}}`,
			after:   map[string]any{"priority": "urgent", "timingDateTime": nil, "timingPeriod": map[string]any{"start": "2026-12-15T09:00:00Z", "end": "2026-12-15T12:00:00Z"}},
		},
	}, m
}

// TestSlotsFreeWeek: the free slots of one schedule in one week, with one
// search (scheduleId, status and the date range), as guides/slots.mdx
// lists a practitioner's bookable times; busy slots, slots outside the
// week and another schedule's slots stay out.
func TestSlotsFreeWeek(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a, _ := twoTenants(t, env)
		create := func(path, body string) string {
			t.Helper()
			r := simpleCall(t, env, "POST", "/v1/"+path, a.test, body, "application/json")
			if r.Status != 201 {
				t.Fatalf("create %s: %d %s", path, r.Status, r.Raw)
			}
			return dataOf(t, r)["id"].(string)
		}
		pr := create("practitioners", `{"firstName":"Lena","lastName":"Marquez"}`)
		other := create("practitioners", `{"firstName":"Omar","lastName":"Haddad"}`)
		sched := create("schedules", `{"actorIds":["`+pr+`"],"serviceType":["General consultation"],"planningHorizon":{"start":"2026-12-01T00:00:00Z","end":"2026-12-31T23:59:59Z"}}`)
		otherSched := create("schedules", `{"actorIds":["`+other+`"]}`)
		slot := func(schedule, status, start, end string) string {
			return create("slots", `{"scheduleId":"`+schedule+`","status":"`+status+`","start":"`+start+`","end":"`+end+`"}`)
		}
		// The week of Monday 7 to Friday 11 December 2026.
		want := []string{
			slot(sched, "free", "2026-12-07T09:00:00Z", "2026-12-07T09:30:00Z"),
			slot(sched, "free", "2026-12-08T10:00:00Z", "2026-12-08T10:30:00Z"),
			slot(sched, "free", "2026-12-10T11:00:00Z", "2026-12-10T11:30:00Z"),
			slot(sched, "free", "2026-12-11T23:30:00Z", "2026-12-11T23:59:00Z"), // the last half hour of Friday
		}
		slot(sched, "busy", "2026-12-07T09:30:00Z", "2026-12-07T10:00:00Z")
		slot(sched, "busy-unavailable", "2026-12-09T12:00:00Z", "2026-12-09T13:00:00Z")
		slot(sched, "busy-tentative", "2026-12-10T14:00:00Z", "2026-12-10T14:30:00Z")
		slot(sched, "free", "2026-12-06T09:00:00Z", "2026-12-06T09:30:00Z")      // the Sunday before
		slot(sched, "free", "2026-12-12T00:00:00Z", "2026-12-12T00:30:00Z")      // Saturday
		slot(sched, "free", "2026-12-14T09:00:00Z", "2026-12-14T09:30:00Z")      // the Monday after
		slot(otherSched, "free", "2026-12-08T10:00:00Z", "2026-12-08T10:30:00Z") // another practitioner's

		q := url.Values{"scheduleId": {sched}, "status": {"free"}, "dateFrom": {"2026-12-07"}, "dateTo": {"2026-12-11"}}
		r := simpleCall(t, env, "GET", "/v1/slots?"+q.Encode(), a.test, nil, "")
		if r.Status != 200 {
			t.Fatalf("free slots of the week: %d %s", r.Status, r.Raw)
		}
		got := ids(t, r)
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) || dataOf(t, r)["total"] != float64(len(want)) || dataOf(t, r)["hasMore"] != false {
			t.Fatalf("free slots of the week: %v, want %v\n%s", got, want, r.Raw)
		}
		// The answer is the list envelope of simplified slots.
		items := dataOf(t, r)["data"].([]any)
		for _, it := range items {
			s := it.(map[string]any)
			if s["resourceType"] != "Slot" || s["status"] != "free" || s["scheduleId"] != sched || !strings.HasPrefix(s["start"].(string), "2026-12-") {
				t.Fatalf("not a free slot of the schedule: %s", marshal(s))
			}
		}
		// Booking one (the guide's workflow) takes it off the list.
		if r := simpleCall(t, env, "PATCH", "/v1/slots/"+want[0], a.test, `{"status":"busy"}`, "application/json"); r.Status != 200 {
			t.Fatalf("book: %d %s", r.Status, r.Raw)
		}
		r = simpleCall(t, env, "GET", "/v1/slots?"+q.Encode(), a.test, nil, "")
		if got := ids(t, r); len(got) != len(want)-1 || slices.Contains(got, want[0]) {
			t.Fatalf("after booking %s: %v", want[0], got)
		}
	})
}

// TestSimplifiedReferencesStayInTenant: a slot's schedule, a claim's coverage
// and insurer, an appointment response's appointment and a measure
// report's measure are FHIR references inside the tenant. Another
// organization that writes A's ids into its own resources reads nothing
// of A through them: not by id, not by _include, not by a search, and its
// answers are the same as for ids that exist nowhere.
func TestSimplifiedReferencesStayInTenant(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a, b := twoTenants(t, env)
		create := func(key, path, body string) string {
			t.Helper()
			r := simpleCall(t, env, "POST", "/v1/"+path, key, body, "application/json")
			if r.Status != 201 {
				t.Fatalf("create %s: %d %s", path, r.Status, r.Raw)
			}
			return dataOf(t, r)["id"].(string)
		}
		// A's resources the references point to.
		aPt := create(a.test, "patients", `{"firstName":"Ada","lastName":"Tenant"}`)
		aPr := create(a.test, "practitioners", `{"firstName":"Al","lastName":"Tenant"}`)
		aOrg := create(a.test, "organizations", `{"name":"A Health Plan"}`)
		aTargets := map[string]string{
			"Schedule":     create(a.test, "schedules", `{"actorIds":["`+aPr+`"],"comment":"A only"}`),
			"Coverage":     create(a.test, "coverages", `{"status":"active","patientId":"`+aPt+`","payorIds":["`+aOrg+`"]}`),
			"Organization": aOrg,
			"Appointment":  create(a.test, "appointments", `{"status":"booked","patientId":"`+aPt+`","start":"2026-12-02T15:00:00Z","end":"2026-12-02T15:30:00Z"}`),
			"Measure":      create(a.test, "measures", `{"status":"active","name":"AOnly"}`),
		}
		// B's own patient and practitioner.
		bPt := create(b.test, "patients", `{"firstName":"Bo","lastName":"Other"}`)
		bPr := create(b.test, "practitioners", `{"firstName":"Bea","lastName":"Other"}`)

		type refCase struct {
			path, typ string
			body      func(ids map[string]string) string
			include   []string // Type:param
		}
		cases := []refCase{
			{"slots", "Slot", func(m map[string]string) string {
				return `{"scheduleId":"` + m["Schedule"] + `","status":"free","start":"2026-12-07T09:00:00Z","end":"2026-12-07T09:30:00Z"}`
			}, []string{"Slot:schedule"}},
			{"claims", "Claim", func(m map[string]string) string {
				return `{"status":"active","type":"professional","use":"claim","patientId":"` + bPt + `","providerId":"` + bPr + `","insurerId":"` + m["Organization"] +
					`","priority":"normal","insurance":[{"sequence":1,"focal":true,"coverageId":"` + m["Coverage"] + `"}]}`
			}, []string{"Claim:insurer"}},
			{"appointment-responses", "AppointmentResponse", func(m map[string]string) string {
				return `{"appointmentId":"` + m["Appointment"] + `","participantStatus":"accepted","actorId":"` + bPr + `"}`
			}, []string{"AppointmentResponse:appointment"}},
			{"measure-reports", "MeasureReport", func(m map[string]string) string {
				return `{"status":"complete","type":"summary","measureId":"` + m["Measure"] + `","period":{"start":"2026-01-01","end":"2026-12-31"}}`
			}, []string{"MeasureReport:measure"}},
		}
		// Ids that exist nowhere, of the same shape as A's.
		nowhere := map[string]string{}
		for typ, id := range aTargets {
			nowhere[typ] = id[:len(id)-4] + "zzzz"
		}
		// What B sees of its own resource pointing to targets, with includes.
		view := func(key string, c refCase, targets map[string]string) (created apiResult, id string, included []string) {
			t.Helper()
			created = simpleCall(t, env, "POST", "/v1/"+c.path, key, c.body(targets), "application/json")
			if created.Status != 201 {
				t.Fatalf("%s with references: %d %s", c.path, created.Status, created.Raw)
			}
			id = dataOf(t, created)["id"].(string)
			q := url.Values{"_id": {id}, "_include": c.include}
			r := fhirCall(t, env, "GET", "/v1/fhir/"+c.typ+"?"+q.Encode(), key, "")
			if r.Status != 200 {
				t.Fatalf("%s _include: %d %s", c.typ, r.Status, r.Raw)
			}
			for _, e := range entries(r.Body) {
				res := e.(map[string]any)["resource"].(map[string]any)
				if res["id"] != id {
					included = append(included, res["resourceType"].(string)+"/"+res["id"].(string))
				}
			}
			// The simplified read with the include, as an SDK read sends it.
			rr := simpleCall(t, env, "GET", "/v1/"+c.path+"/"+id+"?"+url.Values{"_include": c.include}.Encode(), key, nil, "")
			if rr.Status != 200 {
				t.Fatalf("%s read with _include: %d %s", c.path, rr.Status, rr.Raw)
			}
			for typ, tid := range aTargets {
				if key != a.test && strings.Contains(rr.Raw, `"id":"`+tid+`"`) {
					t.Fatalf("B's %s read includes A's %s: %s", c.path, typ, rr.Raw)
				}
			}
			return created, id, included
		}
		for _, c := range cases {
			// A, inside its own tenant, gets the target included.
			_, _, inc := view(a.test, c, aTargets)
			if len(inc) == 0 {
				t.Fatalf("%s: A's own include found nothing", c.path)
			}
			// B, pointing at A's ids: stored as plain references, nothing included.
			cr, id, inc := view(b.test, c, aTargets)
			if len(inc) != 0 {
				t.Fatalf("%s: B's include reached %v", c.path, inc)
			}
			for _, key := range []string{b.test, b.live, a.live} {
				for typ, tid := range aTargets {
					r := fhirCall(t, env, "GET", "/v1/fhir/"+typ+"/"+tid, key, "")
					if r.Status != 404 {
						t.Fatalf("%s/%s read by another tenant: %d %s", typ, tid, r.Status, r.Raw)
					}
				}
			}
			// …and the answers are those for ids that exist nowhere.
			cr2, id2, inc2 := view(b.test, c, nowhere)
			if cr.Status != cr2.Status || len(inc2) != 0 {
				t.Fatalf("%s: %d/%v for A's ids, %d/%v for none", c.path, cr.Status, inc, cr2.Status, inc2)
			}
			shape := func(r apiResult, id string, targets map[string]string) string {
				s := strings.ReplaceAll(r.Raw, id, "ID")
				for typ, tid := range targets {
					s = strings.ReplaceAll(s, tid, typ)
				}
				return s
			}
			d1 := dataOf(t, cr)
			d2 := dataOf(t, cr2)
			delete(d1, "meta")
			delete(d2, "meta")
			if g, w := shape(apiResult{Raw: marshal(d1)}, id, aTargets), shape(apiResult{Raw: marshal(d2)}, id2, nowhere); g != w {
				t.Fatalf("%s: B's resource differs between A's ids and none:\n%s\n%s", c.path, g, w)
			}
		}
		// B's searches by A's ids find only B's own resources; A's slot is
		// not among them.
		aSlot := create(a.test, "slots", `{"scheduleId":"`+aTargets["Schedule"]+`","status":"free","start":"2026-12-08T09:00:00Z","end":"2026-12-08T09:30:00Z"}`)
		r := simpleCall(t, env, "GET", "/v1/slots?scheduleId="+aTargets["Schedule"], b.test, nil, "")
		if slices.Contains(ids(t, r), aSlot) || len(ids(t, r)) != 1 {
			t.Fatalf("B's slot search by A's schedule: %s", r.Raw)
		}
		r = fhirCall(t, env, "GET", "/v1/fhir/Schedule?_id="+aTargets["Schedule"]+"&_revinclude=Slot:schedule", b.test, "")
		if r.Status != 200 || len(entries(r.Body)) != 0 {
			t.Fatalf("B's search of A's schedule with _revinclude: %d %s", r.Status, r.Raw)
		}
		if r := simpleCall(t, env, "GET", "/v1/schedules/"+aTargets["Schedule"], b.test, nil, ""); r.Status != 404 {
			t.Fatalf("B reads A's schedule: %d %s", r.Status, r.Raw)
		}
	})
}

// TestSimplifiedMeasureReportCanonical: a measure report's measureId is a
// canonical: a Measure's id (stored as Measure/{id}) or a measure's URL,
// and measureId searches find it either way.
func TestSimplifiedMeasureReportCanonical(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a, _ := twoTenants(t, env)
		const cms = "https://ecqi.example.org/fhir/Measure/CMS122v12"
		mk := func(measure string) string {
			t.Helper()
			r := simpleCall(t, env, "POST", "/v1/measure-reports", a.test, `{"status":"complete","type":"summary","measureId":"`+measure+
				`","period":{"start":"2026-01-01","end":"2026-12-31"}}`, "application/json")
			if r.Status != 201 || dataOf(t, r)["measureId"] != measure {
				t.Fatalf("measure report of %s: %d %s", measure, r.Status, r.Raw)
			}
			return dataOf(t, r)["id"].(string)
		}
		byURL := mk(cms)
		m := simpleCall(t, env, "POST", "/v1/measures", a.test, `{"status":"active","name":"Local"}`, "application/json")
		byID := mk(dataOf(t, m)["id"].(string))
		for q, want := range map[string]string{cms: byURL, dataOf(t, m)["id"].(string): byID} {
			r := simpleCall(t, env, "GET", "/v1/measure-reports?"+url.Values{"measureId": {q}}.Encode(), a.test, nil, "")
			if got := ids(t, r); r.Status != 200 || !slices.Equal(got, []string{want}) {
				t.Fatalf("measureId=%s: %d %v, want [%s]", q, r.Status, got, want)
			}
		}
	})
}
