package web_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

// TestFHIRClientFollowsLinks behaves like a FHIR client: it creates
// resources, pages through a search by following the Bundle's absolute
// `next` links exactly as given, updates with PUT and deletes.
func TestFHIRClientFollowsLinks(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a, _ := twoTenants(t, env)
		created := map[string]bool{}
		for i := 0; i < 45; i++ {
			body := fmt.Sprintf(`{"resourceType":"Patient","name":[{"family":"Pager%02d","given":["Page"]}],"birthDate":"19%02d-01-01"}`, i, 50+i)
			r := fhirCall(t, env, "POST", "/v1/fhir/Patient", a.test, body)
			if r.Status != 201 {
				t.Fatalf("create %d: %d %s", i, r.Status, r.Raw)
			}
			created[r.Body["id"].(string)] = true
		}
		seen := map[string]bool{}
		byFamily := map[string]string{}
		next := env.Server.URL + "/v1/fhir/Patient?name=pager&_count=10&_sort=family"
		pages, last := 0, ""
		for next != "" {
			u, err := url.Parse(next)
			if err != nil || u.Host == "" {
				t.Fatalf("next link %q is not absolute", next)
			}
			r := fhirCall(t, env, "GET", u.RequestURI(), a.test, "")
			if r.Status != 200 || r.Body["type"] != "searchset" {
				t.Fatalf("page %d: %d %s", pages, r.Status, r.Raw)
			}
			for _, e := range entries(r.Body) {
				res := e.(map[string]any)["resource"].(map[string]any)
				id := res["id"].(string)
				if seen[id] {
					t.Fatalf("%s seen twice while paging", id)
				}
				seen[id] = true
				fam := res["name"].([]any)[0].(map[string]any)["family"].(string)
				byFamily[fam] = id
				if fam < last {
					t.Fatalf("_sort=family out of order: %s after %s", fam, last)
				}
				last = fam
			}
			pages++
			next = linkOf(r.Body, "next")
		}
		if pages != 5 || len(seen) != 45 {
			t.Fatalf("paged %d pages and %d patients, want 5 and 45", pages, len(seen))
		}
		for id := range seen {
			if !created[id] {
				t.Fatalf("paging returned %s, which this client did not create", id)
			}
		}
		// Sorting the other way and a date prefix.
		r := fhirCall(t, env, "GET", "/v1/fhir/Patient?birthdate=ge1990&_sort=-birthdate&_total=accurate", a.test, "")
		if r.Body["total"] != float64(5) {
			t.Fatalf("birthdate=ge1990: %s", r.Raw)
		}
		first := entries(r.Body)[0].(map[string]any)["resource"].(map[string]any)
		if first["birthDate"] != "1994-01-01" {
			t.Fatalf("-birthdate first = %v", first["birthDate"])
		}
		// PUT a changed resource back, then delete it.
		id := byFamily["Pager10"]
		got := fhirCall(t, env, "GET", "/v1/fhir/Patient/"+id, a.test, "")
		res := got.Body
		res["gender"] = "unknown"
		b, _ := json.Marshal(res)
		if r := fhirCall(t, env, "PUT", "/v1/fhir/Patient/"+id, a.test, string(b), "If-Match", got.Header.Get("ETag")); r.Status != 200 || r.Body["gender"] != "unknown" {
			t.Fatalf("PUT: %d %s", r.Status, r.Raw)
		}
		if r := fhirCall(t, env, "DELETE", "/v1/fhir/Patient/"+id, a.test, ""); r.Status != 204 {
			t.Fatalf("DELETE: %d", r.Status)
		}
		r = fhirCall(t, env, "GET", "/v1/fhir/Patient?name=pager&_summary=count", a.test, "")
		if r.Body["total"] != float64(44) || len(entries(r.Body)) != 0 {
			t.Fatalf("_summary=count after a delete: %s", r.Raw)
		}
		// Modifiers and tokens.
		for q, want := range map[string]int{
			"family:exact=Pager07":      1,
			"family:exact=pager07":      0,
			"family:contains=ger4":      5,
			"gender:not=unknown":        44,
			"gender:missing=true":       44,
			"birthdate=1950":            1,
			"birthdate=lt1952-01-01":    2,
			"_lastUpdated=gt2000-01-01": 44,
		} {
			r := fhirCall(t, env, "GET", "/v1/fhir/Patient?_total=accurate&_count=0&"+q, a.test, "")
			if r.Status != 200 || r.Body["total"] != float64(want) {
				t.Errorf("%s: total %v (status %d), want %d", q, r.Body["total"], r.Status, want)
			}
		}
		if r := fhirCall(t, env, "GET", "/v1/fhir/Patient?name:fuzzy=x", a.test, ""); r.Status != 400 || !strings.Contains(r.Raw, "not supported") {
			t.Fatalf("unsupported modifier: %d %s", r.Status, r.Raw)
		}
	})
}
