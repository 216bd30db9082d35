package quota

import (
	"context"

	"github.com/clinikapi/clinikapi/internal/plan"
)

// TakeN counts n records of a bulk job of orgID in env against its plan's
// pool at once. They are refused together when they do not all fit (unless
// overage lets live traffic through), except with force, which counts work
// already done whatever the pool says.
func (m *Meter) TakeN(ctx context.Context, orgID string, p plan.Plan, env string, n int64, overage, force bool) (Decision, error) {
	now := m.now()
	period, reset := Period(now)
	pool, limit := PoolFor(p, env)
	d := Decision{Pool: pool, Limit: limit, Reset: reset, Unlimited: p.Unlimited}
	k := counterKey{orgID, period, pool}
	c := m.counter(k)
	c.mu.Lock()
	defer c.mu.Unlock()
	used, err := m.usedLocked(ctx, c, k, now)
	if err != nil {
		return Decision{}, err
	}
	if force || p.Unlimited || used+n <= limit || (overage && pool == PoolLive) {
		c.pending += n
		d.Allowed, d.Used = true, used+n
		d.Overage = max(0, d.Used-limit)
		d.Billable = !p.Unlimited && d.Overage > 0 && pool == PoolLive
		return d, nil
	}
	d.Used, d.Overage = used, max(0, used-limit)
	return d, nil
}
