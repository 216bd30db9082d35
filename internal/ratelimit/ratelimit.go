// Package ratelimit counts events per key in a rolling window. The dashboard
// uses it to throttle sign-in attempts; the API tier uses it for per-plan
// request limits. Memory is the single-instance default; the Redis adapter
// (internal/redis) implements the same interface for several instances.
//
// Both use the sliding-window counter: the count of the previous fixed window
// is weighed by how much of it still overlaps the rolling window. It is
// accurate to a few percent and costs two integers per key.
package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Result is the outcome of one Allow call.
type Result struct {
	Allowed    bool
	Limit      int
	Remaining  int
	ResetAfter time.Duration // until the window has room again for a full limit
	RetryAfter time.Duration // when not allowed: how long until one more is allowed
}

// Limiter allows at most limit events per key in any rolling window.
type Limiter interface {
	Allow(ctx context.Context, key string, limit int, window time.Duration) (Result, error)
}

// Window is the state of one key: the counts of the previous and current
// fixed windows and how far into the current one we are.
type Window struct {
	Prev, Curr int
	Elapsed    time.Duration
	Size       time.Duration
}

// Estimate is the weighted count of the rolling window.
func (w Window) Estimate() float64 {
	overlap := 1 - float64(w.Elapsed)/float64(w.Size)
	return float64(w.Prev)*overlap + float64(w.Curr)
}

// Fits reports whether one more event fits under limit.
func (w Window) Fits(limit int) bool { return w.Estimate()+1 <= float64(limit)+1e-9 }

// Result describes w after the decision (Curr already includes the event
// when allowed).
func (w Window) Result(limit int, allowed bool) Result {
	used := w.Estimate()
	res := Result{Allowed: allowed, Limit: limit, Remaining: max(0, limit-int(used+0.999999))}
	res.ResetAfter = w.Size - w.Elapsed
	if w.Prev > 0 {
		res.ResetAfter = 2*w.Size - w.Elapsed
	}
	if !allowed {
		res.RetryAfter = w.retryAfter(limit)
	}
	return res
}

// retryAfter finds when the weighted previous window has decayed enough for
// one more event, or the next window starts.
func (w Window) retryAfter(limit int) time.Duration {
	untilNext := w.Size - w.Elapsed
	if w.Curr+1 > limit {
		// In the next window, curr becomes prev: need curr*(1-f)+1 <= limit.
		need := 1 - float64(limit-1)/float64(w.Curr)
		return untilNext + time.Duration(need*float64(w.Size))
	}
	if w.Prev == 0 {
		return untilNext
	}
	// Need prev*(1 - t/size) + curr + 1 <= limit; solve for t.
	t := time.Duration((1 - float64(limit-w.Curr-1)/float64(w.Prev)) * float64(w.Size))
	if d := t - w.Elapsed; d > 0 {
		return d
	}
	return time.Second
}

// Memory is the in-process limiter.
type Memory struct {
	mu      sync.Mutex
	now     func() time.Time
	buckets map[string]*bucket
	sweepAt time.Time
}

type bucket struct {
	start      time.Time // start of the current fixed window
	size       time.Duration
	prev, curr int
}

// NewMemory returns a Memory limiter using now as its clock (time.Now if nil).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, buckets: make(map[string]*bucket)}
}

// Allow counts one event for key if it fits under limit.
func (m *Memory) Allow(_ context.Context, key string, limit int, window time.Duration) (Result, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(now)
	b := m.buckets[key]
	if b == nil || b.size != window {
		b = &bucket{start: now.Truncate(window), size: window}
		m.buckets[key] = b
	}
	switch d := now.Truncate(window).Sub(b.start); {
	case d <= 0:
	case d == window:
		b.prev, b.curr, b.start = b.curr, 0, now.Truncate(window)
	default:
		b.prev, b.curr, b.start = 0, 0, now.Truncate(window)
	}
	w := Window{Prev: b.prev, Curr: b.curr, Elapsed: now.Sub(b.start), Size: window}
	allowed := w.Fits(limit)
	if allowed {
		b.curr++
		w.Curr++
	}
	return w.Result(limit, allowed), nil
}

// sweep drops idle keys once a minute so memory stays bounded by active keys.
func (m *Memory) sweep(now time.Time) {
	if now.Before(m.sweepAt) {
		return
	}
	m.sweepAt = now.Add(time.Minute)
	for k, b := range m.buckets {
		if now.Sub(b.start) > 2*b.size {
			delete(m.buckets, k)
		}
	}
}
