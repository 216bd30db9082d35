package billing_test

import (
	"context"
	"strings"
	"testing"
	"time"

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
