package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/fhir/validate"
	"github.com/clinikapi/clinikapi/internal/records"
	"github.com/clinikapi/clinikapi/internal/resource"
)

// simpleCall sends a JSON body (a string or a value to marshal) with a
// content type.
func simpleCall(t *testing.T, env *apptest.Env, method, path, key string, body any, contentType string) apiResult {
	t.Helper()
	if body == nil {
		return apiCall(t, env, method, path, key, nil)
	}
	s, ok := body.(string)
	if !ok {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		s = string(b)
	}
	return apiCall(t, env, method, path, key, strings.NewReader(s), "Content-Type", contentType)
}

func dataOf(t *testing.T, r apiResult) map[string]any {
	t.Helper()
	d, ok := r.Body["data"].(map[string]any)
	if !ok {
		t.Fatalf("no data object in %d %s", r.Status, r.Raw)
	}
	return d
}

// fixture ids the example bodies refer to.
type fixtures struct {
	patient, practitioner, encounter string
	more                             []string // {{placeholder}}, id, … of caseSets
}

func (f fixtures) replacer() *strings.Replacer {
	return strings.NewReplacer(append([]string{"{{patientId}}", f.patient, "{{practitionerId}}", f.practitioner, "{{encounterId}}", f.encounter}, f.more...)...)
}

// makeFixtures creates, through the raw FHIR routes, a patient, a
// practitioner and an encounter the examples point to.
func makeFixtures(t *testing.T, env *apptest.Env, key string) fixtures {
	t.Helper()
	mk := func(typ, body string) string {
		r := fhirCall(t, env, "POST", "/v1/fhir/"+typ, key, body)
		if r.Status != 201 {
			t.Fatalf("fixture %s: %d %s", typ, r.Status, r.Raw)
		}
		return r.Body["id"].(string)
	}
	var f fixtures
	f.patient = mk("Patient", `{"resourceType":"Patient","name":[{"family":"Fixture","given":["Pat"]}]}`)
	f.practitioner = mk("Practitioner", `{"resourceType":"Practitioner","name":[{"family":"Fixture","given":["Doc"]}]}`)
	f.encounter = mk("Encounter", `{"resourceType":"Encounter","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"subject":{"reference":"Patient/`+f.patient+`"}}`)
	return f
}

func exampleBody(t *testing.T, d *resource.Def, f fixtures) map[string]any {
	t.Helper()
	b, err := os.ReadFile("../internal/resource/testdata/" + d.Path + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(f.replacer().Replace(string(b))), &body); err != nil {
		t.Fatal(err)
	}
	return body
}

// marshal renders JSON without HTML escaping, for substring checks.
func marshal(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSpace(b.String())
}

func normalizeJSON(v any) any {
	var out any
	_ = json.Unmarshal([]byte(marshal(v)), &out)
	return out
}

// roundTripCase is what each simplified resource's round trip checks
// beyond the generic: FHIR fragments the stored resource must hold, one
// query per contract query parameter that must find it, and a PATCH with
// the simplified values it must leave (null: the field is gone).
type roundTripCase struct {
	fhir    []string
	queries map[string]string
	patch   string
	after   map[string]any
}

// caseSets add the round-trip cases of the resources declared beside the
// core ones (resources_clinical_test.go, resources_admin_test.go). Each
// may create, with key, the further resources its examples refer to, and
// returns the replacements of their placeholders in the example bodies.
var caseSets []func(t *testing.T, env *apptest.Env, key string, f fixtures) (map[string]roundTripCase, map[string]string)

// allCases are the round-trip cases of every routed resource, and the
// fixtures their example bodies refer to.
func allCases(t *testing.T, env *apptest.Env, key string, f fixtures) (map[string]roundTripCase, fixtures) {
	t.Helper()
	cases := roundTripCases(f)
	for _, set := range caseSets {
		more, refs := set(t, env, key, f)
		for k, c := range more {
			if _, dup := cases[k]; dup {
				t.Fatalf("two round-trip cases for %s", k)
			}
			cases[k] = c
		}
		for k, v := range refs {
			f.more = append(f.more, "{{"+k+"}}", v)
		}
	}
	return cases, f
}

