// Package product captures product-analytics events (signed up, key
// created, plan changed, page viewed) for the team that builds ClinikAPI.
// Events carry ids and plain facts only: never PHI, key secrets or e-mail
// addresses. The composition root picks the implementation: PostHog when
// POSTHOG_API_KEY is set, Nop otherwise, so handlers never branch on it.
package product

import "context"

// Event names.
const (
	SignedUp      = "signed up"
	KeyCreated    = "api key created"
	KeyRotated    = "api key rotated"
	KeyRevoked    = "api key revoked"
	PlanChanged   = "plan changed"
	PageViewed    = "page viewed"
	OrgCreated    = "organization created"
	ExportStarted = "data export started"
)

// Event is one product event by a person, grouped by organization.
type Event struct {
	Name   string
	UserID string         // the person (account id); required
	OrgID  string         // the organization the event belongs to, if any
	Props  map[string]any // ids, names of plans, route patterns: never PHI, secrets or e-mails
}

// Tracker captures events. Capture never blocks on the network and never
// fails the caller.
type Tracker interface {
	Capture(ctx context.Context, e Event)
	Close() error // flushes what is buffered
}

// Nop is the tracker used when product analytics are not configured.
type Nop struct{}

func (Nop) Capture(context.Context, Event) {}
func (Nop) Close() error                   { return nil }
