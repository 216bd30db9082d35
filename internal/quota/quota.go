// Package quota meters the monthly request pools of each organization. Counts
// are kept in memory, checked on every request without a database round
// trip, and merged into the database every second; other instances' counts
// come back with each merge, so several instances agree within a second.
package quota

import (
	"context"
	"sync"
	"time"

	"github.com/clinikapi/clinikapi/internal/plan"
)

// Pool names.
const (
	PoolAll     = "all"     // Sandbox plan: test and live share one pool
	PoolLive    = "live"    // paid plans: live traffic
	PoolSandbox = "sandbox" // paid plans: test traffic
)

// Store persists counters.
type Store interface {
	// AddQuota adds delta (possibly 0) to a counter and returns its total.
	AddQuota(ctx context.Context, orgID, period, pool string, delta int64) (int64, error)
}

// Decision is the outcome of one request against its pool.
type Decision struct {
	Allowed   bool
	Pool      string
	Limit     int64 // 0 with Unlimited
	Unlimited bool
	Used      int64 // including this request when allowed
	Overage   int64 // requests past the limit this month (billed when overage is on)
	Billable  bool  // this request is billed as overage
	Reset     time.Time
}

// Remaining is what is left in the pool.
func (d Decision) Remaining() int64 { return max(0, d.Limit-d.Used) }

// ResetIn is the time until the pool resets.
func (d Decision) ResetIn(now time.Time) time.Duration { return d.Reset.Sub(now) }

type counterKey struct{ org, period, pool string }

type counter struct {
	mu      sync.Mutex
	loaded  bool
	base    int64 // total in the database at the last merge
	pending int64 // counted here since
	seen    time.Time
}

// Meter is the in-memory pool meter.
type Meter struct {
	store Store
	now   func() time.Time

	mu       sync.Mutex
	counters map[counterKey]*counter
}

// NewMeter returns a Meter over s.
func NewMeter(s Store, now func() time.Time) *Meter {
	if now == nil {
		now = time.Now
	}
	return &Meter{store: s, now: now, counters: map[counterKey]*counter{}}
}

// Period returns the pool period of t ("2006-01", UTC) and when it ends.
func Period(t time.Time) (string, time.Time) {
	t = t.UTC()
	start := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return t.Format("2006-01"), start.AddDate(0, 1, 0)
}

// PoolFor says which pool a request counts against and its size.
func PoolFor(p plan.Plan, env string) (pool string, limit int64) {
	switch {
	case p.SharedPool:
		return PoolAll, p.Included
	case env == "test":
		return PoolSandbox, p.Included
	}
	return PoolLive, p.Included
}

// Take counts one request of orgID in env against its plan's pool. Over the
// pool it is refused unless overage lets live traffic through (test traffic
// is never billed, so it is always refused).
func (m *Meter) Take(ctx context.Context, orgID string, p plan.Plan, env string, overage bool) (Decision, error) {
	now := m.now()
	period, reset := Period(now)
	pool, limit := PoolFor(p, env)
	d := Decision{Pool: pool, Limit: limit, Reset: reset, Unlimited: p.Unlimited}
	c := m.counter(counterKey{orgID, period, pool})
	c.mu.Lock()
	defer c.mu.Unlock()
	used, err := m.usedLocked(ctx, c, counterKey{orgID, period, pool}, now)
	if err != nil {
		return Decision{}, err
	}
	if p.Unlimited || used < limit {
		c.pending++
		d.Allowed, d.Used = true, used+1
		return d, nil
	}
	if overage && pool == PoolLive {
		c.pending++
		d.Allowed, d.Used, d.Billable = true, used+1, true
		d.Overage = d.Used - limit
		return d, nil
	}
	d.Used, d.Overage = used, max(0, used-limit)
	return d, nil
}

// usedLocked returns a counter's total (database + local), reading the
// database on first use. The caller holds c.mu.
func (m *Meter) usedLocked(ctx context.Context, c *counter, k counterKey, now time.Time) (int64, error) {
	if !c.loaded {
		total, err := m.store.AddQuota(ctx, k.org, k.period, k.pool, 0)
		if err != nil {
			return 0, err
		}
		c.base, c.loaded = total, true
	}
	c.seen = now
	return c.base + c.pending, nil
}

func (m *Meter) counter(k counterKey) *counter {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.counters[k]
	if c == nil {
		c = &counter{}
		m.counters[k] = c
	}
	return c
}

// Flush merges local counts into the database and picks up other
// instances'. Counters idle for ten minutes are dropped from memory.
func (m *Meter) Flush(ctx context.Context) error {
	now := m.now()
	m.mu.Lock()
	keys := make([]counterKey, 0, len(m.counters))
	for k, c := range m.counters {
		c.mu.Lock()
		idle := now.Sub(c.seen) > 10*time.Minute && c.pending == 0
		c.mu.Unlock()
		if idle {
			delete(m.counters, k)
			continue
		}
		keys = append(keys, k)
	}
	m.mu.Unlock()
	var firstErr error
	for _, k := range keys {
		c := m.counter(k)
		c.mu.Lock()
		delta := c.pending
		c.mu.Unlock()
		total, err := m.store.AddQuota(ctx, k.org, k.period, k.pool, delta)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		c.mu.Lock()
		c.pending -= delta
		c.base, c.loaded = total, true
		c.mu.Unlock()
	}
	return firstErr
}

// Peek reports a pool's usage without counting a request (for the live-pool
// headers on test traffic).
func (m *Meter) Peek(ctx context.Context, orgID string, p plan.Plan, pool string) (Decision, error) {
	now := m.now()
	period, reset := Period(now)
	c := m.counter(counterKey{orgID, period, pool})
	c.mu.Lock()
	defer c.mu.Unlock()
	used, err := m.usedLocked(ctx, c, counterKey{orgID, period, pool}, now)
	if err != nil {
		return Decision{}, err
	}
	return Decision{Allowed: true, Pool: pool, Limit: p.Included, Unlimited: p.Unlimited, Used: used, Overage: max(0, used-p.Included), Reset: reset}, nil
}
