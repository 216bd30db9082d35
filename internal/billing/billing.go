// Package billing keeps each organization's subscription in step with
// Stripe: the plan it pays for, checkout and the customer portal, signed
// webhooks applied idempotently and in order, overage reported to Stripe
// usage billing, and the Business Associate Agreement. Without Stripe
// configured, development billing lets owners switch plans locally.
package billing

import (
	"context"
	"time"

	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/plan"
)

// OverageCentsPer1000 is the overage price: $0.003 per request.
const OverageCentsPer1000 = 300

// OveragePrice is the overage price as shown to people.
const OveragePrice = "$0.003"

// State is an organization's subscription as last reported by Stripe.
type State struct {
	OrgID              string
	CustomerID         string // cus_… ; empty until first needed
	SubscriptionID     string // sub_… ; empty without a paid subscription
	Status             string // Stripe's subscription status: active, past_due, canceled, …
	CurrentPeriodEnd   time.Time
	CancelAtPeriodEnd  bool
	PaymentFailed      bool
	Overage            bool      // live traffic past the pool is billed instead of refused
	ScheduledPlan      string    // a downgrade Stripe applies when the period ends
	LastEventAt        time.Time // created time of the newest subscription event applied
	LastEventRank      int       // with LastEventID, orders events of the same second (see eventKey)
	LastEventID        string
	LastInvoiceEventAt time.Time // created time of the last invoice event applied
	// SyncedTicket is the number of the read of the subscription from
	// Stripe last applied (Store.SyncTicket numbers them).
	SyncedTicket int64
	UpdatedAt    time.Time
}

// Subscription is the part of a Stripe subscription billing mirrors.
type Subscription struct {
	ID                string
	CustomerID        string
	OrgID             string // metadata org_id, when set
	Status            string
	PriceID           string
	PriceLookupKey    string
	CurrentPeriodEnd  time.Time
	CancelAtPeriodEnd bool
}

// Paying reports whether the subscription's status keeps its plan.
func (s Subscription) Paying() bool {
	switch s.Status {
	case "active", "trialing", "past_due":
		return true
	}
	return false
}

// Invoice is one line of the invoices list.
type Invoice struct {
	ID          string
	Number      string
	AmountCents int64
	Currency    string
	Status      string
	PeriodStart time.Time
	PeriodEnd   time.Time
	HostedURL   string
	PDFURL      string
}

// CheckoutInput starts a Stripe Checkout session for a first paid plan.
type CheckoutInput struct {
	OrgID      string
	CustomerID string
	Plan       string
	PriceID    string
	SuccessURL string
	CancelURL  string
}

// Gateway is the payment provider: Stripe, or development billing when
// Stripe is not configured.
type Gateway interface {
	// Configured reports whether real payments are taken (Stripe).
	Configured() bool
	CreateCustomer(ctx context.Context, orgID, orgName string) (customerID string, err error)
	// Checkout returns the URL to send the browser to.
	Checkout(ctx context.Context, in CheckoutInput) (url string, err error)
	// Portal returns a Customer Portal session URL.
	Portal(ctx context.Context, customerID, returnURL string) (url string, err error)
	// RedirectOrigins are the origins (scheme://host) Checkout and portal
	// URLs are on: the Billing page lets its forms be redirected there.
	RedirectOrigins() []string
	// ChangePrice moves a subscription to another price, with proration.
	ChangePrice(ctx context.Context, subscriptionID, priceID string) (Subscription, error)
	// ScheduleChange moves a subscription to another price when its current
	// period ends (downgrades), returning when.
	ScheduleChange(ctx context.Context, subscriptionID, priceID string) (at time.Time, err error)
	CancelAtPeriodEnd(ctx context.Context, subscriptionID string) (Subscription, error)
	Subscription(ctx context.Context, subscriptionID string) (Subscription, error)
	Invoices(ctx context.Context, customerID string, limit int) ([]Invoice, error)
	// ReportUsage sends one meter event of value requests. identifier makes
	// a retry of the same batch count once.
	ReportUsage(ctx context.Context, customerID, identifier string, value int64, at time.Time) error
}

