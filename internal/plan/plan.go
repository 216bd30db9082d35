// Package plan holds the published plans and the limits they set: requests
// per minute (org-wide, rolling) and requests included per month.
package plan

import "github.com/clinikapi/clinikapi/internal/errs"

// Plan is one price tier.
type Plan struct {
	ID        string // sandbox, starter, pro, team, enterprise
	Name      string
	PriceUSD  int   // per month; -1 for custom
	PerMinute int   // rate limit, org-wide, rolling 60 s
	Included  int64 // requests per month in the live pool; 0 with Unlimited
	// SharedPool: test and live traffic count against one pool (Sandbox).
	// Otherwise test traffic has its own sandbox pool of the same size.
	SharedPool bool
	Unlimited  bool // Enterprise: no monthly pool
	Dedicated  bool // live data in the organization's own datastore
}

// The plans, from the published pricing.
var (
	Sandbox    = Plan{ID: "sandbox", Name: "Sandbox", PriceUSD: 0, PerMinute: 100, Included: 1_000, SharedPool: true}
	Starter    = Plan{ID: "starter", Name: "Starter", PriceUSD: 49, PerMinute: 200, Included: 60_000}
	Pro        = Plan{ID: "pro", Name: "Pro", PriceUSD: 499, PerMinute: 1_000, Included: 600_000}
	Team       = Plan{ID: "team", Name: "Team", PriceUSD: 1_999, PerMinute: 5_000, Included: 3_000_000}
	Enterprise = Plan{ID: "enterprise", Name: "Enterprise", PriceUSD: -1, PerMinute: 10_000, Unlimited: true, Dedicated: true}
)

// All lists the plans from smallest to largest.
var All = []Plan{Sandbox, Starter, Pro, Team, Enterprise}

// Find returns the plan with id.
func Find(id string) (Plan, error) {
	for _, p := range All {
		if p.ID == id {
			return p, nil
		}
	}
	return Plan{}, errs.FieldError("plan", "Choose one of the plans: sandbox, starter, pro, team, enterprise.")
}

// Of returns the plan with id, Sandbox for an unknown one.
func Of(id string) Plan {
	p, err := Find(id)
	if err != nil {
		return Sandbox
	}
	return p
}
