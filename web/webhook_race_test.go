package web_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v79/webhook"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/billing"
	"github.com/clinikapi/clinikapi/internal/billing/stripemock"
)

// post delivers a signed webhook; safe to call from any goroutine.
func post(env *apptest.Env, payload []byte) (int, error) {
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: whsec, Timestamp: time.Now()})
	req, _ := http.NewRequest(http.MethodPost, env.Server.URL+"/webhooks/stripe", bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", sp.Header)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}

// deliverAll posts each payload to its instance at the same moment and
// fails unless every delivery is acknowledged.
func deliverAll(t *testing.T, envs []*apptest.Env, payloads [][]byte) {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, len(payloads))
	for i := range payloads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			status, err := post(envs[i], payloads[i])
			if err == nil && status != 200 {
				err = fmt.Errorf("status %d", status)
			}
			errs[i] = err
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
	}
}

// subEvent is a customer.subscription.* event for subscription id.
func subEvent(evID, typ string, created int64, id, orgID, price, status string) []byte {
	return event(evID, typ, created, fmt.Sprintf(`{"id":%q,"object":"subscription","customer":"cus_`+orgID+`","status":%q,"current_period_end":%d,"cancel_at_period_end":false,
		"metadata":{"org_id":%q},"items":{"object":"list","data":[{"id":"si_1","object":"subscription_item","price":{"id":%q,"object":"price"}}]}}`,
		id, status, created+30*24*3600, orgID, price))
}

// webhookSetup is one way of running the race tests: an engine with one
// or two instances, and Stripe read (stripe-mock with the state the test
// sets) or not reachable (events applied by their order).
type webhookSetup struct {
	name   string
	envs   []*apptest.Env // the instances deliveries go to
	stripe *stripemock.Subscriptions
}

// set makes Stripe hold a subscription's state (a no-op without Stripe).
func (w webhookSetup) set(id, orgID, price, status string) {
	if w.stripe != nil {
		w.stripe.Set(id, stripemock.Sub{Customer: "cus_" + orgID, OrgID: orgID, Status: status, Price: price})
	}
}

func webhookSetups(t *testing.T, stripe *stripemock.Subscriptions, fn func(t *testing.T, w webhookSetup)) {
	for _, mode := range []struct {
		name   string
		stripe *stripemock.Subscriptions
	}{{"stripe", stripe}, {"event order", nil}} {
		apiURL := "http://127.0.0.1:1"
		if mode.stripe != nil {
			apiURL = mode.stripe.URL
		}
		t.Run("sqlite/"+mode.name, func(t *testing.T) {
			env := apptest.New(t, "sqlite", stripeEnv(apiURL))
			fn(t, webhookSetup{name: t.Name(), envs: []*apptest.Env{env, env}, stripe: mode.stripe})
		})
		t.Run("postgres two instances/"+mode.name, func(t *testing.T) {
			one, two := twoInstances(t, stripeEnv(apiURL))
			fn(t, webhookSetup{name: t.Name(), envs: []*apptest.Env{one, two}, stripe: mode.stripe})
		})
	}
}

// state is an organization's stored plan and subscription status.
func state(t *testing.T, env *apptest.Env, orgID string) (plan, status string) {
	t.Helper()
	o, err := env.App.Orgs.FindOrg(context.Background(), orgID)
	if err != nil {
		t.Fatal(err)
	}
	st, err := env.App.Billing.State(context.Background(), orgID)
	if err != nil {
		t.Fatal(err)
	}
	return o.Plan, st.Status
}

// TestWebhookRaces delivers, in each trial, two events about one
// subscription to two instances (or one SQLite instance) at the same
// moment, the newer and an older one, as Stripe may: a deletion and an
// older update, or an update to Team and an older one to Starter. Every
// trial must end in the state Stripe holds: Sandbox and canceled, or Team.
func TestWebhookRaces(t *testing.T) {
	const trials = 200
	stripe := stripemock.StartSubscriptions(t)
	webhookSetups(t, stripe, func(t *testing.T, w webhookSetup) {
		one := w.envs[0]
		orgID := one.Browser().SignUp("Owner", "race@example.com", pw, "Race Clinic")
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 4))
		base := time.Now().Unix()
		wrong := 0
		started := time.Now()
		for i := 0; i < trials; i++ {
			sub := fmt.Sprintf("sub_race_%d", i)
			t0 := base + int64(i)*100
			// The organization subscribes to Pro.
			w.set(sub, orgID, "price_pro", "active")
			deliverAll(t, w.envs[:1], [][]byte{subEvent(fmt.Sprintf("evt_%d_created", i), "customer.subscription.created", t0, sub, orgID, "price_pro", "active")})
			if p, st := state(t, one, orgID); p != "pro" || st != "active" {
				t.Fatalf("trial %d: after subscribing %s/%s; want pro/active", i, p, st)
			}
			var newer, older []byte
			var wantPlan, wantStatus string
			if i%2 == 0 {
				w.set(sub, orgID, "price_pro", "canceled")
				newer = subEvent(fmt.Sprintf("evt_%d_deleted", i), "customer.subscription.deleted", t0+2, sub, orgID, "price_pro", "canceled")
				older = subEvent(fmt.Sprintf("evt_%d_updated", i), "customer.subscription.updated", t0+1, sub, orgID, "price_pro", "active")
				wantPlan, wantStatus = "sandbox", "canceled"
			} else {
				w.set(sub, orgID, "price_team", "active")
				newer = subEvent(fmt.Sprintf("evt_%d_team", i), "customer.subscription.updated", t0+2, sub, orgID, "price_team", "active")
				older = subEvent(fmt.Sprintf("evt_%d_starter", i), "customer.subscription.updated", t0+1, sub, orgID, "price_starter", "active")
				wantPlan, wantStatus = "team", "active"
			}
			payloads := [][]byte{newer, older}
			if rng.IntN(2) == 0 {
				payloads = [][]byte{older, newer}
			}
			deliverAll(t, w.envs, payloads)
			for _, env := range w.envs {
				if p, st := state(t, env, orgID); p != wantPlan || st != wantStatus {
					wrong++
					t.Errorf("trial %d: ended %s/%s; want %s/%s", i, p, st, wantPlan, wantStatus)
					break
				}
			}
		}
		t.Logf("%s: %d trials, %d wrong final states (%v)", w.name, trials, wrong, time.Since(started).Round(time.Millisecond))
	})
}