func roundTripCases(f fixtures) map[string]roundTripCase {
	pt, pr, enc := f.patient, f.practitioner, f.encounter
	return map[string]roundTripCase{
		"patients": {
			fhir: []string{`"family":"Okafor","given":["Amara"]`, `{"system":"email","value":"amara.okafor@example.com"}`,
				`"generalPractitioner":[{"reference":"Practitioner/` + pr + `"}]`, `"code":"M","display":"Married"`, `"active":true`},
			queries: map[string]string{"name": "okaf", "email": "amara.okafor@example.com", "phone": "+1-555-0100", "gender": "female",
				"birthDate": "1987-03-14", "active": "true"},
			patch: `{"phone":"+1-555-0199","address":{"city":"Salem"},"email":null}`,
			after: map[string]any{"phone": "+1-555-0199", "email": nil, "firstName": "Amara",
				"address": map[string]any{"line": []any{"12 Harbour Road", "Apt 4"}, "city": "Salem", "state": "OR", "postalCode": "97201", "country": "US"}},
		},
		"practitioners": {
			fhir: []string{`"prefix":["Dr."]`, `{"system":"http://hl7.org/fhir/sid/us-npi","value":"1234567893"}`,
				`"url":"https://clinikapi.com/fhir/StructureDefinition/specialty"`, `"issuer":{"display":"American Board of Internal Medicine"}`},
			queries: map[string]string{"name": "marq", "specialty": "cardio", "npi": "1234567893", "active": "true"},
			patch:   `{"specialty":"Interventional Cardiology","qualifications":[{"name":"MD"}]}`,
			after:   map[string]any{"specialty": "Interventional Cardiology", "qualifications": []any{map[string]any{"name": "MD"}}, "lastName": "Marquez"},
		},
		"practitioner-roles": {
			fhir:    []string{`"practitioner":{"reference":"Practitioner/` + pr + `"}`, `"code":"doctor"`, `"daysOfWeek":["mon","tue","wed"]`},
			queries: map[string]string{"status": "active"},
			patch:   `{"role":"consultant","availabilityExceptions":"Open on the first Saturday"}`,
			after:   map[string]any{"role": "consultant", "availabilityExceptions": "Open on the first Saturday", "practitionerId": pr},
		},
		"encounters": {
			fhir: []string{`"subject":{"reference":"Patient/` + pt + `"}`, `"code":"AMB"`, `"code":"PPRF"`, `"length":{"code":"min"`},
			queries: map[string]string{"patientId": pt, "status": "finished", "dateFrom": "2026-11-19", "dateTo": "2026-11-21",
				"sort": "-date"},
			patch: `{"status":"in-progress","hospitalization":{"origin":null}}`,
			after: map[string]any{"status": "in-progress", "hospitalization": map[string]any{"admitSource": "Physician referral", "dischargeDisposition": "Home",
				"dietPreference": []any{"Low sodium"}, "specialArrangement": []any{"Wheelchair"}, "destination": "Home"}},
		},
		"observations": {
			fhir: []string{`"subject":{"reference":"Patient/` + pt + `"}`, `"encounter":{"reference":"Encounter/` + enc + `"}`, `"code":"vital-signs"`,
				`"code":"8480-6","system":"http://loinc.org"`},
			queries: map[string]string{"patientId": pt, "status": "final", "dateFrom": "2026-11-20", "dateTo": "2026-11-20", "sort": "effectiveDateTime"},
			patch:   `{"status":"amended","valueQuantity":{"value":142,"unit":"mmHg"}}`,
			after:   map[string]any{"status": "amended", "valueQuantity": map[string]any{"value": 142.0, "unit": "mmHg"}, "valueString": nil},
		},
		"medications": {
			fhir:    []string{`"code":"197361"`, `"lotNumber":"LOT-4471"`, `"manufacturer":{"display":"Generic Pharma Inc."}`},
			queries: map[string]string{"status": "active"},
			patch:   `{"status":"inactive","batch":{"lotNumber":"LOT-9"}}`,
			after:   map[string]any{"status": "inactive", "batch": map[string]any{"lotNumber": "LOT-9", "expirationDate": "2027-08-31"}},
		},
		"appointments": {
			fhir: []string{`{"actor":{"reference":"Patient/` + pt + `"},"status":"accepted"}`, `{"actor":{"reference":"Practitioner/` + pr + `"},"status":"accepted"}`,
				`"code":"FOLLOWUP"`},
			queries: map[string]string{"patientId": pt, "status": "booked", "dateFrom": "2026-12-01", "dateTo": "2026-12-03", "sort": "start"},
			patch:   `{"status":"cancelled","cancelationReason":"Patient request"}`,
			after:   map[string]any{"status": "cancelled", "cancelationReason": "Patient request", "patientId": pt},
		},
		"prescriptions": {
			fhir: []string{`"requester":{"reference":"Practitioner/` + pr + `"}`, `"intent":"order"`, `"numberOfRepeatsAllowed":3`,
				`"expectedSupplyDuration":{"code":"d"`, `"performer":{"reference":"Patient/` + pt + `"}`},
			queries: map[string]string{"patientId": pt, "status": "active", "prescriberId": pr, "medication": "197361"},
			patch:   `{"status":"on-hold","statusReason":"Awaiting labs","refills":1}`,
			after:   map[string]any{"status": "on-hold", "statusReason": "Awaiting labs", "refills": 1.0, "dosageText": "Take 1 tablet by mouth once daily"},
		},
		"intakes": {
			fhir:    []string{`"resourceType":"QuestionnaireResponse"`, `"linkId":"3.1"`, `"subject":{"reference":"Patient/` + pt + `"}`, `"valueDecimal":72.5`},
			queries: map[string]string{"patientId": pt, "status": "completed", "dateFrom": "2026-11-20", "dateTo": "2026-11-20"},
			patch:   `{"status":"amended","items":[{"linkId":"1","answer":[{"valueBoolean":false}]}]}`,
			after:   map[string]any{"status": "amended", "items": []any{map[string]any{"linkId": "1", "answer": []any{map[string]any{"valueBoolean": false}}}}},
		},
		"consents": {
			fhir: []string{`"patient":{"reference":"Patient/` + pt + `"}`, `"code":"patient-privacy"`, `"type":"permit"`,
				`"reference":{"reference":"Encounter/` + enc + `"}`},
			queries: map[string]string{"patientId": pt, "status": "active", "dateFrom": "2026-11-20", "dateTo": "2026-11-20"},
			patch:   `{"status":"inactive","provision":{"type":"deny"}}`,
			after:   map[string]any{"status": "inactive", "scope": "patient-privacy"},
		},
		"labs": {
			fhir: []string{`"code":"24331-1"`, `"result":[{"reference":"Observation/obs-result1"},{"reference":"Observation/obs-result2"}]`,
				`"code":"LAB","display":"Laboratory"`},
			queries: map[string]string{"patientId": pt, "status": "final", "dateFrom": "2026-11-19", "dateTo": "2026-11-19", "sort": "-date"},
			patch:   `{"conclusion":"LDL at target after therapy","effectivePeriod":{"start":"2026-11-19T07:00:00Z","end":"2026-11-19T08:00:00Z"}}`,
			after: map[string]any{"conclusion": "LDL at target after therapy", "effectiveDateTime": nil,
				"effectivePeriod": map[string]any{"start": "2026-11-19T07:00:00Z", "end": "2026-11-19T08:00:00Z"}},
		},
		"notes": {
			fhir:    []string{`"code":"11506-3"`, `"status":"current"`, `"contentType":"text/plain"`, `"encounter":[{"reference":"Encounter/` + enc + `"}]`},
			queries: map[string]string{"patientId": pt, "type": "progress-note", "authorId": pr, "encounterId": enc, "dateFrom": "2026-11-20", "dateTo": "2026-11-20"},
			patch:   `{"title":"Cardiology follow-up (amended)","content":"Updated: BP 128/80.","docStatus":"amended"}`,
			after:   map[string]any{"title": "Cardiology follow-up (amended)", "content": "Updated: BP 128/80.", "docStatus": "amended", "type": "progress-note"},
		},
		"assessments": {
			fhir: []string{`"assessor":{"reference":"Practitioner/` + pr + `"}`, `"summary":"Stable angina with suboptimal blood pressure control."`,
				`"problem":[{"reference":"Condition/cnd-angina1"}]`},
			queries: map[string]string{"patientId": pt, "status": "completed", "practitionerId": pr, "encounterId": enc, "dateFrom": "2026-11-20", "dateTo": "2026-11-20"},
			patch:   `{"summary":"Angina controlled.","findings":[{"code":"I20.8","text":"Stable angina, controlled"}]}`,
			after:   map[string]any{"summary": "Angina controlled.", "findings": []any{map[string]any{"code": "I20.8", "text": "Stable angina, controlled"}}},
		},
		"documents": {
			fhir: []string{`"title":"Discharge summary - chest pain admission"`, `"div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Admitted for chest pain; troponins negative &lt;0.01 &amp; stable.</div>"`,
				`"code":"18842-5"`, `"author":[{"reference":"Practitioner/` + pr + `"}]`},
			queries: map[string]string{"patientId": pt, "type": "discharge-summary", "practitionerId": pr, "status": "final", "dateFrom": "2026-11-21", "dateTo": "2026-11-21"},
			patch:   `{"title":"Discharge summary (final)","confidentiality":"R"}`,
			after:   map[string]any{"title": "Discharge summary (final)", "confidentiality": "R", "status": "final"},
		},
	}
}

