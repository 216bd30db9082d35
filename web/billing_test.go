package web_test

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v79/webhook"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/billing"
	"github.com/clinikapi/clinikapi/internal/billing/stripemock"
	"github.com/clinikapi/clinikapi/internal/quota"
	"github.com/clinikapi/clinikapi/web/dashboard"
)

const whsec = "whsec_test_secret"

// stripeEnv configures Stripe billing; apiURL is stripe-mock (or an address
// nothing listens on, for tests that must not call Stripe).
func stripeEnv(apiURL string) map[string]string {
	return map[string]string{
		"STRIPE_SECRET_KEY": "sk_test_123", "STRIPE_WEBHOOK_SECRET": whsec, "STRIPE_API_URL": apiURL,
		"STRIPE_PRICE_STARTER": "price_starter", "STRIPE_PRICE_PRO": "price_pro", "STRIPE_PRICE_TEAM": "price_team",
	}
}

// deliver posts a webhook signed like Stripe does (signedAt zero: now).
func deliver(t *testing.T, env *apptest.Env, payload []byte, secret string, signedAt time.Time) int {
	t.Helper()
	if signedAt.IsZero() {
		signedAt = time.Now()
	}
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: signedAt})
	req, _ := http.NewRequest(http.MethodPost, env.Server.URL+"/webhooks/stripe", bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("Stripe-Signature", sp.Header)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func event(id, typ string, created int64, object string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"object":"event","api_version":"2019-02-19","type":%q,"created":%d,"livemode":false,"data":{"object":%s}}`, id, typ, created, object)
}

func subscription(orgID, price, status string, periodEnd int64, cancel bool) string {
	return fmt.Sprintf(`{"id":"sub_1","object":"subscription","customer":"cus_1","status":%q,"current_period_end":%d,"cancel_at_period_end":%t,
		"metadata":{"org_id":%q},"items":{"object":"list","data":[{"id":"si_1","object":"subscription_item","price":{"id":%q,"object":"price"}}]}}`,
		status, periodEnd, cancel, orgID, price)
}

// wantTier checks the stored plan and what the API tier enforces for it:
// the rate limit and the pool a test key's request reports.
func wantTier(t *testing.T, env *apptest.Env, what, orgID, key, plan, rateLimit, quotaLimit string) {
	t.Helper()
	o, err := env.App.Orgs.FindOrg(context.Background(), orgID)
	if err != nil || o.Plan != plan {
		t.Fatalf("%s: stored plan %q, %v; want %s", what, o.Plan, err, plan)
	}
	r := apiCall(t, env, "GET", "/v1/x", key, nil)
	got := r.Header.Get("X-Quota-Limit")
	if plan != "sandbox" {
		got = r.Header.Get("X-Sandbox-Limit") // a test key on a paid plan uses its sandbox pool
	}
	if r.Header.Get("X-RateLimit-Limit") != rateLimit || got != quotaLimit {
		t.Fatalf("%s: API tier has rate limit %q and pool %q; want %s and %s", what, r.Header.Get("X-RateLimit-Limit"), got, rateLimit, quotaLimit)
	}
}

// TestStripeWebhooks delivers signed events in the orders Stripe may use
// and checks the stored plan and the API tier's limits after each.
func TestStripeWebhooks(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, stripeEnv("http://127.0.0.1:1"))
		owner := env.Browser()
		orgID := owner.SignUp("Owner", "hooks@example.com", pw, "Hooks Clinic")
		key, err := env.App.Keys.Create(context.Background(), apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "k", Env: apikey.Test})
		if err != nil {
			t.Fatal(err)
		}
		wantTier(t, env, "before any event", orgID, key.Secret, "sandbox", "100", "1000")
		t0 := time.Now().Unix()
		periodEnd := time.Now().Add(30 * 24 * time.Hour).Unix()
		checkout := event("evt_checkout", "checkout.session.completed", t0, fmt.Sprintf(
			`{"id":"cs_1","object":"checkout.session","mode":"subscription","client_reference_id":%q,"customer":"cus_1","subscription":"sub_1","metadata":{"org_id":%q,"plan":"starter"}}`, orgID, orgID))

		// Refused deliveries change nothing.
		if got := deliver(t, env, checkout, "whsec_wrong", time.Time{}); got != 400 {
			t.Fatalf("bad signature: %d, want 400", got)
		}
		if got := deliver(t, env, checkout, "", time.Time{}); got != 400 {
			t.Fatalf("missing signature: %d, want 400", got)
		}
		if got := deliver(t, env, checkout, whsec, time.Now().Add(-6*time.Minute)); got != 400 {
			t.Fatalf("stale timestamp: %d, want 400", got)
		}
		tampered := bytes.Replace(checkout, []byte(`"plan":"starter"`), []byte(`"plan":"team"`), 1)
		sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: checkout, Secret: whsec})
		req, _ := http.NewRequest(http.MethodPost, env.Server.URL+"/webhooks/stripe", bytes.NewReader(tampered))
		req.Header.Set("Stripe-Signature", sp.Header)
		if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 400 {
			t.Fatalf("tampered body: %v %v, want 400", res, err)
		}
		wantTier(t, env, "after refused deliveries", orgID, key.Secret, "sandbox", "100", "1000")

		// Checkout completes: Starter.
		if got := deliver(t, env, checkout, whsec, time.Time{}); got != 200 {
			t.Fatalf("checkout.session.completed: %d", got)
		}
		wantTier(t, env, "after checkout", orgID, key.Secret, "starter", "200", "60000")

		// Out of order: the later "updated" (to Pro) arrives before "created" (Starter).
		updated := event("evt_updated", "customer.subscription.updated", t0+20, subscription(orgID, "price_pro", "active", periodEnd, false))
		created := event("evt_created", "customer.subscription.created", t0+10, subscription(orgID, "price_starter", "active", periodEnd, false))
		if deliver(t, env, updated, whsec, time.Time{}) != 200 || deliver(t, env, created, whsec, time.Time{}) != 200 {
			t.Fatal("subscription events refused")
		}
		wantTier(t, env, "after updated-then-created", orgID, key.Secret, "pro", "1000", "600000")

		// A duplicate delivery is acknowledged and ignored (same id, even
		// if its body differed).
		dup := event("evt_updated", "customer.subscription.updated", t0+30, subscription(orgID, "price_team", "active", periodEnd, false))
		if got := deliver(t, env, dup, whsec, time.Time{}); got != 200 {
			t.Fatalf("duplicate: %d, want 200", got)
		}
		wantTier(t, env, "after a duplicate", orgID, key.Secret, "pro", "1000", "600000")

		// A failed payment shows a banner and keeps the plan.
		failed := event("evt_failed", "invoice.payment_failed", t0+40, `{"id":"in_1","object":"invoice","customer":"cus_1","subscription":"sub_1"}`)
		if got := deliver(t, env, failed, whsec, time.Time{}); got != 200 {
			t.Fatalf("invoice.payment_failed: %d", got)
		}
		wantTier(t, env, "after a failed payment", orgID, key.Secret, "pro", "1000", "600000")
		r := owner.Get("/o/" + orgID)
		wantText(t, "overview after a failed payment", r, "The last payment failed", "Update the payment method")
		paid := event("evt_paid", "invoice.paid", t0+50, `{"id":"in_2","object":"invoice","customer":"cus_1","subscription":"sub_1"}`)
		if got := deliver(t, env, paid, whsec, time.Time{}); got != 200 {
			t.Fatalf("invoice.paid: %d", got)
		}
		if r := owner.Get("/o/" + orgID); strings.Contains(r.Body, "The last payment failed") {
			t.Fatal("the failed-payment banner stayed after invoice.paid")
		}

		// Cancellation at period end keeps the plan until Stripe ends it.
		cancel := event("evt_cancel", "customer.subscription.updated", t0+60, subscription(orgID, "price_pro", "active", periodEnd, true))
		if got := deliver(t, env, cancel, whsec, time.Time{}); got != 200 {
			t.Fatalf("cancel at period end: %d", got)
		}
		wantTier(t, env, "after cancel_at_period_end", orgID, key.Secret, "pro", "1000", "600000")
		wantText(t, "billing page after cancel", owner.Get("/o/"+orgID+"/billing"), "The subscription ends on", "moves to Sandbox")
		deleted := event("evt_deleted", "customer.subscription.deleted", t0+70, subscription(orgID, "price_pro", "canceled", periodEnd, true))
		if got := deliver(t, env, deleted, whsec, time.Time{}); got != 200 {
			t.Fatalf("customer.subscription.deleted: %d", got)
		}
		wantTier(t, env, "after the subscription ended", orgID, key.Secret, "sandbox", "100", "1000")
		// A late "updated" from before the deletion does not revive it.
		late := event("evt_late", "customer.subscription.updated", t0+65, subscription(orgID, "price_team", "active", periodEnd, false))
		deliver(t, env, late, whsec, time.Time{})
		wantTier(t, env, "after a late update", orgID, key.Secret, "sandbox", "100", "1000")

		events, err := env.App.Audit.List(context.Background(), audit.Filter{OrgID: orgID, Action: billing.PlanChanged})
		if err != nil || len(events) != 3 {
			t.Fatalf("plan_changed audit events = %d, %v; want 3 (starter, pro, sandbox)", len(events), err)
		}
		for _, e := range events {
			if e.ActorType != audit.ActorSystem || e.ActorID != "stripe" {
				t.Fatalf("plan change audited as %s %s; want the system actor stripe", e.ActorType, e.ActorID)
			}
		}
	})
}

// formAction is the form-action directive of a response's
// Content-Security-Policy.
func formAction(r *apptest.Response) string {
	for _, d := range strings.Split(r.Header.Get("Content-Security-Policy"), ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(d), "form-action "); ok {
			return v
		}
	}
	return ""
}

// noFollow stops at redirects to other hosts (Stripe Checkout, the portal).
func noFollow(b *apptest.Browser, base string) {
	u, _ := url.Parse(base)
	b.Client.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if req.URL.Host != u.Host {
			return http.ErrUseLastResponse
		}
		return nil
	}
}

// TestBillingWithStripe walks upgrade, portal, plan change and overage
// against stripe-mock.
func TestBillingWithStripe(t *testing.T) {
	stripe := stripemock.StartSubscriptions(t)
	env := apptest.New(t, "sqlite", stripeEnv(stripe.URL))
	ctx := context.Background()
	owner := env.Browser()
	orgID := owner.SignUp("Owner", "stripe@example.com", pw, "Stripe Clinic")
	noFollow(owner, env.Server.URL)

	r := owner.Get("/o/" + orgID + "/billing")
	wantStatus(t, "billing page", r, 200)
	if strings.Contains(r.Body, "Development billing") {
		t.Fatal("the billing page says development billing with Stripe configured")
	}
	// The page that holds Upgrade and Manage billing lets its forms be
	// redirected to Stripe's Checkout and portal origins, and nowhere else.
	if got, want := formAction(r), "'self' https://checkout.stripe.com https://billing.stripe.com"; got != want {
		t.Fatalf("billing page form-action = %q; want %q", got, want)
	}
	// Upgrade: Stripe Checkout, with a customer created on first need. A
	// plain form gets a 303, an HTMX one HX-Redirect (a navigation from
	// script, which form-action does not govern).
	r = owner.Post("/o/"+orgID+"/billing/plan", url.Values{"plan": {"pro"}})
	checkout := r.Header.Get("Location")
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(checkout, "https://checkout.stripe.com/") {
		t.Fatalf("upgrade: %d to %q; want 303 to Stripe Checkout", r.Status, checkout)
	}
	owner.Headers["HX-Request"], owner.Headers["HX-Boosted"] = "true", "true"
	r = owner.Post("/o/"+orgID+"/billing/plan", url.Values{"plan": {"pro"}})
	if r.Status != http.StatusNoContent || r.Header.Get("HX-Redirect") != checkout || r.Header.Get("Location") != "" {
		t.Fatalf("upgrade with HTMX: %d, HX-Redirect %q; want 204 and HX-Redirect %q", r.Status, r.Header.Get("HX-Redirect"), checkout)
	}
	delete(owner.Headers, "HX-Request")
	delete(owner.Headers, "HX-Boosted")
	st, _ := env.App.Billing.State(ctx, orgID)
	if !strings.HasPrefix(st.CustomerID, "cus_") {
		t.Fatalf("customer after checkout = %q; want a Stripe customer", st.CustomerID)
	}
	if o, _ := env.App.Orgs.FindOrg(ctx, orgID); o.Plan != "sandbox" {
		t.Fatalf("plan before Stripe confirms = %s; want sandbox", o.Plan)
	}
	// Manage billing: the Customer Portal. stripe-mock's portal URL is not
	// on billing.stripe.com (like a custom domain), so a plain form gets a
	// page linking to it rather than a redirect the browser would block;
	// HTMX gets HX-Redirect to it.
	r = owner.Post("/o/"+orgID+"/billing/portal", nil)
	wantStatus(t, "portal", r, 200)
	portal := regexp.MustCompile(`href="(https://[^"]+)"[^>]*data-testid="continue-to-stripe"`).FindStringSubmatch(r.Body)
	if portal == nil || strings.HasPrefix(portal[1], "https://billing.stripe.com/") || r.Header.Get("Location") != "" {
		t.Fatalf("portal on stripe-mock's host: %d, Location %q; want a page with a link to the portal:\n%s", r.Status, r.Header.Get("Location"), apptest.Text(r.Body))
	}
	if got := formAction(r); got != "'self'" {
		t.Fatalf("form-action of the page linking to the portal = %q; want 'self'", got)
	}
	owner.Headers["HX-Request"] = "true"
	r = owner.Post("/o/"+orgID+"/billing/portal", nil)
	if r.Status != http.StatusNoContent || r.Header.Get("HX-Redirect") != html.UnescapeString(portal[1]) {
		t.Fatalf("portal with HTMX: %d, HX-Redirect %q; want 204 and HX-Redirect %q", r.Status, r.Header.Get("HX-Redirect"), portal[1])
	}
	delete(owner.Headers, "HX-Request")
	// An existing subscriber changes plan through the API, with proration.
	st.SubscriptionID, st.Status = "sub_123", "active"
	if err := env.App.DB.SaveBillingState(ctx, st); err != nil {
		t.Fatal(err)
	}
	r = owner.Post("/o/"+orgID+"/billing/plan", url.Values{"plan": {"team"}})
	wantStatus(t, "plan change", r, 200)
	wantText(t, "plan change", r, "now on the Team plan")
	if o, _ := env.App.Orgs.FindOrg(ctx, orgID); o.Plan != "team" {
		t.Fatalf("plan after change = %s; want team", o.Plan)
	}
	// A downgrade is scheduled for the period end; the plan stays until
	// Stripe applies it.
	r = owner.Post("/o/"+orgID+"/billing/plan", url.Values{"plan": {"starter"}, "confirm": {"yes"}})
	wantStatus(t, "downgrade", r, 200)
	wantText(t, "downgrade", r, "moves to the Starter plan on")
	if o, _ := env.App.Orgs.FindOrg(ctx, orgID); o.Plan != "team" {
		t.Fatalf("plan right after scheduling a downgrade = %s; want team until the period ends", o.Plan)
	}
	if st, _ := env.App.Billing.State(ctx, orgID); st.ScheduledPlan != "starter" {
		t.Fatalf("scheduled plan = %q; want starter", st.ScheduledPlan)
	}
	periodEnd := time.Now().Add(time.Hour).Unix()
	// Stripe applies it: the event triggers a read of the subscription.
	stripe.Set("sub_123", stripemock.Sub{Customer: st.CustomerID, OrgID: orgID, Status: "active", Price: "price_starter", PeriodEnd: periodEnd})
	applied := event("evt_downgrade", "customer.subscription.updated", time.Now().Unix(),
		strings.Replace(subscription(orgID, "price_starter", "active", periodEnd, false), `"sub_1"`, `"sub_123"`, 1))
	if got := deliver(t, env, applied, whsec, time.Time{}); got != 200 {
		t.Fatalf("downgrade applied by Stripe: %d", got)
	}
	if o, _ := env.App.Orgs.FindOrg(ctx, orgID); o.Plan != "starter" {
		t.Fatalf("plan after Stripe applied the downgrade = %s; want starter", o.Plan)
	}
	if st, _ := env.App.Billing.State(ctx, orgID); st.ScheduledPlan != "" {
		t.Fatalf("scheduled plan after it happened = %q; want none", st.ScheduledPlan)
	}
	// Back up to Team for the overage checks below.
	wantText(t, "upgrade again", owner.Post("/o/"+orgID+"/billing/plan", url.Values{"plan": {"team"}}), "now on the Team plan")

	// Invoices come from Stripe.
	owner.Client.CheckRedirect = nil
	wantText(t, "invoices", owner.Get("/o/"+orgID+"/billing"), "Invoices", "10.00 USD", "draft")

	// Overage: off → 429 past the pool; on → billable, reported to Stripe.
	live, _ := env.App.Keys.Create(ctx, apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "live", Env: apikey.Live})
	test, _ := env.App.Keys.Create(ctx, apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "test", Env: apikey.Test})
	period, _ := quota.Period(env.Clock.Now())
	env.App.DB.AddQuota(ctx, orgID, period, quota.PoolLive, 3_000_000)
	env.App.DB.AddQuota(ctx, orgID, period, quota.PoolSandbox, 3_000_000)
	wantAPIError(t, "past the pool, overage off", apiCall(t, env, "GET", "/v1/x", live.Secret, nil), 429, "MONTHLY_QUOTA_EXCEEDED")
	wantStatus(t, "overage on", owner.Post("/o/"+orgID+"/billing/overage", url.Values{"overage": {"on"}}), 200)
	for i := 1; i <= 3; i++ {
		r := apiCall(t, env, "GET", "/v1/x", live.Secret, nil)
		if r.Status == 429 || r.Header.Get("X-Quota-Billable") != "true" || r.Header.Get("X-Quota-Overage") != fmt.Sprint(i) {
			t.Fatalf("overage request %d: %d, billable %q, overage %q", i, r.Status, r.Header.Get("X-Quota-Billable"), r.Header.Get("X-Quota-Overage"))
		}
	}
	wantAPIError(t, "test traffic past its pool", apiCall(t, env, "GET", "/v1/x", test.Secret, nil), 429, "SANDBOX_QUOTA_EXCEEDED")
	if err := env.App.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := env.App.Jobs.RunNow(ctx, app.OverageJob); err != nil {
		t.Fatalf("overage job: %v", err)
	}
	ov, _ := env.App.Billing.ReportedOverage(ctx, orgID, period)
	if ov.Reported != 3 || ov.Seq != 1 || ov.Pending != 0 {
		t.Fatalf("reported overage = %+v; want 3 requests in one meter event", ov)
	}
	wantText(t, "billing page with overage", owner.Get("/o/"+orgID+"/billing"), "Overage this month: 3 requests", "3,000,003 / 3,000,000")

	// Organization closure: the subscription ends with the period.
	if err := env.App.Billing.CancelAtPeriodEnd(ctx, orgID); err != nil {
		t.Fatalf("CancelAtPeriodEnd: %v", err)
	}
	if st, _ := env.App.Billing.State(ctx, orgID); !st.CancelAtPeriodEnd {
		t.Fatal("CancelAtPeriodEnd did not record the scheduled cancellation")
	}
	if events, _ := env.App.Audit.List(ctx, audit.Filter{OrgID: orgID, Action: billing.CancelScheduled}); len(events) != 1 || events[0].ActorType != audit.ActorSystem {
		t.Fatalf("cancel_scheduled audit events = %+v; want one by the system", events)
	}
}

