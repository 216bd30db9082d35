package web_test

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/random"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
	"github.com/clinikapi/clinikapi/internal/webhook"
)

// countingReceiver is a fast local HTTPS receiver that does what a
// receiver should: it reads the body, verifies the V2 signature with the
// endpoint's secret (registered with expect) and answers 204 at once. It
// counts the deliveries it accepts; one that does not verify fails the
// benchmark.
func countingReceiver(b *testing.B) (*receiver, *atomic.Int64) {
	var n atomic.Int64
	var secrets sync.Map // path → secret
	rcv := &receiver{}
	rcv.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		secret, ok := secrets.Load(r.URL.Path)
		// The servers run on test clocks: the signature is checked, the
		// timestamp's freshness is not.
		ts, _ := strconv.ParseInt(r.Header.Get(webhook.HeaderTimestamp), 10, 64)
		if err != nil || !ok || !webhook.Verify(r.Header.Get(webhook.HeaderSignatureV2), body, secret.(string), time.Unix(ts, 0), time.Second) {
			b.Errorf("delivery to %s does not verify", r.URL.Path)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		n.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	rcv.expect = func(path, secret string) { secrets.Store(path, secret) }
	b.Cleanup(rcv.srv.Close)
	return rcv, &n
}

// createBench is one server of BenchmarkWebhookCreates: an organization
// with a key and endpoints subscribed to every event.
type createBench struct {
	env    *apptest.Env
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
	// The enterprise plan moves the organization's live data to a
	// datastore of its own: done before the rounds, so that no round
	// waits for that datastore's migrations.
	for range 3 {
		if err := env.App.Mover.Step(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := env.App.Data.Named(ctx, "test"); err != nil {
		b.Fatal(err)
	}
	k, _ := env.App.Keys.Create(ctx, apikey.Actor{OrgID: o.ID}, apikey.CreateInput{Name: "bench", Env: apikey.Test})
	for range endpoints {
		path := "/" + random.ID("e")
		_, secret := addEndpoint(b, env, o.ID, webhook.Input{URL: rcv.url(path), Events: "*"})
		rcv.expect(path, secret)
	}
	if os.Getenv("CLINIKAPI_BENCH_WEBHOOK_YIELD") == "off" {
		// Deliveries compete with the API as equals (for comparison).
		env.App.Webhooks.Yield, env.App.Webhooks.Dispatch.Yield = nil, nil
	}
	return createBench{env: env, h: env.App.HTTP, secret: k.Secret}
}

// round makes creates from clients concurrent clients, n of them, or as
// many as fit in d when n is 0, and returns how many and how long they
// took.
func (cb createBench) round(b *testing.B, n int, d time.Duration, clients int) (int, time.Duration) {
	body := `{"resourceType":"Patient","active":true,"name":[{"family":"Bench","given":["Mark"]}],"gender":"male","birthDate":"1970-01-01"}`
	var next, made atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	more := func() bool {
		if n > 0 {
			return next.Add(1) <= int64(n)
		}
		return time.Since(start) < d
	}
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for more() {
				req := httptest.NewRequest(http.MethodPost, "/v1/fhir/Patient", strings.NewReader(body))
				req.Header.Set("x-api-key", cb.secret)
				req.Header.Set("Content-Type", "application/fhir+json")
				w := httptest.NewRecorder()
				cb.h.ServeHTTP(w, req)
				if w.Code != http.StatusCreated {
					b.Errorf("status %d: %s", w.Code, w.Body)
					return
				}
				made.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(made.Load()), time.Since(start)
}

// settle writes what the server's last round left buffered (usage
// records, audit events, the outboxes relayed) before the next round
// starts, so that no round pays for the other server's background work.
func (cb createBench) settle(b *testing.B) {
	if err := cb.env.App.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// cpuTime is the CPU time this process has used (user and system): the
// work of a round, whatever else runs on the machine, though background
// work of the other server falls in it too.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWebhookCreates is the cost of webhooks to the write path:
// FHIR creates on two servers side by side, one whose organization has no
// endpoint and one with three endpoints subscribed to every event (a fast
// local receiver that verifies every signature), the deliveries running
// in the background as in production, giving way to the API while it is
// saturated (webhook.Yield). Each iteration is a pair of rounds of the
// same creates, one on each server, their order alternating, so that the
// load of a shared machine falls on both alike; the cost is 1 − (creates/s
// with endpoints ÷ creates/s without) over all rounds, with the lowest
// and highest of the pairs' costs. After each round the server writes
// what the round left buffered (settle), so that a round never pays for
// the other server's outbox relay or usage records. A round with
// endpoints ends when its deliveries are all made, so no round inherits
// another's backlog; cost-delivered-% counts that wait too, and the
// share of a round's deliveries made during its creates is reported. cpu-µs/create-* is this
// process's CPU time per create (deliveries included for -3, until they
// are all made; the database server's is not counted on PostgreSQL).
// The short rounds show what a burst pays; BenchmarkWebhookSustained
// what a stream does.
// SQLite always, PostgreSQL when CLINIKAPI_TEST_POSTGRES_URL is set. Run
// with -benchtime=Nx for N pairs.
func BenchmarkWebhookCreates(b *testing.B) {
	const perRound, clients = 600, 8
	for _, engine := range storetest.Targets(b) {
		b.Run(engine, func(b *testing.B) {
			rcv, delivered := countingReceiver(b)
			none, three := newCreateBench(b, engine, rcv, 0), newCreateBench(b, engine, rcv, 3)
			// Warm both (caches, connections, prepared statements).
			none.round(b, perRound/4, 0, clients)
			three.round(b, perRound/4, 0, clients)
			waitDelivered(b, delivered, 3*perRound/4)
			var t0, t3, t3all, cpu0, cpu3 time.Duration
			lo, hi := math.Inf(1), math.Inf(-1)
			var during int64
			b.ResetTimer()
			for i := range b.N {
				var d0, d3, d3all time.Duration
				run0 := func() {
					c := cpuTime(b)
					_, d0 = none.round(b, perRound, 0, clients)
					none.settle(b)
					cpu0 += cpuTime(b) - c
				}
				run3 := func() {
					base, c := delivered.Load(), cpuTime(b)
					start := time.Now()
					_, d3 = three.round(b, perRound, 0, clients)
					during += delivered.Load() - base
					three.settle(b)
					waitDelivered(b, delivered, base+3*perRound)
					d3all = time.Since(start)
					cpu3 += cpuTime(b) - c
				}
				alternate(i, run0, run3)
				t0, t3, t3all = t0+d0, t3+d3, t3all+d3all
				cost := 100 * (1 - d0.Seconds()/d3.Seconds())
				lo, hi = min(lo, cost), max(hi, cost)
				b.Logf("pair %d: none %v, three %v (all delivered %v)", i, d0, d3, d3all)
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
			b.ReportMetric(float64(cpu0.Microseconds())/rounds, "cpu-µs/create-none")
			b.ReportMetric(float64(cpu3.Microseconds())/rounds, "cpu-µs/create-3")
		})
	}
}

// BenchmarkWebhookSustained is a stream of creates long enough for the
// deliveries to have to keep up: each iteration is a pair of rounds of
// creates from 8 clients for CLINIKAPI_BENCH_SUSTAIN (default 5 s), one on
// a server without endpoints and one with three, their order
// alternating. It reports both rates and the cost over the whole window
// (deliveries giving way to the API but never for longer than
// webhook.MaxDefer), the deliveries made in the window as a share of
// those due, and the backlog when the window ends (deliveries due but not
// yet made, the largest of the rounds): bounded by about MaxDefer of
// events, not growing with the window. The backlog is drained between
// pairs.
func BenchmarkWebhookSustained(b *testing.B) {
	const clients = 8
	window := 5 * time.Second
	if v, err := time.ParseDuration(os.Getenv("CLINIKAPI_BENCH_SUSTAIN")); err == nil && v > 0 {
		window = v
	}
	for _, engine := range storetest.Targets(b) {
		b.Run(engine, func(b *testing.B) {
			rcv, delivered := countingReceiver(b)
			none, three := newCreateBench(b, engine, rcv, 0), newCreateBench(b, engine, rcv, 3)
			n, _ := three.round(b, 0, window/5, clients)
			none.round(b, 0, window/5, clients)
			waitDelivered(b, delivered, int64(3*n))
			var made0, made3, due, got, backlog int64
			var t0, t3 time.Duration
			b.ResetTimer()
			for i := range b.N {
				run0 := func() {
					k, d := none.round(b, 0, window, clients)
					made0, t0 = made0+int64(k), t0+d
					none.settle(b)
				}
				run3 := func() {
					base := delivered.Load()
					k, d := three.round(b, 0, window, clients)
					made3, t3 = made3+int64(k), t3+d
					in := delivered.Load() - base
					due, got = due+3*int64(k), got+in
					backlog = max(backlog, 3*int64(k)-in)
					b.Logf("pair %d: %d creates with endpoints in %v, %d of their %d deliveries made in the window", i, k, d, in, 3*k)
					three.settle(b)
					waitDelivered(b, delivered, base+3*int64(k))
				}
				alternate(i, run0, run3)
			}
			b.StopTimer()
			r0, r3 := float64(made0)/t0.Seconds(), float64(made3)/t3.Seconds()
			b.ReportMetric(r0, "creates/s-none")
			b.ReportMetric(r3, "creates/s-3")
			b.ReportMetric(100*(1-r3/r0), "cost-%")
			b.ReportMetric(100*float64(got)/float64(due), "delivered-in-window-%")
			b.ReportMetric(float64(backlog), "backlog-at-end")
		})
	}
}

// alternate runs the rounds of pair i, in turns the one first and the
// other.
func alternate(i int, a, b func()) {
	if i%2 == 1 {
		a, b = b, a
	}
	a()
	b()
}

// waitDelivered waits until the receiver has n deliveries.
func waitDelivered(b *testing.B, delivered *atomic.Int64, n int64) {
	deadline := time.Now().Add(2 * time.Minute)
	for delivered.Load() < n {
		if time.Now().After(deadline) || b.Failed() {
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
		e, secret := addEndpoint(b, env, o.ID, webhook.Input{URL: rcv.url("/d" + strconv.Itoa(i)), Events: "*"})
		rcv.expect("/d"+strconv.Itoa(i), secret)
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
		waitDelivered(b, delivered, base+perRun)
		total += time.Since(start)
	}
	b.StopTimer()
	b.ReportMetric(float64(perRun*b.N)/total.Seconds(), "deliveries/s")
}
