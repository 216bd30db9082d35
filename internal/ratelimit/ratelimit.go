// Package ratelimit counts events per key in a rolling window. The dashboard
// uses it to throttle sign-in attempts; the API tier uses it for per-plan
// request limits. Memory is the single-instance default; the Redis adapter
// (internal/redis) implements the same interface for several instances.
//
// Both keep a sliding log: the time of every event admitted in the last
// window. An event at time t is admitted when fewer than limit events were
// admitted in (t-window, t], so no half-open interval of one window's length
// ever holds more than limit admitted events, whatever the phase of the
// clock. An admitted event stops counting exactly one window after it
// happened. The cost is one timestamp per admitted event still in the
// window (at most limit per key), and O(1) amortised work per event.
package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Result is the outcome of one Allow call.
type Result struct {
	Allowed   bool
	Limit     int
	Remaining int // events that would be admitted now, after this one
	// ResetAfter is how long until the oldest counted event leaves the
	// window, i.e. until Remaining grows by one (0 when nothing counts).
	// When not allowed it equals RetryAfter.
	ResetAfter time.Duration
	// RetryAfter, when not allowed, is how long until one more event would
	// be admitted; never more than the window.
	RetryAfter time.Duration
}

// Limiter allows at most limit events per key in any rolling window.
type Limiter interface {
	Allow(ctx context.Context, key string, limit int, window time.Duration) (Result, error)
}

// Decide builds the Result of a sliding log after the decision: n events
// count (including this one when allowed), oldest is the time of the
// oldest of them, and free (used when not allowed) the time of the event
// whose expiry lets one more in: the (n-limit+1)th oldest.
func Decide(now time.Time, window time.Duration, limit, n int, allowed bool, oldest, free time.Time) Result {
	res := Result{Allowed: allowed, Limit: limit, Remaining: max(0, limit-n)}
	if n > 0 {
		res.ResetAfter = max(0, oldest.Add(window).Sub(now))
	}
	if !allowed {
		res.RetryAfter = min(window, max(time.Nanosecond, free.Add(window).Sub(now)))
		res.ResetAfter = res.RetryAfter
	}
	return res
}

// Memory is the in-process limiter.
type Memory struct {
	mu      sync.Mutex
	now     func() time.Time
	logs    map[string]*eventLog
	sweepAt time.Time
}

// eventLog is one key's admitted events, oldest first, in a ring buffer
// whose size is a power of two that grows as needed, up to the limit's.
type eventLog struct {
	window time.Duration
	times  []int64 // unix nanoseconds
	head   int     // index of the oldest
	n      int     // events in the ring
	last   int64   // the latest admission
}

func (l *eventLog) at(i int) int64 { return l.times[(l.head+i)&(len(l.times)-1)] }

// expire drops events that happened at or before cutoff.
func (l *eventLog) expire(cutoff int64) {
	for l.n > 0 && l.times[l.head] <= cutoff {
		l.head = (l.head + 1) & (len(l.times) - 1)
		l.n--
	}
	if l.n == 0 {
		l.head = 0
	}
}

func (l *eventLog) push(t int64, limit int) {
	if l.n == len(l.times) {
		size := max(8, 2*len(l.times))
		for size/2 >= limit {
			size /= 2 // no more than the limit needs
		}
		grown := make([]int64, size)
		for i := 0; i < l.n; i++ {
			grown[i] = l.at(i)
		}
		l.times, l.head = grown, 0
	}
	l.times[(l.head+l.n)&(len(l.times)-1)] = t
	l.n++
	l.last = t
}

// NewMemory returns a Memory limiter using now as its clock (time.Now if nil).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, logs: make(map[string]*eventLog)}
}

// Allow counts one event for key if fewer than limit were admitted in the
// window ending now.
func (m *Memory) Allow(_ context.Context, key string, limit int, window time.Duration) (Result, error) {
	now := m.now()
	t := now.UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(now)
	l := m.logs[key]
	if l == nil || l.window != window {
		l = &eventLog{window: window}
		m.logs[key] = l
	}
	l.expire(t - int64(window))
	allowed := l.n < limit
	if allowed {
		l.push(t, limit)
	}
	var oldest, free time.Time
	if l.n > 0 {
		oldest = time.Unix(0, l.at(0))
	}
	switch {
	case !allowed && limit > 0:
		free = time.Unix(0, l.at(l.n-limit))
	case !allowed:
		free = now // a limit of 0 admits nothing: wait a full window
	}
	return Decide(now, window, limit, l.n, allowed, oldest, free), nil
}

// sweep drops keys with nothing left in their window, once a minute, so
// memory stays bounded by active keys.
func (m *Memory) sweep(now time.Time) {
	if now.Before(m.sweepAt) {
		return
	}
	m.sweepAt = now.Add(time.Minute)
	t := now.UnixNano()
	for k, l := range m.logs {
		if t-l.last >= int64(l.window) {
			delete(m.logs, k)
		}
	}
}
