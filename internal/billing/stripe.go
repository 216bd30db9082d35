package billing

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v79"
	"github.com/stripe/stripe-go/v79/client"
	"github.com/stripe/stripe-go/v79/webhook"

	"github.com/clinikapi/clinikapi/internal/errs"
)

// WebhookTolerance is how old a signed webhook may be.
const WebhookTolerance = 300 * time.Second

// StripeConfig configures the Stripe gateway.
type StripeConfig struct {
	SecretKey     string
	WebhookSecret string
	APIURL        string // empty for api.stripe.com; tests point it at stripe-mock
	MeterEvent    string // Billing Meter event name for overage
}

// Stripe is the Gateway to the Stripe API (stripe-go v79).
type Stripe struct {
	api *client.API
	// once is the same API without retries, for the read of a subscription
	// while a webhook is applied: Stripe retries the webhook itself, and
	// billing falls back to the event's order meanwhile.
	once       *client.API
	meterEvent string
}

var _ Gateway = (*Stripe)(nil)

// NewStripe returns the Stripe gateway.
func NewStripe(c StripeConfig) *Stripe {
	api := func(retries int64) *client.API {
		cfg := &stripe.BackendConfig{
			LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
			MaxNetworkRetries: stripe.Int64(retries),
		}
		if c.APIURL != "" {
			cfg.URL = stripe.String(c.APIURL)
		}
		return client.New(c.SecretKey, &stripe.Backends{
			API:     stripe.GetBackendWithConfig(stripe.APIBackend, cfg),
			Connect: stripe.GetBackendWithConfig(stripe.ConnectBackend, cfg),
			Uploads: stripe.GetBackendWithConfig(stripe.UploadsBackend, cfg),
		})
	}
	return &Stripe{api: api(2), once: api(0), meterEvent: c.MeterEvent}
}

// Configured implements Gateway.
func (*Stripe) Configured() bool { return true }

// Where Stripe hosts Checkout and the Customer Portal.
const (
	CheckoutOrigin = "https://checkout.stripe.com"
	PortalOrigin   = "https://billing.stripe.com"
)

// RedirectOrigins implements Gateway.
func (*Stripe) RedirectOrigins() []string { return []string{CheckoutOrigin, PortalOrigin} }

// stripeErr turns a Stripe failure into an error that names no secrets.
func stripeErr(err error) error {
	var se *stripe.Error
	if errors.As(err, &se) {
		if se.HTTPStatusCode >= 400 && se.HTTPStatusCode < 500 && se.HTTPStatusCode != 401 && se.HTTPStatusCode != 429 {
			return &errs.Error{Code: errs.Invalid, Message: "Stripe refused the request: " + se.Msg, Err: err}
		}
		return &errs.Error{Code: errs.Unavailable, Message: "Stripe is not reachable right now. Try again in a minute.", Err: err}
	}
	return &errs.Error{Code: errs.Unavailable, Message: "Stripe is not reachable right now. Try again in a minute.", Err: err}
}

// CreateCustomer implements Gateway: one customer per organization, with the
// organization id in metadata (idempotent per organization).
func (g *Stripe) CreateCustomer(ctx context.Context, orgID, orgName string) (string, error) {
	p := &stripe.CustomerParams{Name: stripe.String(orgName)}
	p.Context = ctx
	p.AddMetadata("org_id", orgID)
	p.SetIdempotencyKey("customer-" + orgID)
	c, err := g.api.Customers.New(p)
	if err != nil {
		return "", stripeErr(err)
	}
	return c.ID, nil
}

// priceID turns a configured price (an id, or a lookup key) into a price id.
func (g *Stripe) priceID(ctx context.Context, v string) (string, error) {
	if strings.HasPrefix(v, "price_") {
		return v, nil
	}
	p := &stripe.PriceListParams{LookupKeys: []*string{stripe.String(v)}, Active: stripe.Bool(true)}
	p.Context = ctx
	it := g.api.Prices.List(p)
	if it.Next() {
		return it.Price().ID, nil
	}
	if err := it.Err(); err != nil {
		return "", stripeErr(err)
	}
	return "", errs.E(errs.Unavailable, "No active Stripe price has the lookup key %q.", v)
}

