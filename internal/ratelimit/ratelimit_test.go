package ratelimit

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

func TestMemorySlidingLog(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	m := NewMemory(func() time.Time { return now })
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		r, _ := m.Allow(ctx, "k", 10, time.Minute)
		if !r.Allowed || r.Remaining != 9-i || r.ResetAfter != time.Minute-time.Duration(i)*time.Second {
			t.Fatalf("event %d: %+v; want allowed, %d remaining, reset in %v", i+1, r, 9-i, time.Minute-time.Duration(i)*time.Second)
		}
		now = now.Add(time.Second)
	}
	// 10 s after the first event: it frees a slot in 50 s.
	r, _ := m.Allow(ctx, "k", 10, time.Minute)
	if r.Allowed || r.RetryAfter != 50*time.Second || r.ResetAfter != r.RetryAfter || r.Remaining != 0 {
		t.Fatalf("11th event: %+v; want refused, retry and reset in 50s", r)
	}
	if r2, _ := m.Allow(ctx, "other", 10, time.Minute); !r2.Allowed {
		t.Fatalf("another key is limited too")
	}
	// Exactly one window after the first event, its slot is free again, and
	// only its slot.
	now = now.Add(r.RetryAfter)
	if r, _ := m.Allow(ctx, "k", 10, time.Minute); !r.Allowed || r.Remaining != 0 {
		t.Fatalf("after waiting Retry-After: %+v; want allowed with nothing left", r)
	}
	if r, _ := m.Allow(ctx, "k", 10, time.Minute); r.Allowed || r.RetryAfter != time.Second {
		t.Fatalf("right after: %+v; want refused until the second event leaves in 1s", r)
	}
	// A window later everything is forgotten.
	now = now.Add(2 * time.Minute)
	if r, _ := m.Allow(ctx, "k", 10, time.Minute); !r.Allowed || r.Remaining != 9 {
		t.Fatalf("after an idle window: %+v", r)
	}
}

func TestRetryAfterIsHonest(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 30, 0, time.UTC)
	m := NewMemory(func() time.Time { return now })
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		m.Allow(ctx, "k", 5, time.Minute)
	}
	r, _ := m.Allow(ctx, "k", 5, time.Minute)
	if r.Allowed || r.RetryAfter > time.Minute {
		t.Fatalf("6th of 5: %+v; want refused, Retry-After at most the window", r)
	}
	now = now.Add(r.RetryAfter - time.Millisecond)
	if r, _ := m.Allow(ctx, "k", 5, time.Minute); r.Allowed {
		t.Fatalf("allowed before Retry-After: %+v", r)
	}
	now = now.Add(time.Millisecond)
	if r, _ := m.Allow(ctx, "k", 5, time.Minute); !r.Allowed {
		t.Fatalf("not allowed after waiting Retry-After: %+v", r)
	}
}

// TestLowerLimit: after a plan downgrade the events already counted keep
// counting, and Retry-After says when enough of them have left.
func TestLowerLimit(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	m := NewMemory(func() time.Time { return now })
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		m.Allow(ctx, "k", 10, time.Minute)
		now = now.Add(time.Second)
	}
	r, _ := m.Allow(ctx, "k", 4, time.Minute)
	// 10 counted, limit 4: the 7th oldest (at 6 s) must leave, at 66 s.
	if r.Allowed || r.RetryAfter != 56*time.Second {
		t.Fatalf("after lowering the limit: %+v; want refused for 56s", r)
	}
	if r, _ := m.Allow(ctx, "k", 0, time.Minute); r.Allowed || r.RetryAfter != time.Minute {
		t.Fatalf("limit 0: %+v; want refused for a window", r)
	}
}

// checkWindows fails unless every half-open interval of length window
// holds at most limit of the admitted times (sorted).
func checkWindows(t testing.TB, admitted []time.Time, limit int, window time.Duration) {
	t.Helper()
	j := 0
	for i := range admitted {
		for j < len(admitted) && admitted[j].Sub(admitted[i]) < window {
			j++
		}
		if j-i > limit {
			t.Fatalf("%d events admitted in [%s, %s); limit %d", j-i, admitted[i].Format("15:04:05.000"), admitted[i].Add(window).Format("15:04:05.000"), limit)
		}
	}
}

// TestNeverOverTheLimit sends bursts and trickles starting at random
// offsets within the minute: no 60 s interval ever holds more than the
// limit, and a client that waits Retry-After is admitted.
func TestNeverOverTheLimit(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 27))
	for trial := 0; trial < 200; trial++ {
		now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC).Add(time.Duration(rng.Int64N(int64(time.Minute))))
		m := NewMemory(func() time.Time { return now })
		const limit = 200
		var admitted []time.Time
		for i := 0; i < 3000; i++ {
			r, _ := m.Allow(context.Background(), "k", limit, time.Minute)
			if r.Allowed {
				admitted = append(admitted, now)
			} else if r.RetryAfter <= 0 || r.RetryAfter > time.Minute || r.ResetAfter != r.RetryAfter {
				t.Fatalf("trial %d: refused with %+v", trial, r)
			} else if rng.IntN(4) == 0 {
				now = now.Add(r.RetryAfter)
				if r, _ := m.Allow(context.Background(), "k", limit, time.Minute); !r.Allowed {
					t.Fatalf("trial %d: refused after waiting Retry-After: %+v", trial, r)
				}
				admitted = append(admitted, now)
			}
			// Bursts (many requests in the same instant) and gaps up to 2 s.
			if rng.IntN(3) > 0 {
				now = now.Add(time.Duration(rng.Int64N(int64(2 * time.Second))))
			}
		}
		checkWindows(t, admitted, limit, time.Minute)
	}
}
