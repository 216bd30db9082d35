package billing

import (
	"context"
	"time"

	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/plan"
	"github.com/clinikapi/clinikapi/internal/product"
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

// SyncTimeout bounds the read of a subscription from Stripe while a
// webhook is applied; past it the event's own payload is applied by order.
const SyncTimeout = 10 * time.Second

func stripeEvent(action string, orgID string, detail map[string]string) audit.Event {
	return audit.Event{OrgID: orgID, ActorType: audit.ActorSystem, ActorID: "stripe", Action: action, TargetType: "organization", TargetID: orgID, Detail: detail}
}

// HandleWebhook verifies and applies one Stripe webhook delivery. A bad
// signature is errs.Invalid and changes nothing.
//
// A subscription event (and a completed checkout) is a trigger: billing
// reads the subscription's current state from Stripe and applies that, so
// deliveries in any order, on any instance, converge on what Stripe holds.
// The event is applied in one transaction that first claims its id: a
// duplicate, even one delivered at the same moment to another instance, is
// acknowledged and applied once. The organization's billing row is locked
// for the transaction, and reads from Stripe are numbered (a ticket taken
// before the read): a read that started before another one already applied
// is not applied over it. When Stripe cannot be read the event's own
// payload is applied, only if it is newer than the last event applied in a
// total order per subscription (eventKey).
func (s *Service) HandleWebhook(ctx context.Context, p EventParser, payload []byte, signature string) error {
	if p == nil {
		return errs.E(errs.Invalid, "Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET).")
	}
	ev, err := p.ParseEvent(payload, signature)
	if err != nil {
		return err
	}
	if seen, err := s.store.StripeEventSeen(ctx, ev.ID); err != nil || seen {
		return err // a redelivery of a processed event: no read from Stripe
	}
	orgID, err := s.orgOf(ctx, ev)
	if err != nil {
		return err
	}
	now := s.opt.Now()
	in := applyInput{ev: ev, orgID: orgID}
	if subID := triggerSubscription(ev); orgID != "" && subID != "" {
		// The ticket is taken before the read: a read that starts later
		// gets a larger one and sees Stripe's state at least as new.
		if in.ticket, err = s.store.SyncTicket(ctx, orgID, now); err != nil {
			return err
		}
		in.current = s.current(ctx, ev, subID)
	}
	var fx effects
	claimed, err := s.store.ApplyStripeEvent(ctx, ev.ID, ev.Type, now, func(tx EventTx) error {
		fx = effects{}
		if orgID == "" {
			s.log.WarnContext(ctx, "billing: webhook event for no known organization ignored", "event", ev.ID, "type", ev.Type)
			return nil
		}
		return s.apply(ctx, tx, in, &fx)
	})
	if err != nil || !claimed {
		return err
	}
	if fx.changed {
		s.changed(ctx, orgID)
	}
	if fx.planChange != nil {
		s.product.Capture(ctx, *fx.planChange)
	}
	return nil
}

// applyInput is one event to apply: the organization it is about, and for
// subscription triggers the ticket and the subscription read from Stripe
// (nil when Stripe could not be read).
type applyInput struct {
	ev      Event
	orgID   string
	ticket  int64
	current *Subscription
}

// effects are what happens once the transaction has committed.
type effects struct {
	changed    bool // the API tier must drop the cached plan and overage flag
	planChange *product.Event
}

// triggerSubscription is the subscription an event makes billing read
// from Stripe ("" for none).
func triggerSubscription(ev Event) string {
	switch {
	case ev.Subscription != nil:
		return ev.Subscription.ID
	case ev.Checkout != nil:
		return ev.Checkout.SubscriptionID
	}
	return ""
}

// current reads a subscription from Stripe; nil when Stripe is not
// configured or cannot be read now (then the event's payload is applied
// by order).
func (s *Service) current(ctx context.Context, ev Event, subID string) *Subscription {
	if !s.gw.Configured() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, SyncTimeout)
	defer cancel()
	sub, err := s.gw.Subscription(ctx, subID)
	if err != nil || sub.ID == "" {
		s.log.WarnContext(ctx, "billing: the subscription could not be read from Stripe; the event is applied by its order", "event", ev.ID, "type", ev.Type, "err", err)
		return nil
	}
	return &sub
}

