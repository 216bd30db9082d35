package dashboard

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/analytics"
	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/plan"
	"github.com/clinikapi/clinikapi/internal/quota"
	av "github.com/clinikapi/clinikapi/views/analytics"
	"github.com/clinikapi/clinikapi/views/components/form"
)

// PageAnalytics is the analytics overview; PageRequests the request log.
const (
	PageAnalytics Page = "analytics"
	PageRequests  Page = "requests"
)

const customLayout = "2006-01-02T15:04"

// timeRange is a range filter: a preset (analytics.Ranges) or "custom"
// with from and to in UTC (customLayout), read from the query string.
type timeRange struct {
	Range, From, To string    // as the form shows them
	Start, End      time.Time // zero: unbounded
}

// parseRange reads range, from and to; an unknown preset or an unreadable
// custom range falls back to fallback ("" for no bound). A preset's from and
// to are filled in, so the form shows what it means.
func parseRange(c echo.Context, now time.Time, fallback string) timeRange {
	r := timeRange{Range: c.QueryParam("range"), From: c.QueryParam("from"), To: c.QueryParam("to")}
	if r.Range == "custom" {
		from, err1 := time.Parse(customLayout, r.From)
		to, err2 := time.Parse(customLayout, r.To)
		if err1 == nil && err2 == nil && from.Before(to) {
			r.Start, r.End = from.UTC(), to.UTC()
			if r.End.After(now) {
				r.End = now
			}
			return r
		}
		r.Range = fallback
	}
	d, ok := analytics.Ranges[r.Range]
	if !ok {
		if r.Range = fallback; fallback == "" {
			r.From, r.To = "", ""
			return r
		}
		d = analytics.Ranges[fallback]
	}
	r.Start, r.End = now.Add(-d), now
	r.From, r.To = r.Start.Format(customLayout), r.End.Format(customLayout)
	return r
}

// analyticsQuery reads the page's filters into a query over the
// organization's aggregates.
func (h *Handler) analyticsQuery(c echo.Context, orgID string) (analytics.Query, av.Filters) {
	now := h.Now().UTC()
	r := parseRange(c, now, "24h")
	f := av.Filters{Env: c.QueryParam("env"), Key: c.QueryParam("key"), Range: r.Range, From: r.From, To: r.To, Tenant: c.QueryParam("tenant")}
	if f.Env != "test" && f.Env != "live" {
		f.Env = ""
	}
	q := analytics.Query{OrgID: orgID, Env: f.Env, KeyID: f.Key, Tenant: f.Tenant, From: r.Start, To: r.End}
	q.Grain = analytics.GrainFor(q.From, q.To, now)
	return q, f
}

// orgKeys lists the organization's keys, also by id (to name the keys of
// usage rows) and as filter options (name and prefix, never the secret).
func (h *Handler) orgKeys(ctx context.Context, orgID string) ([]apikey.Key, map[string]apikey.Key, []form.Option, error) {
	keys, err := h.Keys.List(ctx, orgID)
	if err != nil {
		return nil, nil, nil, err
	}
	byID := make(map[string]apikey.Key, len(keys))
	options := make([]form.Option, 0, len(keys))
	for _, k := range keys {
		byID[k.ID] = k
		options = append(options, form.Option{Value: k.ID, Label: k.Name + " (" + k.Prefix + "…)"})
	}
	return keys, byID, options, nil
}