// TestWebhookSameSecond delivers subscription.updated (active) and then
// subscription.created (incomplete) of the same second: the paying
// organization keeps its plan, as Stripe says.
func TestWebhookSameSecond(t *testing.T) {
	stripe := stripemock.StartSubscriptions(t)
	webhookSetups(t, stripe, func(t *testing.T, w webhookSetup) {
		orgID := w.envs[0].Browser().SignUp("Owner", "second@example.com", pw, "Second Clinic")
		t0 := time.Now().Unix()
		w.set("sub_same", orgID, "price_starter", "active")
		updated := subEvent("evt_same_updated", "customer.subscription.updated", t0, "sub_same", orgID, "price_starter", "active")
		created := subEvent("evt_same_created", "customer.subscription.created", t0, "sub_same", orgID, "price_starter", "incomplete")
		deliverAll(t, w.envs[:1], [][]byte{updated})
		deliverAll(t, w.envs[1:], [][]byte{created})
		for _, env := range w.envs {
			if p, st := state(t, env, orgID); p != "starter" || st != "active" {
				t.Fatalf("after updated (active) then created (incomplete) in the same second: %s/%s; want starter/active", p, st)
			}
		}
		// And at the same moment on two instances, for a second organization.
		other := w.envs[0].Browser().SignUp("Owner", "second2@example.com", pw, "Second Clinic 2")
		w.set("sub_same2", other, "price_starter", "active")
		deliverAll(t, w.envs, [][]byte{
			subEvent("evt_same2_created", "customer.subscription.created", t0, "sub_same2", other, "price_starter", "incomplete"),
			subEvent("evt_same2_updated", "customer.subscription.updated", t0, "sub_same2", other, "price_starter", "active"),
		})
		if p, st := state(t, w.envs[1], other); p != "starter" || st != "active" {
			t.Fatalf("created and updated of the same second at once: %s/%s; want starter/active", p, st)
		}
	})
}

// TestWebhookDuplicates delivers one event ten times at once (to two
// instances on PostgreSQL): it is applied once.
func TestWebhookDuplicates(t *testing.T) {
	stripe := stripemock.StartSubscriptions(t)
	webhookSetups(t, stripe, func(t *testing.T, w webhookSetup) {
		orgID := w.envs[0].Browser().SignUp("Owner", "dup@example.com", pw, "Dup Clinic")
		w.set("sub_dup", orgID, "price_pro", "active")
		ev := subEvent("evt_dup", "customer.subscription.updated", time.Now().Unix(), "sub_dup", orgID, "price_pro", "active")
		var envs []*apptest.Env
		var payloads [][]byte
		for i := 0; i < 10; i++ {
			envs, payloads = append(envs, w.envs[i%2]), append(payloads, ev)
		}
		deliverAll(t, envs, payloads)
		ctx := context.Background()
		for _, action := range []string{billing.SubscriptionSynced, billing.PlanChanged} {
			events, err := w.envs[0].App.Audit.List(ctx, audit.Filter{OrgID: orgID, Action: action})
			if err != nil || len(events) != 1 {
				t.Fatalf("%s audit rows after 10 concurrent deliveries = %d, %v; want 1", action, len(events), err)
			}
		}
		if p, st := state(t, w.envs[1], orgID); p != "pro" || st != "active" {
			t.Fatalf("after the duplicates: %s/%s; want pro/active", p, st)
		}
		// A later redelivery is acknowledged without reading Stripe again.
		reads := 0
		if w.stripe != nil {
			reads = w.stripe.Reads("sub_dup")
		}
		deliverAll(t, w.envs[:1], [][]byte{ev})
		if w.stripe != nil && w.stripe.Reads("sub_dup") != reads {
			t.Fatalf("a redelivery of a processed event read the subscription from Stripe")
		}
		if events, _ := w.envs[0].App.Audit.List(ctx, audit.Filter{OrgID: orgID, Action: billing.SubscriptionSynced}); len(events) != 1 {
			t.Fatalf("subscription_synced rows after a redelivery = %d; want 1", len(events))
		}
	})
}
