package web_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/product"
)

func TestBrowserAnalyticsBanner(t *testing.T) {
	ph := newPostHog(t)
	env := apptest.New(t, "sqlite", map[string]string{"POSTHOG_API_KEY": "phc_project", "POSTHOG_HOST": ph.srv.URL})
	ctx, shot := browser(t)
	orgID := env.Browser().SignUp("Grace Hopper", "grace@example.com", pw, "Harbor Clinic")
	graceID := accountID(t, env, "grace@example.com")

	// On a phone the banner spans the width at the bottom.
	err := chromedp.Run(ctx,
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(env.Server.URL+"/signup"),
		chromedp.WaitVisible(`[data-testid=analytics-consent]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("banner on the sign-up page: %v", err)
	}
	shot("signup-phone")
	err = chromedp.Run(ctx,
		chromedp.EmulateViewport(1280, 860),
		chromedp.Navigate(env.Server.URL+"/signin"),
		chromedp.WaitVisible(`[data-testid=analytics-consent]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("banner on the sign-in page: %v", err)
	}
	shot("signin")
	err = chromedp.Run(ctx,
		chromedp.SendKeys(`#email`, "grace@example.com", chromedp.ByQuery),
		chromedp.SendKeys(`#password`, pw, chromedp.ByQuery),
		chromedp.Click(`form[action="/signin"] button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=current-org]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=analytics-consent]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("banner on the dashboard: %v", err)
	}
	if got := textOf(t, ctx, `[data-testid=analytics-consent]`); !strings.Contains(got, "Never your data, your keys or your e-mail address") {
		t.Fatalf("banner text: %q", got)
	}
	shot("dashboard")
	err = chromedp.Run(ctx,
		chromedp.Click(`nav a[href="/o/`+orgID+`/keys"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=open-create-key]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=analytics-consent]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("banner on the keys page: %v", err)
	}
	shot("keys")

	err = chromedp.Run(ctx,
		chromedp.Click(`[data-testid=analytics-refuse]`, chromedp.ByQuery),
		chromedp.WaitNotPresent(`#analytics-consent`, chromedp.ByQuery), // the banner and its spacer
	)
	if err != nil {
		t.Fatalf("refuse: %v", err)
	}
	shot("refused")
	if ch, _ := env.App.Consents.Of(context.Background(), graceID); ch != product.Refused {
		t.Fatalf("stored choice after clicking Refuse = %q", ch)
	}

	// Later pages do not ask again; the Account page says what was chosen.
	err = chromedp.Run(ctx,
		chromedp.Navigate(env.Server.URL+"/account"),
		chromedp.WaitVisible(`[data-testid=analytics-state]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("account page: %v", err)
	}
	var banners int
	if err := chromedp.Run(ctx, chromedp.Evaluate(`document.querySelectorAll("[data-testid=analytics-consent]").length`, &banners)); err != nil || banners != 0 {
		t.Fatalf("banner shown again after refusing (%d, %v)", banners, err)
	}
	if got := textOf(t, ctx, `[data-testid=analytics-state]`); !strings.Contains(got, "You refused product analytics") {
		t.Fatalf("account page says %q", got)
	}
	shot("account")

	if err := env.App.Close(); err != nil {
		t.Fatal(err)
	}
	var before bool
	for _, c := range ph.captures() {
		if c.DistinctID != graceID {
			continue
		}
		if c.Event == product.PageViewed && c.Props["route"] == "/account" {
			t.Fatalf("page view captured after refusing: %+v", c)
		}
		if c.Event == product.PageViewed && c.Props["route"] == "/o/:org" && c.Org == orgID {
			before = true
		}
	}
	if !before {
		t.Fatalf("the page view before refusing was not captured: %+v", ph.captures())
	}
}
