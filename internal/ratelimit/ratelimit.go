// Package ratelimit counts events per key in a rolling window. The dashboard
// uses it to throttle sign-in attempts; the API tier uses it for per-plan
// request limits. Memory is the single-instance default; a shared backend
// implements the same interface for several instances.
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

// Memory is an in-process sliding-window-counter limiter: it weighs the count
// of the previous fixed window by how much of it still overlaps the rolling
// window, which is accurate to a few percent and costs two integers per key.
type Memory struct {
	mu      sync.Mutex
	now     func() time.Time
	buckets map[string]*bucket
	sweepAt time.Time
}

type bucket struct {
	start      time.Time // start of the current fixed window
	window     time.Duration
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
	if b == nil || b.window != window {
		b = &bucket{start: now.Truncate(window), window: window}
		m.buckets[key] = b
	}
	b.roll(now)
	used := b.estimate(now)
	res := Result{Limit: limit}
	elapsed := now.Sub(b.start)
	if used+1 <= float64(limit) {
		b.curr++
		res.Allowed = true
		used++
	} else {
		res.RetryAfter = b.retryAfter(now, limit)
	}
	res.Remaining = max(0, limit-int(used+0.999999))
	res.ResetAfter = window - elapsed
	if b.prev > 0 {
		res.ResetAfter = 2*window - elapsed
	}
	return res, nil
}

func (b *bucket) roll(now time.Time) {
	start := now.Truncate(b.window)
	switch d := start.Sub(b.start); {
	case d <= 0:
	case d == b.window:
		b.prev, b.curr, b.start = b.curr, 0, start
	default:
		b.prev, b.curr, b.start = 0, 0, start
	}
}

func (b *bucket) estimate(now time.Time) float64 {
	overlap := 1 - float64(now.Sub(b.start))/float64(b.window)
	return float64(b.prev)*overlap + float64(b.curr)
}

// retryAfter finds when the weighted previous window has decayed enough for
// one more event, or the next window starts.
func (b *bucket) retryAfter(now time.Time, limit int) time.Duration {
	untilNext := b.start.Add(b.window).Sub(now)
	if b.prev == 0 || b.curr+1 > limit {
		if b.curr+1 > limit {
			// next window: prev becomes curr; need curr*(1-f) + 1 <= limit
			need := 1 - float64(limit-1)/float64(b.curr)
			return untilNext + time.Duration(need*float64(b.window))
		}
		return untilNext
	}
	// need prev*(1 - t/window) + curr + 1 <= limit, solve for t.
	t := 1 - float64(limit-b.curr-1)/float64(b.prev)
	at := b.start.Add(time.Duration(t * float64(b.window)))
	if d := at.Sub(now); d > 0 {
		return d
	}
	return time.Second
}

// sweep drops idle keys once a minute so memory stays bounded by active keys.
func (m *Memory) sweep(now time.Time) {
	if now.Before(m.sweepAt) {
		return
	}
	m.sweepAt = now.Add(time.Minute)
	for k, b := range m.buckets {
		if now.Sub(b.start) > 2*b.window {
			delete(m.buckets, k)
		}
	}
}