// AnalyticsPage shows usage charts; an HTMX poll gets the live part alone.
func (h *Handler) AnalyticsPage(c echo.Context) error {
	a := currentActor(c)
	ctx := c.Request().Context()
	q, filters := h.analyticsQuery(c, a.Org.ID)
	ov, err := h.Analytics.Overview(ctx, q)
	if err != nil {
		return err
	}
	keys, byID, options, err := h.orgKeys(ctx, a.Org.ID)
	if err != nil {
		return err
	}
	filters.Keys = append(filters.Keys, options...)
	if filters.Tenants, err = h.tenantOptions(ctx, a, true); err != nil {
		return err
	}
	base := "/o/" + a.Org.ID + "/analytics"
	params := url.Values{}
	for _, k := range []string{"env", "key", "tenant", "range", "from", "to"} {
		if v := c.QueryParam(k); v != "" {
			params.Set(k, v)
		}
	}
	showTable := c.QueryParam("table") == "1"
	// Over the window the totals cover, so that the codes add up to the
	// 4xx and 5xx counted.
	codes, err := h.Analytics.ErrorCodes(ctx, q.WholeBuckets())
	if err != nil {
		return err
	}
	logBase := ""
	if a.Can(org.ViewRequestLog) {
		logBase = "/o/" + a.Org.ID + "/requests"
	}
	live := h.liveView(ov, codes, byID, base, logBase, params, showTable)
	if isFragment(c) {
		return render(c, http.StatusOK, av.LivePart(live))
	}
	filters.Action = base
	p := av.Props{
		Shell:    h.shell(c, a, PageAnalytics, "Analytics", "Requests, errors and latency of your API traffic."),
		OrgID:    a.Org.ID,
		Filters:  filters,
		Live:     live,
		KeysHref: "/o/" + a.Org.ID + "/keys",
		Quota:    h.quotaView(ctx, a),
	}
	if a.Can(org.ViewRequestLog) {
		p.LogHref = "/o/" + a.Org.ID + "/requests"
	}
	if ov.Total.Requests == 0 {
		recent, _, err := h.Analytics.RequestLog(ctx, analytics.LogFilter{OrgID: a.Org.ID, Limit: 1})
		if err != nil {
			return err
		}
		if len(recent) == 0 {
			p.Empty = true
			for _, k := range keys {
				if k.Env == apikey.Test && k.StatusAt(h.Now()) != apikey.Revoked && k.StatusAt(h.Now()) != apikey.Expired {
					p.Curl = "curl " + h.BaseURL + "/v1/patients \\\n  -H \"x-api-key: " + k.Prefix + "…\""
					break
				}
			}
		}
	}
	return render(c, http.StatusOK, av.Page(p))
}

