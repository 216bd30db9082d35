package billing_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v79/webhook"

	"github.com/clinikapi/clinikapi/internal/billing"
	"github.com/clinikapi/clinikapi/internal/billing/stripemock"
	"github.com/clinikapi/clinikapi/internal/errs"
)

// TestStripeGateway drives every Stripe call billing makes against
// stripe-mock, which validates each request against Stripe's OpenAPI spec.
func TestStripeGateway(t *testing.T) {
	url := stripemock.Start(t)
	g := billing.NewStripe(billing.StripeConfig{SecretKey: "sk_test_123", APIURL: url, MeterEvent: "clinikapi_overage_requests"})
	ctx := context.Background()

	cus, err := g.CreateCustomer(ctx, "org_1", "Acme Clinic")
	if err != nil || !strings.HasPrefix(cus, "cus_") {
		t.Fatalf("CreateCustomer = %q, %v; want a cus_ id", cus, err)
	}
	checkout, err := g.Checkout(ctx, billing.CheckoutInput{OrgID: "org_1", CustomerID: cus, Plan: "pro", PriceID: "price_pro",
		SuccessURL: "http://localhost/o/org_1/billing?checkout=success", CancelURL: "http://localhost/o/org_1/billing"})
	if err != nil || !strings.HasPrefix(checkout, "https://") {
		t.Fatalf("Checkout = %q, %v; want a session URL", checkout, err)
	}
	portal, err := g.Portal(ctx, cus, "http://localhost/o/org_1/billing")
	if err != nil || !strings.HasPrefix(portal, "https://") {
		t.Fatalf("Portal = %q, %v; want a session URL", portal, err)
	}
	// A lookup key is resolved to its price.
	if _, err := g.Checkout(ctx, billing.CheckoutInput{OrgID: "org_1", CustomerID: cus, Plan: "pro", PriceID: "clinikapi_pro_monthly",
		SuccessURL: "http://localhost/s", CancelURL: "http://localhost/c"}); err != nil {
		t.Fatalf("Checkout with a lookup key: %v", err)
	}
	sub, err := g.ChangePrice(ctx, "sub_123", "price_team")
	if err != nil || sub.ID == "" || sub.Status == "" {
		t.Fatalf("ChangePrice = %+v, %v; want the updated subscription", sub, err)
	}
	if at, err := g.ScheduleChange(ctx, "sub_123", "price_starter"); err != nil || at.IsZero() {
		t.Fatalf("ScheduleChange = %v, %v; want the period end", at, err)
	}
	sub, err = g.CancelAtPeriodEnd(ctx, "sub_123")
	if err != nil || sub.ID == "" {
		t.Fatalf("CancelAtPeriodEnd = %+v, %v", sub, err)
	}
	if sub, err = g.Subscription(ctx, "sub_123"); err != nil || sub.ID == "" {
		t.Fatalf("Subscription = %+v, %v", sub, err)
	}
	invs, err := g.Invoices(ctx, cus, 12)
	if err != nil || len(invs) == 0 || invs[0].ID == "" || invs[0].Currency == "" {
		t.Fatalf("Invoices = %+v, %v; want the fixture invoice", invs, err)
	}
	if err := g.ReportUsage(ctx, cus, billing.Identifier("org_1", "2026-11", 1), 42, time.Now()); err != nil {
		t.Fatalf("ReportUsage: %v", err)
	}
	// An unreachable Stripe is Unavailable.
	down := billing.NewStripe(billing.StripeConfig{SecretKey: "sk_test_123", APIURL: "http://127.0.0.1:1", MeterEvent: "x"})
	if _, err := down.CreateCustomer(ctx, "org_1", "Acme"); !errs.Is(err, errs.Unavailable) || strings.Contains(err.Error(), "sk_test_123") {
		t.Fatalf("CreateCustomer with Stripe down: %v; want Unavailable naming no key", err)
	}
}

// TestWebhookPeriodEnd reads the current period's end from subscription
// events of both shapes: on the subscription (API versions before
// 2025-03-31) and only on its items (2025-03-31 and later, where the
// earliest item ends the period).
func TestWebhookPeriodEnd(t *testing.T) {
	const end, later = int64(1_796_083_200), int64(1_798_761_600) // 2026-12-01, 2027-01-01 UTC
	item := func(price string, periodEnd int64) string {
		f := ""
		if periodEnd != 0 {
			f = fmt.Sprintf(`,"current_period_start":%d,"current_period_end":%d`, periodEnd-2_592_000, periodEnd)
		}
		return fmt.Sprintf(`{"id":"si_%s","object":"subscription_item","price":{"id":%q,"object":"price"}%s}`, price, price, f)
	}
	sub := func(top string, items ...string) string {
		return `{"id":"sub_1","object":"subscription","customer":"cus_1","status":"active","cancel_at_period_end":true,` + top +
			`"metadata":{"org_id":"org_1"},"items":{"object":"list","data":[` + strings.Join(items, ",") + `]}}`
	}
	for _, tc := range []struct {
		name, version, object string
		want                  int64
	}{
		{"on the subscription", "2024-06-20", sub(fmt.Sprintf(`"current_period_start":%d,"current_period_end":%d,`, end-2_592_000, end), item("price_pro", 0)), end},
		{"on the items", "2025-03-31.basil", sub("", item("price_pro", end)), end},
		{"on several items, the earliest", "2025-09-30.clover", sub("", item("price_meter", later), item("price_pro", end)), end},
		{"on both, the subscription's", "2025-03-31.basil", sub(fmt.Sprintf(`"current_period_end":%d,`, end), item("price_pro", later)), end},
		{"nowhere", "2025-03-31.basil", sub("", item("price_pro", 0)), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload := fmt.Appendf(nil, `{"id":"evt_1","object":"event","api_version":%q,"type":"customer.subscription.updated","created":%d,"livemode":false,"data":{"object":%s}}`,
				tc.version, time.Now().Unix(), tc.object)
			sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: "whsec_1"})
			ev, err := billing.StripeWebhook{Secret: "whsec_1"}.ParseEvent(payload, sp.Header)
			if err != nil || ev.Subscription == nil {
				t.Fatalf("ParseEvent = %+v, %v; want a subscription event", ev, err)
			}
			want := time.Time{}
			if tc.want != 0 {
				want = time.Unix(tc.want, 0).UTC()
			}
			if got := ev.Subscription.CurrentPeriodEnd; !got.Equal(want) {
				t.Errorf("period end = %v; want %v", got, want)
			}
			if !ev.Subscription.CancelAtPeriodEnd || ev.Subscription.OrgID != "org_1" {
				t.Errorf("subscription = %+v; want cancel at period end for org_1", ev.Subscription)
			}
		})
	}
}
