package store_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/account"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/random"
	"github.com/clinikapi/clinikapi/internal/store"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
	"github.com/clinikapi/clinikapi/internal/webhook"
)

// webhookDB is a database with an organization and n enabled endpoints.
func webhookDB(t testing.TB, engine string, n int) (*store.DB, []webhook.Endpoint) {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, engine)
	if err := db.CreateUser(ctx, account.User{ID: "usr_a", Email: "a@example.com", CreatedAt: t0}, "hash"); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateOrg(ctx, org.Organization{ID: "org_1", Name: "Acme", Plan: "sandbox", CreatedAt: t0}, "usr_a"); err != nil {
		t.Fatal(err)
	}
	var eps []webhook.Endpoint
	for i := range n {
		e := webhook.Endpoint{ID: "wh_" + strconv.Itoa(i), OrgID: "org_1", URL: "https://example.com/" + strconv.Itoa(i), Events: []string{"*"},
			Secret: "sealed", CreatedAt: t0.Add(time.Duration(i) * time.Second), UpdatedAt: t0}
		if err := db.InsertWebhookEndpoint(ctx, e); err != nil {
			t.Fatal(err)
		}
		eps = append(eps, e)
	}
	return db, eps
}

// tw is t0 as the database keeps times (microseconds).
var tw = t0.Truncate(time.Microsecond)

// queue stores n deliveries for each endpoint, due at t0 + i ms.
func queue(t testing.TB, db *store.DB, eps []webhook.Endpoint, n int) []webhook.Delivery {
	t.Helper()
	var ds []webhook.Delivery
	for i := range n {
		for _, e := range eps {
			due := tw.Add(time.Duration(i) * time.Millisecond)
			ds = append(ds, webhook.Delivery{ID: random.SortableID("whd", due), EndpointID: e.ID, OrgID: e.OrgID, EventID: random.ID("evt"),
				Event: "patient.created", Payload: []byte(`{}`), Status: webhook.Pending, NextAttemptAt: due, CreatedAt: due})
		}
	}
	k, err := db.InsertWebhookDeliveries(context.Background(), ds)
	if err != nil || k != len(ds) {
		t.Fatalf("InsertWebhookDeliveries: %d of %d, %v", k, len(ds), err)
	}
	return ds
}

