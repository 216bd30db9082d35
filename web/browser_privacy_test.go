package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/bulk"
	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/fhir"
)

// TestBrowserDataAndPrivacy: exports with live progress (HTMX polling),
// downloads, an import with per-line errors, and the close form.
func TestBrowserDataAndPrivacy(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	ctx, shot := browser(t)
	base := env.Server.URL
	bg := context.Background()

	orgID := signUpInBrowser(t, ctx, base, "Engine Clinic")
	u, _ := env.App.DB.FindUserByEmail(bg, "ada@example.com")

	ds, _, _ := env.App.Records.Datastore(bg, orgID, "test")
	for i := range 300 {
		typ := "Patient"
		res := fhir.Resource{"resourceType": typ, "name": []any{map[string]any{"family": "Babbage"}}}
		if i%3 == 0 {
			typ = "Observation"
			res = fhir.Resource{"resourceType": typ, "status": "final", "code": map[string]any{"text": "pulse"}}
		}
		if _, err := ds.Create(bg, datastore.Tenant(orgID), res, nil); err != nil {
			t.Fatal(err)
		}
	}
	// An import with bad lines, and an export whose worker stopped at 40%.
	actor := bulk.Actor{OrgID: orgID, Env: "test", Type: audit.ActorUser, ID: u.ID}
	imp, err := env.App.Bulk.StartImport(bg, actor, "Patient", "{\"resourceType\":\"Patient\"}\n{oops\n{\"resourceType\":\"Observation\"}\n")
	if err != nil {
		t.Fatal(err)
	}
	stuck := bulk.Job{ID: "job_stuckexport0001", OrgID: orgID, Env: "test", Kind: bulk.Export, Status: bulk.Processing,
		ActorType: "user", ActorID: u.ID, CreatedAt: env.Clock.Now()}
	if err := env.App.DB.CreateBulkJob(bg, stuck); err != nil {
		t.Fatal(err)
	}
	if ok, err := env.App.DB.ProgressBulkJob(bg, stuck.ID, "", 300, 120, env.Clock.Now().Add(time.Minute)); !ok || err != nil {
		t.Fatalf("progress: %v %v", ok, err)
	}

	err = chromedp.Run(ctx,
		chromedp.Click(`a[href$="/privacy"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=start-export]`, chromedp.ByQuery),
		chromedp.Click(`[data-testid=start-export]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=download]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#job-`+imp.ID+`[data-status=completed]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("export from the dashboard: %v", err)
	}
	var status string
	chromedp.Run(ctx, chromedp.AttributeValue(`#job-`+stuck.ID, "data-status", &status, nil, chromedp.ByQuery))
	if status != "processing" {
		t.Fatalf("stuck export shows %q", status)
	}
	chromedp.Run(ctx, chromedp.Click(`#job-`+imp.ID+` summary`, chromedp.ByQuery))
	if txt := textOf(t, ctx, `#job-`+imp.ID); !strings.Contains(txt, "line 2: not a JSON object") || !strings.Contains(txt, "line 3: resourceType must be Patient") {
		t.Fatalf("import row: %q", txt)
	}
	shot("export-in-progress")

	// The stuck export's lease runs out; a worker resumes it and the row,
	// polling every second, turns completed without a reload.
	env.Clock.Advance(2 * time.Minute)
	err = chromedp.Run(ctx, chromedp.WaitVisible(`#job-`+stuck.ID+`[data-status=completed] [data-testid=download]`, chromedp.ByQuery))
	if err != nil {
		t.Fatalf("the polled row did not complete: %v", err)
	}
	if txt := textOf(t, ctx, `#job-`+stuck.ID); !strings.Contains(txt, "Patient.ndjson") || !strings.Contains(txt, "301 of 301 records") {
		t.Fatalf("completed row: %q", txt)
	}
	shot("export-completed")

	// The close form is there for the owner.
	if err := chromedp.Run(ctx, chromedp.ScrollIntoView(`[data-testid=close-org]`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	shot("close-form")

	// The account page offers deleting the account.
	if err := chromedp.Run(ctx, chromedp.Navigate(base+"/account"), chromedp.WaitVisible(`#delete_password`, chromedp.ByQuery)); err != nil {
		t.Fatalf("account page: %v", err)
	}
	shot("account-delete")
}
