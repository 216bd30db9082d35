package web_test

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/random"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
	"github.com/clinikapi/clinikapi/internal/webhook"
)

// countingReceiver is a fast local HTTPS receiver that only counts.
func countingReceiver(b *testing.B) (*receiver, *atomic.Int64) {
	var n atomic.Int64
	rcv := &receiver{}
	rcv.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(rcv.srv.Close)
	return rcv, &n
}

// createBench is one server of BenchmarkWebhookCreates: an organization
// with a key and endpoints subscribed to every event.
type createBench struct {
	h      http.Handler
	secret string
}

func newCreateBench(b *testing.B, engine string, rcv *receiver, endpoints int) createBench {
	env, _ := webhookEnv(b, engine, rcv, true, nil)
	ctx := context.Background()
	_, o, err := env.App.CreateUser(ctx, "bench@example.com", pw, "", "Bench")
	if err != nil {
		b.Fatal(err)
	}
	env.App.DB.SetOrgLimits(ctx, o.ID, "enterprise", 1_000_000_000, time.Now())
	k, _ := env.App.Keys.Create(ctx, apikey.Actor{OrgID: o.ID}, apikey.CreateInput{Name: "bench", Env: apikey.Test})
	for i := range endpoints {
		addEndpoint(b, env, o.ID, webhook.Input{URL: rcv.url("/e" + strconv.Itoa(i)), Events: "*"})
	}
	return createBench{h: env.App.HTTP, secret: k.Secret}
}

