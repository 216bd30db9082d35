package billing

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/plan"
	"github.com/clinikapi/clinikapi/internal/product"
	"github.com/clinikapi/clinikapi/internal/random"
)

// Audit actions.
const (
	PlanChanged         = "billing.plan_changed"
	CheckoutStarted     = "billing.checkout_started"
	PortalOpened        = "billing.portal_opened"
	OverageChanged      = "billing.overage_changed"
	EnterpriseRequested = "billing.enterprise_requested"
	BAASigned           = "billing.baa_signed"
	SubscriptionSynced  = "billing.subscription_synced"
	PaymentFailed       = "billing.payment_failed"
	PaymentSucceeded    = "billing.payment_succeeded"
	CancelScheduled     = "billing.cancel_scheduled"
	DowngradeScheduled  = "billing.downgrade_scheduled"
)

// Prices maps plan ids (starter, pro, team) to Stripe price ids or lookup keys.
type Prices map[string]string

// PlanOf returns the plan a Stripe price stands for.
func (p Prices) PlanOf(priceID, lookupKey string) (plan.Plan, bool) {
	for id, v := range p {
		if v != "" && (v == priceID || v == lookupKey) {
			return plan.Of(id), true
		}
	}
	return plan.Plan{}, false
}

// Options configure a Service.
type Options struct {
	Prices Prices
	// Invalidate makes a plan or overage change reach the API tier at once,
	// on this instance and the others.
	Invalidate func(ctx context.Context, orgID string)
	Now        func() time.Time
}

// Service is the billing capability.
type Service struct {
	store   Store
	gw      Gateway
	audit   *audit.Log
	product product.Tracker
	log     *slog.Logger
	opt     Options

	overageMu sync.Mutex
	overage   map[string]cachedFlag
}

type cachedFlag struct {
	on bool
	at time.Time
}

// NewService assembles billing over a store and a gateway.
func NewService(s Store, gw Gateway, a *audit.Log, pt product.Tracker, log *slog.Logger, opt Options) *Service {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Invalidate == nil {
		opt.Invalidate = func(context.Context, string) {}
	}
	if pt == nil {
		pt = product.Nop{}
	}
	return &Service{store: s, gw: gw, audit: a, product: pt, log: log, opt: opt, overage: map[string]cachedFlag{}}
}

// Configured reports whether Stripe takes real payments.
func (s *Service) Configured() bool { return s.gw.Configured() }

// RedirectOrigins are the origins of the payment provider's pages that
// ChangePlan and Portal send the browser to (none without Stripe).
func (s *Service) RedirectOrigins() []string { return s.gw.RedirectOrigins() }

// State returns an organization's billing state.
func (s *Service) State(ctx context.Context, orgID string) (State, error) {
	return s.store.BillingState(ctx, orgID)
}

// OverageOn reports whether live traffic past the pool is billed. It is read
// on every API request past the pool, through a short cache that plan and
// overage changes invalidate.
func (s *Service) OverageOn(ctx context.Context, orgID string) bool {
	now := s.opt.Now()
	s.overageMu.Lock()
	c, ok := s.overage[orgID]
	s.overageMu.Unlock()
	if ok && now.Sub(c.at) < 10*time.Second {
		return c.on
	}
	st, err := s.store.BillingState(ctx, orgID)
	if err != nil {
		s.log.WarnContext(ctx, "billing: reading overage flag failed", "org", orgID, "err", err)
		return false
	}
	s.overageMu.Lock()
	s.overage[orgID] = cachedFlag{on: st.Overage, at: now}
	s.overageMu.Unlock()
	return st.Overage
}

// Forget drops the cached overage flag of orgID ("" drops all).
func (s *Service) Forget(orgID string) {
	s.overageMu.Lock()
	defer s.overageMu.Unlock()
	if orgID == "" {
		s.overage = map[string]cachedFlag{}
		return
	}
	delete(s.overage, orgID)
}

func (s *Service) changed(ctx context.Context, orgID string) {
	s.Forget(orgID)
	s.opt.Invalidate(ctx, orgID)
}

func userEvent(a org.Actor, action string, detail map[string]string) audit.Event {
	return audit.Event{OrgID: a.Org.ID, ActorType: audit.ActorUser, ActorID: a.User.ID, Action: action, TargetType: "organization", TargetID: a.Org.ID, Detail: detail}
}

// setPlan stores a new plan, makes it reach the API tier and records it.
func (s *Service) setPlan(ctx context.Context, orgID, from string, to plan.Plan, e audit.Event, userID string) error {
	if err := s.store.SetOrgPlan(ctx, orgID, to.ID, s.opt.Now()); err != nil {
		return err
	}
	if !Paid(to) || to.Unlimited {
		// Overage needs a paid pool; Sandbox and Enterprise have none to pass.
		if st, err := s.store.BillingState(ctx, orgID); err == nil && st.Overage {
			if _, err := s.store.UpdateBillingState(ctx, orgID, s.opt.Now(), func(st *State) error { st.Overage = false; return nil }); err != nil {
				return err
			}
		}
	}
	s.changed(ctx, orgID)
	if from == to.ID {
		return nil
	}
	e.Action = PlanChanged
	e.TargetType, e.TargetID, e.OrgID = "organization", orgID, orgID
	if e.Detail == nil {
		e.Detail = map[string]string{}
	}
	e.Detail["from"], e.Detail["to"] = from, to.ID
	s.audit.Record(ctx, e)
	if userID == "" {
		userID = "system:" + e.ActorID
	}
	s.product.Capture(ctx, product.PlanChange(userID, orgID, from, to.ID, e.Detail["source"]))
	return nil
}