// TestSimplifiedRoundTrips: for each of the 14 simplified resources, a
// realistic body that matches the contract is created (201), stored as
// valid FHIR R4 holding the mapped values (read through /v1/fhir), read
// back in the envelope, found by each contract query parameter, patched
// with merge semantics, and deleted.
func TestSimplifiedRoundTrips(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a, _ := twoTenants(t, env)
		key := a.test
		cases, f := allCases(t, env, key, makeFixtures(t, env, key))
		contract := resource.DefaultContract()
		v := validate.Default()
		for i, d := range resource.All {
			t.Run(d.Path, func(t *testing.T) {
				tc, ok := cases[d.Path]
				if !ok {
					t.Fatalf("no round-trip case for %s", d.Path)
				}
				body := exampleBody(t, d, f)
				if is := contract.Validate(d.Schema, body); len(is) > 0 {
					t.Fatalf("the example does not match %s: %v", d.Schema, is)
				}
				// The official SDK sends application/fhir+json; others application/json.
				ct := "application/json"
				if i%2 == 0 {
					ct = "application/fhir+json"
				}
				r := simpleCall(t, env, "POST", "/v1/"+d.Path, key, body, ct)
				if r.Status != 201 {
					t.Fatalf("create: %d %s", r.Status, r.Raw)
				}
				if is := contract.Validate("ApiResponse", r.Body); len(is) > 0 {
					t.Fatalf("create response vs ApiResponse: %v", is)
				}
				created := dataOf(t, r)
				id, _ := created["id"].(string)
				if created["resourceType"] != d.Type || id == "" || r.Header.Get("Location") == "" || r.Header.Get("ETag") != `W/"1"` {
					t.Fatalf("create answered %v %s", r.Header, r.Raw)
				}

				// The stored resource is valid R4 with the mapped values.
				raw := fhirCall(t, env, "GET", "/v1/fhir/"+d.Type+"/"+id, key, "")
				if raw.Status != 200 {
					t.Fatalf("raw read: %d %s", raw.Status, raw.Raw)
				}
				if is := v.ValidateValue(d.Type, map[string]any(raw.Body)); len(is) > 0 {
					t.Fatalf("stored resource is not valid R4: %v", is)
				}
				stored := marshal(raw.Body)
				for _, want := range tc.fhir {
					if !strings.Contains(stored, want) {
						t.Errorf("stored %s lacks %s:\n%s", d.Type, want, stored)
					}
				}
				want := map[string]any{}
				for k, x := range body {
					want[k] = x
				}
				for _, fd := range d.Fields {
					if _, ok := body[fd.Name]; !ok && fd.Default != nil {
						want[fd.Name] = fd.Default
						if fd.Default == resource.Now {
							want[fd.Name] = env.Clock.Now().UTC().Format(time.RFC3339)
						}
					}
				}
				if got := d.ToSimple(raw.Body); !reflect.DeepEqual(normalizeJSON(got), normalizeJSON(want)) {
					t.Errorf("stored %s does not read back as the body:\n got %s\nwant %s", d.Type, marshal(got), marshal(want))
				}

				// Create answered, and a read through the simplified route
				// answers, the body as sent (plus defaults): text sent comes
				// back in the field it was sent in.
				if got := simpleOf(created); !reflect.DeepEqual(normalizeJSON(got), normalizeJSON(want)) {
					t.Errorf("create answered\n %s\nwant\n %s", marshal(got), marshal(want))
				}
				r = simpleCall(t, env, "GET", "/v1/"+d.Path+"/"+id, key, nil, "")
				if r.Status != 200 || dataOf(t, r)["id"] != id || dataOf(t, r)["resourceType"] != d.Type {
					t.Fatalf("read: %d %s", r.Status, r.Raw)
				}
				readBack := dataOf(t, r)
				if got := simpleOf(readBack); !reflect.DeepEqual(normalizeJSON(got), normalizeJSON(want)) {
					t.Errorf("read answered\n %s\nwant\n %s", marshal(got), marshal(want))
				}
				if m, _ := readBack["meta"].(map[string]any); m["versionId"] != "1" || m["lastUpdated"] == nil || m["tag"] != nil {
					t.Errorf("read meta: %v (want versionId and lastUpdated only)", m)
				}
				if is := contract.Validate("ApiResponse", r.Body); len(is) > 0 {
					t.Fatalf("read response vs ApiResponse: %v", is)
				}

				// Each contract query parameter finds it.
				for name := range contract.QueryParams(d.Path) {
					if name == resource.CountParam || name == resource.CursorParam {
						continue
					}
					if _, ok := tc.queries[name]; !ok {
						t.Errorf("no query for the contract parameter %s", name)
					}
				}
				for name, value := range tc.queries {
					q := url.Values{name: {value}}
					if s, ok := tc.queries["status"]; ok && name == resource.SortParam {
						q.Set("status", s)
					}
					r := simpleCall(t, env, "GET", "/v1/"+d.Path+"?"+q.Encode(), key, nil, "")
					if r.Status != 200 {
						t.Fatalf("search %s: %d %s", q.Encode(), r.Status, r.Raw)
					}
					if is := contract.Validate("ApiResponse", r.Body); len(is) > 0 {
						t.Fatalf("search response vs ApiResponse: %v", is)
					}
					list := dataOf(t, r)
					if is := contract.Validate("PaginatedResponse", list); len(is) > 0 {
						t.Fatalf("search list vs PaginatedResponse: %v", is)
					}
					row := rowOf(list, id)
					if row == nil {
						t.Errorf("search %s does not find %s: %s", q.Encode(), id, r.Raw)
						continue
					}
					// Rows are the same simplified shape as a read, so they
					// carry patientId (and every other field) as sent.
					if !reflect.DeepEqual(row, normalizeJSON(readBack)) {
						t.Errorf("search %s row differs from the read:\n %s\n %s", q.Encode(), marshal(row), marshal(readBack))
					}
					if pid, ok := body["patientId"]; ok && row["patientId"] != pid {
						t.Errorf("search %s row has patientId %v, want %v", q.Encode(), row["patientId"], pid)
					}
				}

				// PATCH merges (with the SDK's content type), where the contract
				// has an update; elsewhere the route table offers none.
				if !contract.Allows(http.MethodPatch, d.Path+"/{id}") {
					r = simpleCall(t, env, "PATCH", "/v1/"+d.Path+"/"+id, key, `{}`, "application/json-patch+json")
					wantAPIError(t, "PATCH where the contract has no update", r, 404, "NOT_FOUND")
				} else {
					r = simpleCall(t, env, "PATCH", "/v1/"+d.Path+"/"+id, key, tc.patch, "application/json-patch+json")
					if r.Status != 200 {
						t.Fatalf("patch: %d %s", r.Status, r.Raw)
					}
					patched := dataOf(t, r)
					meta, _ := patched["meta"].(map[string]any)
					if patched["id"] != id || patched["resourceType"] != d.Type || meta["versionId"] != "2" || r.Header.Get("ETag") != `W/"2"` {
						t.Fatalf("patched resource: %s", r.Raw)
					}
					stored2 := fhirCall(t, env, "GET", "/v1/fhir/"+d.Type+"/"+id, key, "")
					if is := v.ValidateValue(d.Type, map[string]any(stored2.Body)); len(is) > 0 {
						t.Fatalf("patched resource is not valid R4: %v", is)
					}
					if !strings.Contains(marshal(stored2.Body["meta"]), a.org) {
						t.Fatalf("patched resource lost its tenant tag: %s", stored2.Raw)
					}
					// The answer is the stored resource in the simplified shape.
					if got, want := marshal(simpleOf(patched)), marshal(d.ToSimple(stored2.Body)); got != want {
						t.Errorf("PATCH answered\n %s\nwhile the stored resource reads\n %s", got, want)
					}
					simple := normalizeJSON(simpleOf(patched)).(map[string]any)
					for k, wantV := range tc.after {
						if !reflect.DeepEqual(simple[k], normalizeJSON(wantV)) {
							t.Errorf("after PATCH %s = %s, want %s", k, marshal(simple[k]), marshal(wantV))
						}
					}
					// Fields the patch did not name are as they were.
					var patch map[string]any
					_ = json.Unmarshal([]byte(tc.patch), &patch)
					before := normalizeJSON(want).(map[string]any)
					for k, x := range before {
						if _, touched := patch[k]; touched {
							continue
						}
						if _, exclusive := tc.after[k]; exclusive {
							continue
						}
						if !reflect.DeepEqual(simple[k], x) {
							t.Errorf("PATCH changed %s, which it did not name: %s → %s", k, marshal(x), marshal(simple[k]))
						}
					}
				}

				// DELETE, then it is gone.
				if r := simpleCall(t, env, "DELETE", "/v1/"+d.Path+"/"+id, key, nil, ""); r.Status != 204 {
					t.Fatalf("delete: %d %s", r.Status, r.Raw)
				}
				r = simpleCall(t, env, "GET", "/v1/"+d.Path+"/"+id, key, nil, "")
				wantAPIError(t, "read after delete", r, 404, "NOT_FOUND")
				if r := simpleCall(t, env, "DELETE", "/v1/"+d.Path+"/"+id, key, nil, ""); r.Status != 404 {
					t.Fatalf("second delete: %d %s", r.Status, r.Raw)
				}
				if r := fhirCall(t, env, "GET", "/v1/fhir/"+d.Type+"/"+id, key, ""); r.Status != 410 {
					t.Fatalf("raw read after delete: %d", r.Status)
				}
			})
		}
	})
}