// round makes n creates from clients concurrent clients and returns how
// long they took.
func (cb createBench) round(b *testing.B, n, clients int) time.Duration {
	body := `{"resourceType":"Patient","active":true,"name":[{"family":"Bench","given":["Mark"]}],"gender":"male","birthDate":"1970-01-01"}`
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				req := httptest.NewRequest(http.MethodPost, "/v1/fhir/Patient", strings.NewReader(body))
				req.Header.Set("x-api-key", cb.secret)
				req.Header.Set("Content-Type", "application/fhir+json")
				w := httptest.NewRecorder()
				cb.h.ServeHTTP(w, req)
				if w.Code != http.StatusCreated {
					b.Errorf("status %d: %s", w.Code, w.Body)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// BenchmarkWebhookCreates is the cost of webhooks to the write path:
// FHIR creates on two servers side by side, one whose organization has no
// endpoint and one with three endpoints subscribed to every event (a fast
// local receiver), the deliveries running in the background as in
// production. Each iteration is a pair of rounds of the same creates, one
// on each server, their order alternating, so that the load of a shared
// machine falls on both alike; the cost is 1 − (creates/s with endpoints
// ÷ creates/s without) over all rounds, with the lowest and highest of
// the pairs' costs. A round with endpoints ends when its deliveries are
// all made, so no round inherits another's backlog; cost-delivered-%
// counts that wait too (what a sustained stream of creates pays when the
// deliveries must keep up), and the share of a round's deliveries made
// during its creates is reported.
// SQLite always, PostgreSQL when CLINIKAPI_TEST_POSTGRES_URL is set. Run
// with -benchtime=Nx for N pairs.
func BenchmarkWebhookCreates(b *testing.B) {
	const perRound, clients = 600, 8
	for _, engine := range storetest.Targets(b) {
		b.Run(engine, func(b *testing.B) {
			rcv, delivered := countingReceiver(b)
			none, three := newCreateBench(b, engine, rcv, 0), newCreateBench(b, engine, rcv, 3)
			// Warm both (caches, connections, prepared statements).
			none.round(b, perRound/4, clients)
			three.round(b, perRound/4, clients)
			waitDelivered(b, delivered, 3*perRound/4)
			var t0, t3, t3all time.Duration
			lo, hi := math.Inf(1), math.Inf(-1)
			var during int64
			b.ResetTimer()
			for i := range b.N {
				var d0, d3, d3all time.Duration
				run3 := func() {
					base := delivered.Load()
					start := time.Now()
					d3 = three.round(b, perRound, clients)
					during += delivered.Load() - base
					waitDelivered(b, delivered, base+3*perRound)
					d3all = time.Since(start)
				}
				if i%2 == 0 {
					d0 = none.round(b, perRound, clients)
					run3()
				} else {
					run3()
					d0 = none.round(b, perRound, clients)
				}
				t0, t3, t3all = t0+d0, t3+d3, t3all+d3all
				cost := 100 * (1 - d0.Seconds()/d3.Seconds())
				lo, hi = min(lo, cost), max(hi, cost)
			}
			b.StopTimer()
			rounds := float64(b.N * perRound)
			b.ReportMetric(rounds/t0.Seconds(), "creates/s-none")
			b.ReportMetric(rounds/t3.Seconds(), "creates/s-3")
			b.ReportMetric(100*(1-t0.Seconds()/t3.Seconds()), "cost-%")
			b.ReportMetric(lo, "cost-%-min")
			b.ReportMetric(hi, "cost-%-max")
			// Until the round's deliveries are all made: what a stream of
			// creates can sustain when the deliveries must keep up.
			b.ReportMetric(100*(1-t0.Seconds()/t3all.Seconds()), "cost-delivered-%")
			b.ReportMetric(100*float64(during)/(3*rounds), "delivered-in-round-%")
		})
	}
}

// waitDelivered waits until the receiver has n deliveries.
func waitDelivered(b *testing.B, delivered *atomic.Int64, n int64) {
	deadline := time.Now().Add(2 * time.Minute)
	for delivered.Load() < n {
		if time.Now().After(deadline) {
			b.Fatalf("%d deliveries after 2 minutes, want %d", delivered.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkWebhookDrain is the dispatcher alone: 2,000 queued deliveries
// per iteration, spread over endpoints of one fast local receiver, sent
// until none is left (claims, signatures, HTTPS with keep-alive, the
// attempts recorded).
func BenchmarkWebhookDrain(b *testing.B) {
	for _, engine := range storetest.Targets(b) {
		for _, endpoints := range []int{1, 4} {
			b.Run(engine+"/"+strconv.Itoa(endpoints)+"-endpoints", func(b *testing.B) { drain(b, engine, endpoints) })
		}
	}
}

func drain(b *testing.B, engine string, endpoints int) {
	rcv, delivered := countingReceiver(b)
	env, _ := webhookEnv(b, engine, rcv, true, nil)
	ctx := context.Background()
	_, o, err := env.App.CreateUser(ctx, "bench@example.com", pw, "", "Bench")
	if err != nil {
		b.Fatal(err)
	}
	actor := webhook.Actor{OrgID: o.ID, UserID: "usr_bench"}
	var eps []webhook.Endpoint
	for i := range endpoints {
		e, _ := addEndpoint(b, env, o.ID, webhook.Input{URL: rcv.url("/d" + strconv.Itoa(i)), Events: "*"})
		eps = append(eps, e)
	}
	const perRun = 2000
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		for _, e := range eps {
			if err := env.App.Webhooks.SetDisabled(ctx, actor, e.ID, true); err != nil {
				b.Fatal(err)
			}
		}
		var ds []webhook.Delivery
		now := env.Clock.Now()
		for i := range perRun {
			e := eps[i%len(eps)]
			p := webhook.NewPayload("patient", random.ID("pt"), webhook.Created, o.ID, "test", now)
			ds = append(ds, webhook.Delivery{ID: random.SortableID("whd", now), EndpointID: e.ID, OrgID: o.ID, EventID: p.ID,
				Event: p.Event, Payload: []byte(`{"id":"` + p.ID + `"}`), Status: webhook.Pending, NextAttemptAt: now, CreatedAt: now})
		}
		if _, err := env.App.DB.InsertWebhookDeliveries(ctx, ds); err != nil {
			b.Fatal(err)
		}
		base := delivered.Load()
		b.StartTimer()
		start := time.Now()
		for _, e := range eps {
			if err := env.App.Webhooks.SetDisabled(ctx, actor, e.ID, false); err != nil {
				b.Fatal(err)
			}
		}
		for delivered.Load()-base < perRun {
			time.Sleep(time.Millisecond)
		}
		total += time.Since(start)
	}
	b.StopTimer()
	b.ReportMetric(float64(perRun*b.N)/total.Seconds(), "deliveries/s")
}