// TestBillingFormTargets checks the dashboard's Content-Security-Policy:
// with Stripe, only the pages of those who may start Checkout or open the
// portal let forms be redirected to Stripe's two origins; everything else
// keeps form-action 'self', and no policy has a wildcard.
func TestBillingFormTargets(t *testing.T) {
	const stripeTargets = "'self' https://checkout.stripe.com https://billing.stripe.com"
	base := dashboard.PagePolicy()
	if got := formAction(&apptest.Response{Header: http.Header{"Content-Security-Policy": {base}}}); got != "'self'" {
		t.Fatalf("default form-action = %q; want 'self'", got)
	}
	check := func(t *testing.T, what string, r *apptest.Response, wantStatus int, want string) {
		t.Helper()
		csp := r.Header.Get("Content-Security-Policy")
		if r.Status != wantStatus {
			t.Fatalf("%s: status %d; want %d", what, r.Status, wantStatus)
		}
		if got := formAction(r); got != want {
			t.Errorf("%s: form-action = %q; want %q", what, got, want)
		}
		if strings.Contains(csp, "*") || strings.Contains(csp, "unsafe-") || strings.Contains(csp, "https:;") || strings.Contains(csp, "https: ") {
			t.Errorf("%s: the policy allows more than named origins: %q", what, csp)
		}
		// Apart from form-action, the policy is the dashboard's.
		if other := strings.Replace(csp, "form-action "+want, "form-action 'self'", 1); other != base {
			t.Errorf("%s: policy = %q; want the dashboard's (%q) with form-action %s", what, csp, base, want)
		}
	}

	t.Run("stripe", func(t *testing.T) {
		// Nothing listens at the Stripe URL: none of these pages calls Stripe.
		env := apptest.New(t, "sqlite", stripeEnv("http://127.0.0.1:1"))
		owner := env.Browser()
		orgID := owner.SignUp("Owner", "csp@example.com", pw, "CSP Clinic")
		dev := join(t, env, invite(t, owner, orgID, "dev@example.com", "developer"), "dev@example.com")
		biller := join(t, env, invite(t, owner, orgID, "billing@example.com", "billing"), "billing@example.com")

		check(t, "owner's billing page", owner.Get("/o/"+orgID+"/billing"), 200, stripeTargets)
		check(t, "billing admin's billing page", biller.Get("/o/"+orgID+"/billing"), 200, stripeTargets)
		check(t, "refused plan change, page shown again", owner.Post("/o/"+orgID+"/billing/plan", url.Values{"plan": {"enterprise"}}), 422, stripeTargets)
		check(t, "developer's billing page (no payment forms)", dev.Get("/o/"+orgID+"/billing"), 200, "'self'")
		for _, p := range []string{"/o/" + orgID, "/o/" + orgID + "/keys", "/o/" + orgID + "/settings", "/o/" + orgID + "/settings/compliance"} {
			check(t, "owner's "+p, owner.Get(p), 200, "'self'")
		}
		check(t, "sign-in page", env.Browser().Get("/signin"), 200, "'self'")
	})
	t.Run("development billing", func(t *testing.T) {
		env := apptest.New(t, "sqlite", nil)
		owner := env.Browser()
		orgID := owner.SignUp("Owner", "csp@example.com", pw, "CSP Clinic")
		check(t, "owner's billing page", owner.Get("/o/"+orgID+"/billing"), 200, "'self'")
	})
}

