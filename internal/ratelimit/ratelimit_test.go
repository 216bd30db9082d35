package ratelimit

import (
	"context"
	"testing"
	"time"
)

func TestMemorySlidingWindow(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	m := NewMemory(func() time.Time { return now })
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		r, _ := m.Allow(ctx, "k", 10, time.Minute)
		if !r.Allowed || r.Remaining != 9-i {
			t.Fatalf("event %d: %+v", i+1, r)
		}
	}
	r, _ := m.Allow(ctx, "k", 10, time.Minute)
	if r.Allowed || r.RetryAfter <= 0 || r.RetryAfter > 2*time.Minute {
		t.Fatalf("11th event: %+v", r)
	}
	if r2, _ := m.Allow(ctx, "other", 10, time.Minute); !r2.Allowed {
		t.Fatalf("another key is limited too")
	}
	// Half-way through the next window half of the old count still weighs.
	now = now.Add(90 * time.Second)
	allowed := 0
	for i := 0; i < 10; i++ {
		if r, _ := m.Allow(ctx, "k", 10, time.Minute); r.Allowed {
			allowed++
		}
	}
	if allowed != 5 {
		t.Fatalf("allowed %d events with half the previous window still counted, want 5", allowed)
	}
	// Two windows later everything is forgotten.
	now = now.Add(2 * time.Minute)
	if r, _ := m.Allow(ctx, "k", 10, time.Minute); !r.Allowed || r.Remaining != 9 {
		t.Fatalf("after two idle windows: %+v", r)
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
	if r.Allowed {
		t.Fatal("6th of 5 allowed")
	}
	now = now.Add(r.RetryAfter)
	if r, _ := m.Allow(ctx, "k", 5, time.Minute); !r.Allowed {
		t.Fatalf("not allowed after waiting Retry-After: %+v", r)
	}
}
