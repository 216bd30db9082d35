package billing

import (
	"context"
	"time"

	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/plan"
)

// Event is a verified Stripe webhook event, reduced to what billing uses.
type Event struct {
	ID           string
	Type         string
	Created      time.Time
	Subscription *Subscription  // customer.subscription.*
	Checkout     *CheckoutEvent // checkout.session.completed
	Invoice      *InvoiceEvent  // invoice.*
}

// CheckoutEvent is a completed Checkout session.
type CheckoutEvent struct {
	OrgID          string // client_reference_id or metadata org_id
	Plan           string // metadata plan
	CustomerID     string
	SubscriptionID string
}

// InvoiceEvent is an invoice that was paid or failed.
type InvoiceEvent struct {
	CustomerID     string
	SubscriptionID string
}

// EventParser verifies a webhook's signature and decodes it.
type EventParser interface {
	ParseEvent(payload []byte, signature string) (Event, error)
}

func stripeEvent(action string, orgID string, detail map[string]string) audit.Event {
	return audit.Event{OrgID: orgID, ActorType: audit.ActorSystem, ActorID: "stripe", Action: action, TargetType: "organization", TargetID: orgID, Detail: detail}
}

// HandleWebhook verifies and applies one Stripe webhook delivery. A bad
// signature is errs.Invalid and changes nothing; an event already processed
// is acknowledged and ignored.
func (s *Service) HandleWebhook(ctx context.Context, p EventParser, payload []byte, signature string) error {
	if p == nil {
		return errs.E(errs.Invalid, "Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET).")
	}
	ev, err := p.ParseEvent(payload, signature)
	if err != nil {
		return err
	}
	seen, err := s.store.StripeEventSeen(ctx, ev.ID)
	if err != nil || seen {
		return err
	}
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	if err := s.apply(ctx, ev); err != nil {
		return err
	}
	return s.store.MarkStripeEvent(ctx, ev.ID, ev.Type, s.opt.Now())
}

func (s *Service) apply(ctx context.Context, ev Event) error {
	switch {
	case ev.Checkout != nil:
		return s.applyCheckout(ctx, ev)
	case ev.Subscription != nil:
		return s.applySubscription(ctx, ev)
	case ev.Invoice != nil:
		return s.applyInvoice(ctx, ev)
	}
	return nil
}

// findOrg resolves the organization an event is about; "" when none.
func (s *Service) findOrg(ctx context.Context, orgID, customerID, subscriptionID string) (string, error) {
	if orgID != "" {
		if _, err := s.store.FindOrg(ctx, orgID); err == nil {
			return orgID, nil
		} else if !errs.Is(err, errs.NotFound) {
			return "", err
		}
	}
	if customerID != "" {
		id, err := s.store.OrgByCustomer(ctx, customerID)
		if err == nil || !errs.Is(err, errs.NotFound) {
			return id, err
		}
	}
	if subscriptionID != "" {
		id, err := s.store.OrgBySubscription(ctx, subscriptionID)
		if err == nil || !errs.Is(err, errs.NotFound) {
			return id, err
		}
	}
	return "", nil
}

// stateFor finds the organization an event is about and its billing
// state; orgID is "" (and the event logged) when it is about no known one.
func (s *Service) stateFor(ctx context.Context, ev Event, orgID, customerID, subscriptionID string) (string, State, error) {
	orgID, err := s.findOrg(ctx, orgID, customerID, subscriptionID)
	if err != nil || orgID == "" {
		s.unknown(ctx, ev, err)
		return "", State{}, err
	}
	st, err := s.store.BillingState(ctx, orgID)
	return orgID, st, err
}

