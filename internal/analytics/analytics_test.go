package analytics_test

import (
	"context"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/analytics"
	"github.com/clinikapi/clinikapi/internal/store"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
	"github.com/clinikapi/clinikapi/internal/usage"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func record(at time.Time, org, key, env, method, route string, status int, lat time.Duration, code string) usage.Record {
	return usage.Record{Time: at, OrgID: org, KeyID: key, Env: env, Method: method, Route: route, Status: status,
		Latency: lat, BytesIn: 10, BytesOut: 100, RequestID: "req_x", Code: code}
}

func total(t *testing.T, db *store.DB, org string, g analytics.Grain, from, to time.Time) analytics.Stats {
	t.Helper()
	rows, err := db.QueryRollups(context.Background(), analytics.Query{OrgID: org, Grain: g, From: from, To: to}, analytics.ByBucket)
	if err != nil {
		t.Fatalf("QueryRollups: %v", err)
	}
	var s analytics.Stats
	for _, r := range rows {
		s.Add(r.Stats)
	}
	return s
}

func TestRollupCountsEveryRecordOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := storetest.Open(t, engine)
		c := &clock{t: t0.Add(30 * time.Minute)}
		s := &analytics.Service{Store: db, Now: c.Now}

		var recs []usage.Record
		for i := range 120 {
			at := t0.Add(time.Duration(i) * 15 * time.Second)
			status, code := 200, ""
			switch i % 10 {
			case 7:
				status = 404
			case 8:
				status, code = 429, analytics.CodeRateLimited
			case 9:
				status = 500
			}
			key := "key_a"
			if i%3 == 0 {
				key = "key_b"
			}
			recs = append(recs, record(at, "org_1", key, "test", "GET", "/v1/patients", status, time.Duration(i)*time.Millisecond, code))
		}
		recs = append(recs, record(t0, "org_2", "key_z", "live", "POST", "/v1/patients", 201, time.Millisecond, ""))
		if err := db.InsertUsage(ctx, recs); err != nil {
			t.Fatal(err)
		}
		from, to := t0.Add(-time.Hour), t0.Add(2*time.Hour)
		check := func(when string, want int64) {
			t.Helper()
			for _, g := range []analytics.Grain{analytics.Minute, analytics.Hour, analytics.Day} {
				got := total(t, db, "org_1", g, g.Floor(from), to.Add(24*time.Hour))
				if got.Requests != want {
					t.Fatalf("%s: grain %s counts %d requests of org_1, want %d", when, g, got.Requests, want)
				}
			}
		}
		for run := range 3 { // re-running never double counts
			if _, err := s.Rollup(ctx); err != nil {
				t.Fatalf("rollup run %d: %v", run, err)
			}
			check("after run", 120)
		}
		got := total(t, db, "org_1", analytics.Minute, from, to)
		if got.S2xx != 84 || got.S4xx != 24 || got.S5xx != 12 || got.RateLimited != 12 {
			t.Fatalf("status classes = 2xx %d 4xx %d 5xx %d rate-limited %d; want 84 24 12 12", got.S2xx, got.S4xx, got.S5xx, got.RateLimited)
		}
		if o := total(t, db, "org_2", analytics.Minute, from, to); o.Requests != 1 {
			t.Fatalf("org_2 has %d requests, want 1 (tenants must not mix)", o.Requests)
		}

		// A record that arrives late, for a minute long since rolled up,
		// and new traffic after the clock moves on.
		c.t = c.t.Add(20 * time.Minute)
		late := []usage.Record{
			record(t0.Add(time.Minute), "org_1", "key_a", "test", "GET", "/v1/patients", 200, time.Millisecond, ""),
			record(c.t.Add(-time.Second), "org_1", "key_a", "test", "GET", "/v1/patients", 200, time.Millisecond, ""),
		}
		if err := db.InsertUsage(ctx, late); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Rollup(ctx); err != nil {
			t.Fatal(err)
		}
		check("after late records", 122)
		if _, err := s.Rollup(ctx); err != nil {
			t.Fatal(err)
		}
		check("after re-run", 122)

		ov, err := s.Overview(ctx, analytics.Query{OrgID: "org_1", Grain: analytics.Minute, From: t0, To: t0.Add(59 * time.Minute), KeyID: "key_b"})
		if err != nil {
			t.Fatal(err)
		}
		if ov.Total.Requests != 40 || len(ov.Keys) != 1 || ov.Keys[0].KeyID != "key_b" || len(ov.Series) != 60 {
			t.Fatalf("overview for key_b: %d requests, keys %+v, %d points; want 40, [key_b], 60", ov.Total.Requests, ov.Keys, len(ov.Series))
		}
	})
}

