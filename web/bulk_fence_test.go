package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

// TestBulkImportWaitsOutMoveFence: an import that meets the write fence of
// a move of the organization's data (writes answer 503 with Retry-After)
// waits it out and stores every record once the fence is lifted, instead
// of failing them; a fence that outlasts the import's bound fails the
// record it holds with a reason, and the import goes on.
func TestBulkImportWaitsOutMoveFence(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		ctx := context.Background()
		orgID, k := newOrgWithKey(t, env, "fence@example.com", apikey.ScopeAll)
		ds, tenant, err := env.App.Records.Datastore(ctx, orgID, "test")
		if err != nil {
			t.Fatal(err)
		}
		if err := ds.SetFence(ctx, tenant, true); err != nil {
			t.Fatal(err)
		}
		fenced := fhirCall(t, env, "POST", "/v1/fhir/Patient", k.Secret, patientJSON)
		if fenced.Status != 503 || fenced.Header.Get("Retry-After") != "1" {
			t.Fatalf("a write during the fence: %d Retry-After %q", fenced.Status, fenced.Header.Get("Retry-After"))
		}
		lines := []string{
			`{"resourceType":"Patient","name":[{"family":"Fenced"}]}`,
			`{"resourceType":"Patient","name":[{"family":"Fenced"}]}`,
			`{"firstName":"Simple","lastName":"Fenced"}`,
		}
		job := startedJob(t, bulkCall(t, env, "/v1/bulk/import", k.Secret, map[string]any{"resourceType": "Patient", "data": strings.Join(lines, "\n")}))
		worked := make(chan error, 1)
		go func() { _, err := env.App.Bulk.Work(ctx); worked <- err }()
		// While fenced the job runs, has stored nothing and failed nothing.
		time.Sleep(1500 * time.Millisecond)
		r := apiCall(t, env, "GET", "/v1/bulk/jobs/"+job, k.Secret, nil)
		d, _ := r.Body["data"].(map[string]any)
		if r.Status != 200 || d["status"] != "processing" || d["processedRecords"].(float64) != 0 || len(d["errors"].([]any)) != 0 {
			t.Fatalf("during the fence: %d %s", r.Status, r.Raw)
		}
		if err := ds.SetFence(ctx, tenant, false); err != nil {
			t.Fatal(err)
		}
		if err := <-worked; err != nil {
			t.Fatal(err)
		}
		d = waitJob(t, env, k.Secret, job)
		if d["status"] != "completed" || d["processedRecords"].(float64) != 3 || len(d["errors"].([]any)) != 0 {
			t.Fatalf("after the fence: %v", d)
		}
		if r := fhirCall(t, env, "GET", "/v1/fhir/Patient?family=Fenced", k.Secret, ""); len(entries(r.Body)) != 3 {
			t.Fatalf("imported during the fence: %d patients, want 3 (each once): %s", len(entries(r.Body)), r.Raw)
		}

		// A fence longer than the bound fails only the records it holds.
		env.App.Bulk.FenceWait = 1200 * time.Millisecond
		t.Cleanup(func() { env.App.Bulk.FenceWait = 0 })
		if err := ds.SetFence(ctx, tenant, true); err != nil {
			t.Fatal(err)
		}
		job = startedJob(t, bulkCall(t, env, "/v1/bulk/import", k.Secret, map[string]any{"resourceType": "Patient", "data": `{"resourceType":"Patient","name":[{"family":"Long"}]}`}))
		d = waitJob(t, env, k.Secret, job)
		errList, _ := d["errors"].([]any)
		if d["status"] != "completed" || d["processedRecords"].(float64) != 0 || len(errList) != 1 ||
			!strings.HasPrefix(errList[0].(string), "line 1: could not be stored: the organization's data was being moved to another datastore for over 1.2s") {
			t.Fatalf("a fence past the bound: %v", d)
		}
		if err := ds.SetFence(ctx, tenant, false); err != nil {
			t.Fatal(err)
		}
	})
}
