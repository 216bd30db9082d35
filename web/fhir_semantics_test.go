package web_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

// TestHTTPSemantics: HEAD wherever GET is, a create's Location that
// answers (vread), a JSON Patch that changes nothing makes no version,
// malformed patch operations are refused before anything is applied, and
// no security label can claim the tenant system.
func TestHTTPSemantics(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a, b := twoTenants(t, env)
		r := fhirCall(t, env, "POST", "/v1/fhir/Patient", a.test,
			`{"resourceType":"Patient","name":[{"family":"Head"}],"meta":{"security":[{"system":"https://clinikapi.com/tenant","code":"`+b.org+`"},{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}]}}`)
		if r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Raw)
		}
		id := r.Body["id"].(string)
		if strings.Contains(r.Raw, b.org) || !strings.Contains(r.Raw, `"code":"R"`) {
			t.Fatalf("security labels: the tenant-system label must be dropped, the others kept: %s", r.Raw)
		}

		// The Location answers: vread.
		loc := r.Header.Get("Location")
		path := loc[strings.Index(loc, "/v1/"):]
		if v := fhirCall(t, env, "GET", path, a.test, ""); v.Status != 200 || v.Body["id"] != id || v.Header.Get("Etag") != `W/"1"` {
			t.Fatalf("GET %s: %d %s", path, v.Status, v.Raw)
		}
		if v := fhirCall(t, env, "GET", "/v1/fhir/Patient/"+id+"/_history/7", a.test, ""); v.Status != 404 {
			t.Fatalf("a version that does not exist: %d", v.Status)
		}
		if v := fhirCall(t, env, "GET", path, b.test, ""); v.Status != 404 {
			t.Fatalf("another tenant's vread: %d", v.Status)
		}

		// HEAD: the GET's status and headers, no body.
		for _, p := range []string{"/v1/fhir/Patient/" + id, "/v1/fhir/Patient?family=Head", "/v1/patients/" + id, "/v1/patients", "/v1/metadata"} {
			h := apiCall(t, env, "HEAD", p, a.test, nil)
			g := apiCall(t, env, "GET", p, a.test, nil)
			if h.Status != g.Status || h.Status != 200 || h.Raw != "" || h.Header.Get("Content-Type") != g.Header.Get("Content-Type") {
				t.Fatalf("HEAD %s: %d %q (%s), GET %d", p, h.Status, h.Raw, h.Header.Get("Content-Type"), g.Status)
			}
		}
		if h := apiCall(t, env, "HEAD", "/v1/patients/pt-nosuch", a.test, nil); h.Status != 404 || h.Raw != "" {
			t.Fatalf("HEAD of a missing patient: %d %q", h.Status, h.Raw)
		}

		// JSON Patch: nothing changes, no version.
		for _, p := range []string{`[]`, `[{"op":"test","path":"/name/0/family","value":"Head"}]`} {
			pr := apiCall(t, env, "PATCH", "/v1/fhir/Patient/"+id, a.test, strings.NewReader(p), "Content-Type", "application/json-patch+json")
			if pr.Status != 200 || pr.Header.Get("Etag") != `W/"1"` {
				t.Fatalf("patch %s: %d %s %s", p, pr.Status, pr.Header.Get("Etag"), pr.Raw)
			}
		}
		// Malformed operations: refused, nothing applied.
		for _, p := range []string{`[{"op":"test","path":""}]`, `[{"op":"copy","from":"","path":"/x"}]`, `[{"op":"bogus","path":"/id"}]`,
			`[{"op":"replace","path":"/name/0/family","value":"Changed"},{"op":"remove","path":""}]`} {
			pr := apiCall(t, env, "PATCH", "/v1/fhir/Patient/"+id, a.test, strings.NewReader(p), "Content-Type", "application/json-patch+json")
			if (pr.Status != 422 || !strings.Contains(pr.Raw, "VALIDATION_ERROR")) && (pr.Status != 400 || !strings.Contains(pr.Raw, "INVALID_JSON")) {
				t.Fatalf("patch %s: %d %s", p, pr.Status, pr.Raw)
			}
		}
		if g := fhirCall(t, env, "GET", "/v1/fhir/Patient/"+id, a.test, ""); g.Header.Get("Etag") != `W/"1"` || strings.Contains(g.Raw, "Changed") {
			t.Fatalf("after refused patches: %s %s", g.Header.Get("Etag"), g.Raw)
		}
	})
}

// TestWriteAmplificationBounded: a resource may hold at most 1,000 items in
// any array and 10,000 searchable values; past that the write is refused
// (422 naming the limit) before anything is indexed.
func TestWriteAmplificationBounded(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a, _ := twoTenants(t, env)
		given := make([]string, 1001)
		for i := range given {
			given[i] = `"g` + strconv.Itoa(i) + `"`
		}
		body := `{"resourceType":"Patient","name":[{"family":"Many","given":[` + strings.Join(given, ",") + `]}]}`
		r := fhirCall(t, env, "POST", "/v1/fhir/Patient", a.test, body)
		if r.Status != 422 || !strings.Contains(r.Raw, "Patient.name[0].given") || !strings.Contains(r.Raw, "at most 1000") {
			t.Fatalf("1,001 given names: %d %s", r.Status, r.Raw)
		}
		// 11 names of 1,000 given names each: every array is in bounds,
		// the index would not be.
		names := make([]string, 11)
		for i := range names {
			g := make([]string, 1000)
			for j := range g {
				g[j] = `"n` + strconv.Itoa(i) + `g` + strconv.Itoa(j) + `"`
			}
			names[i] = `{"family":"F` + strconv.Itoa(i) + `","given":[` + strings.Join(g, ",") + `]}`
		}
		r = fhirCall(t, env, "POST", "/v1/fhir/Patient", a.test, `{"resourceType":"Patient","name":[`+strings.Join(names, ",")+`]}`)
		if r.Status != 422 || !strings.Contains(r.Raw, "searchable values") {
			t.Fatalf("11,000 given names: %d %.300s", r.Status, r.Raw)
		}
		if n := patientsNamed(t, env, a.test, "Many"); n != 0 {
			t.Fatalf("a refused patient was stored")
		}
		// At the limit it is stored.
		at := `{"resourceType":"Patient","name":[{"family":"Many","given":[` + strings.Join(given[:1000], ",") + `]}]}`
		if r := fhirCall(t, env, "POST", "/v1/fhir/Patient", a.test, at); r.Status != 201 {
			t.Fatalf("1,000 given names: %d %.300s", r.Status, r.Raw)
		}
	})
}