func TestPercentileWithinOneBucket(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 50 {
		var s analytics.Stats
		var lats []int64
		for range 1 + rng.IntN(2000) {
			us := int64(rng.ExpFloat64() * float64(1+trial*2000))
			lats = append(lats, us)
			s.AddRecord(usage.Record{Status: 200, Latency: time.Duration(us) * time.Microsecond})
		}
		sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
		for _, p := range []float64{0.5, 0.95, 0.99} {
			exact := lats[int(p*float64(len(lats)-1)+0.5)]
			est := s.Percentile(p).Microseconds()
			if d := analytics.BucketOf(est) - analytics.BucketOf(exact); d < -1 || d > 1 {
				t.Fatalf("trial %d p%.0f: estimate %d µs (bucket %d), exact %d µs (bucket %d)", trial, p*100, est, analytics.BucketOf(est), exact, analytics.BucketOf(exact))
			}
		}
	}
}

func TestPurgeKeepsNinetyDays(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := storetest.Open(t, engine)
		now := t0
		s := &analytics.Service{Store: db, Now: func() time.Time { return now }}
		ages := []time.Duration{91 * 24 * time.Hour, 90*24*time.Hour + time.Minute, 89 * 24 * time.Hour, time.Hour}
		var recs []usage.Record
		for _, a := range ages {
			recs = append(recs, record(now.Add(-a), "org_1", "key_a", "live", "GET", "/v1/patients", 200, time.Millisecond, ""))
		}
		if err := db.InsertUsage(ctx, recs); err != nil {
			t.Fatal(err)
		}
		old := analytics.Row{Grain: analytics.Minute, Bucket: analytics.Minute.Floor(now.Add(-15 * 24 * time.Hour)), OrgID: "org_1", Env: "live", KeyID: "k", Method: "GET", Route: "/r"}
		old.Requests = 1
		kept := old
		kept.Bucket = analytics.Minute.Floor(now.Add(-13 * 24 * time.Hour))
		if err := db.InsertRollups(ctx, []analytics.Row{old, kept}); err != nil {
			t.Fatal(err)
		}
		res, err := s.Purge(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.Counts["records"] != 2 || res.Counts["aggregates"] != 1 {
			t.Fatalf("purge counts = %v; want 2 records and 1 aggregate", res.Counts)
		}
		left, err := db.ListUsage(ctx, analytics.LogFilter{OrgID: "org_1", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(left) != 2 {
			t.Fatalf("%d records left, want the 2 younger than 90 days", len(left))
		}
		for _, r := range left {
			if now.Sub(r.Time) > analytics.RawRetention {
				t.Fatalf("record from %v survived the purge", r.Time)
			}
		}
	})
}

func TestRequestLogFiltersAndCursor(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := storetest.Open(t, engine)
		s := &analytics.Service{Store: db, Now: func() time.Time { return t0 }}
		var recs []usage.Record
		for i := range 25 {
			status := 200
			if i%5 == 0 {
				status = 422
			}
			r := record(t0.Add(time.Duration(i)*time.Second), "org_1", "key_a", "test", "GET", "/v1/patients/:id", status, time.Millisecond, "")
			r.RequestID = "req_" + string(rune('a'+i))
			recs = append(recs, r)
		}
		recs = append(recs, record(t0, "org_2", "key_z", "test", "GET", "/v1/patients/:id", 200, time.Millisecond, ""))
		if err := db.InsertUsage(ctx, recs); err != nil {
			t.Fatal(err)
		}
		var seen []usage.Record
		cursor := ""
		for page := 0; page < 10; page++ {
			rs, next, err := s.RequestLog(ctx, analytics.LogFilter{OrgID: "org_1", Limit: 10, BeforeID: analytics.DecodeCursor(cursor)})
			if err != nil {
				t.Fatal(err)
			}
			seen = append(seen, rs...)
			if next == "" {
				break
			}
			cursor = next
		}
		if len(seen) != 25 {
			t.Fatalf("paged through %d records, want 25", len(seen))
		}
		for i := 1; i < len(seen); i++ {
			if seen[i].ID >= seen[i-1].ID || seen[i].OrgID != "org_1" {
				t.Fatalf("page order broken at %d: %+v after %+v", i, seen[i], seen[i-1])
			}
		}
		errs, _, err := s.RequestLog(ctx, analytics.LogFilter{OrgID: "org_1", StatusClass: 4})
		if err != nil || len(errs) != 5 {
			t.Fatalf("4xx filter: %d records, %v; want 5", len(errs), err)
		}
		one, _, err := s.RequestLog(ctx, analytics.LogFilter{OrgID: "org_1", RequestID: "req_c"})
		if err != nil || len(one) != 1 || one[0].RequestID != "req_c" {
			t.Fatalf("request id filter: %+v, %v", one, err)
		}
		if _, err := s.Request(ctx, "org_2", one[0].ID); err == nil {
			t.Fatal("another organization's record was found")
		}
		if analytics.DecodeCursor("garbage!") != 0 {
			t.Fatal("a bad cursor must restart at the newest record")
		}
	})
}