// Checkout implements Gateway (subscription mode).
func (g *Stripe) Checkout(ctx context.Context, in CheckoutInput) (string, error) {
	price, err := g.priceID(ctx, in.PriceID)
	if err != nil {
		return "", err
	}
	in.PriceID = price
	p := &stripe.CheckoutSessionParams{
		Mode:              stripe.String(string(stripe.CheckoutSessionModeSubscription)),
		Customer:          stripe.String(in.CustomerID),
		ClientReferenceID: stripe.String(in.OrgID),
		SuccessURL:        stripe.String(in.SuccessURL),
		CancelURL:         stripe.String(in.CancelURL),
		LineItems:         []*stripe.CheckoutSessionLineItemParams{{Price: stripe.String(in.PriceID), Quantity: stripe.Int64(1)}},
		SubscriptionData: &stripe.CheckoutSessionSubscriptionDataParams{
			Metadata: map[string]string{"org_id": in.OrgID, "plan": in.Plan},
		},
	}
	p.Context = ctx
	p.AddMetadata("org_id", in.OrgID)
	p.AddMetadata("plan", in.Plan)
	s, err := g.api.CheckoutSessions.New(p)
	if err != nil {
		return "", stripeErr(err)
	}
	return s.URL, nil
}

// Portal implements Gateway.
func (g *Stripe) Portal(ctx context.Context, customerID, returnURL string) (string, error) {
	p := &stripe.BillingPortalSessionParams{Customer: stripe.String(customerID), ReturnURL: stripe.String(returnURL)}
	p.Context = ctx
	s, err := g.api.BillingPortalSessions.New(p)
	if err != nil {
		return "", stripeErr(err)
	}
	return s.URL, nil
}

// ChangePrice implements Gateway: the subscription's item moves to the new
// price with prorations.
func (g *Stripe) ChangePrice(ctx context.Context, subscriptionID, priceID string) (Subscription, error) {
	priceID, err := g.priceID(ctx, priceID)
	if err != nil {
		return Subscription{}, err
	}
	gp := &stripe.SubscriptionParams{}
	gp.Context = ctx
	cur, err := g.api.Subscriptions.Get(subscriptionID, gp)
	if err != nil {
		return Subscription{}, stripeErr(err)
	}
	if cur.Items == nil || len(cur.Items.Data) == 0 {
		return Subscription{}, errs.E(errs.Conflict, "The Stripe subscription has no item to change.")
	}
	if cur.Schedule != nil && cur.Schedule.ID != "" {
		// A scheduled downgrade is replaced by this change.
		rp := &stripe.SubscriptionScheduleReleaseParams{}
		rp.Context = ctx
		if _, err := g.api.SubscriptionSchedules.Release(cur.Schedule.ID, rp); err != nil {
			return Subscription{}, stripeErr(err)
		}
	}
	p := &stripe.SubscriptionParams{
		Items:             []*stripe.SubscriptionItemsParams{{ID: stripe.String(cur.Items.Data[0].ID), Price: stripe.String(priceID)}},
		ProrationBehavior: stripe.String("create_prorations"),
		CancelAtPeriodEnd: stripe.Bool(false),
	}
	p.Context = ctx
	s, err := g.api.Subscriptions.Update(subscriptionID, p)
	if err != nil {
		return Subscription{}, stripeErr(err)
	}
	return fromStripe(s, rawJSON(s)), nil
}