// simpleOf is a simplified answer without what every answer adds (id,
// resourceType, meta) and a type's derived display fields: the fields of
// the create body.
func simpleOf(data map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range data {
		switch k {
		case "id", "resourceType", "meta":
			continue
		case "fullName", "middleName":
			if data["resourceType"] == "Patient" {
				continue
			}
		case "prefix", "suffix":
			if data["resourceType"] == "Patient" {
				continue
			}
		}
		out[k] = v
	}
	return out
}

// rowOf finds the row with id in a list answer.
func rowOf(list map[string]any, id string) map[string]any {
	items, _ := list["data"].([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok && m["id"] == id {
			return m
		}
	}
	return nil
}

func containsID(list map[string]any, id string) bool {
	items, _ := list["data"].([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok && m["id"] == id {
			return true
		}
	}
	return false
}

func ids(t *testing.T, r apiResult) []string {
	t.Helper()
	var out []string
	items, _ := dataOf(t, r)["data"].([]any)
	for _, it := range items {
		out = append(out, it.(map[string]any)["id"].(string))
	}
	return out
}

// TestSimplifiedValidation: contract violations are 422 VALIDATION_ERROR
// with field-level issues (under issues and issue) and never the values.
func TestSimplifiedValidation(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a, _ := twoTenants(t, env)
		const marker = "ZZMARKER7QZ"
		contacts := make([]any, 11)
		for i := range contacts {
			contacts[i] = map[string]any{"firstName": marker}
		}
		check := func(what string, r apiResult, wants ...string) {
			t.Helper()
			wantAPIError(t, what, r, 422, "VALIDATION_ERROR")
			diags := marshal(r.Body["issues"])
			for _, w := range wants {
				if !strings.Contains(diags, w) {
					t.Errorf("%s: issues lack %q: %s", what, w, diags)
				}
			}
			if strings.Contains(r.Raw, marker) {
				t.Errorf("%s: the error body carries a submitted value: %s", what, r.Raw)
			}
		}
		r := simpleCall(t, env, "POST", "/v1/patients", a.test, map[string]any{
			"firstName": strings.Repeat(marker, 10), "gender": marker, "email": marker, "contact": contacts, "phone": marker + strings.Repeat("9", 20),
		}, "application/json")
		check("patient", r, "lastName: is required", "firstName: at most 100 characters", "gender: must be one of male, female, other, unknown",
			"contact: at most 10 items", "email: must be an email address", "phone: at most 20 characters", `"expression":["lastName"]`)

		r = simpleCall(t, env, "POST", "/v1/encounters", a.test, map[string]any{"status": marker, "class": "AMB"}, "application/fhir+json")
		check("encounter", r, "patientId: is required", "status: must be one of planned, arrived")
		r = simpleCall(t, env, "POST", "/v1/documents", a.test, map[string]any{"status": "final", "type": "x", "patientId": "pt-1", "practitionerId": "pr-1",
			"title": "t", "sections": []any{}}, "application/json")
		check("document", r, "sections: at least 1 items")

		// The mapping refuses unknown fields and ids that are not ids.
		r = simpleCall(t, env, "POST", "/v1/observations", a.test, map[string]any{"status": "final", "code": "8867-4", "patientId": marker + " !", "colour": marker}, "application/json")
		check("observation", r, "colour: is not a known field", "patientId: must be the id of a Patient")

		// What only R4 validation catches is reported by field too.
		r = simpleCall(t, env, "POST", "/v1/patients", a.test, map[string]any{"firstName": "A", "lastName": "B", "birthDate": marker}, "application/json")
		check("patient birthDate", r, "birthDate: ", `"expression":["Patient.birthDate"]`)

		// PATCH: the merged fields must match the contract; required fields stay.
		created := simpleCall(t, env, "POST", "/v1/patients", a.test, `{"firstName":"Val","lastName":"Idation"}`, "application/json")
		id := dataOf(t, created)["id"].(string)
		r = simpleCall(t, env, "PATCH", "/v1/patients/"+id, a.test, map[string]any{"gender": marker}, "application/json-patch+json")
		check("patch enum", r, "gender: must be one of")
		r = simpleCall(t, env, "PATCH", "/v1/patients/"+id, a.test, `{"lastName":null}`, "application/merge-patch+json")
		check("patch removes a required field", r, "lastName: is required and cannot be removed")
		r = simpleCall(t, env, "PATCH", "/v1/patients/"+id, a.test, `[{"op":"replace","path":"/gender","value":"male"}]`, "application/json-patch+json")
		wantAPIError(t, "JSON Patch array on a simplified route", r, 400, "INVALID_JSON")
		r = simpleCall(t, env, "POST", "/v1/patients", a.test, `{"firstName":`, "application/json")
		wantAPIError(t, "bad JSON", r, 400, "INVALID_JSON")
		r = simpleCall(t, env, "POST", "/v1/patients", a.test, `{"firstName":"A","lastName":"B"}`, "text/plain")
		wantAPIError(t, "content type", r, 415, "UNSUPPORTED_MEDIA_TYPE")
		r = simpleCall(t, env, "GET", "/v1/encounters?dateFrom=soon", a.test, nil, "")
		wantAPIError(t, "bad dateFrom", r, 422, "VALIDATION_ERROR")
		r = simpleCall(t, env, "GET", "/v1/patients?colour=red", a.test, nil, "")
		wantAPIError(t, "unknown query parameter", r, 400, "INVALID_SEARCH")
		r = simpleCall(t, env, "GET", "/v1/encounters?sort=colour", a.test, nil, "")
		wantAPIError(t, "unknown sort key", r, 422, "VALIDATION_ERROR")
		if strings.Contains(env.Logs.String(), marker) {
			t.Errorf("a submitted value reached the log")
		}
		// Nothing was stored by the refused requests.
		if r := simpleCall(t, env, "GET", "/v1/patients?count=100", a.test, nil, ""); dataOf(t, r)["total"] != 1.0 {
			t.Errorf("refused creates stored something: %s", r.Raw)
		}
	})
}

