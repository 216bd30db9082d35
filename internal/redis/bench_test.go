package redis_test

import (
	"context"
	"testing"
	"time"
)

// BenchmarkRedisAllow is one organization at 1,000/min sending a request
// every 10 ms of the clock (six times its limit), through one Redis round
// trip per request.
func BenchmarkRedisAllow(b *testing.B) {
	c := &clock{now: time.Date(2026, 11, 23, 10, 0, 17, 0, time.UTC)}
	one, _ := open(b, c)
	ctx := context.Background()
	for b.Loop() {
		if _, err := one.Allow(ctx, "api:org:bench", 1000, time.Minute); err != nil {
			b.Fatal(err)
		}
		c.Advance(10 * time.Millisecond)
	}
}