// TestWebhookBatchClaim: one claim statement takes due deliveries of
// several endpoints, at most PerEndpoint of each and of at most Endpoints
// endpoints, none of a disabled or skipped endpoint; instances claiming at
// once never get the same delivery, and together get them all.
func TestWebhookBatchClaim(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db, eps := webhookDB(t, engine, 4)
		ds := queue(t, db, eps, 25)
		// Again: a relay repeated after a failure makes none twice.
		if k, err := db.InsertWebhookDeliveries(ctx, ds); err != nil || k != 0 {
			t.Fatalf("repeated insert: %d new, %v", k, err)
		}
		now := tw.Add(time.Minute)
		if err := db.SetWebhookEndpointDisabled(ctx, "org_1", eps[3].ID, true, now); err != nil {
			t.Fatal(err)
		}
		got, err := db.ClaimWebhookDeliveries(ctx, webhook.Claim{Holder: "a", Now: now, Until: now.Add(time.Minute), PerEndpoint: 10, Endpoints: 2, Skip: []string{eps[0].ID}})
		if err != nil {
			t.Fatal(err)
		}
		per := map[string]int{}
		for _, d := range got {
			per[d.EndpointID]++
		}
		if len(got) != 20 || per[eps[1].ID] != 10 || per[eps[2].ID] != 10 {
			t.Fatalf("claimed %d: %v; want 10 of each of %s and %s", len(got), per, eps[1].ID, eps[2].ID)
		}
		// Held deliveries are not claimed again before the lease ends.
		again, err := db.ClaimWebhookDeliveries(ctx, webhook.Claim{Holder: "b", Now: now, Until: now.Add(time.Minute), PerEndpoint: 100, Endpoints: 10, Endpoint: eps[1].ID})
		if err != nil || len(again) != 15 {
			t.Fatalf("second claim of %s: %d, %v; want the 15 not held", eps[1].ID, len(again), err)
		}

		// Instances racing for the rest (and, after the leases end, for
		// everything enabled): each delivery goes to one of them.
		later := now.Add(2 * time.Minute)
		owner := map[string]string{}
		var mu sync.Mutex
		// take records a claim of holder's: at most per deliveries of each
		// of at most eps endpoints, none claimed before.
		take := func(holder string, b []webhook.Delivery, per, eps int) {
			mu.Lock()
			defer mu.Unlock()
			count := map[string]int{}
			for _, d := range b {
				if prev, ok := owner[d.ID]; ok {
					t.Errorf("%s claimed by %s and %s", d.ID, prev, holder)
				}
				owner[d.ID] = holder
				count[d.EndpointID]++
			}
			for e, n := range count {
				if n > per || len(count) > eps {
					t.Errorf("one claim of %s took %d of %s's deliveries over %d endpoints, want at most %d of at most %d", holder, n, e, len(count), per, eps)
				}
			}
		}
		// race has 6 instances claim with c until nothing is left.
		race := func(prefix string, c webhook.Claim) {
			var wg sync.WaitGroup
			for i := range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := c
					c.Holder = prefix + strconv.Itoa(i)
					for {
						b, err := db.ClaimWebhookDeliveries(ctx, c)
						if err != nil {
							t.Error(err)
							return
						}
						if len(b) == 0 {
							return
						}
						take(c.Holder, b, c.PerEndpoint, c.Endpoints)
					}
				}()
			}
			wg.Wait()
		}
		race("inst", webhook.Claim{Now: later, Until: later.Add(time.Minute), PerEndpoint: 3, Endpoints: 2})
		if len(owner) != 75 {
			t.Fatalf("racing instances claimed %d deliveries, want the 75 of the enabled endpoints", len(owner))
		}

		// Workers of several instances racing for one endpoint's
		// deliveries (FOR UPDATE SKIP LOCKED on PostgreSQL): each claim
		// stays within its size, each delivery goes to one of them.
		more := queue(t, db, eps[:1], 40)
		latest := later.Add(time.Hour)
		clear(owner)
		race("worker", webhook.Claim{Now: latest, Until: latest.Add(time.Minute), PerEndpoint: 4, Endpoints: 1, Endpoint: eps[0].ID})
		if len(owner) != len(more)+25 {
			t.Fatalf("racing workers claimed %d deliveries, want the %d of %s", len(owner), len(more)+25, eps[0].ID)
		}
	})
}

