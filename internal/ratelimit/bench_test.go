package ratelimit

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// stepClock advances by step on every reading, so a benchmark sweeps
// through windows as real traffic does.
func stepClock(step time.Duration) func() time.Time {
	var n atomic.Int64
	start := time.Date(2026, 11, 23, 10, 0, 17, 0, time.UTC)
	return func() time.Time { return start.Add(time.Duration(n.Add(1)) * step) }
}

// BenchmarkMemoryAllow is one organization at 1,000/min sending a request
// every 10 ms (six times its limit): the hot path of the API tier, allowed
// and refused requests alike.
func BenchmarkMemoryAllow(b *testing.B) {
	m := NewMemory(stepClock(10 * time.Millisecond))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		m.Allow(ctx, "api:org:a", 1000, time.Minute)
	}
}

// BenchmarkMemoryAllowParallel is 1,000 organizations at 10,000/min on
// every core.
func BenchmarkMemoryAllowParallel(b *testing.B) {
	m := NewMemory(stepClock(time.Millisecond))
	ctx := context.Background()
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "api:org:" + strconv.Itoa(i)
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Allow(ctx, keys[next.Add(1)%int64(len(keys))], 10000, time.Minute)
		}
	})
}
