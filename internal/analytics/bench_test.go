package analytics_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/analytics"
	"github.com/clinikapi/clinikapi/internal/store"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
)

// seedTenMillion fills the aggregates table with what 10 million requests
// of one organization, spread over 90 days with a daily rhythm, across 8
// keys (4 test, 4 live) and 14 routes, would produce: minute rows for the
// last 14 days (their retention), hour rows for 90 days, day rows for 90
// days. The requests themselves are drawn one by one (route and key by
// weight, status, latency) and counted into the rows; no raw records are
// written, so it measures the overview query, not the rollup job.
func seedTenMillion(b *testing.B, db *store.DB, org string, now time.Time) (requests int64, rows int) {
	b.Helper()
	const total = 10_000_000
	rng := rand.New(rand.NewPCG(42, 1))
	type combo struct{ env, key, method, route string }
	var combos []combo
	var weights []float64
	methods := []string{"GET", "GET", "POST", "GET", "PATCH", "DELETE", "GET", "POST", "GET", "GET", "POST", "PUT", "GET", "DELETE"}
	for k := 0; k < 8; k++ {
		env := "live"
		if k >= 4 {
			env = "test"
		}
		for r := 0; r < 14; r++ {
			combos = append(combos, combo{env, fmt.Sprintf("key_%02d", k), methods[r], fmt.Sprintf("/v1/route%02d/:id", r)})
			weights = append(weights, 1/float64(k+1)/float64(r+1))
		}
	}
	cum := make([]float64, len(weights))
	var sum float64
	for i, w := range weights {
		sum += w
		cum[i] = sum
	}
	start := analytics.Day.Floor(now.Add(-90 * 24 * time.Hour))
	minutes := int(now.Sub(start) / time.Minute)
	// Requests per minute follow a daily curve and add up to total.
	perMinute := make([]float64, minutes)
	var shape float64
	for m := range perMinute {
		h := float64(m%1440) / 60
		perMinute[m] = 1 + 0.8*math.Sin((h-6)/24*2*math.Pi)
		shape += perMinute[m]
	}
	type key struct {
		bucket time.Time
		c      int
	}
	hours := map[key]*analytics.Row{}
	days := map[key]*analytics.Row{}
	var batch []analytics.Row
	flush := func() {
		if err := db.InsertRollups(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
		rows += len(batch)
		batch = batch[:0]
	}
	minuteFrom := now.Add(-analytics.MinuteRetention)
	var carry float64
	for m := 0; m < minutes; m++ {
		t := start.Add(time.Duration(m) * time.Minute)
		carry += perMinute[m] / shape * total
		n := int64(carry)
		carry -= float64(n)
		local := map[int]*analytics.Stats{}
		for range n {
			c, _ := slices.BinarySearch(cum, rng.Float64()*sum)
			c = min(c, len(combos)-1)
			s := local[c]
			if s == nil {
				s = &analytics.Stats{}
				local[c] = s
			}
			s.Requests++
			switch x := rng.IntN(1000); {
			case x < 5:
				s.S5xx++
			case x < 60:
				s.S4xx++
				if x < 10 {
					s.RateLimited++
				}
			default:
				s.S2xx++
			}
			us := int64(2000 * math.Exp(rng.NormFloat64()*0.8))
			s.LatencyUS += us
			s.Hist[analytics.BucketOf(us)]++
			s.BytesIn += 300
			s.BytesOut += 2000
		}
		requests += n
		for c, s := range local {
			cb := combos[c]
			row := analytics.Row{OrgID: org, Env: cb.env, KeyID: cb.key, Method: cb.method, Route: cb.route, Stats: *s}
			if !t.Before(minuteFrom) {
				r := row
				r.Grain, r.Bucket = analytics.Minute, t
				batch = append(batch, r)
				if len(batch) == 5000 {
					flush()
				}
			}
			for _, g := range []struct {
				grain analytics.Grain
				m     map[key]*analytics.Row
			}{{analytics.Hour, hours}, {analytics.Day, days}} {
				k := key{g.grain.Floor(t), c}
				if g.m[k] == nil {
					r := row
					r.Grain, r.Bucket, r.Stats = g.grain, k.bucket, analytics.Stats{}
					g.m[k] = &r
				}
				g.m[k].Add(*s)
			}
		}
	}
	for _, m := range []map[key]*analytics.Row{hours, days} {
		for _, r := range m {
			batch = append(batch, *r)
			if len(batch) == 5000 {
				flush()
			}
		}
	}
	flush()
	return requests, rows
}

// BenchmarkOverview measures the analytics overview query of one
// organization holding 10 million requests over 90 days, for each range
// the page offers, and reports the p95 of the iterations.
func BenchmarkOverview(b *testing.B) {
	for _, engine := range storetest.Targets(b) {
		b.Run(engine, func(b *testing.B) {
			db := storetest.Open(b, engine)
			now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
			seeded := time.Now()
			n, rows := seedTenMillion(b, db, "org_bench", now)
			// Another tenant's rows sit beside it, as in production.
			b.Logf("%s: seeded %d requests as %d aggregate rows in %s", engine, n, rows, time.Since(seeded).Round(time.Second))
			s := &analytics.Service{Store: db, Now: func() time.Time { return now }}
			for _, rng := range []string{"1h", "24h", "7d", "30d", "90d"} {
				b.Run(rng, func(b *testing.B) {
					from := now.Add(-analytics.Ranges[rng])
					q := analytics.Query{OrgID: "org_bench", From: from, To: now, Grain: analytics.GrainFor(from, now, now)}
					var took []time.Duration
					b.ResetTimer()
					for b.Loop() {
						t0 := time.Now()
						ov, err := s.Overview(context.Background(), q)
						took = append(took, time.Since(t0))
						if err != nil || ov.Total.Requests == 0 {
							b.Fatalf("overview %s: %d requests, %v", rng, ov.Total.Requests, err)
						}
					}
					slices.Sort(took)
					b.ReportMetric(float64(took[int(float64(len(took)-1)*0.95)].Microseconds())/1000, "p95-ms")
				})
			}
		})
	}
}
