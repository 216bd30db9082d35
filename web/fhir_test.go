package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/datastore"
)

type tenantKeys struct {
	org        string
	test, live string
}

// twoTenants makes two organizations, each with a test and a live key.
func twoTenants(t *testing.T, env *apptest.Env) (a, b tenantKeys) {
	t.Helper()
	mk := func(email string) tenantKeys {
		orgID, k := newOrgWithKey(t, env, email, apikey.ScopeAll)
		live, err := env.App.Keys.Create(context.Background(), apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "live", Env: apikey.Live})
		if err != nil {
			t.Fatal(err)
		}
		setPlan(t, env, orgID, "team") // room for the matrix under the rate limit
		return tenantKeys{org: orgID, test: k.Secret, live: live.Secret}
	}
	return mk("a@example.com"), mk("b@example.com")
}

func fhirCall(t *testing.T, env *apptest.Env, method, path, key, body string, headers ...string) apiResult {
	t.Helper()
	var r *strings.Reader
	if body != "" {
		r = strings.NewReader(body)
		headers = append(headers, "Content-Type", "application/fhir+json")
	}
	if r == nil {
		return apiCall(t, env, method, path, key, nil, headers...)
	}
	return apiCall(t, env, method, path, key, r, headers...)
}

const patientJSON = `{"resourceType":"Patient","name":[{"family":"Zebra","given":["Quentin"]}],"gender":"male","birthDate":"1980-04-02",
 "identifier":[{"system":"urn:mrn","value":"MRN-1"}],
 "meta":{"tag":[{"system":"https://clinikapi.com/tenant","code":"org_forged"},{"system":"urn:x","code":"keep"}]}}`

func TestFHIRCrudAndTenantTag(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a, _ := twoTenants(t, env)
		r := fhirCall(t, env, "POST", "/v1/fhir/Patient", a.test, patientJSON)
		if r.Status != 201 || r.Header.Get("Location") == "" || r.Header.Get("ETag") != `W/"1"` || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/fhir+json") {
			t.Fatalf("create: %d %v %s", r.Status, r.Header, r.Raw)
		}
		id, _ := r.Body["id"].(string)
		meta := r.Body["meta"].(map[string]any)
		tags, _ := json.Marshal(meta["tag"])
		if !strings.Contains(string(tags), `"code":"`+a.org+`"`) || strings.Contains(string(tags), "org_forged") || !strings.Contains(string(tags), "keep") {
			t.Fatalf("tenant tag not enforced: %s", tags)
		}
		if meta["versionId"] != "1" || meta["lastUpdated"] == nil {
			t.Fatalf("meta: %v", meta)
		}
		got := fhirCall(t, env, "GET", "/v1/fhir/Patient/"+id, a.test, "")
		if got.Status != 200 || got.Body["id"] != id {
			t.Fatalf("read: %d %s", got.Status, got.Raw)
		}
		// Update with a stale If-Match conflicts; with the right one it works.
		upd := strings.Replace(patientJSON, `"gender":"male"`, `"gender":"other","id":"`+id+`"`, 1)
		if r := fhirCall(t, env, "PUT", "/v1/fhir/Patient/"+id, a.test, upd, "If-Match", `W/"7"`); r.Status != 409 || !strings.Contains(r.Raw, "OperationOutcome") {
			t.Fatalf("stale If-Match: %d %s", r.Status, r.Raw)
		}
		r = fhirCall(t, env, "PUT", "/v1/fhir/Patient/"+id, a.test, upd, "If-Match", `W/"1"`)
		if r.Status != 200 || r.Body["gender"] != "other" || r.Header.Get("ETag") != `W/"2"` {
			t.Fatalf("update: %d %s", r.Status, r.Raw)
		}
		// JSON Patch cannot remove or change the tenant tag.
		patch := `[{"op":"replace","path":"/gender","value":"female"},{"op":"remove","path":"/meta/tag"}]`
		r = fhirCall(t, env, "PATCH", "/v1/fhir/Patient/"+id, a.test, "", "Content-Type", "application/json-patch+json")
		_ = r
		r = apiCall(t, env, "PATCH", "/v1/fhir/Patient/"+id, a.test, strings.NewReader(patch), "Content-Type", "application/json-patch+json")
		if r.Status != 200 || r.Body["gender"] != "female" || !strings.Contains(r.Raw, a.org) {
			t.Fatalf("patch: %d %s", r.Status, r.Raw)
		}
		h := fhirCall(t, env, "GET", "/v1/fhir/Patient/"+id+"/_history", a.test, "")
		if h.Status != 200 || h.Body["total"] != float64(3) {
			t.Fatalf("history: %d %s", h.Status, h.Raw)
		}
		if r := fhirCall(t, env, "DELETE", "/v1/fhir/Patient/"+id, a.test, ""); r.Status != 204 {
			t.Fatalf("delete: %d %s", r.Status, r.Raw)
		}
		if r := fhirCall(t, env, "GET", "/v1/fhir/Patient/"+id, a.test, ""); r.Status != 410 {
			t.Fatalf("read after delete: %d %s", r.Status, r.Raw)
		}
		// Invalid resources are refused with paths, never values.
		bad := `{"resourceType":"Patient","gender":"ZZSECRETZZ","birthDate":"yesterday"}`
		r = fhirCall(t, env, "POST", "/v1/fhir/Patient", a.test, bad)
		if r.Status != 422 || !strings.Contains(r.Raw, "OperationOutcome") || strings.Contains(r.Raw, "ZZSECRETZZ") || strings.Contains(r.Raw, "yesterday") {
			t.Fatalf("invalid resource: %d %s", r.Status, r.Raw)
		}
		if r := fhirCall(t, env, "POST", "/v1/fhir/Patient", a.test, `{"resourceType":`); r.Status != 400 {
			t.Fatalf("bad JSON: %d %s", r.Status, r.Raw)
		}
		if r := fhirCall(t, env, "GET", "/v1/fhir/NotAType", a.test, ""); r.Status != 404 {
			t.Fatalf("unknown type: %d", r.Status)
		}
		if r := fhirCall(t, env, "GET", "/v1/fhir/Patient?nonsense=1", a.test, ""); r.Status != 400 || !strings.Contains(r.Raw, "Unknown search parameter nonsense") {
			t.Fatalf("unknown search parameter: %d %s", r.Status, r.Raw)
		}
	})
}

