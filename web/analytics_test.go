package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/analytics"
	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/bench"
	"github.com/clinikapi/clinikapi/internal/jobs"
	"github.com/clinikapi/clinikapi/internal/usage"
)

// runJob flushes the buffers and runs a job now, waiting out a run the
// background runner may have started at the same moment.
func runJob(t *testing.T, env *apptest.Env, kind string) jobs.Run {
	t.Helper()
	ctx := context.Background()
	if err := env.App.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		run, err := env.App.Jobs.RunNow(ctx, kind)
		if errors.Is(err, jobs.ErrBusy) {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		return run
	}
	t.Fatalf("%s stayed busy", kind)
	return jobs.Run{}
}

// TestAnalyticsTotalsMatchGeneratedTraffic drives the real server with the
// load generator from two keys, then checks that the overview counts every
// request once, per status class and per key, and that percentiles from
// the histograms land within one bucket of the exact ones.
func TestAnalyticsTotalsMatchGeneratedTraffic(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		ctx := context.Background()
		owner := env.Browser()
		orgID := owner.SignUp("", "traffic@example.com", pw, "Traffic Clinic")
		setPlan(t, env, orgID, "team")
		all, err := env.App.Keys.Create(ctx, apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "backend", Env: apikey.Test})
		if err != nil {
			t.Fatal(err)
		}
		read, err := env.App.Keys.Create(ctx, apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "reporting", Env: apikey.Live, Scope: apikey.ScopeRead})
		if err != nil {
			t.Fatal(err)
		}
		targets := []bench.Target{
			{Name: "search", URL: env.Server.URL + "/v1/patients", Headers: map[string]string{"x-api-key": all.Secret}},
			{Name: "missing", URL: env.Server.URL + "/v1/patients/pt_missing", Headers: map[string]string{"x-api-key": read.Secret}},
			{Name: "forbidden", URL: env.Server.URL + "/v1/patients", Method: "POST", Body: []byte(`{}`), Headers: map[string]string{"x-api-key": read.Secret, "Content-Type": "application/json"}},
		}
		sent := map[string]map[int]int{} // key id → status → count
		var total int
		for i, tg := range targets {
			res := bench.Run(ctx, tg, 4, time.Second, 0) // long enough for a first answer on a loaded machine
			if res.Requests == 0 || res.Errors != 0 {
				t.Fatalf("load %s: %d requests, %d errors", tg.Name, res.Requests, res.Errors)
			}
			key := all.Key.ID
			if i > 0 {
				key = read.Key.ID
			}
			if sent[key] == nil {
				sent[key] = map[int]int{}
			}
			for st, n := range res.Statuses {
				sent[key][st] += n
				total += n
			}
		}
		// Responses reach the client before their usage record is buffered,
		// and a background flush may be writing: wait until every one is stored.
		deadline := time.Now().Add(20 * time.Second)
		for {
			if err := env.App.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			var n int
			env.App.DB.SQL().QueryRow(`SELECT COUNT(*) FROM usage_records WHERE org_id = $1`, orgID).Scan(&n)
			if n == total {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d usage records stored, %d requests sent", n, total)
			}
			time.Sleep(20 * time.Millisecond)
		}
		runJob(t, env, analytics.JobRollup)

		now := env.Clock.Now()
		ov, err := env.App.Analytics.Overview(ctx, analytics.Query{OrgID: orgID, Grain: analytics.Minute, From: now.Add(-time.Hour), To: now.Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		var want2, want4, want5 int64
		for _, m := range sent {
			for st, n := range m {
				switch {
				case st >= 500:
					want5 += int64(n)
				case st >= 400:
					want4 += int64(n)
				default:
					want2 += int64(n)
				}
			}
		}
		if ov.Total.Requests != int64(total) || ov.Total.S2xx != want2 || ov.Total.S4xx != want4 || ov.Total.S5xx != want5 {
			t.Fatalf("overview: %d requests (2xx %d, 4xx %d, 5xx %d); sent %d (2xx %d, 4xx %d, 5xx %d) %v",
				ov.Total.Requests, ov.Total.S2xx, ov.Total.S4xx, ov.Total.S5xx, total, want2, want4, want5, sent)
		}
		for _, k := range ov.Keys {
			var n int
			for _, c := range sent[k.KeyID] {
				n += c
			}
			if k.Requests != int64(n) {
				t.Fatalf("key %s: overview counts %d, sent %d", k.KeyID, k.Requests, n)
			}
		}
		if len(ov.Keys) != 2 {
			t.Fatalf("overview lists %d keys, want 2", len(ov.Keys))
		}

		// Percentiles from the histogram vs the exact ones from raw records.
		rows, err := env.App.DB.SQL().Query(`SELECT latency_us FROM usage_records WHERE org_id = $1`, orgID)
		if err != nil {
			t.Fatal(err)
		}
		var lats []int64
		for rows.Next() {
			var us int64
			rows.Scan(&us)
			lats = append(lats, us)
		}
		rows.Close()
		if len(lats) != total {
			t.Fatalf("%d raw records, sent %d", len(lats), total)
		}
		sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
		for _, p := range []float64{0.5, 0.95, 0.99} {
			exact := lats[int(p*float64(len(lats)-1)+0.5)]
			est := ov.Total.Percentile(p).Microseconds()
			if d := analytics.BucketOf(est) - analytics.BucketOf(exact); d < -1 || d > 1 {
				t.Fatalf("p%.0f: histogram says %d µs, raw records %d µs: more than one bucket apart", p*100, est, exact)
			}
		}

		// The page shows the same total; the poll fragment too.
		page := owner.Get("/o/" + orgID + "/analytics?range=1h&table=1")
		wantStatus(t, "analytics page", page, http.StatusOK)
		stat := regexp.MustCompile(`data-stat="Requests">([0-9,]+)<`).FindStringSubmatch(page.Body)
		if stat == nil || strings.ReplaceAll(stat[1], ",", "") != strconv.Itoa(total) {
			t.Fatalf("page's Requests figure %v, want %d", stat, total)
		}
		for _, want := range []string{`hx-trigger="every 5s"`, `<title id="chart-requests-title">`, `data-testid="series-table"`, "/v1/patients/:id", "reporting"} {
			if !strings.Contains(page.Body, want) {
				t.Fatalf("analytics page lacks %q", want)
			}
		}
		owner.Headers["HX-Request"] = "true"
		frag := owner.Get("/o/" + orgID + "/analytics?range=1h")
		delete(owner.Headers, "HX-Request")
		if !strings.HasPrefix(strings.TrimSpace(frag.Body), `<div id="analytics-live"`) || strings.Contains(frag.Body, "<html") {
			t.Fatalf("the poll did not get the live fragment alone:\n%.300s", frag.Body)
		}
		// Filtered by key: only that key's requests.
		keyPage := owner.Get("/o/" + orgID + "/analytics?range=1h&key=" + all.Key.ID)
		stat = regexp.MustCompile(`data-stat="Requests">([0-9,]+)<`).FindStringSubmatch(keyPage.Body)
		var allSent int
		for _, n := range sent[all.Key.ID] {
			allSent += n
		}
		if stat == nil || strings.ReplaceAll(stat[1], ",", "") != strconv.Itoa(allSent) {
			t.Fatalf("key-filtered Requests figure %v, want %d", stat, allSent)
		}
		// Each key's row in the keys list links to its analytics.
		if !strings.Contains(owner.Get("/o/"+orgID+"/keys").Body, "/o/"+orgID+"/analytics?key="+all.Key.ID) {
			t.Fatal("the keys list does not link to the key's analytics")
		}

		// The request log: newest first, metadata only, cursor paging.
		r := owner.Get("/o/" + orgID + "/requests?status=4")
		wantStatus(t, "request log", r, http.StatusOK)
		if strings.Contains(r.Body, "pt_missing") || strings.Contains(r.Body, all.Secret) || strings.Contains(r.Body, read.Secret) {
			t.Fatal("the request log shows more than metadata")
		}
		if n := strings.Count(r.Body, `href="/o/`+orgID+`/requests/`); n != min(50, int(want4)) {
			t.Fatalf("request log page lists %d 4xx requests, want %d", n, min(50, int(want4)))
		}
		if want4 > 50 && !strings.Contains(r.Body, "cursor=") {
			t.Fatal("no link to older requests")
		}
		id := regexp.MustCompile(`href="/o/` + orgID + `/requests/(\d+)"`).FindStringSubmatch(r.Body)
		d := owner.Get("/o/" + orgID + "/requests/" + id[1])
		wantStatus(t, "request detail", d, http.StatusOK)
		wantText(t, "request detail", d, "/v1/patients", "reporting")
	})
}