// logLink is the request log filtered to [from, to) and to the page's
// environment and key, plus extra; "" without the permission (logBase "").
func logLink(logBase string, q analytics.Query, from, to time.Time, extra ...string) string {
	if logBase == "" {
		return ""
	}
	v := url.Values{"range": {"custom"}, "from": {from.UTC().Format(customLayout)}, "to": {to.UTC().Format(customLayout)}}
	if q.Env != "" {
		v.Set("env", q.Env)
	}
	if q.KeyID != "" {
		v.Set("key", q.KeyID)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return logBase + "?" + v.Encode()
}

// interval names a bucket: "Dec 6, 14:00–15:00 UTC", or the day.
func interval(start time.Time, g analytics.Grain) string {
	start = start.UTC()
	if g == analytics.Day {
		return start.Format("Mon, Jan 2, 2006") + " (UTC day)"
	}
	return start.Format("Jan 2, 15:04") + "–" + start.Add(g.Width()).Format("15:04") + " UTC"
}

func (h *Handler) liveView(ov analytics.Overview, codes []analytics.CodeCount, keys map[string]apikey.Key, base, logBase string, params url.Values, showTable bool) av.Live {
	q := ov.Query
	label, long, minStep := "15:04", "Jan 2 15:04", time.Duration(0)
	if q.Grain == analytics.Day {
		label, long = "Jan 2", "Mon Jan 2"
	} else if q.Grain == analytics.Hour && q.To.Sub(q.From) > 48*time.Hour {
		label, minStep = "Jan 2", 24*time.Hour // dates: a tick at midnight only
	}
	// Time-axis ticks on round times (10:00, 10:10, …; midnights).
	var times []time.Time
	for _, p := range ov.Series {
		times = append(times, p.Time)
	}
	ticks := av.TimeTicks(times, q.Grain.Width(), minStep, label)
	poll := url.Values{}
	for k, v := range params {
		poll[k] = v
	}
	toggle := url.Values{}
	for k, v := range params {
		toggle[k] = v
	}
	if showTable {
		poll.Set("table", "1")
	} else {
		toggle.Set("table", "1")
	}
	l := av.Live{
		PollURL:    base + "?" + poll.Encode(),
		TableHref:  base + "?" + toggle.Encode(),
		ShowTable:  showTable,
		Updated:    h.Now().UTC().Format("15:04:05"),
		RateLimits: strconv.FormatInt(ov.Total.RateLimited, 10),
		Quota:      strconv.FormatInt(ov.Total.QuotaRejected, 10),
	}
	t := ov.Total
	l.Stats = []av.Stat{
		{Label: "Requests", Value: thousands(t.Requests), Hint: fmt.Sprintf("%s 2xx · %s 4xx · %s 5xx", thousands(t.S2xx), thousands(t.S4xx), thousands(t.S5xx))},
		{Label: "Error rate", Value: percent(t.ErrorRate()), Hint: "4xx and 5xx", Tone: tone(t.ErrorRate() > 0.05)},
		{Label: "p50 latency", Value: ms(t.Percentile(0.5)), Hint: "p95 " + ms(t.Percentile(0.95)) + " · p99 " + ms(t.Percentile(0.99))},
		{Label: "429 rejections", Value: thousands(t.RateLimited + t.QuotaRejected), Hint: fmt.Sprintf("%d rate limit · %d quota", t.RateLimited, t.QuotaRejected), Tone: tone(t.RateLimited+t.QuotaRejected > 0)},
		{Label: "Data out", Value: bytesString(t.BytesOut), Hint: bytesString(t.BytesIn) + " in"},
	}
	var stack []av.StackPoint
	var labels []string
	var errRate, p50, p95, p99 []float64
	var errTitles, latTitles50, latTitles95, latTitles99 []string
	var reqTips, errTips, latTips []av.Tip
	for i, p := range ov.Series {
		when := p.Time.Format(long)
		head, end := interval(p.Time, q.Grain), p.Time.Add(q.Grain.Width())
		reqTips = append(reqTips, av.Tip{Head: head, Href: logLink(logBase, q, p.Time, end),
			Lines: []string{plural(p.Requests, "request"), fmt.Sprintf("2xx %s · 4xx %s · 5xx %s", thousands(p.S2xx), thousands(p.S4xx), thousands(p.S5xx))}})
		if p.Requests == 0 {
			errTips = append(errTips, av.Tip{Head: head, Lines: []string{"No requests"}})
			latTips = append(latTips, av.Tip{Head: head, Lines: []string{"No requests"}})
		} else {
			errTips = append(errTips, av.Tip{Head: head, Href: logLink(logBase, q, p.Time, end, "status", "err"),
				Lines: []string{percent(p.ErrorRate()) + " errors", fmt.Sprintf("%s of %s requests answered 4xx or 5xx", thousands(p.Errors()), thousands(p.Requests))}})
			latTips = append(latTips, av.Tip{Head: head, Href: logLink(logBase, q, p.Time, end),
				Lines: []string{"p50 " + ms(p.Percentile(0.5)), "p95 " + ms(p.Percentile(0.95)), "p99 " + ms(p.Percentile(0.99)), plural(p.Requests, "request")}})
		}
		stack = append(stack, av.StackPoint{Label: ticks[i], Values: []int64{p.S2xx, p.S4xx, p.S5xx},
			Title: fmt.Sprintf("%s: %s requests — %s 2xx, %s 4xx, %s 5xx", when, thousands(p.Requests), thousands(p.S2xx), thousands(p.S4xx), thousands(p.S5xx))})
		labels = append(labels, ticks[i])
		if p.Requests == 0 {
			errRate, p50, p95, p99 = append(errRate, math.NaN()), append(p50, math.NaN()), append(p95, math.NaN()), append(p99, math.NaN())
			errTitles, latTitles50, latTitles95, latTitles99 = append(errTitles, ""), append(latTitles50, ""), append(latTitles95, ""), append(latTitles99, "")
			l.Rows = append(l.Rows, av.SeriesRow{Time: p.Time.Format("2006-01-02 15:04"), Requests: "0", S2xx: "0", S4xx: "0", S5xx: "0", ErrorRate: "—", P50: "—", P95: "—", P99: "—"})
			continue
		}
		errRate = append(errRate, p.ErrorRate()*100)
		errTitles = append(errTitles, fmt.Sprintf("%s: %s errors (%d of %d)", when, percent(p.ErrorRate()), p.Errors(), p.Requests))
		p50 = append(p50, msFloat(p.Percentile(0.5)))
		p95 = append(p95, msFloat(p.Percentile(0.95)))
		p99 = append(p99, msFloat(p.Percentile(0.99)))
		latTitles50 = append(latTitles50, when+": p50 "+ms(p.Percentile(0.5)))
		latTitles95 = append(latTitles95, when+": p95 "+ms(p.Percentile(0.95)))
		latTitles99 = append(latTitles99, when+": p99 "+ms(p.Percentile(0.99)))
		l.Rows = append(l.Rows, av.SeriesRow{Time: p.Time.Format("2006-01-02 15:04"), Requests: thousands(p.Requests), S2xx: thousands(p.S2xx), S4xx: thousands(p.S4xx), S5xx: thousands(p.S5xx),
			ErrorRate: percent(p.ErrorRate()), P50: ms(p.Percentile(0.5)), P95: ms(p.Percentile(0.95)), P99: ms(p.Percentile(0.99))})
	}
	span := fmt.Sprintf("%s to %s UTC, %s per bar", q.From.Format("Jan 2 15:04"), q.To.Format("Jan 2 15:04"), grainName(q.Grain))
	l.Requests = av.Stacked(av.Wide, "chart-requests", "Requests over time by status class", fmt.Sprintf("%s requests, %s", thousands(t.Requests), span), stack,
		av.StatusFills, av.StatusLegend).WithTips(reqTips)
	l.ErrorRate = av.Lines(av.Narrow, "chart-errors", "Error rate over time", "Share of requests answered 4xx or 5xx, "+span, labels,
		[]av.Series{{Name: "Error rate", Class: av.StrokeRed, Values: errRate, Titles: errTitles}},
		func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) + "%" }, nil).WithTips(errTips)
	l.Latency = av.Lines(av.Narrow, "chart-latency", "Latency percentiles over time", "p50, p95 and p99 latency estimated from histogram buckets, "+span, labels,
		[]av.Series{
			{Name: "p50", Class: av.StrokeBrand, Values: p50, Titles: latTitles50},
			{Name: "p95", Class: av.StrokeAmber, Values: p95, Titles: latTitles95},
			{Name: "p99", Class: av.StrokeRed, Values: p99, Titles: latTitles99},
		},
		func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) + " ms" },
		av.LatencyLegend).WithTips(latTips)
	l.Codes = codeRows(codes, t, logBase, q)
	top := int64(1)
	if len(ov.Routes) > 0 {
		top = max(1, ov.Routes[0].Requests)
	}
	for i, r := range ov.Routes {
		if i == 10 {
			break
		}
		l.Routes = append(l.Routes, breakdownRow(r.Stats, r.Method+" "+r.Route, "", "", top))
	}
	top = 1
	if len(ov.Keys) > 0 {
		top = max(1, ov.Keys[0].Requests)
	}
	for _, k := range ov.Keys {
		name, sub := k.KeyID, k.Env
		if key, ok := keys[k.KeyID]; ok {
			name, sub = key.Name, key.Prefix+"… · "+string(key.Env)
		}
		kp := url.Values{}
		for kk, v := range params {
			kp[kk] = v
		}
		kp.Set("key", k.KeyID)
		l.Keys = append(l.Keys, breakdownRow(k.Stats, name, sub, base+"?"+kp.Encode(), top))
	}
	return l
}

