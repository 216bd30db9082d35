package web_test

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

// testRateLimitRollingWindow sends traffic to a Starter organization
// (200/min) from random offsets within the minute, moving the app's clock
// between requests: no 60 s interval ever holds more than 200 admitted
// requests, X-RateLimit-Reset says when the oldest counted request leaves
// the window, and a 429's Retry-After (never over 60) equals it and is
// enough to be admitted again.
func testRateLimitRollingWindow(t *testing.T, extra map[string]string) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for run := 0; run < 3; run++ {
		env := apptest.New(t, "sqlite", extra)
		offset := time.Duration(rng.Int64N(int64(time.Minute)))
		env.Clock.Advance(offset)
		orgID, k := newOrgWithKey(t, env, "window@example.com", apikey.ScopeAll)
		if err := env.App.Billing.SetPlanSystem(context.Background(), orgID, "starter", "test"); err != nil {
			t.Fatal(err)
		}
		const limit = 200
		var admitted []time.Time
		refused, retried := 0, 0
		for i := 0; i < 700; i++ {
			now := env.Clock.Now()
			r := apiCall(t, env, "GET", "/v1/x", k.Secret, nil)
			reset, _ := strconv.Atoi(r.Header.Get("X-RateLimit-Reset"))
			if r.Header.Get("X-RateLimit-Limit") != "200" {
				t.Fatalf("offset %v, request %d: X-RateLimit-Limit %q; want 200", offset, i, r.Header.Get("X-RateLimit-Limit"))
			}
			if r.Status == 429 {
				refused++
				wantAPIError(t, "over the limit", r, 429, "RATE_LIMITED")
				ra, _ := strconv.Atoi(r.Header.Get("Retry-After"))
				if ra < 1 || ra > 60 || ra != reset {
					t.Fatalf("offset %v, request %d: Retry-After %q, X-RateLimit-Reset %q; want equal, 1..60", offset, i, r.Header.Get("Retry-After"), r.Header.Get("X-RateLimit-Reset"))
				}
				if rng.IntN(5) == 0 {
					env.Clock.Advance(time.Duration(ra) * time.Second)
					retried++
					if r := apiCall(t, env, "GET", "/v1/x", k.Secret, nil); r.Status == 429 {
						t.Fatalf("offset %v, request %d: refused again after waiting Retry-After %ds", offset, i, ra)
					}
					admitted = append(admitted, env.Clock.Now())
				}
			} else {
				if r.Status != 404 {
					t.Fatalf("offset %v, request %d: %d %s", offset, i, r.Status, r.Raw)
				}
				admitted = append(admitted, now)
				// The oldest request still counted leaves the window at reset.
				oldest := now
				for j := len(admitted) - 1; j >= 0 && now.Sub(admitted[j]) < time.Minute; j-- {
					oldest = admitted[j]
				}
				if want := int(math.Ceil(oldest.Add(time.Minute).Sub(now).Seconds())); reset != want {
					t.Fatalf("offset %v, request %d: X-RateLimit-Reset %d; want %d (oldest counted request at %s, now %s)", offset, i, reset, want, oldest.Format("15:04:05.000"), now.Format("15:04:05.000"))
				}
			}
			// Bursts in the same instant, and gaps of up to 0.6 s.
			if rng.IntN(4) > 0 {
				env.Clock.Advance(time.Duration(rng.Int64N(int64(600 * time.Millisecond))))
			}
		}
		most, at := 0, time.Time{}
		j := 0
		for i := range admitted {
			for j < len(admitted) && admitted[j].Sub(admitted[i]) < time.Minute {
				j++
			}
			if j-i > most {
				most, at = j-i, admitted[i]
			}
		}
		t.Logf("offset %v: %d admitted, %d refused (%d retried after Retry-After); at most %d in one 60 s window (from %s)",
			offset, len(admitted), refused, retried, most, at.Format("15:04:05.000"))
		if most > limit {
			t.Fatalf("offset %v: %d requests admitted in the 60 s from %s; the plan allows %d", offset, most, at.Format("15:04:05.000"), limit)
		}
		if refused == 0 || most < limit {
			t.Fatalf("offset %v: %d refused, at most %d in a window; the traffic should have reached the limit", offset, refused, most)
		}
	}
}

func TestRateLimitRollingWindowMemory(t *testing.T) {
	testRateLimitRollingWindow(t, nil)
}

func TestRateLimitRollingWindowRedis(t *testing.T) {
	url := os.Getenv(apptest.EnvRedis)
	if url == "" {
		t.Skip(apptest.EnvRedis + " is not set")
	}
	testRateLimitRollingWindow(t, map[string]string{"REDIS_URL": url})
}