// ChangePlan moves the organization to planID. With Stripe, a first paid
// plan goes through Checkout (the returned URL), an existing subscription is
// changed with proration, and Sandbox cancels at the period end. With
// development billing the plan changes at once. Enterprise is sales-led.
func (s *Service) ChangePlan(ctx context.Context, a org.Actor, planID, baseURL string) (redirect string, err error) {
	if err := a.Require(org.ManageBilling); err != nil {
		return "", err
	}
	to, err := plan.Find(planID)
	if err != nil {
		return "", err
	}
	if to.ID == plan.Enterprise.ID {
		return "", errs.FieldError("plan", "Enterprise is arranged with our team: use the contact form below.")
	}
	if !s.gw.Configured() {
		return "", s.setPlan(ctx, a.Org.ID, a.Org.Plan, to, userEvent(a, "", map[string]string{"source": "development"}), a.User.ID)
	}
	st, err := s.store.BillingState(ctx, a.Org.ID)
	if err != nil {
		return "", err
	}
	hasSub := st.SubscriptionID != "" && st.Status != "canceled" && st.Status != "incomplete_expired"
	if to.ID == plan.Sandbox.ID {
		if !hasSub {
			return "", errs.FieldError("plan", "This organization has no subscription to cancel.")
		}
		return "", s.cancel(ctx, st, userEvent(a, CancelScheduled, nil))
	}
	price := s.opt.Prices[to.ID]
	if price == "" {
		return "", errs.E(errs.Unavailable, "The %s plan has no Stripe price configured (STRIPE_PRICE_%s).", to.Name, strings.ToUpper(to.ID))
	}
	if !hasSub {
		cus, err := s.ensureCustomer(ctx, a, &st)
		if err != nil {
			return "", err
		}
		url, err := s.gw.Checkout(ctx, CheckoutInput{OrgID: a.Org.ID, CustomerID: cus, Plan: to.ID, PriceID: price,
			SuccessURL: baseURL + "/o/" + a.Org.ID + "/billing?checkout=success", CancelURL: baseURL + "/o/" + a.Org.ID + "/billing"})
		if err != nil {
			return "", err
		}
		s.audit.Record(ctx, userEvent(a, CheckoutStarted, map[string]string{"plan": to.ID}))
		return url, nil
	}
	if rank(to) < rank(plan.Of(a.Org.Plan)) {
		// Downgrades take effect when the paid period ends.
		at, err := s.gw.ScheduleChange(ctx, st.SubscriptionID, price)
		if err != nil {
			return "", err
		}
		if _, err := s.store.UpdateBillingState(ctx, a.Org.ID, s.opt.Now(), func(st *State) error {
			st.ScheduledPlan = to.ID
			if !at.IsZero() {
				st.CurrentPeriodEnd = at
			}
			return nil
		}); err != nil {
			return "", err
		}
		s.audit.Record(ctx, userEvent(a, DowngradeScheduled, map[string]string{"from": a.Org.Plan, "to": to.ID}))
		return "", nil
	}
	sub, err := s.gw.ChangePrice(ctx, st.SubscriptionID, price)
	if err != nil {
		return "", err
	}
	if _, err := s.store.UpdateBillingState(ctx, a.Org.ID, s.opt.Now(), func(st *State) error {
		st.ScheduledPlan = ""
		st.Status, st.CurrentPeriodEnd, st.CancelAtPeriodEnd = sub.Status, sub.CurrentPeriodEnd, sub.CancelAtPeriodEnd
		return nil
	}); err != nil {
		return "", err
	}
	return "", s.setPlan(ctx, a.Org.ID, a.Org.Plan, to, userEvent(a, "", map[string]string{"source": "stripe"}), a.User.ID)
}

