package web_test

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/clinikapi/clinikapi/internal/analytics"
	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/quota"
	"github.com/clinikapi/clinikapi/internal/usage"
)

// TestBrowserAnalytics screenshots the analytics page empty (it teaches the
// first request) and with a day of traffic, then the request log.
func TestBrowserAnalytics(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	ctx, shot := browser(t)
	base := env.Server.URL

	orgID := signUpInBrowser(t, ctx, base, "Analytical Clinic")
	bg := context.Background()
	backend, err := env.App.Keys.Create(bg, apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "Backend (staging)", Env: apikey.Test})
	if err != nil {
		t.Fatal(err)
	}
	live, err := env.App.Keys.Create(bg, apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "Production API", Env: apikey.Live})
	if err != nil {
		t.Fatal(err)
	}

	err = chromedp.Run(ctx,
		chromedp.Click(`a[href$="/analytics"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=empty-curl]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("empty analytics: %v", err)
	}
	if curl := textOf(t, ctx, "[data-testid=empty-curl]"); !strings.Contains(curl, backend.Key.Prefix) || strings.Contains(curl, backend.Secret) {
		t.Fatalf("empty state curl = %q; want the test key's prefix, never its secret", curl)
	}
	shot("empty")

	// A day of traffic: a busy morning, a few errors, one slow endpoint.
	now := env.Clock.Now()
	rng := rand.New(rand.NewPCG(7, 11))
	routes := []struct {
		method, route string
		weight        int
		latency       float64 // ms, median
	}{
		{"GET", "/v1/patients", 30, 18}, {"GET", "/v1/patients/:id", 25, 9}, {"POST", "/v1/observations", 15, 35},
		{"GET", "/v1/fhir/:type", 10, 60}, {"PATCH", "/v1/patients/:id", 8, 22}, {"POST", "/v1/encounters", 7, 40}, {"DELETE", "/v1/fhir/:type/:id", 5, 15},
	}
	var recs []usage.Record
	counted := map[string]int64{}
	for m := 24 * 60; m > 0; m -= 2 {
		at := now.Add(-time.Duration(m) * time.Minute)
		hour := float64(at.Hour())
		n := int(6 + 10*math.Max(0, math.Sin((hour-6)/24*2*math.Pi)) + float64(rng.IntN(4)))
		for range n {
			w := rng.IntN(100)
			r := routes[0]
			for _, c := range routes {
				if w < c.weight {
					r = c
					break
				}
				w -= c.weight
			}
			status, code := 200, ""
			switch x := rng.IntN(100); {
			case x < 4:
				status = 404
			case x < 6:
				status = 422
			case x < 7 && hour >= 14 && hour < 15:
				status = 503
			case x < 8:
				status, code = 429, analytics.CodeRateLimited
			}
			if r.method == "POST" && status == 200 {
				status = 201
			}
			key := backend.Key
			if rng.IntN(3) > 0 {
				key = live.Key
			}
			if code == "" {
				counted[string(key.Env)]++
			}
			lat := time.Duration(r.latency*math.Exp(rng.NormFloat64()*0.5)*1000) * time.Microsecond
			recs = append(recs, usage.Record{Time: at.Add(time.Duration(rng.IntN(120)) * time.Second), OrgID: orgID, KeyID: key.ID, Env: string(key.Env),
				Method: r.method, Route: r.route, Status: status, Latency: lat, BytesIn: 200, BytesOut: int64(800 + rng.IntN(4000)), RequestID: "req_demo", Code: code})
		}
	}
	for len(recs) > 0 {
		n := min(500, len(recs))
		if err := env.App.DB.InsertUsage(bg, recs[:n]); err != nil {
			t.Fatal(err)
		}
		recs = recs[n:]
	}
	// The pool counters the API would have kept for the same traffic.
	setPlan(t, env, orgID, "starter")
	period, _ := quota.Period(now)
	env.App.DB.AddQuota(bg, orgID, period, quota.PoolLive, counted["live"])
	env.App.DB.AddQuota(bg, orgID, period, quota.PoolSandbox, counted["test"])
	runJob(t, env, analytics.JobRollup)

	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/o/"+orgID+"/analytics?range=24h"),
		chromedp.WaitVisible(`[data-chart=chart-requests]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("analytics with data: %v", err)
	}
	var bars int
	chromedp.Run(ctx, chromedp.Evaluate(`document.querySelectorAll('[data-chart=chart-requests] g title').length`, &bars))
	if bars != 25 {
		t.Fatalf("requests chart has %d bars with a hover title, want 25 (one per hour)", bars)
	}
	shot("overview")
	// The live part refreshes by itself (HTMX polling every 5 s).
	var updated string
	chromedp.Run(ctx, chromedp.Evaluate(`document.querySelector('#analytics-live').getAttribute('hx-trigger')`, &updated))
	if updated != "every 5s" {
		t.Fatalf("live part polls with %q", updated)
	}

	err = chromedp.Run(ctx,
		chromedp.Click(`[data-testid=table-toggle]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=series-table]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("numbers table: %v", err)
	}

	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/o/"+orgID+"/requests?status=4"),
		chromedp.WaitVisible(`[data-testid=request-log]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("request log: %v", err)
	}
	shot("request-log")
}
