package web_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/fetch"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/billing"
	"github.com/clinikapi/clinikapi/internal/billing/stripemock"
)

// stripeDouble answers every https navigation of the browser (Stripe
// Checkout, the Customer Portal) with a small page, so a test sees where the
// browser went without reaching the internet, and collects what Chromium
// logs about the Content-Security-Policy; visited lists the pages (not
// their favicons). The dashboard itself is plain
// http on 127.0.0.1 and is not intercepted.
type stripeDouble struct {
	mu         sync.Mutex
	visited    []string
	violations []string
}

func newStripeDouble(t *testing.T, ctx context.Context) *stripeDouble {
	t.Helper()
	d := &stripeDouble{}
	chromedp.ListenTarget(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *fetch.EventRequestPaused:
			if ev.ResourceType == network.ResourceTypeDocument {
				d.mu.Lock()
				d.visited = append(d.visited, ev.Request.URL)
				d.mu.Unlock()
			}
			go func() {
				page := `<!doctype html><title>Stripe</title><p id="stripe-double">` + ev.Request.URL + `</p>`
				c := chromedp.FromContext(ctx)
				err := fetch.FulfillRequest(ev.RequestID, 200).
					WithResponseHeaders([]*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/html; charset=utf-8"}}).
					WithBody(base64.StdEncoding.EncodeToString([]byte(page))).
					Do(cdp.WithExecutor(ctx, c.Target))
				if err != nil && ctx.Err() == nil {
					t.Logf("fulfilling %s: %v", ev.Request.URL, err)
				}
			}()
		case *cdplog.EventEntryAdded:
			if strings.Contains(ev.Entry.Text, "Content Security Policy") {
				d.mu.Lock()
				d.violations = append(d.violations, ev.Entry.Text)
				d.mu.Unlock()
			}
		}
	})
	err := chromedp.Run(ctx,
		fetch.Enable().WithPatterns([]*fetch.RequestPattern{{URLPattern: "https://*", RequestStage: fetch.RequestStageRequest}}),
		cdplog.Enable(),
	)
	if err != nil {
		t.Fatalf("intercepting Stripe: %v", err)
	}
	return d
}

func (d *stripeDouble) seen() ([]string, []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.visited...), append([]string(nil), d.violations...)
}

// sameURL compares origin and path the way a browser writes them.
func sameURL(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Scheme == ub.Scheme && ua.Host == ub.Host && ua.EscapedPath() == ub.EscapedPath()
}

// clickTo clicks sel and waits until the browser shows the Stripe double
// for want; it fails with what the browser logged about the CSP if it
// stays on the dashboard.
func clickTo(t *testing.T, ctx context.Context, d *stripeDouble, what, sel, want string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	err := chromedp.Run(wctx,
		chromedp.Click(sel, chromedp.ByQuery),
		chromedp.WaitVisible(`#stripe-double`, chromedp.ByQuery),
	)
	var loc string
	chromedp.Run(ctx, chromedp.Location(&loc))
	visited, violations := d.seen()
	if err != nil {
		t.Fatalf("%s: the browser did not reach Stripe (%v); it is at %s; CSP reports %q", what, err, loc, violations)
	}
	if !sameURL(loc, want) {
		t.Fatalf("%s: the browser is at %s; want the URL stripe-mock returned, %s (requests to Stripe: %q)", what, loc, want, visited)
	}
	if len(violations) > 0 {
		t.Fatalf("%s: Chromium reported CSP violations: %q", what, violations)
	}
}