// codeRows is the error-code breakdown: requests refused with each of our
// error codes, and those answered 4xx or 5xx without one.
func codeRows(codes []analytics.CodeCount, t analytics.Stats, logBase string, q analytics.Query) []av.CodeRow {
	var coded int64
	for _, c := range codes {
		coded += c.Requests
	}
	top := int64(1)
	if len(codes) > 0 {
		top = max(1, codes[0].Requests)
	}
	var rows []av.CodeRow
	w := q.WholeBuckets()
	for _, c := range codes {
		rows = append(rows, av.CodeRow{Code: c.Code, Status: c.Status, Requests: thousands(c.Requests), Share: 100 * float64(c.Requests) / float64(top),
			Percent: percent(float64(c.Requests) / float64(max(1, t.Requests))), Href: logLink(logBase, q, w.From, w.To, "code", c.Code)})
	}
	if other := t.Errors() - coded; other > 0 {
		rows = append(rows, av.CodeRow{Code: "", Requests: thousands(other), Share: min(100, 100*float64(other)/float64(top)),
			Percent: percent(float64(other) / float64(max(1, t.Requests)))})
	}
	return rows
}

func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return thousands(n) + " " + what + "s"
}

func breakdownRow(s analytics.Stats, label, sub, href string, top int64) av.BreakdownRow {
	return av.BreakdownRow{Label: label, Sub: sub, Href: href, Requests: thousands(s.Requests), Share: 100 * float64(s.Requests) / float64(top),
		ErrorRate: percent(s.ErrorRate()), P95: ms(s.Percentile(0.95)), Rejected: thousands(s.RateLimited + s.QuotaRejected)}
}

