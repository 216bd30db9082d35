package web_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/quota"
)

// TestBrowserBilling walks the Billing page in embedded mode (development
// billing): switch to Pro, turn overage on, then sign the BAA.
func TestBrowserBilling(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	ctx, shot := browser(t)
	base := env.Server.URL
	err := chromedp.Run(ctx,
		chromedp.Navigate(base+"/signup"),
		chromedp.WaitVisible(`#email`, chromedp.ByQuery),
		chromedp.SendKeys(`#name`, "Ada Lovelace", chromedp.ByQuery),
		chromedp.SendKeys(`#email`, "ada@example.com", chromedp.ByQuery),
		chromedp.SendKeys(`#password`, pw, chromedp.ByQuery),
		chromedp.SendKeys(`#org_name`, "Engine Clinic", chromedp.ByQuery),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=current-org]`, chromedp.ByQuery),
		chromedp.Click(`nav a[href$="/billing"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=dev-billing]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("to the billing page: %v", err)
	}
	if got := textOf(t, ctx, "[data-testid=current-plan]"); got != "Sandbox" {
		t.Fatalf("current plan = %q, want Sandbox", got)
	}
	if got := textOf(t, ctx, "[data-testid=dev-billing]"); !strings.Contains(got, "Development billing — Stripe is not configured") {
		t.Fatalf("development billing notice = %q", got)
	}
	shot("sandbox")

	err = chromedp.Run(ctx,
		chromedp.Click(`[data-testid=plan-pro] button`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=overage-on]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("switch to Pro: %v", err)
	}
	if got := textOf(t, ctx, "[data-testid=current-plan]"); got != "Pro" {
		t.Fatalf("current plan after switching = %q, want Pro", got)
	}
	// Some traffic this month, so the meters show it.
	var loc string
	if err := chromedp.Run(ctx, chromedp.Location(&loc)); err != nil {
		t.Fatal(err)
	}
	orgID := strings.Split(strings.TrimPrefix(loc, base+"/o/"), "/")[0]
	period, _ := quota.Period(env.Clock.Now())
	env.App.DB.AddQuota(context.Background(), orgID, period, quota.PoolLive, 412_345)
	env.App.DB.AddQuota(context.Background(), orgID, period, quota.PoolSandbox, 48_120)
	err = chromedp.Run(ctx,
		chromedp.Click(`[data-testid=overage-on]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=overage-month]`, chromedp.ByQuery),
		chromedp.WaitNotPresent(`[data-testid=overage-on]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("turn overage on: %v", err)
	}
	if got := textOf(t, ctx, "[data-testid=meter]"); !strings.Contains(got, "412,345 / 600,000") {
		t.Fatalf("live meter = %q, want 412,345 / 600,000", got)
	}
	shot("pro-overage")

	err = chromedp.Run(ctx,
		chromedp.Click(`nav a[href$="/settings/compliance"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=baa-text]`, chromedp.ByQuery),
		chromedp.SendKeys(`#name`, "Ada Lovelace", chromedp.ByQuery),
		chromedp.SendKeys(`#title`, "Chief Executive", chromedp.ByQuery),
		chromedp.Click(`form[action$="/settings/compliance"] button`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=baa-signed]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("sign the BAA: %v", err)
	}
	if got := textOf(t, ctx, "[data-testid=baa-signed]"); !strings.Contains(got, "Signed by Ada Lovelace, Chief Executive") {
		t.Fatalf("signature notice = %q", got)
	}
	shot("baa-signed")
}