// Over hourly buckets spanning several days, the route and key breakdowns
// read whole days from the daily aggregates and the partial days at either
// end from the hourly ones: they must add up to the same requests as the
// hourly series.
func TestBreakdownsOverDaysMatchTheSeries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := storetest.Open(t, engine)
		start := t0.Add(-4 * 24 * time.Hour)
		c := &clock{t: t0.Add(time.Hour)}
		s := &analytics.Service{Store: db, Now: c.Now}
		var recs []usage.Record
		for i := range 4 * 24 * 3 { // every 20 minutes for four days
			at := start.Add(time.Duration(i) * 20 * time.Minute)
			route, key := "/v1/patients", "key_a"
			if i%4 == 0 {
				route, key = "/v1/fhir/:type/:id", "key_b"
			}
			recs = append(recs, record(at, "org_1", key, "test", "GET", route, 200, time.Millisecond, ""))
		}
		if err := db.InsertUsage(ctx, recs); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Rollup(ctx); err != nil {
			t.Fatal(err)
		}
		// From 05:00 on the first day to 09:00 three days later: a partial
		// day, two whole days, a partial day.
		q := analytics.Query{OrgID: "org_1", Grain: analytics.Hour, From: start.Add(-5 * time.Hour), To: start.Add(71 * time.Hour)}
		ov, err := s.Overview(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var want int64
		for _, r := range recs {
			if !r.Time.Before(analytics.Hour.Floor(q.From)) && r.Time.Before(q.To.Truncate(time.Hour).Add(time.Hour)) {
				want++
			}
		}
		sum := func(bs []analytics.Breakdown) (n int64) {
			for _, b := range bs {
				n += b.Requests
			}
			return n
		}
		if ov.Total.Requests != want || sum(ov.Routes) != want || sum(ov.Keys) != want {
			t.Fatalf("series %d, routes %d, keys %d requests; want %d each", ov.Total.Requests, sum(ov.Routes), sum(ov.Keys), want)
		}
		if len(ov.Routes) != 2 || len(ov.Keys) != 2 {
			t.Fatalf("routes %+v keys %+v; want two of each", ov.Routes, ov.Keys)
		}
	})
}

