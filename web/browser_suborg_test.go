package web_test

import (
	"context"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/clinikapi/clinikapi/internal/analytics"
	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

// TestBrowserSubOrg: an owner creates a sub-organization and its key in
// the dashboard, calls the API with the curl command the dialog shows, and
// finds that traffic in analytics filtered by the sub-organization (and
// not under the organization's own keys).
func TestBrowserSubOrg(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	ctx, shot := browser(t)
	base := env.Server.URL
	orgID := signUpInBrowser(t, ctx, base, "Telehealth Platform")
	// The organization's own key makes traffic too, which the filter hides.
	own, err := env.App.Keys.Create(context.Background(), apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "platform", Env: apikey.Test})
	if err != nil {
		t.Fatal(err)
	}

	err = chromedp.Run(ctx,
		chromedp.Click(`a[href$="/suborgs"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#create-suborg`, chromedp.ByQuery),
		chromedp.SendKeys(`#create-suborg input[name=name]`, "Lakeside Pediatrics", chromedp.ByQuery),
		chromedp.Click(`[data-testid=create-suborg]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=keys-tenant]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("create sub-organization: %v", err)
	}
	banner := textOf(t, ctx, "[data-testid=keys-tenant]")
	sub := regexp.MustCompile(`sub_[a-z0-9]+`).FindString(banner)
	if !strings.Contains(banner, "Lakeside Pediatrics") || sub == "" {
		t.Fatalf("keys page banner: %q", banner)
	}
	var tenant string
	err = chromedp.Run(ctx,
		chromedp.Click(`[data-testid=open-create-key]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#create-key:modal`, chromedp.ByQuery),
		chromedp.Value(`#create-key select[name=tenant]`, &tenant, chromedp.ByQuery),
		chromedp.SendKeys(`#create-key input[name=name]`, "lakeside-ehr", chromedp.ByQuery),
		chromedp.Click(`#create-key button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=new-key-secret]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	if tenant != sub {
		t.Fatalf("the create form's tenant is %q, want %s preselected", tenant, sub)
	}
	shot("suborg-key")
	curl := textOf(t, ctx, "#new-key-curl")
	secret := regexp.MustCompile(`clk_test_[A-Za-z0-9]{32}`).FindString(curl)
	if secret == "" || !strings.Contains(textOf(t, ctx, "[data-testid=secret-tenant]"), "Lakeside Pediatrics") {
		t.Fatalf("secret dialog: %q", curl)
	}
	// Use it over HTTP, exactly as shown: curl -H "x-api-key: …" <base>/v1/patients.
	for i := 0; i < 3; i++ {
		if path, err := exec.LookPath("curl"); err == nil {
			out, err := exec.Command(path, "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "x-api-key: "+secret, base+"/v1/patients").Output()
			if err != nil || string(out) != "200" {
				t.Fatalf("curl: %s %v", out, err)
			}
		} else {
			req, _ := http.NewRequest("GET", base+"/v1/patients", nil)
			req.Header.Set("x-api-key", secret)
			res, err := http.DefaultClient.Do(req)
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("request: %v", err)
			}
			res.Body.Close()
		}
	}
	for i := 0; i < 2; i++ {
		apiCall(t, env, "GET", "/v1/fhir/Patient", own.Secret, nil)
	}
	waitUsage(t, env, orgID, 5)
	env.Clock.Advance(2 * time.Minute)
	runJob(t, env, analytics.JobRollup)

	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/o/"+orgID+"/suborgs"),
		chromedp.WaitVisible(`[data-testid=suborg-analytics]`, chromedp.ByQuery),
		chromedp.Click(`[data-testid=suborg-analytics]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-stat=Requests]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("analytics of the sub-organization: %v", err)
	}
	if got := textOf(t, ctx, "[data-stat=Requests]"); got != "3" {
		t.Fatalf("requests of the sub-organization: %q, want 3", got)
	}
	var selected string
	chromedp.Run(ctx, chromedp.Value(`select[name=tenant]`, &selected, chromedp.ByQuery))
	if selected != sub {
		t.Fatalf("tenant filter shows %q, want %s", selected, sub)
	}
	shot("suborg-analytics")
	// The filter changed in the page: the organization's own keys, then all.
	err = chromedp.Run(ctx,
		chromedp.SetValue(`select[name=tenant]`, orgID, chromedp.ByQuery),
		chromedp.Click(`form[aria-label=Filters] button[type=submit]`, chromedp.ByQuery),
		// The filtered page has loaded when the address names the filter.
		chromedp.Poll(`location.search.includes("tenant=`+orgID+`")`, nil),
		chromedp.WaitVisible(`[data-stat=Requests]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("filter by the organization's own keys: %v", err)
	}
	if got := textOf(t, ctx, "[data-stat=Requests]"); got != "2" {
		t.Fatalf("requests of the organization's own keys: %q, want 2", got)
	}
	chromedp.Run(ctx, chromedp.Navigate(base+"/o/"+orgID+"/analytics?range=24h"), chromedp.WaitVisible(`[data-stat=Requests]`, chromedp.ByQuery))
	if got := textOf(t, ctx, "[data-stat=Requests]"); got != "5" {
		t.Fatalf("requests of every tenant: %q, want 5", got)
	}
}