// TestSimplifiedPaging: count (default 20, clamped 1..100), cursor,
// hasMore; a bad cursor restarts at the beginning.
func TestSimplifiedPaging(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a, _ := twoTenants(t, env)
		var all []string
		for i := 0; i < 5; i++ {
			r := simpleCall(t, env, "POST", "/v1/patients", a.test, fmt.Sprintf(`{"firstName":"P%d","lastName":"Zedpage"}`, i), "application/json")
			if r.Status != 201 {
				t.Fatalf("create: %d %s", r.Status, r.Raw)
			}
			all = append(all, dataOf(t, r)["id"].(string))
		}
		simpleCall(t, env, "POST", "/v1/patients", a.test, `{"firstName":"Other","lastName":"Elsewhere"}`, "application/json")

		var seen []string
		path := "/v1/patients?name=zedpage&count=2"
		for page := 0; ; page++ {
			r := simpleCall(t, env, "GET", path, a.test, nil, "")
			list := dataOf(t, r)
			if r.Status != 200 || list["total"] != 5.0 {
				t.Fatalf("page %d: %d %s", page, r.Status, r.Raw)
			}
			got := ids(t, r)
			seen = append(seen, got...)
			cursor, _ := list["cursor"].(string)
			if page < 2 {
				if len(got) != 2 || list["hasMore"] != true || cursor == "" {
					t.Fatalf("page %d: %s", page, r.Raw)
				}
				path = "/v1/patients?name=zedpage&count=2&cursor=" + url.QueryEscape(cursor)
				continue
			}
			if len(got) != 1 || list["hasMore"] != false || cursor != "" {
				t.Fatalf("last page: %s", r.Raw)
			}
			break
		}
		sort.Strings(seen)
		sort.Strings(all)
		if !reflect.DeepEqual(seen, all) {
			t.Fatalf("pages gave %v, want %v", seen, all)
		}

		first := ids(t, simpleCall(t, env, "GET", "/v1/patients?name=zedpage&count=2", a.test, nil, ""))
		for _, bad := range []string{"garbage", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
			r := simpleCall(t, env, "GET", "/v1/patients?name=zedpage&count=2&cursor="+bad, a.test, nil, "")
			if r.Status != 200 || !reflect.DeepEqual(ids(t, r), first) {
				t.Fatalf("bad cursor %q did not restart: %d %s", bad, r.Status, r.Raw)
			}
		}
		// A cursor of another query restarts too.
		other := dataOf(t, simpleCall(t, env, "GET", "/v1/patients?count=1", a.test, nil, ""))["cursor"].(string)
		if r := simpleCall(t, env, "GET", "/v1/patients?name=zedpage&count=2&cursor="+url.QueryEscape(other), a.test, nil, ""); !reflect.DeepEqual(ids(t, r), first) {
			t.Fatalf("another query's cursor: %s", r.Raw)
		}

		for count, want := range map[string]int{"": 6, "0": 1, "-4": 1, "1": 1, "500": 6} {
			r := simpleCall(t, env, "GET", "/v1/patients?count="+count, a.test, nil, "")
			if got := len(ids(t, r)); r.Status != 200 || got != want {
				t.Errorf("count=%q: %d items, want %d (%s)", count, got, want, r.Raw)
			}
		}
		wantAPIError(t, "count=abc", simpleCall(t, env, "GET", "/v1/patients?count=abc", a.test, nil, ""), 422, "VALIDATION_ERROR")
		// The default page is 20.
		for i := 0; i < 20; i++ {
			simpleCall(t, env, "POST", "/v1/medications", a.test, `{"code":"Aspirin `+strconv.Itoa(i)+`"}`, "application/json")
		}
		r := simpleCall(t, env, "GET", "/v1/medications", a.test, nil, "")
		if l := dataOf(t, r); len(ids(t, r)) != 20 || l["hasMore"] != false || l["total"] != 20.0 {
			t.Fatalf("default page: %s", r.Raw)
		}
		simpleCall(t, env, "POST", "/v1/medications", a.test, `{"code":"Aspirin 20"}`, "application/json")
		r = simpleCall(t, env, "GET", "/v1/medications", a.test, nil, "")
		if l := dataOf(t, r); len(ids(t, r)) != 20 || l["hasMore"] != true || l["total"] != 21.0 {
			t.Fatalf("default page of 21: %s", r.Raw)
		}
	})
}