func TestRequestLogTimeRangeAndErrorCodes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := storetest.Open(t, engine)
		s := &analytics.Service{Store: db, Now: func() time.Time { return t0.Add(time.Hour) }}
		// One record a minute for 40 minutes; every fourth a 404, every
		// tenth a 429, live from minute 20 on; org_2 has the same codes.
		var recs []usage.Record
		for i := range 40 {
			status, code, env := 200, "", "test"
			switch {
			case i%10 == 0:
				status, code = 429, analytics.CodeRateLimited
			case i%4 == 0:
				status, code = 404, "NOT_FOUND"
			case i == 7:
				status = 500 // no code: not counted by code
			}
			if i >= 20 {
				env = "live"
			}
			r := record(t0.Add(time.Duration(i)*time.Minute), "org_1", "key_"+env, env, "GET", "/v1/patients/:id", status, time.Millisecond, code)
			recs = append(recs, r)
			recs = append(recs, record(t0.Add(time.Duration(i)*time.Minute), "org_2", "key_z", env, "GET", "/v1/patients/:id", status, time.Millisecond, code))
		}
		if err := db.InsertUsage(ctx, recs); err != nil {
			t.Fatal(err)
		}
		list := func(f analytics.LogFilter) []usage.Record {
			t.Helper()
			f.OrgID = "org_1"
			var out []usage.Record
			cursor := ""
			for {
				f.Limit, f.BeforeID = 7, analytics.DecodeCursor(cursor)
				rs, next, err := s.RequestLog(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, rs...)
				if cursor = next; cursor == "" {
					return out
				}
			}
		}
		from, to := t0.Add(5*time.Minute), t0.Add(25*time.Minute)
		in := list(analytics.LogFilter{From: from, To: to})
		if len(in) != 20 {
			t.Fatalf("[5 min, 25 min) holds %d records over the pages, want 20", len(in))
		}
		for _, r := range in {
			if r.Time.Before(from) || !r.Time.Before(to) || r.OrgID != "org_1" {
				t.Fatalf("record at %s outside [%s, %s) or of %s", r.Time, from, to, r.OrgID)
			}
		}
		if n := len(list(analytics.LogFilter{From: from, To: to, Env: "live"})); n != 5 {
			t.Fatalf("live in the range: %d, want 5 (minutes 20-24)", n)
		}
		if n := len(list(analytics.LogFilter{From: from, To: to, Code: "NOT_FOUND"})); n != 4 {
			t.Fatalf("NOT_FOUND in the range: %d, want 4 (minutes 8, 12, 16, 24)", n)
		}
		if n := len(list(analytics.LogFilter{Errors: true})); n != 4+8+1 {
			t.Fatalf("4xx and 5xx: %d, want 13", n)
		}
		codes, err := s.ErrorCodes(ctx, analytics.Query{OrgID: "org_1", From: t0, To: t0.Add(40 * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		want := []analytics.CodeCount{{Code: "NOT_FOUND", Status: 404, Requests: 8}, {Code: analytics.CodeRateLimited, Status: 429, Requests: 4}}
		if len(codes) != 2 || codes[0] != want[0] || codes[1] != want[1] {
			t.Fatalf("error codes %+v, want %+v", codes, want)
		}
		codes, err = s.ErrorCodes(ctx, analytics.Query{OrgID: "org_1", Env: "live", KeyID: "key_live", From: from, To: to})
		if err != nil {
			t.Fatal(err)
		}
		if len(codes) != 2 || codes[0].Code != "NOT_FOUND" || codes[0].Requests != 1 || codes[1].Code != analytics.CodeRateLimited || codes[1].Requests != 1 {
			t.Fatalf("live error codes in the range %+v, want NOT_FOUND (minute 24) and RATE_LIMITED (minute 20) once each", codes)
		}
	})
}