// TestWebhookBatchFinish: one finish records a mix of outcomes, each as
// it came out: a success, a failure retried later, a last failure, a
// refusal, a delivery whose lease another instance took meanwhile (logged,
// its state left to that instance) and one deleted meanwhile (not logged).
func TestWebhookBatchFinish(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db, eps := webhookDB(t, engine, 2)
		ds := queue(t, db, eps[:1], 5)
		gone := queue(t, db, eps[1:], 1)[0]
		now := tw.Add(time.Minute)
		claim := func(holder string, at time.Time) []webhook.Delivery {
			got, err := db.ClaimWebhookDeliveries(ctx, webhook.Claim{Holder: holder, Now: at, Until: at.Add(time.Minute), PerEndpoint: 10, Endpoints: 10})
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		if got := claim("a", now); len(got) != 6 {
			t.Fatalf("claimed %d, want 6", len(got))
		}
		// The lease of ds[4] runs out and b takes it; gone's endpoint is
		// deleted with its deliveries.
		if _, err := db.SQL().ExecContext(ctx, `UPDATE webhook_deliveries SET lease_until = $1 WHERE id = $2`, now, ds[4].ID); err != nil {
			t.Fatal(err)
		}
		if got := claim("b", now.Add(time.Second)); len(got) != 1 || got[0].ID != ds[4].ID {
			t.Fatalf("b claimed %v, want %s", got, ds[4].ID)
		}
		if err := db.DeleteWebhookEndpoint(ctx, "org_1", eps[1].ID); err != nil {
			t.Fatal(err)
		}
		retry := now.Add(webhook.Retries[0])
		at := func(d webhook.Delivery, n int, o webhook.Status, next time.Time) webhook.Attempt {
			return webhook.Attempt{ID: random.SortableID("wha", now), DeliveryID: d.ID, EndpointID: d.EndpointID, OrgID: d.OrgID, EventID: d.EventID,
				Event: d.Event, Attempt: n, At: now, Outcome: o, StatusCode: 500, Latency: time.Millisecond, Error: "HTTP 500", NextAttemptAt: next}
		}
		as := []webhook.Attempt{
			at(ds[0], 1, webhook.Succeeded, time.Time{}),
			at(ds[1], 1, webhook.Failed, retry),
			at(ds[2], 6, webhook.Failed, time.Time{}),
			at(ds[3], 1, webhook.Refused, time.Time{}),
			at(ds[4], 1, webhook.Succeeded, time.Time{}),
			at(gone, 1, webhook.Succeeded, time.Time{}),
		}
		if err := db.FinishWebhookAttempts(ctx, "a", as, now); err != nil {
			t.Fatal(err)
		}
		want := []struct {
			status   webhook.Status
			attempts int
			next     time.Time
		}{
			{webhook.Succeeded, 1, ds[0].NextAttemptAt},
			{webhook.Pending, 1, retry},
			{webhook.Failed, 6, ds[2].NextAttemptAt},
			{webhook.Refused, 1, ds[3].NextAttemptAt},
			{webhook.Pending, 0, ds[4].NextAttemptAt}, // b's
		}
		for i, w := range want {
			d, err := db.WebhookDelivery(ctx, "org_1", ds[i].ID)
			if err != nil {
				t.Fatal(err)
			}
			if d.Status != w.status || d.Attempts != w.attempts || !d.NextAttemptAt.Equal(w.next) {
				t.Errorf("delivery %d: %s, %d attempts, next %s; want %s, %d, %s", i, d.Status, d.Attempts, d.NextAttemptAt, w.status, w.attempts, w.next)
			}
		}
		log, err := db.WebhookAttempts(ctx, webhook.AttemptFilter{OrgID: "org_1", Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		logged := map[string]webhook.Attempt{}
		for _, a := range log {
			logged[a.DeliveryID] = a
		}
		if len(log) != 5 || logged[gone.ID].ID != "" {
			t.Fatalf("logged %d attempts (deleted delivery's: %v), want the 5 of the existing deliveries", len(log), logged[gone.ID].ID != "")
		}
		if a := logged[ds[1].ID]; a.Outcome != webhook.Failed || !a.NextAttemptAt.Equal(retry) || a.StatusCode != 500 || a.Error != "HTTP 500" || a.Latency != time.Millisecond {
			t.Errorf("retried attempt logged as %+v", a)
		}
		// The retry is claimable again once due, and not before.
		if got := claim("c", retry.Add(-time.Second)); len(got) != 0 {
			t.Fatalf("claimed %d before the retry is due", len(got))
		}
		if got := claim("c", retry.Add(2*time.Minute)); len(got) != 2 {
			t.Fatalf("after the retry's time claimed %d, want the retry and b's lapsed lease", len(got))
		}
	})
}

// BenchmarkWebhookCycle is the SQL of one delivery's life in small
// batches as a stream of creates makes them: the relay's insert, the
// claim, the finish (3 endpoints, 10 events a batch).
func BenchmarkWebhookCycle(b *testing.B) {
	for _, engine := range storetest.Targets(b) {
		b.Run(engine, func(b *testing.B) {
			ctx := context.Background()
			db, eps := webhookDB(b, engine, 3)
			now := tw.Add(time.Hour)
			b.ResetTimer()
			for range b.N {
				queue(b, db, eps, 10)
				got, err := db.ClaimWebhookDeliveries(ctx, webhook.Claim{Holder: "a", Now: now, Until: now.Add(time.Minute), PerEndpoint: 32, Endpoints: 32})
				if err != nil || len(got) != 30 {
					b.Fatalf("claimed %d, %v", len(got), err)
				}
				as := make([]webhook.Attempt, len(got))
				for i, d := range got {
					as[i] = webhook.Attempt{ID: random.SortableID("wha", now), DeliveryID: d.ID, EndpointID: d.EndpointID, OrgID: d.OrgID,
						EventID: d.EventID, Event: d.Event, Attempt: 1, At: now, Outcome: webhook.Succeeded, StatusCode: 204}
				}
				if err := db.FinishWebhookAttempts(ctx, "a", as, now); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(30*b.N)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}