func TestAnalyticsEmptyStateAndRoles(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		owner := env.Browser()
		orgID := owner.SignUp("", "roles@example.com", pw, "Roles Clinic")
		k, err := env.App.Keys.Create(context.Background(), apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "backend", Env: apikey.Test})
		if err != nil {
			t.Fatal(err)
		}
		r := owner.Get("/o/" + orgID + "/analytics")
		wantStatus(t, "empty analytics", r, http.StatusOK)
		wantText(t, "empty analytics", r, "No API requests yet", "curl", k.Key.Prefix)
		if strings.Contains(r.Body, k.Secret) {
			t.Fatal("the empty state shows the key's secret")
		}

		dev := join(t, env, invite(t, owner, orgID, "dev@example.com", "developer"), "dev@example.com")
		bill := join(t, env, invite(t, owner, orgID, "bill@example.com", "billing"), "bill@example.com")
		base := "/o/" + orgID
		wantStatus(t, "developer analytics", dev.Get(base+"/analytics"), http.StatusOK)
		wantStatus(t, "developer request log", dev.Get(base+"/requests"), http.StatusOK)
		wantStatus(t, "developer audit log", dev.Get(base+"/audit"), http.StatusForbidden)
		wantStatus(t, "developer audit export", dev.Get(base+"/audit/export?format=csv"), http.StatusForbidden)
		wantStatus(t, "billing request log", bill.Get(base+"/requests"), http.StatusForbidden)
		wantStatus(t, "billing request detail", bill.Get(base+"/requests/1"), http.StatusForbidden)
		wantStatus(t, "billing audit log", bill.Get(base+"/audit"), http.StatusForbidden)
		wantStatus(t, "billing audit export", bill.Get(base+"/audit/export?format=ndjson"), http.StatusForbidden)
		if body := bill.Get(base).Body; strings.Contains(body, `href="`+base+`/requests"`) || strings.Contains(body, `href="`+base+`/audit"`) {
			t.Fatal("a billing admin sees links to the request log or audit log")
		}
		stranger := env.Browser()
		stranger.SignUp("", "stranger@example.com", pw, "Elsewhere")
		wantStatus(t, "outsider analytics", stranger.Get(base+"/analytics"), http.StatusNotFound)
		wantStatus(t, "outsider request log", stranger.Get(base+"/requests"), http.StatusNotFound)
	})
}