// TestFHIRIsolationMatrix: two organizations × test/live keys × every
// interaction. Nothing of one is visible to the others; every miss is 404.
func TestFHIRIsolationMatrix(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a, b := twoTenants(t, env)
		// A's live data: a patient, an encounter and an observation about them.
		p := fhirCall(t, env, "POST", "/v1/fhir/Patient", a.live, patientJSON)
		pid := p.Body["id"].(string)
		enc := fhirCall(t, env, "POST", "/v1/fhir/Encounter", a.live, `{"resourceType":"Encounter","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"subject":{"reference":"Patient/`+pid+`"}}`)
		if enc.Status != 201 {
			t.Fatalf("encounter: %d %s", enc.Status, enc.Raw)
		}
		eid := enc.Body["id"].(string)
		for i := 0; i < 3; i++ {
			if r := fhirCall(t, env, "POST", "/v1/fhir/Patient", a.live, strings.Replace(patientJSON, "MRN-1", "MRN-X"+string(rune('a'+i)), 1)); r.Status != 201 {
				t.Fatalf("patient %d: %d", i, r.Status)
			}
		}
		// The owner sees it all, pages with cursors, includes.
		page := fhirCall(t, env, "GET", "/v1/fhir/Patient?family=zeb&_count=2&_total=accurate", a.live, "")
		if page.Status != 200 || page.Body["total"] != float64(4) {
			t.Fatalf("owner search: %d %s", page.Status, page.Raw)
		}
		next := linkOf(page.Body, "next")
		if next == "" {
			t.Fatalf("no next link: %s", page.Raw)
		}
		u, _ := url.Parse(next)
		cursorPath := u.RequestURI()
		if r := fhirCall(t, env, "GET", cursorPath, a.live, ""); r.Status != 200 || len(r.Body["entry"].([]any)) != 2 {
			t.Fatalf("owner next page: %d %s", r.Status, r.Raw)
		}
		inc := fhirCall(t, env, "GET", "/v1/fhir/Encounter?_include=Encounter:subject", a.live, "")
		if !strings.Contains(inc.Raw, `"mode":"include"`) || !strings.Contains(inc.Raw, pid) {
			t.Fatalf("owner _include: %s", inc.Raw)
		}
		rev := fhirCall(t, env, "GET", "/v1/fhir/Patient?_id="+pid+"&_revinclude=Encounter:subject", a.live, "")
		if !strings.Contains(rev.Raw, eid) {
			t.Fatalf("owner _revinclude: %s", rev.Raw)
		}

		others := map[string]string{"A test key": a.test, "B live key": b.live, "B test key": b.test}
		for who, key := range others {
			for _, c := range []struct {
				method, path, body string
				want               int
			}{
				{"GET", "/v1/fhir/Patient/" + pid, "", 404},
				{"GET", "/v1/fhir/Patient/" + pid + "/_history", "", 404},
				{"DELETE", "/v1/fhir/Patient/" + pid, "", 404},
				{"GET", "/v1/fhir/Encounter/" + eid, "", 404},
			} {
				r := fhirCall(t, env, c.method, c.path, key, c.body)
				if c.want != 0 && r.Status != c.want {
					t.Fatalf("%s %s %s: %d, want %d", who, c.method, c.path, r.Status, c.want)
				}
			}
			r := apiCall(t, env, "PATCH", "/v1/fhir/Patient/"+pid, key, strings.NewReader(`[{"op":"replace","path":"/gender","value":"female"}]`), "Content-Type", "application/json-patch+json")
			if r.Status != 404 {
				t.Fatalf("%s PATCH: %d", who, r.Status)
			}
			for _, q := range []string{"family=zeb", "identifier=urn:mrn|MRN-1", "birthdate=1980", "gender=male", "_id=" + pid, "name:contains=ebr", "_lastUpdated=gt2000"} {
				r := fhirCall(t, env, "GET", "/v1/fhir/Patient?"+q, key, "")
				if r.Status != 200 || len(entries(r.Body)) != 0 {
					t.Fatalf("%s search %s: %d %s", who, q, r.Status, r.Raw)
				}
			}
			if r := fhirCall(t, env, "GET", "/v1/fhir/Encounter?subject=Patient/"+pid+"&_include=Encounter:subject", key, ""); strings.Contains(r.Raw, a.org) {
				t.Fatalf("%s reference search leaked: %s", who, r.Raw)
			}
			if r := fhirCall(t, env, "GET", "/v1/fhir/Patient?_revinclude=Encounter:subject", key, ""); strings.Contains(r.Raw, eid) || strings.Contains(r.Raw, a.org) {
				t.Fatalf("%s revinclude leaked: %s", who, r.Raw)
			}
			// A's cursor replayed by another tenant is refused.
			if r := fhirCall(t, env, "GET", cursorPath, key, ""); r.Status != 400 || strings.Contains(r.Raw, a.org) {
				t.Fatalf("%s replayed cursor: %d %s", who, r.Status, r.Raw)
			}
		}
		// A PUT to A's id from elsewhere creates a separate resource in the
		// caller's own tenant (ids are per tenant); A's stays as it was.
		body := strings.Replace(patientJSON, `"resourceType":"Patient",`, `"resourceType":"Patient","id":"`+pid+`",`, 1)
		if r := fhirCall(t, env, "PUT", "/v1/fhir/Patient/"+pid, b.live, body); r.Status != 201 || !strings.Contains(r.Raw, b.org) || strings.Contains(r.Raw, a.org) {
			t.Fatalf("B's PUT to A's id: %d %s", r.Status, r.Raw)
		}
		// After all that, A's patient is unchanged.
		if r := fhirCall(t, env, "GET", "/v1/fhir/Patient/"+pid, a.live, ""); r.Status != 200 || r.Header.Get("ETag") != `W/"1"` {
			t.Fatalf("A's patient after the matrix: %d %s", r.Status, r.Raw)
		}
	})
}