// quotaView shows this month's pools with a cumulative day-by-day curve and
// a linear projection to the end of the month.
func (h *Handler) quotaView(ctx context.Context, a org.Actor) av.QuotaPanel {
	now := h.Now().UTC()
	period, reset := quota.Period(now)
	start := reset.AddDate(0, -1, 0)
	p := plan.Of(a.Org.Plan)
	qp := av.QuotaPanel{Period: now.Format("January 2006"), Plan: p.Name, Reset: reset.Format("Jan 2") + " 00:00 UTC",
		Note: "Meters show the counters that enforce your quota; the curves are built from the per-day aggregates (requests refused with 429 are not counted)."}
	type pool struct{ label, name, env string }
	pools := []pool{{"Live requests", quota.PoolLive, "live"}, {"Sandbox requests (test keys)", quota.PoolSandbox, "test"}}
	if p.SharedPool {
		pools = []pool{{"All requests (test and live share one pool)", quota.PoolAll, ""}}
	}
	days := int(reset.Sub(start).Hours() / 24)
	elapsed := now.Sub(start).Hours() / 24
	for _, pl := range pools {
		d, err := h.Quota.Peek(ctx, a.Org.ID, p, pl.name)
		if err != nil {
			h.Log.WarnContext(ctx, "quota panel: reading the pool failed", "err", err, "period", period)
		}
		m := av.Meter{Label: pl.label, Used: thousands(d.Used), Limit: thousands(p.Included)}
		projected := int64(float64(d.Used) / max(elapsed, 1.0/24) * float64(days))
		m.Projected = "about " + thousands(projected)
		if p.Unlimited {
			m.Limit = "unlimited"
		} else {
			m.Percent = min(100, 100*float64(d.Used)/float64(max(1, p.Included)))
			m.Over = projected > p.Included
			if m.Over {
				m.Projected += " — past the pool of " + thousands(p.Included)
			}
		}
		ov, err := h.Analytics.Overview(ctx, analytics.Query{OrgID: a.Org.ID, Env: pl.env, Grain: analytics.Day, From: start, To: reset.Add(-time.Nanosecond)})
		if err != nil {
			h.Log.WarnContext(ctx, "quota panel: reading the daily aggregates failed", "err", err)
		}
		var labels, titles, projTitles []string
		var tips []av.Tip
		var used, proj []float64
		var cum int64
		today := int(elapsed)
		rate := float64(d.Used) / max(elapsed, 1.0/24)
		for i, pt := range ov.Series {
			cum += pt.Requests - pt.RateLimited - pt.QuotaRejected
			labels = append(labels, pt.Time.Format("2"))
			if i <= today {
				used = append(used, float64(cum))
				titles = append(titles, fmt.Sprintf("%s: %s used so far", pt.Time.Format("Jan 2"), thousands(cum)))
			}
			v := rate * float64(i+1)
			proj = append(proj, v)
			projTitles = append(projTitles, fmt.Sprintf("%s: projected %s", pt.Time.Format("Jan 2"), thousands(int64(v))))
			tip := av.Tip{Head: interval(pt.Time, analytics.Day)}
			if i <= today {
				tip.Lines = append(tip.Lines, thousands(cum)+" used by the end of the day", plural(pt.Requests-pt.RateLimited-pt.QuotaRejected, "request")+" that day")
			} else {
				tip.Lines = append(tip.Lines, "Projected: "+thousands(int64(v)))
			}
			tips = append(tips, tip)
		}
		m.Curve = av.Lines(av.Narrow, "quota-"+pl.name, pl.label+" this month, day by day", "Cumulative requests per day with a straight-line projection to the end of the month", labels,
			[]av.Series{
				{Name: "Projected", Class: av.StrokeMuted, Values: proj, Titles: projTitles},
				{Name: "Used", Class: av.StrokeStrong, Values: used, Titles: titles},
			},
			func(v float64) string { return av.Compact(int64(v)) },
			av.QuotaLegend).WithTips(tips)
		qp.Meters = append(qp.Meters, m)
	}
	return qp
}

func grainName(g analytics.Grain) string {
	switch g {
	case analytics.Minute:
		return "one minute"
	case analytics.Hour:
		return "one hour"
	}
	return "one day"
}

func tone(bad bool) string {
	if bad {
		return "bad"
	}
	return ""
}

func percent(f float64) string {
	if f == 0 {
		return "0%"
	}
	if f < 0.001 {
		return "<0.1%"
	}
	return strconv.FormatFloat(f*100, 'f', 1, 64) + "%"
}

func ms(d time.Duration) string {
	if d == 0 {
		return "—"
	}
	return strconv.FormatFloat(msFloat(d), 'f', -1, 64) + " ms"
}

func msFloat(d time.Duration) float64 {
	v := float64(d.Microseconds()) / 1000
	switch {
	case v >= 100:
		return float64(int64(v + 0.5))
	case v >= 10:
		return float64(int64(v*10+0.5)) / 10
	}
	return float64(int64(v*100+0.5)) / 100
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return s
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func bytesString(n int64) string {
	switch {
	case n >= 1<<30:
		return strconv.FormatFloat(float64(n)/(1<<30), 'f', 1, 64) + " GB"
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KB"
	}
	return strconv.FormatInt(n, 10) + " B"
}