func (s *Service) ensureCustomer(ctx context.Context, a org.Actor, st *State) (string, error) {
	if st.CustomerID != "" {
		return st.CustomerID, nil
	}
	id, err := s.gw.CreateCustomer(ctx, a.Org.ID, a.Org.Name)
	if err != nil {
		return "", err
	}
	saved, err := s.store.UpdateBillingState(ctx, a.Org.ID, s.opt.Now(), func(st *State) error {
		if st.CustomerID == "" {
			st.CustomerID = id
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	*st = saved
	return saved.CustomerID, nil
}

// Portal returns a Stripe Customer Portal URL for the organization.
func (s *Service) Portal(ctx context.Context, a org.Actor, returnURL string) (string, error) {
	if err := a.Require(org.ManageBilling); err != nil {
		return "", err
	}
	if !s.gw.Configured() {
		return "", errs.E(errs.Unavailable, "Development billing has no customer portal: Stripe is not configured.")
	}
	st, err := s.store.BillingState(ctx, a.Org.ID)
	if err != nil {
		return "", err
	}
	cus, err := s.ensureCustomer(ctx, a, &st)
	if err != nil {
		return "", err
	}
	url, err := s.gw.Portal(ctx, cus, returnURL)
	if err != nil {
		return "", err
	}
	s.audit.Record(ctx, userEvent(a, PortalOpened, nil))
	return url, nil
}

// Invoices lists the organization's latest invoices (none without Stripe).
func (s *Service) Invoices(ctx context.Context, a org.Actor) ([]Invoice, error) {
	if !CanSeeInvoices(a) || !s.gw.Configured() {
		return nil, nil
	}
	st, err := s.store.BillingState(ctx, a.Org.ID)
	if err != nil || st.CustomerID == "" {
		return nil, err
	}
	return s.gw.Invoices(ctx, st.CustomerID, 12)
}

// SetOverage turns overage billing on or off (paid pools only).
func (s *Service) SetOverage(ctx context.Context, a org.Actor, on bool) error {
	if err := a.Require(org.ManageBilling); err != nil {
		return err
	}
	p := plan.Of(a.Org.Plan)
	if on && (!Paid(p) || p.Unlimited) {
		return errs.FieldError("overage", "Overage billing is available on the Starter, Pro and Team plans.")
	}
	st, err := s.store.BillingState(ctx, a.Org.ID)
	if err != nil {
		return err
	}
	if st.Overage == on {
		return nil
	}
	if on && s.gw.Configured() && st.CustomerID == "" {
		return errs.FieldError("overage", "Overage is billed through the Stripe subscription: subscribe to a plan first.")
	}
	if _, err := s.store.UpdateBillingState(ctx, a.Org.ID, s.opt.Now(), func(st *State) error { st.Overage = on; return nil }); err != nil {
		return err
	}
	s.changed(ctx, a.Org.ID)
	s.audit.Record(ctx, userEvent(a, OverageChanged, map[string]string{"overage": map[bool]string{true: "on", false: "off"}[on]}))
	return nil
}

// CancelAtPeriodEnd schedules the organization's subscription to end with
// the current period (organization closure). Without a subscription it does
// nothing.
func (s *Service) CancelAtPeriodEnd(ctx context.Context, orgID string) error {
	st, err := s.store.BillingState(ctx, orgID)
	if err != nil {
		return err
	}
	if st.SubscriptionID == "" || st.Status == "canceled" || st.CancelAtPeriodEnd || !s.gw.Configured() {
		return nil
	}
	return s.cancel(ctx, st, audit.Event{ActorType: audit.ActorSystem, ActorID: "billing", Action: CancelScheduled})
}

func (s *Service) cancel(ctx context.Context, st State, e audit.Event) error {
	sub, err := s.gw.CancelAtPeriodEnd(ctx, st.SubscriptionID)
	if err != nil {
		return err
	}
	if _, err := s.store.UpdateBillingState(ctx, st.OrgID, s.opt.Now(), func(st *State) error {
		st.CancelAtPeriodEnd, st.CurrentPeriodEnd = true, sub.CurrentPeriodEnd
		return nil
	}); err != nil {
		return err
	}
	e.OrgID, e.TargetType, e.TargetID = st.OrgID, "organization", st.OrgID
	s.audit.Record(ctx, e)
	return nil
}

// SetPlanSystem sets any plan for an organization (operator command;
// Enterprise contracts), audited as the system actor.
func (s *Service) SetPlanSystem(ctx context.Context, orgID, planID, actor string) error {
	to, err := plan.Find(planID)
	if err != nil {
		return err
	}
	o, err := s.store.FindOrg(ctx, orgID)
	if err != nil {
		return err
	}
	return s.setPlan(ctx, orgID, o.Plan, to, audit.Event{ActorType: audit.ActorSystem, ActorID: actor, Detail: map[string]string{"source": "operator"}}, "")
}

// RequestEnterprise records an Enterprise "contact us" request.
func (s *Service) RequestEnterprise(ctx context.Context, a org.Actor, message string) error {
	if !CanRequestEnterprise(a) {
		return errs.E(errs.Forbidden, "Only an owner of %s can request the Enterprise plan.", a.Org.Name)
	}
	message = strings.TrimSpace(message)
	if message == "" {
		return errs.FieldError("message", "Tell us about your volume, data residency or contract needs.")
	}
	if len(message) > 2000 {
		return errs.FieldError("message", "Use at most 2000 characters.")
	}
	r := EnterpriseRequest{ID: random.ID("ent"), OrgID: a.Org.ID, UserID: a.User.ID, Message: message, CreatedAt: s.opt.Now().UTC()}
	if err := s.store.InsertEnterpriseRequest(ctx, r); err != nil {
		return err
	}
	s.audit.Record(ctx, userEvent(a, EnterpriseRequested, map[string]string{"request": r.ID}))
	return nil
}

// rank orders plans from smallest to largest.
func rank(p plan.Plan) int {
	for i, q := range plan.All {
		if q.ID == p.ID {
			return i
		}
	}
	return 0
}