func (s *Service) applyCheckout(ctx context.Context, ev Event) error {
	c := ev.Checkout
	orgID, st, err := s.stateFor(ctx, ev, c.OrgID, c.CustomerID, c.SubscriptionID)
	if err != nil || orgID == "" {
		return err
	}
	if c.CustomerID != "" {
		st.CustomerID = c.CustomerID
	}
	st.UpdatedAt = s.opt.Now()
	if ev.Created.Before(st.LastEventAt) {
		// A subscription event already told us more recent state.
		return s.store.SaveBillingState(ctx, st)
	}
	st.SubscriptionID, st.Status, st.LastEventAt = c.SubscriptionID, "active", ev.Created
	if err := s.store.SaveBillingState(ctx, st); err != nil {
		return err
	}
	to, err := plan.Find(c.Plan)
	if err != nil || !SelfServe(to) {
		return nil // the subscription events carry the price
	}
	return s.setStripePlan(ctx, orgID, to, ev)
}

func (s *Service) setStripePlan(ctx context.Context, orgID string, to plan.Plan, ev Event) error {
	o, err := s.store.FindOrg(ctx, orgID)
	if err != nil {
		return err
	}
	return s.setPlan(ctx, orgID, o.Plan, to, stripeEvent("", orgID, map[string]string{"source": "stripe", "event": ev.Type}), "")
}

func (s *Service) applySubscription(ctx context.Context, ev Event) error {
	sub := ev.Subscription
	orgID, st, err := s.stateFor(ctx, ev, sub.OrgID, sub.CustomerID, sub.ID)
	if err != nil || orgID == "" {
		return err
	}
	if ev.Created.Before(st.LastEventAt) {
		s.log.InfoContext(ctx, "billing: older subscription event ignored", "event", ev.ID, "type", ev.Type)
		return nil
	}
	if st.SubscriptionID != "" && st.SubscriptionID != sub.ID && ev.Type == "customer.subscription.deleted" {
		return nil // an old subscription ended; the current one stays
	}
	if st.CustomerID == "" {
		st.CustomerID = sub.CustomerID
	}
	st.SubscriptionID, st.Status, st.CurrentPeriodEnd, st.CancelAtPeriodEnd = sub.ID, sub.Status, sub.CurrentPeriodEnd, sub.CancelAtPeriodEnd
	st.LastEventAt, st.UpdatedAt = ev.Created, s.opt.Now()
	if ev.Type == "customer.subscription.deleted" {
		st.Status = "canceled"
	}
	ended := st.Status == "canceled" || !sub.Paying()
	to, known := s.opt.Prices.PlanOf(sub.PriceID, sub.PriceLookupKey)
	if ended {
		st.PaymentFailed = false
	}
	if ended || (known && to.ID == st.ScheduledPlan) {
		st.ScheduledPlan = "" // the scheduled change happened (or never will)
	}
	if err := s.store.SaveBillingState(ctx, st); err != nil {
		return err
	}
	s.audit.Record(ctx, stripeEvent(SubscriptionSynced, orgID, map[string]string{"event": ev.Type, "status": st.Status}))
	if ended {
		return s.setStripePlan(ctx, orgID, plan.Sandbox, ev)
	}
	if !known {
		s.log.WarnContext(ctx, "billing: subscription price matches no configured plan; plan kept", "event", ev.ID, "price", sub.PriceID)
		s.changed(ctx, orgID)
		return nil
	}
	return s.setStripePlan(ctx, orgID, to, ev)
}

func (s *Service) applyInvoice(ctx context.Context, ev Event) error {
	inv := ev.Invoice
	orgID, st, err := s.stateFor(ctx, ev, "", inv.CustomerID, inv.SubscriptionID)
	if err != nil || orgID == "" {
		return err
	}
	if ev.Created.Before(st.LastInvoiceEventAt) {
		return nil
	}
	st.PaymentFailed = ev.Type == "invoice.payment_failed"
	st.LastInvoiceEventAt, st.UpdatedAt = ev.Created, s.opt.Now()
	if err := s.store.SaveBillingState(ctx, st); err != nil {
		return err
	}
	action := PaymentSucceeded
	if st.PaymentFailed {
		action = PaymentFailed
	}
	s.audit.Record(ctx, stripeEvent(action, orgID, map[string]string{"event": ev.Type}))
	return nil
}

func (s *Service) unknown(ctx context.Context, ev Event, err error) {
	if err == nil {
		s.log.WarnContext(ctx, "billing: webhook event for no known organization ignored", "event", ev.ID, "type", ev.Type)
	}
}
