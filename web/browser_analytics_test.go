package web_test

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

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
				status, code = 404, "NOT_FOUND"
			case x < 6:
				status, code = 422, "VALIDATION_ERROR"
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
			if status != 429 {
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
	chromedp.Run(ctx, chromedp.Evaluate(`document.querySelectorAll('[data-chart=chart-requests] a.chart-hit[href]').length`, &bars))
	if bars != 25 {
		t.Fatalf("requests chart has %d bars linking to the request log, want 25 (one per hour)", bars)
	}
	// The error-code breakdown names our codes, busiest first.
	var codes []string
	chromedp.Run(ctx, chromedp.Evaluate(`[...document.querySelectorAll('[data-testid=codes-table] [data-code]')].map(e => e.textContent)`, &codes))
	if len(codes) != 3 || !contains(codes, "NOT_FOUND") || !contains(codes, "VALIDATION_ERROR") || !contains(codes, "RATE_LIMITED") || codes[0] != "NOT_FOUND" {
		t.Fatalf("error codes %v, want NOT_FOUND first, VALIDATION_ERROR and RATE_LIMITED", codes)
	}
	if other := textOf(t, ctx, "[data-testid=codes-table] tbody tr:last-child td:first-child"); !strings.Contains(other, "no error code") {
		t.Fatalf("the 503s without a code are not counted apart: %q", other)
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

	// Tooltips: the pointer over a bar shows its interval and values, the
	// keyboard moves between buckets with the arrow keys, and a bar opens
	// the request log for its hour.
	tip := func() string {
		var s string
		chromedp.Run(ctx, chromedp.Evaluate(`(() => { const t = document.querySelector('[data-chart=chart-requests]').closest('figure').querySelector('[data-chart-tip]'); return t.hidden ? "" : t.textContent; })()`, &s))
		return s
	}
	var box []float64
	chromedp.Run(ctx, chromedp.Evaluate(`(() => { const r = document.querySelectorAll('[data-chart=chart-requests] .chart-hit rect')[12].getBoundingClientRect(); return [r.x + r.width/2, r.y + r.height/2]; })()`, &box))
	if err := chromedp.Run(ctx, chromedp.MouseEvent("mouseMoved", box[0], box[1])); err != nil {
		t.Fatal(err)
	}
	if s := tip(); !strings.Contains(s, "requests") || !strings.Contains(s, "UTC") || !strings.Contains(s, "2xx") || !strings.Contains(s, "Click to open") {
		t.Fatalf("hover tooltip %q, want the interval, the counts and what a click does", s)
	}
	shot("tooltip")
	var first, second, focused string
	err = chromedp.Run(ctx,
		chromedp.Focus(`[data-chart=chart-requests] .chart-hit`, chromedp.ByQuery),
		chromedp.ActionFunc(func(ctx context.Context) error { first = tip(); return nil }),
		chromedp.KeyEvent(kb.ArrowRight),
		chromedp.ActionFunc(func(ctx context.Context) error { second = tip(); return nil }),
		chromedp.Evaluate(`document.activeElement.getAttribute('tabindex') + ' ' + [...document.querySelectorAll('[data-chart=chart-requests] .chart-hit')].filter(h => h.getAttribute('tabindex') === '0').length`, &focused),
	)
	if err != nil {
		t.Fatal(err)
	}
	if first == "" || second == "" || first == second || !strings.Contains(second, "Enter opens") {
		t.Fatalf("keyboard tooltips %q then %q: want two different buckets", first, second)
	}
	if focused != "0 1" {
		t.Fatalf("after an arrow key: %q, want the focused bucket the chart's one Tab stop", focused)
	}
	// A poll does not replace the chart under the keyboard focus (it
	// polls every 5 s otherwise).
	var kept, replaced bool
	wait := chromedp.Evaluate(`new Promise(r => setTimeout(r, 6000))`, nil, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) })
	err = chromedp.Run(ctx,
		chromedp.Evaluate(`window.liveBefore = document.querySelector('#analytics-live'); true`, nil),
		wait,
		chromedp.Evaluate(`document.querySelector('#analytics-live') === window.liveBefore && document.activeElement.classList.contains('chart-hit')`, &kept),
	)
	if err != nil || !kept {
		t.Fatalf("the live part was replaced under the focus (%v)", err)
	}
	var href string
	chromedp.Run(ctx, chromedp.Evaluate(`document.activeElement.getAttribute('href')`, &href))
	err = chromedp.Run(ctx,
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(`[data-testid=request-log]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("a chart bar did not open the request log (%s): %v", href, err)
	}
	var rangeSel, from, to string
	var times []string
	chromedp.Run(ctx,
		chromedp.Evaluate(`document.querySelector('#range').value`, &rangeSel),
		chromedp.Evaluate(`document.querySelector('#from').value`, &from),
		chromedp.Evaluate(`document.querySelector('#to').value`, &to),
		chromedp.Evaluate(`[...document.querySelectorAll('[data-testid=request-log] tbody tr td:first-child')].map(e => e.textContent)`, &times),
	)
	start, err1 := time.Parse("2006-01-02T15:04", from)
	end, err2 := time.Parse("2006-01-02T15:04", to)
	if rangeSel != "custom" || err1 != nil || err2 != nil || end.Sub(start) != time.Hour || len(times) == 0 {
		t.Fatalf("request log from a bar: range %q from %q to %q, %d rows; want the bar's hour", rangeSel, from, to, len(times))
	}
	for _, s := range times {
		at, err := time.Parse("2006-01-02 15:04:05.000", s)
		if err != nil || at.Before(start) || !at.Before(end) {
			t.Fatalf("request at %q outside the bar's hour %s–%s", s, from, to)
		}
	}
	shot("request-log-hour")

	// On a touch screen the first tap shows the tooltip, the second opens
	// the log.
	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/o/"+orgID+"/analytics?range=24h"),
		chromedp.WaitVisible(`[data-chart=chart-errors] .chart-hit`, chromedp.ByQuery),
		chromedp.Evaluate(`(() => { const h = [...document.querySelectorAll('[data-chart=chart-errors] a.chart-hit')].pop(); h.dispatchEvent(new PointerEvent('pointerdown', {pointerType: 'touch', bubbles: true})); h.dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true})); })()`, nil),
	)
	if err != nil {
		t.Fatal(err)
	}
	var touchTip, path string
	chromedp.Run(ctx, chromedp.Evaluate(`(() => { const t = document.querySelector('[data-chart=chart-errors]').closest('figure').querySelector('[data-chart-tip]'); return t.hidden ? "" : t.textContent; })()`, &touchTip),
		chromedp.Evaluate(`location.pathname`, &path))
	if !strings.Contains(touchTip, "errors") || !strings.Contains(touchTip, "Tap again") || !strings.HasSuffix(path, "/analytics") {
		t.Fatalf("first tap: tooltip %q on %s; want the tooltip and no navigation", touchTip, path)
	}
	err = chromedp.Run(ctx,
		chromedp.Evaluate(`(() => { const h = [...document.querySelectorAll('[data-chart=chart-errors] a.chart-hit')].pop(); h.dispatchEvent(new PointerEvent('pointerdown', {pointerType: 'touch', bubbles: true})); h.dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true})); })()`, nil),
		chromedp.WaitVisible(`[data-testid=request-log]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("second tap: %v", err)
	}
	var statuses []string
	chromedp.Run(ctx, chromedp.Evaluate(`[...document.querySelectorAll('[data-testid=request-log] tbody tr td:nth-child(4) span')].map(e => e.textContent.trim())`, &statuses))
	for _, st := range statuses {
		if !strings.HasPrefix(st, "4") && !strings.HasPrefix(st, "5") {
			t.Fatalf("an error-rate point's request log lists a %s", st)
		}
	}

	// An error code opens the log of that code, paged within the range.
	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/o/"+orgID+"/analytics?range=24h"),
		chromedp.Click(`[data-testid=codes-table] a[data-code=NOT_FOUND]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=request-log]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("error code link: %v", err)
	}
	var page []string
	chromedp.Run(ctx, chromedp.Evaluate(`[...document.querySelectorAll('[data-testid=request-log] tbody tr td:nth-child(4)')].map(e => e.textContent.trim())`, &page))
	for _, st := range page {
		if !strings.Contains(st, "404") || !strings.Contains(st, "NOT_FOUND") {
			t.Fatalf("NOT_FOUND log lists %q", st)
		}
	}
	shot("request-log-code")

	// Without the focus inside, the live part is replaced by the poll.
	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/o/"+orgID+"/analytics?range=24h"),
		chromedp.WaitVisible(`#analytics-live`, chromedp.ByQuery),
		chromedp.Evaluate(`window.liveBefore = document.querySelector('#analytics-live'); true`, nil),
		wait,
		chromedp.Evaluate(`document.querySelector('#analytics-live') !== window.liveBefore`, &replaced),
	)
	if err != nil || !replaced {
		t.Fatalf("the live part did not refresh (%v)", err)
	}

	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/o/"+orgID+"/requests?status=4"), chromedp.WaitVisible(`[data-testid=request-log]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("request log: %v", err)
	}
	shot("request-log")
}