// TestSimplifiedIncludes: GET /v1/patients/:id with _revinclude (as the
// official SDK sends it: Type:subject and Type:patient for every type)
// answers a searchset Bundle of the patient and its related resources.
func TestSimplifiedIncludes(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a, b := twoTenants(t, env)
		pt := dataOf(t, simpleCall(t, env, "POST", "/v1/patients", a.test, `{"firstName":"Rev","lastName":"Include"}`, "application/fhir+json"))["id"].(string)
		enc := dataOf(t, simpleCall(t, env, "POST", "/v1/encounters", a.test, `{"status":"finished","class":"AMB","patientId":"`+pt+`"}`, "application/fhir+json"))["id"].(string)
		obs := dataOf(t, simpleCall(t, env, "POST", "/v1/observations", a.test, `{"status":"final","code":"8867-4","patientId":"`+pt+`","valueQuantity":{"value":61,"unit":"/min"}}`, "application/fhir+json"))["id"].(string)
		cns := dataOf(t, simpleCall(t, env, "POST", "/v1/consents", a.test, `{"patientId":"`+pt+`","scope":"treatment","category":"treatment-consent"}`, "application/fhir+json"))["id"].(string)
		// Another patient's encounter is not included.
		other := dataOf(t, simpleCall(t, env, "POST", "/v1/patients", a.test, `{"firstName":"Not","lastName":"Me"}`, "application/json"))["id"].(string)
		otherEnc := dataOf(t, simpleCall(t, env, "POST", "/v1/encounters", a.test, `{"status":"finished","class":"AMB","patientId":"`+other+`"}`, "application/json"))["id"].(string)

		q := url.Values{}
		for _, typ := range []string{"Encounter", "Observation", "Medication", "Appointment", "QuestionnaireResponse", "Consent", "DiagnosticReport",
			"MedicationRequest", "DocumentReference", "ClinicalImpression", "Composition"} {
			q.Add("_revinclude", typ+":subject")
			q.Add("_revinclude", typ+":patient")
		}
		r := simpleCall(t, env, "GET", "/v1/patients/"+pt+"?"+q.Encode(), a.test, nil, "")
		if r.Status != 200 {
			t.Fatalf("read with _revinclude: %d %s", r.Status, r.Raw)
		}
		bundle := dataOf(t, r)
		if bundle["resourceType"] != "Bundle" || bundle["type"] != "searchset" {
			t.Fatalf("not a searchset Bundle: %s", r.Raw)
		}
		got := map[string]string{}
		for _, e := range entries(bundle) {
			res := e.(map[string]any)["resource"].(map[string]any)
			got[res["id"].(string)] = res["resourceType"].(string) + "/" + e.(map[string]any)["search"].(map[string]any)["mode"].(string)
		}
		want := map[string]string{pt: "Patient/match", enc: "Encounter/include", obs: "Observation/include", cns: "Consent/include"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("bundle entries %v, want %v", got, want)
		}
		if strings.Contains(r.Raw, otherEnc) {
			t.Fatalf("another patient's encounter was included")
		}
		// Just Encounter:subject.
		r = simpleCall(t, env, "GET", "/v1/patients/"+pt+"?_revinclude=Encounter:subject", a.test, nil, "")
		if es := entries(dataOf(t, r)); len(es) != 2 || !strings.Contains(r.Raw, enc) {
			t.Fatalf("Encounter:subject: %s", r.Raw)
		}
		// _include from an encounter (the SDK's encounters.read include).
		r = simpleCall(t, env, "GET", "/v1/encounters/"+enc+"?_include=Encounter:subject", a.test, nil, "")
		if es := entries(dataOf(t, r)); len(es) != 2 || !strings.Contains(r.Raw, `"id":"`+pt+`"`) {
			t.Fatalf("Encounter _include: %s", r.Raw)
		}
		// Nothing valid to include: the plain resource.
		r = simpleCall(t, env, "GET", "/v1/patients/"+pt+"?_revinclude=Nope:subject&_revinclude=Patient:colour", a.test, nil, "")
		if r.Status != 200 || dataOf(t, r)["resourceType"] != "Patient" {
			t.Fatalf("only unknown includes: %d %s", r.Status, r.Raw)
		}
		// Another tenant gets 404, with or without includes.
		for _, key := range []string{b.test, b.live, a.live} {
			r = simpleCall(t, env, "GET", "/v1/patients/"+pt+"?"+q.Encode(), key, nil, "")
			wantAPIError(t, "another tenant's read with includes", r, 404, "NOT_FOUND")
		}
		// A deleted patient is 404 with includes too.
		simpleCall(t, env, "DELETE", "/v1/patients/"+pt, a.test, nil, "")
		wantAPIError(t, "deleted with includes", simpleCall(t, env, "GET", "/v1/patients/"+pt+"?_revinclude=Encounter:subject", a.test, nil, ""), 404, "NOT_FOUND")
	})
}

