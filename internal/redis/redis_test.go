package redis_test

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/random"
	"github.com/clinikapi/clinikapi/internal/redis"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// open connects two clients (two instances) sharing one key prefix.
func open(t testing.TB, c *clock) (*redis.Client, *redis.Client) {
	t.Helper()
	url := os.Getenv("CLINIKAPI_TEST_REDIS_URL")
	if url == "" {
		t.Skip("CLINIKAPI_TEST_REDIS_URL is not set")
	}
	prefix := random.ID("test") + ":"
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var out [2]*redis.Client
	for i := range out {
		cl, err := redis.Open(context.Background(), url, prefix, log, c.Now)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		out[i] = cl
	}
	return out[0], out[1]
}

func TestRedisSlidingLog(t *testing.T) {
	c := &clock{now: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	one, two := open(t, c)
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		l := one
		if i%2 == 1 {
			l = two
		}
		r, err := l.Allow(ctx, "k", 10, time.Minute)
		if err != nil || !r.Allowed || r.Remaining != 9-i || r.ResetAfter != time.Minute-time.Duration(i)*time.Second {
			t.Fatalf("event %d: %+v, %v; want allowed, %d remaining, reset in %v", i+1, r, err, 9-i, time.Minute-time.Duration(i)*time.Second)
		}
		c.Advance(time.Second)
	}
	r, _ := two.Allow(ctx, "k", 10, time.Minute)
	if r.Allowed || r.RetryAfter != 50*time.Second || r.ResetAfter != r.RetryAfter {
		t.Fatalf("11th event: %+v; want refused, retry and reset in 50s", r)
	}
	c.Advance(r.RetryAfter - time.Millisecond)
	if r, _ := one.Allow(ctx, "k", 10, time.Minute); r.Allowed {
		t.Fatalf("allowed before Retry-After: %+v", r)
	}
	c.Advance(time.Millisecond)
	if r, _ := one.Allow(ctx, "k", 10, time.Minute); !r.Allowed || r.Remaining != 0 {
		t.Fatalf("after Retry-After: %+v; want allowed, nothing left", r)
	}
	// Counted: the events at 1..9 s and 60 s. With a limit of 4 the one at
	// 7 s must leave first, at 67 s.
	if r, _ := one.Allow(ctx, "k", 4, time.Minute); r.Allowed || r.RetryAfter != 7*time.Second {
		t.Fatalf("after lowering the limit to 4: %+v; want refused for 7s", r)
	}
}

// TestRedisNeverOverTheLimit: two instances, traffic starting at random
// offsets within the minute; no 60 s interval holds more than the limit.
func TestRedisNeverOverTheLimit(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 27))
	for trial := 0; trial < 10; trial++ {
		c := &clock{now: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC).Add(time.Duration(rng.Int64N(int64(time.Minute))))}
		one, two := open(t, c)
		const limit = 200
		var admitted []time.Time
		for i := 0; i < 1500; i++ {
			l := one
			if rng.IntN(2) == 0 {
				l = two
			}
			r, err := l.Allow(context.Background(), "api:org:x", limit, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if r.Allowed {
				admitted = append(admitted, c.Now())
			} else if r.RetryAfter <= 0 || r.RetryAfter > time.Minute {
				t.Fatalf("trial %d: refused with %+v", trial, r)
			}
			if rng.IntN(3) > 0 {
				c.Advance(time.Duration(rng.Int64N(int64(time.Second))))
			}
		}
		j := 0
		for i := range admitted {
			for j < len(admitted) && admitted[j].Sub(admitted[i]) < time.Minute {
				j++
			}
			if j-i > limit {
				t.Fatalf("trial %d: %d admitted in the 60 s from %s; limit %d", trial, j-i, admitted[i].Format("15:04:05.000"), limit)
			}
		}
		if len(admitted) < 2*limit {
			t.Fatalf("trial %d: only %d admitted over %v; the limiter refuses too much", trial, len(admitted), c.Now().Sub(admitted[0]))
		}
	}
}