// TestUsagePurgeJob runs the purge with the program's clock: records older
// than 90 days go, younger ones stay, and the run is audited and on /ready.
func TestUsagePurgeJob(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		ctx := context.Background()
		now := env.Clock.Now()
		var recs []usage.Record
		for _, age := range []time.Duration{120 * 24 * time.Hour, 91 * 24 * time.Hour, 89 * 24 * time.Hour, time.Minute} {
			recs = append(recs, usage.Record{Time: now.Add(-age), OrgID: "org_p", KeyID: "key_p", Env: "live", Method: "GET", Route: "/v1/patients", Status: 200, RequestID: "req_p"})
		}
		if err := env.App.DB.InsertUsage(ctx, recs); err != nil {
			t.Fatal(err)
		}
		// The background runner may purge first: judge by what is left and
		// by the audit trail's counts, not by which run did it.
		purged := func() int {
			t.Helper()
			events, err := env.App.Audit.List(ctx, audit.Filter{Action: analytics.PurgeAction})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, e := range events {
				if e.ActorType != audit.ActorSystem || e.ActorID != analytics.JobPurge {
					t.Fatalf("purge audited as %s %s", e.ActorType, e.ActorID)
				}
				d, _ := strconv.Atoi(e.Detail["records_deleted"])
				n += d
			}
			return n
		}
		if run := runJob(t, env, analytics.JobPurge); !run.OK {
			t.Fatalf("purge run: %+v", run)
		}
		left, err := env.App.DB.ListUsage(ctx, analytics.LogFilter{OrgID: "org_p", Limit: 10})
		if err != nil || len(left) != 2 || purged() != 2 {
			t.Fatalf("after the purge %d records left (%v), audit says %d deleted; want 2 left, 2 deleted", len(left), err, purged())
		}
		// Moving the clock on 2 more days purges the next one.
		env.Clock.Advance(2 * 24 * time.Hour)
		runJob(t, env, analytics.JobPurge)
		left, _ = env.App.DB.ListUsage(ctx, analytics.LogFilter{OrgID: "org_p", Limit: 10})
		if len(left) != 1 || purged() != 3 {
			t.Fatalf("two days later %d records left, audit says %d deleted; want 1 and 3", len(left), purged())
		}
		res, err := http.Get(env.Server.URL + "/ready")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body struct {
			Jobs map[string]struct {
				OK      bool   `json:"ok"`
				Summary string `json:"summary"`
			} `json:"jobs"`
		}
		json.NewDecoder(res.Body).Decode(&body)
		if j, ok := body.Jobs[analytics.JobPurge]; !ok || !j.OK || !strings.Contains(j.Summary, "request records older than") {
			t.Fatalf("/ready jobs: %+v", body.Jobs)
		}
	})
}