// TestBrowserStripeCheckout runs Upgrade (Stripe Checkout) and Manage
// billing (the Customer Portal) in Chromium against stripe-mock, under the
// dashboard's Content-Security-Policy: as plain forms with JavaScript off,
// then HTMX-enhanced after a boosted navigation, then the completed
// checkout.
func TestBrowserStripeCheckout(t *testing.T) {
	mock := stripemock.Start(t)
	env := apptest.New(t, "sqlite", stripeEnv(mock))
	ctx, shot := browser(t, 3*time.Minute) // and the invoices, axe-core at two sizes
	base := env.Server.URL
	bg := context.Background()

	// What stripe-mock answers for a Checkout and a portal session.
	gw := billing.NewStripe(billing.StripeConfig{SecretKey: "sk_test_123", APIURL: mock})
	checkoutURL, err := gw.Checkout(bg, billing.CheckoutInput{OrgID: "org_x", CustomerID: "cus_x", Plan: "starter", PriceID: "price_starter",
		SuccessURL: base + "/ok", CancelURL: base + "/cancel"})
	if err != nil {
		t.Fatal(err)
	}
	portalURL, err := gw.Portal(bg, "cus_x", base+"/back")
	if err != nil {
		t.Fatal(err)
	}
	d := newStripeDouble(t, ctx)

	orgID := signUpInBrowser(t, ctx, base, "Engine Clinic")
	billingURL := base + "/o/" + orgID + "/billing"

	// Without JavaScript: plain forms, a 303 to Stripe, allowed by the
	// Billing page's form-action.
	if err := chromedp.Run(ctx, emulation.SetScriptExecutionDisabled(true)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Run(ctx, chromedp.Navigate(billingURL), chromedp.WaitVisible(`[data-testid=plan-starter]`, chromedp.ByQuery)); err != nil {
		t.Fatalf("billing page without JavaScript: %v", err)
	}
	clickTo(t, ctx, d, "Upgrade without JavaScript", `[data-testid=plan-starter] button`, checkoutURL)
	if err := chromedp.Run(ctx, chromedp.Navigate(billingURL), chromedp.WaitVisible(`form[action$="/billing/portal"]`, chromedp.ByQuery)); err != nil {
		t.Fatalf("billing page with a customer, without JavaScript: %v", err)
	}
	if u, _ := url.Parse(checkoutURL); "https://"+u.Host != billing.CheckoutOrigin {
		t.Fatalf("stripe-mock's Checkout URL %s is not on %s", checkoutURL, billing.CheckoutOrigin)
	}
	// stripe-mock's portal URL is on a host of its own rather than
	// billing.stripe.com (as a custom domain would be): the plain form
	// answers with a link to it instead of a redirect Chromium would block.
	if u, _ := url.Parse(portalURL); "https://"+u.Host == billing.PortalOrigin {
		t.Fatalf("stripe-mock's portal URL %s is on %s; this test expects it elsewhere", portalURL, billing.PortalOrigin)
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = chromedp.Run(wctx,
		chromedp.Click(`form[action$="/billing/portal"] button`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=continue-to-stripe]`, chromedp.ByQuery),
	)
	cancel()
	if err != nil {
		_, violations := d.seen()
		t.Fatalf("Manage billing without JavaScript: %v; CSP reports %q", err, violations)
	}
	shot("continue-to-portal")
	clickTo(t, ctx, d, "the link to the portal", `[data-testid=continue-to-stripe]`, portalURL)
	if err := chromedp.Run(ctx, emulation.SetScriptExecutionDisabled(false)); err != nil {
		t.Fatal(err)
	}

	// With JavaScript, the way people arrive: Overview, then Billing by a
	// boosted link, so the document (and its CSP) is still the Overview's.
	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/o/"+orgID),
		chromedp.WaitVisible(`[data-testid=current-org]`, chromedp.ByQuery),
		chromedp.Click(`nav a[href$="/billing"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=plan-starter] button`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("to the billing page: %v", err)
	}
	shot("sandbox")
	clickTo(t, ctx, d, "Upgrade to Starter", `[data-testid=plan-starter] button`, checkoutURL)

	// Stripe confirms the payment (webhook) and sends the owner back.
	cs := event("evt_browser_checkout", "checkout.session.completed", time.Now().Unix(), fmt.Sprintf(
		`{"id":"cs_1","object":"checkout.session","mode":"subscription","client_reference_id":%q,"customer":"cus_1","subscription":"sub_1","metadata":{"org_id":%q,"plan":"starter"}}`, orgID, orgID))
	if got := deliver(t, env, cs, whsec, time.Time{}); got != 200 {
		t.Fatalf("checkout.session.completed: %d", got)
	}
	if err := chromedp.Run(ctx, chromedp.Navigate(billingURL+"?checkout=success"), chromedp.WaitVisible(`[data-testid=current-plan]`, chromedp.ByQuery)); err != nil {
		t.Fatalf("back from Checkout: %v", err)
	}
	if got := textOf(t, ctx, "[data-testid=current-plan]"); got != "Starter" {
		t.Fatalf("plan after the completed checkout = %q, want Starter", got)
	}
	shot("starter")
	clickTo(t, ctx, d, "Manage billing", `form[action$="/billing/portal"] button`, portalURL)

	visited, _ := d.seen()
	if len(visited) != 4 {
		t.Errorf("requests to Stripe = %q; want Checkout and the portal, with and without JavaScript", visited)
	}

	// The invoices Stripe lists, at desktop and phone sizes: their links
	// on the screen, nothing wider than it, no axe-core violation.
	axe := axeSource(t)
	for _, sc := range screens {
		err := chromedp.Run(ctx,
			chromedp.EmulateViewport(sc.width, sc.height),
			chromedp.Navigate(billingURL),
			chromedp.WaitVisible(`#invoices-heading`, chromedp.ByQuery),
		)
		if err != nil {
			t.Fatalf("invoices at %dpx: %v", sc.width, err)
		}
		var rows int
		if err := chromedp.Run(ctx, chromedp.Evaluate(`document.querySelectorAll("[data-testid=invoice]").length`, &rows)); err != nil || rows == 0 {
			t.Fatalf("invoices at %dpx: none listed (%v): %s", sc.width, err, textOf(t, ctx, "#main"))
		}
		checkPage(t, ctx, axe, fmt.Sprintf("billing with invoices at %dpx", sc.width))
		shot(sc.name + "-invoices")
	}
}
