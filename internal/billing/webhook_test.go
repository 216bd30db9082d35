package billing_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/account"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/billing"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
)

// events is an EventParser over events known by id (the payload).
type events map[string]billing.Event

func (e events) ParseEvent(payload []byte, _ string) (billing.Event, error) {
	return e[string(payload)], nil
}

// slowStripe answers reads of a subscription with read, which a test may
// make wait.
type slowStripe struct {
	billing.Development
	read func(id string) billing.Subscription
}

func (slowStripe) Configured() bool { return true }
func (g slowStripe) Subscription(_ context.Context, id string) (billing.Subscription, error) {
	return g.read(id), nil
}

// TestWebhookStaleRead: a read of the subscription from Stripe that
// started before another one is not applied over it, even when it ends
// last. An older event's read sees the subscription still active and is
// slow; meanwhile Stripe cancels it and the deletion event is applied; the
// slow read then arrives and changes nothing.
func TestWebhookStaleRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := storetest.Open(t, engine)
		now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		if err := db.CreateUser(ctx, account.User{ID: "usr_s", Email: "s@example.com", CreatedAt: now}, "x"); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateOrg(ctx, org.Organization{ID: "org_s", Name: "Stale", Plan: "sandbox", CreatedAt: now}, "usr_s"); err != nil {
			t.Fatal(err)
		}
		active := billing.Subscription{ID: "sub_s", CustomerID: "cus_s", OrgID: "org_s", Status: "active", PriceID: "price_pro"}
		canceled := active
		canceled.Status = "canceled"
		reading, release := make(chan struct{}), make(chan struct{})
		truth := active
		slow := false
		gw := slowStripe{read: func(string) billing.Subscription {
			if slow {
				slow = false
				got := truth // read now, answered late
				close(reading)
				<-release
				return got
			}
			return truth
		}}
		s := billing.NewService(db, gw, audit.New(db, log, nil), nil, log, billing.Options{
			Prices: billing.Prices{"starter": "price_starter", "pro": "price_pro", "team": "price_team"}, Now: func() time.Time { return now },
		})
		evs := events{
			"evt_created": {ID: "evt_created", Type: "customer.subscription.created", Created: now, Subscription: &active},
			"evt_updated": {ID: "evt_updated", Type: "customer.subscription.updated", Created: now.Add(time.Second), Subscription: &active},
			"evt_deleted": {ID: "evt_deleted", Type: "customer.subscription.deleted", Created: now.Add(2 * time.Second), Subscription: &canceled},
		}
		if err := s.HandleWebhook(ctx, evs, []byte("evt_created"), ""); err != nil {
			t.Fatal(err)
		}
		if o, _ := db.FindOrg(ctx, "org_s"); o.Plan != "pro" {
			t.Fatalf("after created: plan %s; want pro", o.Plan)
		}
		slow = true
		done := make(chan error)
		go func() { done <- s.HandleWebhook(ctx, evs, []byte("evt_updated"), "") }()
		<-reading
		truth = canceled
		if err := s.HandleWebhook(ctx, evs, []byte("evt_deleted"), ""); err != nil {
			t.Fatal(err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		o, _ := db.FindOrg(ctx, "org_s")
		st, _ := db.BillingState(ctx, "org_s")
		if o.Plan != "sandbox" || st.Status != "canceled" {
			t.Fatalf("after the slow, older read ended last: %s/%s; want sandbox/canceled", o.Plan, st.Status)
		}
	})
}