// ScheduleChange implements Gateway with a subscription schedule: the
// current phase keeps its price until the period ends, the next phase has
// the new price, and the schedule then releases the subscription.
func (g *Stripe) ScheduleChange(ctx context.Context, subscriptionID, priceID string) (time.Time, error) {
	priceID, err := g.priceID(ctx, priceID)
	if err != nil {
		return time.Time{}, err
	}
	gp := &stripe.SubscriptionParams{}
	gp.Context = ctx
	cur, err := g.api.Subscriptions.Get(subscriptionID, gp)
	if err != nil {
		return time.Time{}, stripeErr(err)
	}
	if cur.Items == nil || len(cur.Items.Data) == 0 || cur.Items.Data[0].Price == nil {
		return time.Time{}, errs.E(errs.Conflict, "The Stripe subscription has no item to change.")
	}
	var sched *stripe.SubscriptionSchedule
	if cur.Schedule != nil && cur.Schedule.ID != "" {
		sp := &stripe.SubscriptionScheduleParams{}
		sp.Context = ctx
		sched, err = g.api.SubscriptionSchedules.Get(cur.Schedule.ID, sp)
	} else {
		np := &stripe.SubscriptionScheduleParams{FromSubscription: stripe.String(subscriptionID)}
		np.Context = ctx
		sched, err = g.api.SubscriptionSchedules.New(np)
	}
	if err != nil {
		return time.Time{}, stripeErr(err)
	}
	start, end := cur.CurrentPeriodStart, cur.CurrentPeriodEnd
	if sched.CurrentPhase != nil {
		start, end = sched.CurrentPhase.StartDate, sched.CurrentPhase.EndDate
	}
	up := &stripe.SubscriptionScheduleParams{
		EndBehavior: stripe.String("release"),
		Phases: []*stripe.SubscriptionSchedulePhaseParams{
			{Items: []*stripe.SubscriptionSchedulePhaseItemParams{{Price: stripe.String(cur.Items.Data[0].Price.ID), Quantity: stripe.Int64(1)}},
				StartDate: stripe.Int64(start), EndDate: stripe.Int64(end)},
			{Items: []*stripe.SubscriptionSchedulePhaseItemParams{{Price: stripe.String(priceID), Quantity: stripe.Int64(1)}},
				Iterations: stripe.Int64(1), ProrationBehavior: stripe.String("none")},
		},
	}
	up.Context = ctx
	if _, err := g.api.SubscriptionSchedules.Update(sched.ID, up); err != nil {
		return time.Time{}, stripeErr(err)
	}
	return unix(end), nil
}

// CancelAtPeriodEnd implements Gateway.
func (g *Stripe) CancelAtPeriodEnd(ctx context.Context, subscriptionID string) (Subscription, error) {
	p := &stripe.SubscriptionParams{CancelAtPeriodEnd: stripe.Bool(true)}
	p.Context = ctx
	s, err := g.api.Subscriptions.Update(subscriptionID, p)
	if err != nil {
		return Subscription{}, stripeErr(err)
	}
	return fromStripe(s, rawJSON(s)), nil
}

// Subscription implements Gateway: one attempt (webhooks read the current
// state through it, see HandleWebhook).
func (g *Stripe) Subscription(ctx context.Context, id string) (Subscription, error) {
	p := &stripe.SubscriptionParams{}
	p.Context = ctx
	s, err := g.once.Subscriptions.Get(id, p)
	if err != nil {
		return Subscription{}, stripeErr(err)
	}
	return fromStripe(s, rawJSON(s)), nil
}

// Invoices implements Gateway.
func (g *Stripe) Invoices(ctx context.Context, customerID string, limit int) ([]Invoice, error) {
	p := &stripe.InvoiceListParams{Customer: stripe.String(customerID)}
	p.Context = ctx
	p.Limit = stripe.Int64(int64(limit))
	p.Single = true
	it := g.api.Invoices.List(p)
	var out []Invoice
	for it.Next() && len(out) < limit {
		in := it.Invoice()
		out = append(out, Invoice{
			ID: in.ID, Number: in.Number, AmountCents: in.Total, Currency: string(in.Currency), Status: string(in.Status),
			PeriodStart: unix(in.PeriodStart), PeriodEnd: unix(in.PeriodEnd), HostedURL: in.HostedInvoiceURL, PDFURL: in.InvoicePDF,
		})
	}
	if err := it.Err(); err != nil {
		return nil, stripeErr(err)
	}
	return out, nil
}

// ReportUsage implements Gateway with a Billing Meter event.
func (g *Stripe) ReportUsage(ctx context.Context, customerID, identifier string, value int64, at time.Time) error {
	p := &stripe.BillingMeterEventParams{
		EventName:  stripe.String(g.meterEvent),
		Identifier: stripe.String(identifier),
		Payload:    map[string]string{"stripe_customer_id": customerID, "value": strconv.FormatInt(value, 10)},
		Timestamp:  stripe.Int64(at.Unix()),
	}
	p.Context = ctx
	if _, err := g.api.BillingMeterEvents.New(p); err != nil {
		return stripeErr(err)
	}
	return nil
}