func linkOf(bundle map[string]any, rel string) string {
	links, _ := bundle["link"].([]any)
	for _, l := range links {
		m := l.(map[string]any)
		if m["relation"] == rel {
			return m["url"].(string)
		}
	}
	return ""
}

func entries(bundle map[string]any) []any {
	e, _ := bundle["entry"].([]any)
	return e
}

func TestCapabilityStatement(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	for _, p := range []string{"/v1/metadata", "/v1/fhir/metadata"} {
		r := apiCall(t, env, "GET", p, "", nil)
		if r.Status != http.StatusOK || r.Body["resourceType"] != "CapabilityStatement" || r.Body["fhirVersion"] != "4.0.1" {
			t.Fatalf("%s: %d %.300s", p, r.Status, r.Raw)
		}
		if !strings.Contains(r.Raw, `"type":"Patient"`) || !strings.Contains(r.Raw, `"name":"family"`) || !strings.Contains(r.Raw, `"code":"search-type"`) {
			t.Fatalf("%s lacks Patient search: %.500s", p, r.Raw)
		}
		// Dated when this instance started (a FHIR dateTime).
		date, _ := r.Body["date"].(string)
		if d, err := time.Parse(time.RFC3339, date); err != nil || d.After(env.Clock.Now()) || env.Clock.Now().Sub(d) > time.Hour {
			t.Fatalf("%s: date %q is not when the instance started", p, date)
		}
	}
}

// TestEnterpriseDedicatedDatastore: live data of an Enterprise organization
// lives in its own datastore; its test data stays in the shared test one.
func TestEnterpriseDedicatedDatastore(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a, b := twoTenants(t, env)
		setPlan(t, env, a.org, "enterprise")
		r := fhirCall(t, env, "POST", "/v1/fhir/Patient", a.live, patientJSON)
		if r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Raw)
		}
		id := r.Body["id"].(string)
		ded, err := env.App.Data.Named(context.Background(), datastore.Name("live", a.org, true))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ded.Read(context.Background(), datastore.Tenant(a.org), "Patient", id); err != nil {
			t.Fatalf("the patient is not in the dedicated datastore: %v", err)
		}
		shared, _ := env.App.Data.Named(context.Background(), datastore.Name("live", a.org, false))
		if _, err := shared.Read(context.Background(), datastore.Tenant(a.org), "Patient", id); err == nil {
			t.Fatalf("the Enterprise patient is also in the shared live datastore")
		}
		if r := fhirCall(t, env, "GET", "/v1/fhir/Patient/"+id, b.live, ""); r.Status != 404 {
			t.Fatalf("another organization read it: %d", r.Status)
		}
		if engine == "sqlite" {
			if _, err := os.Stat(filepath.Join(env.App.Config.DataDir, "fhir-"+a.org+".db")); err != nil {
				t.Fatalf("no dedicated SQLite file: %v", err)
			}
		}
	})
}
