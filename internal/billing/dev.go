package billing

import (
	"context"
	"time"

	"github.com/clinikapi/clinikapi/internal/errs"
)

// Development is the Gateway without Stripe ("development billing"): plans
// are switched locally by owners so every plan's limits can be tried, no
// payment is taken and nothing is sent anywhere.
type Development struct{}

var _ Gateway = Development{}

func unconfigured() error {
	return errs.E(errs.Unavailable, "Development billing: Stripe is not configured (STRIPE_SECRET_KEY).")
}

// Configured implements Gateway.
func (Development) Configured() bool { return false }

// CreateCustomer implements Gateway.
func (Development) CreateCustomer(context.Context, string, string) (string, error) {
	return "", unconfigured()
}

// Checkout implements Gateway.
func (Development) Checkout(context.Context, CheckoutInput) (string, error) {
	return "", unconfigured()
}

// RedirectOrigins implements Gateway: development billing sends the browser
// nowhere else.
func (Development) RedirectOrigins() []string { return nil }

// Portal implements Gateway.
func (Development) Portal(context.Context, string, string) (string, error) { return "", unconfigured() }

// ChangePrice implements Gateway.
func (Development) ChangePrice(context.Context, string, string) (Subscription, error) {
	return Subscription{}, unconfigured()
}

// ScheduleChange implements Gateway.
func (Development) ScheduleChange(context.Context, string, string) (time.Time, error) {
	return time.Time{}, unconfigured()
}

// CancelAtPeriodEnd implements Gateway.
func (Development) CancelAtPeriodEnd(context.Context, string) (Subscription, error) {
	return Subscription{}, unconfigured()
}

// Subscription implements Gateway.
func (Development) Subscription(context.Context, string) (Subscription, error) {
	return Subscription{}, unconfigured()
}

// Invoices implements Gateway: development billing issues no invoices.
func (Development) Invoices(context.Context, string, int) ([]Invoice, error) { return nil, nil }

// ReportUsage implements Gateway: there is nobody to bill.
func (Development) ReportUsage(context.Context, string, string, int64, time.Time) error {
	return unconfigured()
}