// Overage is what has been reported to usage billing for one month.
type Overage struct {
	OrgID    string
	Period   string // 2006-01
	Reported int64  // requests billed so far
	Seq      int    // batches sent so far
	Pending  int64  // batch Seq+1 being sent, 0 when none
}

// Signature is a signed BAA.
type Signature struct {
	ID              string
	OrgID           string
	UserID          string
	Name            string
	Title           string
	IP              string
	DocumentVersion string
	SignedAt        time.Time
}

// EnterpriseRequest is a "contact us" request for the Enterprise plan.
type EnterpriseRequest struct {
	ID        string
	OrgID     string
	UserID    string
	Message   string
	CreatedAt time.Time
}

// Store persists billing state.
type Store interface {
	// BillingState returns the state, a zero State with OrgID when none.
	BillingState(ctx context.Context, orgID string) (State, error)
	// UpdateBillingState changes the organization's billing state with fn
	// in one transaction, its row locked (as webhook events lock it), so fn
	// starts from the latest state and no concurrent change is lost.
	UpdateBillingState(ctx context.Context, orgID string, now time.Time, fn func(*State) error) (State, error)
	// OrgByCustomer returns the organization of a Stripe customer (NotFound).
	OrgByCustomer(ctx context.Context, customerID string) (string, error)
	OrgBySubscription(ctx context.Context, subscriptionID string) (string, error)
	FindOrg(ctx context.Context, id string) (org.Organization, error)
	SetOrgPlan(ctx context.Context, orgID, planID string, now time.Time) error
	StripeEventSeen(ctx context.Context, id string) (bool, error)
	// SyncTicket takes the next number of the organization's reads of its
	// subscription from Stripe, creating its billing row if needed.
	SyncTicket(ctx context.Context, orgID string, now time.Time) (int64, error)
	// ApplyStripeEvent runs fn in one transaction that first claims the
	// event id (records it as processed). When the id was processed before,
	// or is being processed by a transaction that then commits, fn is not
	// run and claimed is false.
	ApplyStripeEvent(ctx context.Context, id, typ string, now time.Time, fn func(EventTx) error) (claimed bool, err error)
	OverageOrgs(ctx context.Context) ([]State, error)
	OverageState(ctx context.Context, orgID, period string) (Overage, error)
	SaveOverage(ctx context.Context, o Overage) error
	AddQuota(ctx context.Context, orgID, period, pool string, delta int64) (int64, error)
	InsertBAASignature(ctx context.Context, s Signature) error
	LatestBAASignature(ctx context.Context, orgID string) (Signature, error) // NotFound when none
	InsertEnterpriseRequest(ctx context.Context, r EnterpriseRequest) error
}

// EventTx is the transaction one webhook event is applied in.
type EventTx interface {
	// LockBillingState returns the organization's billing state (creating
	// an empty one) and its plan id, locked against every other delivery
	// until the transaction ends.
	LockBillingState(ctx context.Context, orgID string) (State, string, error)
	// SaveBillingState writes every field of s, the event ordering included.
	SaveBillingState(ctx context.Context, s State) error
	SetOrgPlan(ctx context.Context, orgID, planID string, now time.Time) error
	InsertAuditEvent(ctx context.Context, e audit.Event) error
}

// Rules: who may do what on the Billing page. Developers see the plan only.

// CanSeeInvoices reports whether a role sees payment details and invoices.
func CanSeeInvoices(a org.Actor) bool { return a.Can(org.ManageBilling) }

// CanRequestEnterprise reports whether a role may ask for Enterprise (owners).
func CanRequestEnterprise(a org.Actor) bool { return a.Role == org.Owner }

// CanSignBAA reports whether a role may sign the BAA (owners only).
func CanSignBAA(a org.Actor) bool { return a.Role == org.Owner }

// Paid reports whether a plan is paid through self-serve billing.
func Paid(p plan.Plan) bool { return p.ID != plan.Sandbox.ID }

// SelfServe reports whether a plan can be bought on the Billing page.
func SelfServe(p plan.Plan) bool {
	return p.ID == plan.Starter.ID || p.ID == plan.Pro.ID || p.ID == plan.Team.ID
}