func TestAuditLogFiltersAndExport(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		ctx := context.Background()
		owner := env.Browser()
		orgID := owner.SignUp("", "auditor@example.com", pw, "Audit Clinic")
		invite(t, owner, orgID, "a@example.com", "developer")
		invite(t, owner, orgID, "b@example.com", "billing")
		// 1,100 events at one instant: the export pages through them
		// without losing or repeating any.
		at := env.Clock.Now().Add(-48 * time.Hour)
		var bulk []audit.Event
		for i := range 1100 {
			bulk = append(bulk, audit.Event{ID: "aud_bulk" + strconv.Itoa(10000+i), OrgID: orgID, ActorType: audit.ActorAPIKey, ActorID: "key_x",
				Action: "resource.read", TargetType: "Patient", TargetID: "pt_" + strconv.Itoa(i), Outcome: audit.Success, CreatedAt: at})
		}
		if err := env.App.DB.InsertAuditEvents(ctx, bulk); err != nil {
			t.Fatal(err)
		}
		base := "/o/" + orgID + "/audit"
		r := owner.Get(base + "?action=member.invited")
		wantStatus(t, "filtered audit log", r, http.StatusOK)
		if n := strings.Count(r.Body, ">member.invited<"); n != 2 {
			t.Fatalf("action filter shows %d member.invited rows, want 2", n)
		}
		if strings.Contains(r.Body, ">resource.read<") {
			t.Fatal("action filter shows other actions")
		}
		day := at.Format("2006-01-02")
		r = owner.Get(base + "?from=" + day + "&to=" + day)
		if strings.Count(r.Body, ">resource.read<") != 50 || strings.Contains(r.Body, ">member.invited<") || !strings.Contains(r.Body, "before_id=") {
			t.Fatalf("date filter: want one page of the bulk events only, with a next link")
		}

		csvRes := owner.Get(base + "/export?format=csv&action=member.invited")
		wantStatus(t, "csv export", csvRes, http.StatusOK)
		lines := strings.Split(strings.TrimSpace(csvRes.Body), "\n")
		if !strings.HasPrefix(csvRes.Header.Get("Content-Type"), "text/csv") || len(lines) != 3 || !strings.HasPrefix(lines[0], "time,actor_type") ||
			!strings.Contains(csvRes.Header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("csv export: %s\n%s", csvRes.Header, csvRes.Body)
		}
		nd := owner.Get(base + "/export?format=ndjson")
		wantStatus(t, "ndjson export", nd, http.StatusOK)
		seen := map[string]bool{}
		bulkSeen := 0
		for _, line := range strings.Split(strings.TrimSpace(nd.Body), "\n") {
			var e struct {
				Action   string `json:"action"`
				TargetID string `json:"targetId"`
			}
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("ndjson line %q: %v", line, err)
			}
			if e.Action == "resource.read" {
				if seen[e.TargetID] {
					t.Fatalf("event for %s exported twice", e.TargetID)
				}
				seen[e.TargetID] = true
				bulkSeen++
			}
		}
		if bulkSeen != 1100 {
			t.Fatalf("ndjson export has %d of the 1,100 same-instant events", bulkSeen)
		}
		wantStatus(t, "bad format", owner.Get(base+"/export?format=xml"), http.StatusUnprocessableEntity)
		events, err := env.App.Audit.List(ctx, audit.Filter{OrgID: orgID, Action: audit.AuditLogExported})
		formats := map[string]string{}
		for _, e := range events {
			formats[e.Detail["format"]] = e.Detail["action"]
		}
		if err != nil || len(events) != 2 || formats["csv"] != "member.invited" || formats["ndjson"] != "" || len(formats) != 2 {
			t.Fatalf("exports audited (want one csv filtered by action, one ndjson): %+v %v", events, err)
		}
	})
}

