// Package fair shares a limited number of slots (a datastore's
// connections, the places of a commit batch) between tenants: each tenant
// holds at most PerTenant slots at once, and when slots are short the
// waiting requests are served round-robin across tenants, not first come
// first served over all of them, so a tenant with many requests in flight
// delays another tenant's request by at most one turn.
package fair

import (
	"context"
	"sync"
	"time"
)

// Gate hands out Slots slots, at most PerTenant to one tenant at a time.
// The zero Gate is not usable; see New.
type Gate struct {
	slots, perTenant int
	// lend lets a tenant go past perTenant while nobody else waits.
	lend bool

	mu      sync.Mutex
	held    int
	tenants map[string]*tenant
	// ring is the tenants with requests waiting, in turn order: the
	// first one that may take a slot gets it and goes to the back.
	ring []*tenant

	waiting   int
	waits     uint64
	waitTotal time.Duration
	timedOut  uint64

	// hook, if set, runs after every grant with the tenant (tests).
	hook func(tenant string)
}

type tenant struct {
	name    string
	held    int
	queue   []*waiter // this tenant's waiting requests, oldest first
	waiting bool      // in the ring
}

type waiter struct {
	ready   chan struct{}
	granted bool
}

// New returns a gate of slots slots, at most perTenant per tenant (both at
// least 1; perTenant at most slots).
func New(slots, perTenant int) *Gate {
	slots = max(1, slots)
	perTenant = min(max(1, perTenant), slots)
	return &Gate{slots: slots, perTenant: perTenant, tenants: map[string]*tenant{}}
}

// NewLending is New for short work (the places of a commit batch): a
// tenant may take more than perTenant slots while no other request waits;
// once one does, freed slots go to tenants under their share first.
func NewLending(slots, perTenant int) *Gate {
	g := New(slots, perTenant)
	g.lend = true
	return g
}

// Slots and PerTenant report the gate's sizes.
func (g *Gate) Slots() int     { return g.slots }
func (g *Gate) PerTenant() int { return g.perTenant }

// SetHook makes fn run after every grant, holding the slot, with the
// tenant's name (tests use it to keep a tenant's slots taken). Nil: none.
func (g *Gate) SetHook(fn func(tenant string)) {
	g.mu.Lock()
	g.hook = fn
	g.mu.Unlock()
}

// Acquire takes a slot for tenant, waiting for its turn, and returns the
// release to call once the work is done. A request whose ctx ends first
// gets ctx's error and holds nothing.
func (g *Gate) Acquire(ctx context.Context, name string) (release func(), err error) {
	g.mu.Lock()
	t := g.tenants[name]
	if t == nil {
		t = &tenant{name: name}
		g.tenants[name] = t
	}
	// A free slot with nobody of this tenant ahead: take it. (Others
	// waiting while a slot is free are at their own limit.)
	if g.held < g.slots && len(t.queue) == 0 && (t.held < g.perTenant || g.lend && g.waiting == 0) {
		g.grant(t)
		hook := g.hook
		g.mu.Unlock()
		return g.granted(t, hook), nil
	}
	if err := ctx.Err(); err != nil {
		g.forget(t)
		g.mu.Unlock()
		return nil, err
	}
	w := &waiter{ready: make(chan struct{})}
	t.queue = append(t.queue, w)
	if !t.waiting {
		t.waiting = true
		g.ring = append(g.ring, t)
	}
	g.waiting++
	g.mu.Unlock()

	start := time.Now()
	select {
	case <-w.ready:
	case <-ctx.Done():
	}
	g.mu.Lock()
	g.waiting--
	g.waits++
	g.waitTotal += time.Since(start)
	if !w.granted {
		g.timedOut++
		g.drop(t, w)
		g.mu.Unlock()
		return nil, ctx.Err()
	}
	hook := g.hook
	g.mu.Unlock()
	return g.granted(t, hook), nil
}

// granted runs the hook and returns the release of t's slot.
func (g *Gate) granted(t *tenant, hook func(string)) func() {
	var once sync.Once
	release := func() {
		once.Do(func() {
			g.mu.Lock()
			g.held--
			t.held--
			g.dispatch()
			g.forget(t)
			g.mu.Unlock()
		})
	}
	if hook != nil {
		hook(t.name)
	}
	return release
}

// grant gives t a slot (g.mu held).
func (g *Gate) grant(t *tenant) {
	g.held++
	t.held++
}

// dispatch hands free slots to waiting requests, one per tenant in ring
// order: tenants under their share first, then (lending) anyone
// (g.mu held).
func (g *Gate) dispatch() {
	for g.held < g.slots {
		i := 0
		for i < len(g.ring) && g.ring[i].held >= g.perTenant {
			i++
		}
		if i == len(g.ring) {
			if !g.lend || len(g.ring) == 0 {
				return
			}
			i = 0 // everyone waiting is at its share: lend in turn
		}
		t := g.ring[i]
		w := t.queue[0]
		t.queue = t.queue[1:]
		g.ring = append(g.ring[:i], g.ring[i+1:]...)
		if len(t.queue) > 0 {
			g.ring = append(g.ring, t) // its next request waits a turn
		} else {
			t.waiting = false
		}
		g.grant(t)
		w.granted = true
		close(w.ready)
	}
}

// drop removes w, which gave up, from t's queue (g.mu held).
func (g *Gate) drop(t *tenant, w *waiter) {
	for i, x := range t.queue {
		if x == w {
			t.queue = append(t.queue[:i], t.queue[i+1:]...)
			break
		}
	}
	if len(t.queue) == 0 && t.waiting {
		t.waiting = false
		for i, x := range g.ring {
			if x == t {
				g.ring = append(g.ring[:i], g.ring[i+1:]...)
				break
			}
		}
	}
	g.forget(t)
}

// forget drops t's entry once it holds and waits for nothing (g.mu held).
func (g *Gate) forget(t *tenant) {
	if t.held == 0 && len(t.queue) == 0 && g.tenants[t.name] == t {
		delete(g.tenants, t.name)
	}
}

// Stats are a gate's figures.
type Stats struct {
	Held, Waiting int           // slots taken, requests waiting now
	Waits         uint64        // requests that had to wait, since start
	WaitTotal     time.Duration // their time spent waiting, summed
	TimedOut      uint64        // of them, requests that gave up first
}

// Stats reports the gate's figures.
func (g *Gate) Stats() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return Stats{Held: g.held, Waiting: g.waiting, Waits: g.waits, WaitTotal: g.waitTotal, TimedOut: g.timedOut}
}

// Add sums figures (of several gates).
func (s Stats) Add(o Stats) Stats {
	return Stats{Held: s.Held + o.Held, Waiting: s.Waiting + o.Waiting, Waits: s.Waits + o.Waits,
		WaitTotal: s.WaitTotal + o.WaitTotal, TimedOut: s.TimedOut + o.TimedOut}
}
