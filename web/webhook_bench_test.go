package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/random"
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

// BenchmarkWebhookCreates is BenchmarkFHIRCreate's create with no
// endpoint and with three endpoints subscribed to every event, the
// deliveries running in the background as in production: the cost of
// webhooks to the write path. It reports the deliveries made during the
// run too.
func BenchmarkWebhookCreates(b *testing.B) {
	for _, endpoints := range []int{0, 3} {
		b.Run(strconv.Itoa(endpoints)+"-endpoints", func(b *testing.B) {
			rcv, delivered := countingReceiver(b)
			env, _ := webhookEnv(b, "sqlite", rcv, true, nil)
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
			body := `{"resourceType":"Patient","active":true,"name":[{"family":"Bench","given":["Mark"]}],"gender":"male","birthDate":"1970-01-01"}`
			h := env.App.HTTP
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest(http.MethodPost, "/v1/fhir/Patient", strings.NewReader(body))
					req.Header.Set("x-api-key", k.Secret)
					req.Header.Set("Content-Type", "application/fhir+json")
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != http.StatusCreated {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
			})
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "creates/s")
			if endpoints > 0 {
				b.ReportMetric(float64(delivered.Load())/elapsed.Seconds(), "deliveries/s")
			}
		})
	}
}

// BenchmarkWebhookDrain is the dispatcher alone: 2,000 queued deliveries
// per iteration, spread over endpoints of one fast local receiver, sent
// until none is left (claims, signatures, HTTPS with keep-alive, the
// attempts recorded).
func BenchmarkWebhookDrain(b *testing.B) {
	for _, endpoints := range []int{1, 4} {
		b.Run(strconv.Itoa(endpoints)+"-endpoints", func(b *testing.B) {
			rcv, delivered := countingReceiver(b)
			env, _ := webhookEnv(b, "sqlite", rcv, true, nil)
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
		})
	}
}