func unix(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

// fromStripe reads a subscription; raw is its JSON (an event's object, or
// the API response), for what stripe-go v79 does not decode.
func fromStripe(s *stripe.Subscription, raw []byte) Subscription {
	out := Subscription{ID: s.ID, Status: string(s.Status), CurrentPeriodEnd: unix(periodEnd(s, raw)), CancelAtPeriodEnd: s.CancelAtPeriodEnd, OrgID: s.Metadata["org_id"]}
	if s.Customer != nil {
		out.CustomerID = s.Customer.ID
	}
	if s.Items != nil && len(s.Items.Data) > 0 && s.Items.Data[0].Price != nil {
		out.PriceID, out.PriceLookupKey = s.Items.Data[0].Price.ID, s.Items.Data[0].Price.LookupKey
	}
	return out
}

// periodEnd is when the subscription's current period ends. API versions
// before 2025-03-31 put it on the subscription; later ones only on each
// item (items.data[].current_period_end), which stripe-go v79 does not
// decode: then it is read from raw, and the earliest item's end is the next
// renewal.
func periodEnd(s *stripe.Subscription, raw []byte) int64 {
	if s.CurrentPeriodEnd != 0 || len(raw) == 0 {
		return s.CurrentPeriodEnd
	}
	var v struct {
		Items struct {
			Data []struct {
				CurrentPeriodEnd int64 `json:"current_period_end"`
			} `json:"data"`
		} `json:"items"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return 0
	}
	var end int64
	for _, it := range v.Items.Data {
		if it.CurrentPeriodEnd != 0 && (end == 0 || it.CurrentPeriodEnd < end) {
			end = it.CurrentPeriodEnd
		}
	}
	return end
}

// rawJSON is the body of the API response s was decoded from.
func rawJSON(s *stripe.Subscription) []byte {
	if s.LastResponse == nil {
		return nil
	}
	return s.LastResponse.RawJSON
}

// StripeWebhook verifies Stripe-Signature headers with the endpoint secret.
type StripeWebhook struct{ Secret string }

// ParseEvent implements EventParser: signature checked against the raw body
// with a 300 s tolerance, events of other API versions accepted.
func (w StripeWebhook) ParseEvent(payload []byte, signature string) (Event, error) {
	if signature == "" {
		return Event{}, errs.E(errs.Invalid, "The Stripe-Signature header is missing.")
	}
	se, err := webhook.ConstructEventWithOptions(payload, signature, w.Secret, webhook.ConstructEventOptions{
		Tolerance: WebhookTolerance, IgnoreAPIVersionMismatch: true,
	})
	if err != nil {
		return Event{}, errs.E(errs.Invalid, "The Stripe-Signature header does not verify: %s", webhookReason(err))
	}
	ev := Event{ID: se.ID, Type: string(se.Type), Created: unix(se.Created)}
	if se.Data == nil {
		return ev, nil
	}
	raw := se.Data.Raw
	switch ev.Type {
	case "checkout.session.completed":
		var cs stripe.CheckoutSession
		if err := json.Unmarshal(raw, &cs); err != nil {
			return Event{}, errs.E(errs.Invalid, "The checkout session in the event is not valid JSON.")
		}
		if cs.Mode != stripe.CheckoutSessionModeSubscription {
			return ev, nil
		}
		c := &CheckoutEvent{OrgID: cs.ClientReferenceID, Plan: cs.Metadata["plan"]}
		if c.OrgID == "" {
			c.OrgID = cs.Metadata["org_id"]
		}
		if cs.Customer != nil {
			c.CustomerID = cs.Customer.ID
		}
		if cs.Subscription != nil {
			c.SubscriptionID = cs.Subscription.ID
		}
		ev.Checkout = c
	case "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted":
		var s stripe.Subscription
		if err := json.Unmarshal(raw, &s); err != nil {
			return Event{}, errs.E(errs.Invalid, "The subscription in the event is not valid JSON.")
		}
		sub := fromStripe(&s, raw)
		ev.Subscription = &sub
	case "invoice.paid", "invoice.payment_failed":
		var in stripe.Invoice
		if err := json.Unmarshal(raw, &in); err != nil {
			return Event{}, errs.E(errs.Invalid, "The invoice in the event is not valid JSON.")
		}
		ie := &InvoiceEvent{}
		if in.Customer != nil {
			ie.CustomerID = in.Customer.ID
		}
		if in.Subscription != nil {
			ie.SubscriptionID = in.Subscription.ID
		}
		ev.Invoice = ie
	}
	return ev, nil
}

func webhookReason(err error) string {
	switch {
	case errors.Is(err, webhook.ErrTooOld):
		return "the timestamp is older than 300 seconds."
	case errors.Is(err, webhook.ErrNoValidSignature):
		return "no signature matches."
	case errors.Is(err, webhook.ErrNotSigned), errors.Is(err, webhook.ErrInvalidHeader):
		return "the header is malformed."
	}
	return "the payload could not be read."
}