func (s *Service) orgOf(ctx context.Context, ev Event) (string, error) {
	switch {
	case ev.Checkout != nil:
		c := ev.Checkout
		return s.findOrg(ctx, c.OrgID, c.CustomerID, c.SubscriptionID)
	case ev.Subscription != nil:
		sub := ev.Subscription
		return s.findOrg(ctx, sub.OrgID, sub.CustomerID, sub.ID)
	case ev.Invoice != nil:
		return s.findOrg(ctx, "", ev.Invoice.CustomerID, ev.Invoice.SubscriptionID)
	}
	return "", nil
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

// eventKey orders the subscription events of one organization totally:
// by the second Stripe created them, then by a rank (the type: created,
// then updated or a completed checkout, then deleted; then the status in
// its usual life cycle, incomplete → trialing → active → past_due →
// unpaid → paused → incomplete_expired → canceled), then by event id.
type eventKey struct {
	at   time.Time
	rank int
	id   string
}

func keyOf(ev Event) eventKey {
	k := eventKey{at: ev.Created, id: ev.ID}
	status := "active"
	switch {
	case ev.Subscription != nil:
		status = ev.Subscription.Status
		switch ev.Type {
		case "customer.subscription.created":
			k.rank = 0
		case "customer.subscription.deleted":
			k.rank, status = 20, "canceled"
		default:
			k.rank = 10
		}
	case ev.Checkout != nil:
		k.rank = 10
	}
	k.rank += statusRank[status]
	return k
}

var statusRank = map[string]int{"incomplete": 0, "trialing": 1, "active": 2, "past_due": 3, "unpaid": 4, "paused": 5, "incomplete_expired": 6, "canceled": 7}

func lastKey(st State) eventKey {
	return eventKey{at: st.LastEventAt, rank: st.LastEventRank, id: st.LastEventID}
}

// after reports whether k comes after o.
func (k eventKey) after(o eventKey) bool {
	if !k.at.Equal(o.at) {
		return k.at.After(o.at)
	}
	if k.rank != o.rank {
		return k.rank > o.rank
	}
	return k.id > o.id
}

func (s *Service) apply(ctx context.Context, tx EventTx, in applyInput, fx *effects) error {
	st, from, err := tx.LockBillingState(ctx, in.orgID)
	if err != nil {
		return err
	}
	if in.ev.Invoice != nil {
		return s.applyInvoice(ctx, tx, in.ev, st)
	}
	if in.ev.Subscription == nil && in.ev.Checkout == nil {
		return nil
	}
	key := keyOf(in.ev)
	newer := key.after(lastKey(st))
	if newer {
		st.LastEventAt, st.LastEventRank, st.LastEventID = key.at, key.rank, key.id
	}
	if c := in.ev.Checkout; c != nil && c.CustomerID != "" {
		st.CustomerID = c.CustomerID
	}
	st.UpdatedAt = s.opt.Now()
	var sub Subscription
	switch {
	case in.current != nil && in.ticket < st.SyncedTicket:
		s.log.InfoContext(ctx, "billing: a later read of the subscription from Stripe is already applied", "event", in.ev.ID, "type", in.ev.Type)
		return tx.SaveBillingState(ctx, st)
	case in.current != nil:
		sub, st.SyncedTicket = *in.current, in.ticket
	case !newer:
		s.log.InfoContext(ctx, "billing: older subscription event ignored", "event", in.ev.ID, "type", in.ev.Type)
		return tx.SaveBillingState(ctx, st)
	case in.ev.Subscription != nil:
		sub = *in.ev.Subscription
		if in.ev.Type == "customer.subscription.deleted" {
			sub.Status = "canceled"
		}
	default: // a completed checkout, Stripe not read: the subscription is active
		c := in.ev.Checkout
		sub = Subscription{ID: c.SubscriptionID, CustomerID: c.CustomerID, Status: "active",
			CurrentPeriodEnd: st.CurrentPeriodEnd, CancelAtPeriodEnd: st.CancelAtPeriodEnd}
	}
	return s.applySubscription(ctx, tx, in.ev, st, from, sub, fx)
}

// applySubscription makes st and the organization's plan what sub says.
func (s *Service) applySubscription(ctx context.Context, tx EventTx, ev Event, st State, from string, sub Subscription, fx *effects) error {
	ended := sub.Status == "canceled" || !sub.Paying()
	live := st.SubscriptionID != "" && st.Status != "canceled" && (Subscription{Status: st.Status}).Paying()
	if st.SubscriptionID != "" && st.SubscriptionID != sub.ID && ended && live {
		// Another subscription ended; the current one stays.
		return tx.SaveBillingState(ctx, st)
	}
	if st.CustomerID == "" {
		st.CustomerID = sub.CustomerID
	}
	st.SubscriptionID, st.Status, st.CurrentPeriodEnd, st.CancelAtPeriodEnd = sub.ID, sub.Status, sub.CurrentPeriodEnd, sub.CancelAtPeriodEnd
	to, known := s.opt.Prices.PlanOf(sub.PriceID, sub.PriceLookupKey)
	if c := ev.Checkout; !known && c != nil {
		// The price is not one we know (or was not read): the plan the
		// checkout was started for.
		if p, err := plan.Find(c.Plan); err == nil && SelfServe(p) {
			to, known = p, true
		}
	}
	if ended {
		st.PaymentFailed = false
		to, known = plan.Sandbox, true
	}
	if ended || (known && to.ID == st.ScheduledPlan) {
		st.ScheduledPlan = "" // the scheduled change happened (or never will)
	}
	if known && (!Paid(to) || to.Unlimited) {
		st.Overage = false // overage needs a paid pool
	}
	if err := tx.SaveBillingState(ctx, st); err != nil {
		return err
	}
	if err := tx.InsertAuditEvent(ctx, s.audit.Prepare(ctx, stripeEvent(SubscriptionSynced, st.OrgID, map[string]string{"event": ev.Type, "status": st.Status}))); err != nil {
		return err
	}
	fx.changed = true
	if !known {
		s.log.WarnContext(ctx, "billing: subscription price matches no configured plan; plan kept", "event", ev.ID, "price", sub.PriceID)
		return nil
	}
	if from == to.ID {
		return nil
	}
	if err := tx.SetOrgPlan(ctx, st.OrgID, to.ID, s.opt.Now()); err != nil {
		return err
	}
	e := stripeEvent(PlanChanged, st.OrgID, map[string]string{"source": "stripe", "event": ev.Type, "from": from, "to": to.ID})
	if err := tx.InsertAuditEvent(ctx, s.audit.Prepare(ctx, e)); err != nil {
		return err
	}
	pc := product.PlanChange("system:stripe", st.OrgID, from, to.ID, "stripe")
	fx.planChange = &pc
	return nil
}

func (s *Service) applyInvoice(ctx context.Context, tx EventTx, ev Event, st State) error {
	if ev.Created.Before(st.LastInvoiceEventAt) {
		return nil
	}
	st.PaymentFailed = ev.Type == "invoice.payment_failed"
	st.LastInvoiceEventAt, st.UpdatedAt = ev.Created, s.opt.Now()
	if err := tx.SaveBillingState(ctx, st); err != nil {
		return err
	}
	action := PaymentSucceeded
	if st.PaymentFailed {
		action = PaymentFailed
	}
	return tx.InsertAuditEvent(ctx, s.audit.Prepare(ctx, stripeEvent(action, st.OrgID, map[string]string{"event": ev.Type})))
}