// TestBillingPeriodEndOnItems delivers subscription events of Stripe API
// versions 2025-03-31 and later, which carry the period end only on the
// subscription's items: the page still says when the next invoice is due
// and when a cancelled subscription ends, whether the subscription is read
// from Stripe (stripe-mock answers in that shape) or, with Stripe not
// reachable, taken from the event.
func TestBillingPeriodEndOnItems(t *testing.T) {
	stripe := stripemock.StartSubscriptions(t)
	for _, mode := range []struct{ name, apiURL string }{{"read from Stripe", stripe.URL}, {"from the event", "http://127.0.0.1:1"}} {
		t.Run(mode.name, func(t *testing.T) {
			env := apptest.New(t, "sqlite", stripeEnv(mode.apiURL))
			owner := env.Browser()
			orgID := owner.SignUp("Owner", "basil@example.com", pw, "Basil Clinic")
			t0 := time.Now().Unix()
			periodEnd := time.Date(2026, 12, 23, 9, 0, 0, 0, time.UTC).Unix()
			newShape := func(id string, created int64, cancel bool) []byte {
				stripe.Set("sub_1", stripemock.Sub{Customer: "cus_1", OrgID: orgID, Status: "active", Price: "price_starter", PeriodEnd: periodEnd, CancelAtPeriodEnd: cancel})
				return fmt.Appendf(nil, `{"id":%q,"object":"event","api_version":"2025-03-31.basil","type":"customer.subscription.updated","created":%d,"livemode":false,"data":{"object":`+
					`{"id":"sub_1","object":"subscription","customer":"cus_1","status":"active","cancel_at_period_end":%t,"metadata":{"org_id":%q},`+
					`"items":{"object":"list","data":[{"id":"si_1","object":"subscription_item","current_period_start":%d,"current_period_end":%d,"price":{"id":"price_starter","object":"price"}}]}}}}`,
					id, created, cancel, orgID, periodEnd-30*24*3600, periodEnd)
			}
			checkout := event("evt_checkout", "checkout.session.completed", t0, fmt.Sprintf(
				`{"id":"cs_1","object":"checkout.session","mode":"subscription","client_reference_id":%q,"customer":"cus_1","subscription":"sub_1","metadata":{"org_id":%q,"plan":"starter"}}`, orgID, orgID))
			for _, ev := range [][]byte{checkout, newShape("evt_sub", t0+1, false)} {
				if got := deliver(t, env, ev, whsec, time.Time{}); got != 200 {
					t.Fatalf("webhook: %d", got)
				}
			}
			r := owner.Get("/o/" + orgID + "/billing")
			wantStatus(t, "billing page", r, 200)
			if !regexp.MustCompile(`data-testid="next-invoice">Dec 23, 2026<`).MatchString(r.Body) {
				t.Fatalf("next invoice date missing; want Dec 23, 2026:\n%s", apptest.Text(r.Body))
			}
			if got := deliver(t, env, newShape("evt_cancel", t0+2, true), whsec, time.Time{}); got != 200 {
				t.Fatalf("cancellation webhook: %d", got)
			}
			wantText(t, "after a cancellation at period end", owner.Get("/o/"+orgID+"/billing"), "The subscription ends on Dec 23, 2026")
		})
	}
}