// TestSumUsageCountsAsAddRecord checks that the database's minute sums are
// exactly what Stats.AddRecord makes of the same records: every status
// class, the rejection codes, every latency bucket edge, large byte counts
// and records on either side of a minute boundary and of the range's ends.
func TestSumUsageCountsAsAddRecord(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := storetest.Open(t, engine)
		var lats []time.Duration
		lats = append(lats, 0)
		for _, b := range analytics.Bounds {
			lats = append(lats, time.Duration(b)*time.Microsecond, time.Duration(b+1)*time.Microsecond)
		}
		lats = append(lats, time.Hour)
		statuses := []int{101, 200, 204, 304, 399, 400, 404, 429, 499, 500, 503, 599}
		codes := []string{"", analytics.CodeRateLimited, analytics.CodeMonthlyQuota, analytics.CodeSandboxQuota, "NOT_FOUND"}
		at := []time.Time{
			t0.Add(-time.Microsecond), // before the range
			t0, t0.Add(59*time.Second + 999999*time.Microsecond), t0.Add(time.Minute), t0.Add(90 * time.Second),
			t0.Add(3*time.Minute - time.Microsecond),
			t0.Add(3 * time.Minute), // the range's end: not counted
		}
		r := rand.New(rand.NewPCG(1, 2))
		var recs []usage.Record
		for i := range 400 {
			rec := record(at[i%len(at)], []string{"org_1", "org_2"}[r.IntN(2)], []string{"key_a", "key_b"}[r.IntN(2)], []string{"test", "live"}[r.IntN(2)],
				[]string{"GET", "POST"}[r.IntN(2)], "/v1/patients", statuses[r.IntN(len(statuses))], lats[i%len(lats)], codes[r.IntN(len(codes))])
			rec.BytesIn, rec.BytesOut = r.Int64N(1<<40), r.Int64N(1<<40)
			recs = append(recs, rec)
		}
		if err := db.InsertUsage(ctx, recs); err != nil {
			t.Fatal(err)
		}
		from, to := t0, t0.Add(3*time.Minute)
		type key struct {
			bucket                       time.Time
			org, env, key, method, route string
		}
		want := map[key]analytics.Stats{}
		for _, rec := range recs {
			if rec.Time.Before(from) || !rec.Time.Before(to) {
				continue
			}
			k := key{analytics.Minute.Floor(rec.Time), rec.OrgID, rec.Env, rec.KeyID, rec.Method, rec.Route}
			s := want[k]
			s.AddRecord(rec)
			want[k] = s
		}
		rows, err := db.SumUsage(ctx, from, to)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(want) {
			t.Fatalf("SumUsage made %d aggregates, AddRecord %d", len(rows), len(want))
		}
		for _, row := range rows {
			k := key{row.Bucket, row.OrgID, row.Env, row.KeyID, row.Method, row.Route}
			w, ok := want[k]
			if !ok {
				t.Fatalf("SumUsage made an aggregate AddRecord did not: %+v", k)
			}
			if row.Grain != analytics.Minute || row.Stats != w {
				t.Fatalf("aggregate %+v (grain %q):\n got %+v\nwant %+v", k, row.Grain, row.Stats, w)
			}
		}
	})
}

// TestRollupCountsARecordCommittedAfterAHigherOne: on PostgreSQL several
// instances insert records at once, so a record can commit after one with
// a higher id. The rollup must count it all the same — here a record of a
// minute long past whose transaction is still open while a newer record
// commits and the rollup starts; it waits for that transaction rather than
// moving its watermark past the record.
func TestRollupCountsARecordCommittedAfterAHigherOne(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		if engine != "postgres" {
			t.Skip("one transaction writes at a time on SQLite: ids commit in order")
		}
		ctx := context.Background()
		db := storetest.Open(t, engine)
		now := t0.Add(30 * time.Minute)
		s := &analytics.Service{Store: db, Now: func() time.Time { return now }}
		if err := db.InsertUsage(ctx, []usage.Record{record(now.Add(-20*time.Minute), "org_1", "key_a", "test", "GET", "/v1/patients", 200, time.Millisecond, "")}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Rollup(ctx); err != nil {
			t.Fatal(err)
		}

		tx, err := db.SQL().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `INSERT INTO usage_records (created_at, org_id, key_id, env, method, route, status, latency_us, bytes_in, bytes_out, request_id)
			VALUES ($1, 'org_1', 'key_a', 'test', 'GET', '/v1/patients', 200, 1000, 10, 100, 'req_late')`, now.Add(-10*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := db.InsertUsage(ctx, []usage.Record{record(now.Add(-time.Second), "org_1", "key_a", "test", "GET", "/v1/patients", 200, time.Millisecond, "")}); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := s.Rollup(ctx)
			done <- err
		}()
		select {
		case err := <-done:
			t.Fatalf("the rollup ran while a record below the newest one was uncommitted (err %v)", err)
		case <-time.After(300 * time.Millisecond):
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Minute)
		if _, err := s.Rollup(ctx); err != nil {
			t.Fatal(err)
		}
		if got := total(t, db, "org_1", analytics.Minute, t0, now.Add(time.Hour)); got.Requests != 3 {
			t.Fatalf("minute aggregates count %d requests, want 3 (the record committed late is lost)", got.Requests)
		}
		if got := total(t, db, "org_1", analytics.Day, analytics.Day.Floor(t0), now.Add(48*time.Hour)); got.Requests != 3 {
			t.Fatalf("day aggregates count %d requests, want 3", got.Requests)
		}
	})
}