// TestSimplifiedIsolation: another organization's key, or the same
// organization's other environment, sees nothing: 404 on read, patch and
// delete, absent from every search.
func TestSimplifiedIsolation(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a, b := twoTenants(t, env)
		cases, f := allCases(t, env, a.live, makeFixtures(t, env, a.live))
		created := map[*resource.Def]string{}
		for _, d := range resource.All {
			r := simpleCall(t, env, "POST", "/v1/"+d.Path, a.live, exampleBody(t, d, f), "application/json")
			if r.Status != 201 {
				t.Fatalf("%s: %d %s", d.Path, r.Status, r.Raw)
			}
			created[d] = dataOf(t, r)["id"].(string)
		}
		for who, key := range map[string]string{"B test": b.test, "B live": b.live, "A test": a.test} {
			for _, d := range resource.All {
				id := created[d]
				for _, c := range []struct{ method, body string }{{"GET", ""}, {"PATCH", `{"status":"final"}`}, {"DELETE", ""}} {
					var body any
					if c.body != "" {
						body = c.body
					}
					r := simpleCall(t, env, c.method, "/v1/"+d.Path+"/"+id, key, body, "application/json")
					wantAPIError(t, who+" "+c.method+" "+d.Path, r, 404, "NOT_FOUND")
					if strings.Contains(r.Raw, a.org) {
						t.Fatalf("%s %s %s leaked: %s", who, c.method, d.Path, r.Raw)
					}
				}
				for name, value := range cases[d.Path].queries {
					r := simpleCall(t, env, "GET", "/v1/"+d.Path+"?"+url.Values{name: {value}}.Encode(), key, nil, "")
					if r.Status != 200 || len(ids(t, r)) != 0 || dataOf(t, r)["total"] != 0.0 {
						t.Fatalf("%s search %s %s=%s: %d %s", who, d.Path, name, value, r.Status, r.Raw)
					}
				}
			}
			// A's paging cursor replayed by another key restarts on that
			// key's own (empty) data.
			page := dataOf(t, simpleCall(t, env, "GET", "/v1/patients?count=1", a.live, nil, ""))
			cur, _ := page["cursor"].(string)
			if cur == "" {
				t.Fatalf("A has two patients, one per page: %v", page)
			}
			r := simpleCall(t, env, "GET", "/v1/patients?count=1&cursor="+url.QueryEscape(cur), key, nil, "")
			if r.Status != 200 || len(ids(t, r)) != 0 || strings.Contains(r.Raw, a.org) {
				t.Fatalf("%s replayed A's cursor: %d %s", who, r.Status, r.Raw)
			}
		}
		// A still has everything, unchanged.
		for d, id := range created {
			r := simpleCall(t, env, "GET", "/v1/"+d.Path+"/"+id, a.live, nil, "")
			if r.Status != 200 || r.Header.Get("ETag") != `W/"1"` {
				t.Fatalf("A's %s after the matrix: %d %s", d.Path, r.Status, r.Raw)
			}
		}
	})
}