func TestMetricsEndpoint(t *testing.T) {
	get := func(env *apptest.Env, auth string) (int, string) {
		req, _ := http.NewRequest("GET", env.Server.URL+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	off := apptest.New(t, "sqlite", nil)
	if st, _ := get(off, "Bearer anything-at-all-1234"); st != http.StatusNotFound {
		t.Fatalf("/metrics without a configured token: %d, want 404", st)
	}

	const token = "metrics-token-0123456789abcdef"
	env := apptest.New(t, "sqlite", map[string]string{"CLINIKAPI_METRICS_TOKEN": token})
	_, k := newOrgWithKey(t, env, "metrics@example.com", apikey.ScopeAll)
	for range 3 {
		apiCall(t, env, "GET", "/v1/patients", k.Secret, nil)
	}
	runJob(t, env, analytics.JobRollup)
	if st, _ := get(env, ""); st != http.StatusUnauthorized {
		t.Fatalf("/metrics without the token: %d, want 401", st)
	}
	if st, _ := get(env, "Bearer wrong-token-0123456789abcdef"); st != http.StatusUnauthorized {
		t.Fatalf("/metrics with a wrong token: %d, want 401", st)
	}
	st, body := get(env, "Bearer "+token)
	if st != http.StatusOK {
		t.Fatalf("/metrics with the token: %d", st)
	}
	for _, want := range []string{
		`clinikapi_http_requests_total{class="api",code="2xx"} 3`,
		`clinikapi_http_request_duration_seconds_count{class="api"} 3`,
		`clinikapi_http_request_duration_seconds_bucket{class="api",le="+Inf"} 3`,
		"# TYPE clinikapi_usage_buffer_depth gauge",
		"clinikapi_http_requests_in_flight 1", // the scrape itself
		`clinikapi_job_last_success{kind="usage.rollup"} 1`,
		"# TYPE clinikapi_read_cache_bytes gauge",
		"# TYPE clinikapi_datastore_queue_waiting gauge",
		"# TYPE clinikapi_datastore_queue_wait_seconds gauge",
		"# TYPE go_memstats_heap_inuse_bytes gauge",
		"# TYPE go_goroutines gauge",
	} {
		if !strings.Contains(body, want) {
			t.Fatalf("/metrics lacks %q:\n%s", want, body)
		}
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, "go_memstats_heap_inuse_bytes "); ok && (v == "0" || v == "") {
			t.Fatalf("heap in use reads %q", v)
		}
	}
	if strings.Contains(body, k.Secret) || strings.Contains(body, "metrics@example.com") {
		t.Fatal("/metrics leaks a key or an e-mail")
	}
}

// TestRequestLogTimeRange: a preset or custom range combines with the other
// filters, stays in the URL, and older pages keep the window of the first.
func TestRequestLogTimeRange(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		ctx := context.Background()
		owner := env.Browser()
		orgID := owner.SignUp("", "ranges@example.com", pw, "Range Clinic")
		k, err := env.App.Keys.Create(ctx, apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "backend", Env: apikey.Test})
		if err != nil {
			t.Fatal(err)
		}
		// A request every minute for three hours, every third one a 404.
		now := env.Clock.Now().UTC()
		var recs []usage.Record
		for m := 180; m >= 1; m-- { // oldest first, as they arrive
			status, code := 200, ""
			if m%3 == 0 {
				status, code = 404, "NOT_FOUND"
			}
			recs = append(recs, usage.Record{Time: now.Add(-time.Duration(m) * time.Minute), OrgID: orgID, KeyID: k.Key.ID, Env: "test",
				Method: "GET", Route: "/v1/patients/:id", Status: status, Latency: time.Millisecond, RequestID: fmt.Sprintf("req_%03d", m), Code: code})
		}
		if err := env.App.DB.InsertUsage(ctx, recs); err != nil {
			t.Fatal(err)
		}
		rowRe := regexp.MustCompile(`href="/o/` + orgID + `/requests/\d+"[^>]*>(req_\d+)<`)
		ids := func(body string) []string {
			var out []string
			for _, m := range rowRe.FindAllStringSubmatch(body, -1) {
				out = append(out, m[1])
			}
			return out
		}
		base := "/o/" + orgID + "/requests"

		// The last two hours, 404s only: minutes 3, 6, …, 120 (40), over
		// a first page of 50 and no second one.
		r := owner.Get(base + "?range=custom&from=" + url.QueryEscape(now.Add(-2*time.Hour).Format("2006-01-02T15:04")) + "&to=" + url.QueryEscape(now.Format("2006-01-02T15:04")) + "&status=4")
		wantStatus(t, "custom range", r, http.StatusOK)
		if got := ids(r.Body); len(got) != 40 || got[0] != "req_003" || got[39] != "req_120" {
			t.Fatalf("custom range, 4xx: %d rows %v…, want req_003 … req_120", len(got), got[:min(3, len(got))])
		}
		for _, want := range []string{`<option value="custom" selected>`, `<option value="4" selected>`} {
			if !strings.Contains(r.Body, want) {
				t.Fatalf("custom range: the form does not keep %s", want)
			}
		}

		// Last 24 hours, every status: 180 records over four pages; each
		// older page keeps the first page's window and the other filters.
		r = owner.Get(base + "?range=24h&code=&method=GET")
		var seen []string
		for page := 0; page < 6; page++ {
			wantStatus(t, "paging", r, http.StatusOK)
			seen = append(seen, ids(r.Body)...)
			next := regexp.MustCompile(`href="([^"]+)"[^>]*rel="next"`).FindStringSubmatch(r.Body)
			if next == nil {
				break
			}
			u, err := url.Parse(html.UnescapeString(next[1]))
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			if q.Get("range") != "custom" || q.Get("from") != now.Add(-24*time.Hour).Format("2006-01-02T15:04") || q.Get("method") != "GET" || q.Get("cursor") == "" {
				t.Fatalf("next page link %s does not keep the window and filters", u)
			}
			r = owner.Get(u.String())
		}
		if len(seen) != 180 || seen[0] != "req_001" || seen[179] != "req_180" {
			t.Fatalf("paged through %d records (%v … ), want all 180 newest first", len(seen), seen[:min(2, len(seen))])
		}

		// The last hour of one error code; an unreadable range means any time.
		r = owner.Get(base + "?range=1h&code=NOT_FOUND")
		if got := ids(r.Body); len(got) != 20 { // minutes 3 … 60 (the window starts at minute 60)
			t.Fatalf("last hour of NOT_FOUND: %d rows, want 20", len(got))
		}
		if !strings.Contains(r.Body, `<option value="NOT_FOUND" selected>`) {
			t.Fatal("code filter: the form does not keep the code")
		}
		r = owner.Get(base + "?range=custom&from=yesterday&to=")
		if got := ids(r.Body); len(got) != 50 {
			t.Fatalf("an unreadable custom range: %d rows, want the newest 50 of any time", len(got))
		}
	})
}
