package web_test

import (
	"context"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/fhir"
)

// TestPrivacyExportCountsOnce: exporting 1,200 records on Sandbox (1,000
// requests a month) counts as one request, from the dashboard or from the
// API; the API keeps working afterwards.
func TestPrivacyExportCountsOnce(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		ctx := context.Background()
		br := env.Browser()
		orgID := br.SignUp("", "export@example.com", pw, "Export Clinic")
		k, err := env.App.Keys.Create(ctx, apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "backend", Env: apikey.Test, Scope: apikey.ScopeAll})
		if err != nil {
			t.Fatal(err)
		}
		ds, _, err := env.App.Records.Datastore(ctx, orgID, "test")
		if err != nil {
			t.Fatal(err)
		}
		for range 1200 {
			if _, err := ds.Create(ctx, datastore.Tenant(orgID), fhir.Resource{"resourceType": "Patient"}, nil); err != nil {
				t.Fatal(err)
			}
		}
		used := func(what string) int {
			t.Helper()
			r := apiCall(t, env, "GET", "/v1/fhir/Patient?_count=1", k.Secret, nil)
			if r.Status != 200 {
				t.Fatalf("%s: the API answers %d %s", what, r.Status, r.Raw)
			}
			n, _ := strconv.Atoi(r.Header.Get("X-Quota-Used"))
			return n
		}
		before := used("before")
		page := br.Get("/o/" + orgID + "/privacy")
		wantText(t, "privacy page", page, "An export counts as one request", "counts one request per record", "an import of "+strconv.Itoa(1000-before)+" records or fewer fits now")

		if r := br.Post("/o/"+orgID+"/privacy/exports", url.Values{"env": {"test"}}); r.Status != 200 {
			t.Fatalf("dashboard export: %d", r.Status)
		}
		jobs, _ := env.App.Bulk.Jobs(ctx, orgID, 5)
		if len(jobs) != 1 {
			t.Fatalf("%d jobs", len(jobs))
		}
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			env.App.Bulk.Work(ctx)
			if j, _ := env.App.Bulk.Job(ctx, orgID, jobs[0].ID); j.Status == "completed" {
				if j.Processed != 1200 {
					t.Fatalf("the export wrote %d records, want 1200", j.Processed)
				}
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		// One for the export, one for this request.
		if got := used("after a dashboard export"); got != before+2 {
			t.Fatalf("X-Quota-Used %d after a dashboard export of 1,200 records, want %d (the export counts once)", got, before+2)
		}

		before = used("before an API export")
		job := startedJob(t, bulkCall(t, env, "/v1/bulk/export", k.Secret, map[string]any{}))
		for env.App.Bulk.Work(ctx); ; env.App.Bulk.Work(ctx) {
			if j, _ := env.App.Bulk.Job(ctx, orgID, job); j.Status == "completed" || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		// before + the export request + this request.
		if got := used("after an API export"); got != before+2 {
			t.Fatalf("X-Quota-Used %d after an API export of 1,200 records, want %d", got, before+2)
		}
	})
}