// TestSimplifiedAndRawFHIR: what is created through /v1/fhir is readable,
// searchable and patchable through the simplified routes, and patching
// keeps the elements the simplified shape does not know.
func TestSimplifiedAndRawFHIR(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a, _ := twoTenants(t, env)
		r := fhirCall(t, env, "POST", "/v1/fhir/Patient", a.test, patientJSON)
		if r.Status != 201 {
			t.Fatalf("raw create: %d %s", r.Status, r.Raw)
		}
		id := r.Body["id"].(string)
		r = simpleCall(t, env, "GET", "/v1/patients/"+id, a.test, nil, "")
		if r.Status != 200 || dataOf(t, r)["id"] != id || dataOf(t, r)["fullName"] != "Quentin Zebra" {
			t.Fatalf("simplified read of a raw patient: %d %s", r.Status, r.Raw)
		}
		if r := simpleCall(t, env, "GET", "/v1/patients?name=zebr", a.test, nil, ""); !containsID(dataOf(t, r), id) {
			t.Fatalf("simplified search of a raw patient: %s", r.Raw)
		}
		r = simpleCall(t, env, "PATCH", "/v1/patients/"+id, a.test, `{"firstName":"Quinn","email":"q@example.com"}`, "application/json")
		if r.Status != 200 {
			t.Fatalf("patch of a raw patient: %d %s", r.Status, r.Raw)
		}
		if p := dataOf(t, r); p["firstName"] != "Quinn" || p["lastName"] != "Zebra" || p["email"] != "q@example.com" || p["fullName"] != "Quinn Zebra" {
			t.Fatalf("patched raw patient: %s", r.Raw)
		}
		// What the simplified shape does not know is kept in the stored
		// resource.
		raw := fhirCall(t, env, "GET", "/v1/fhir/Patient/"+id, a.test, "")
		if got := marshal(raw.Body["name"]); got != `[{"family":"Zebra","given":["Quinn"]}]` || !strings.Contains(raw.Raw, "MRN-1") || !strings.Contains(raw.Raw, `"code":"keep"`) {
			t.Fatalf("patched raw patient, stored: %s", raw.Raw)
		}
		// And the other way: simplified create, raw FHIR update, simplified read.
		id2 := dataOf(t, simpleCall(t, env, "POST", "/v1/practitioners", a.test, `{"firstName":"Ray","lastName":"Wfhir","npi":"1111111111"}`, "application/json"))["id"].(string)
		raw = fhirCall(t, env, "GET", "/v1/fhir/Practitioner/"+id2, a.test, "")
		raw.Body["gender"] = "male"
		if r := fhirCall(t, env, "PUT", "/v1/fhir/Practitioner/"+id2, a.test, marshal(raw.Body)); r.Status != 200 {
			t.Fatalf("raw update: %d %s", r.Status, r.Raw)
		}
		if r := simpleCall(t, env, "GET", "/v1/practitioners/"+id2, a.test, nil, ""); dataOf(t, r)["gender"] != "male" {
			t.Fatalf("simplified read after raw update: %s", r.Raw)
		}
		// Ids are checked before anything else.
		for _, bad := range []string{"a_b", strings.Repeat("x", 65)} {
			wantAPIError(t, "bad id "+bad, simpleCall(t, env, "GET", "/v1/patients/"+bad, a.test, nil, ""), 404, "NOT_FOUND")
			wantAPIError(t, "bad id "+bad, simpleCall(t, env, "PATCH", "/v1/patients/"+bad, a.test, `{}`, "application/json"), 404, "NOT_FOUND")
		}
		// A stale If-Match on PATCH is a conflict.
		r = simpleCall(t, env, "PATCH", "/v1/patients/"+id, a.test, `{"gender":"other"}`, "application/json")
		wantAPIError(t, "stale If-Match", apiCall(t, env, "PATCH", "/v1/patients/"+id, a.test, strings.NewReader(`{"gender":"male"}`),
			"Content-Type", "application/json", "If-Match", `W/"1"`), 409, "CONFLICT")

		// Every data operation is audited: key, operation, type and id.
		ctx := context.Background()
		if err := env.App.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		events, err := env.App.Audit.List(ctx, audit.Filter{OrgID: a.org, Action: records.ActionPatch})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range events {
			if e.TargetType == "Patient" && e.TargetID == id && e.ActorType == audit.ActorAPIKey {
				found = true
			}
			if strings.Contains(marshal(e), "Quinn") || strings.Contains(marshal(e), "q@example.com") {
				t.Fatalf("an audit event holds resource content: %v", e)
			}
		}
		if !found {
			t.Fatalf("no data.patch audit event for Patient/%s: %v", id, events)
		}
	})
}
