package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/billing"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
)

// TestBillingStore round-trips subscription state, processed events,
// overage batches, BAA signatures and enterprise requests on each engine.
func TestBillingStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := storetest.Open(t, engine)
		mustUser(t, db, "usr_a", "a@example.com")
		if err := db.CreateOrg(ctx, org.Organization{ID: "org_b", Name: "Acme", Plan: "sandbox", CreatedAt: t0}, "usr_a"); err != nil {
			t.Fatal(err)
		}

		st, err := db.BillingState(ctx, "org_b")
		if err != nil || st.OrgID != "org_b" || st.CustomerID != "" || st.Overage {
			t.Fatalf("BillingState before any = %+v, %v; want an empty state", st, err)
		}
		want := billing.State{OrgID: "org_b", CustomerID: "cus_1", SubscriptionID: "sub_1", Status: "active",
			CurrentPeriodEnd: t0.Add(30 * 24 * time.Hour).Truncate(time.Second), CancelAtPeriodEnd: true, PaymentFailed: true, Overage: true, ScheduledPlan: "starter",
			LastEventAt: t0.Truncate(time.Second), LastInvoiceEventAt: t0.Add(time.Second).Truncate(time.Second), UpdatedAt: t0.Truncate(time.Microsecond)}
		if err := db.SaveBillingState(ctx, want); err != nil {
			t.Fatal(err)
		}
		got, err := db.BillingState(ctx, "org_b")
		if err != nil || got.CustomerID != want.CustomerID || got.SubscriptionID != want.SubscriptionID || got.Status != "active" ||
			!got.CurrentPeriodEnd.Equal(want.CurrentPeriodEnd) || !got.CancelAtPeriodEnd || !got.PaymentFailed || !got.Overage || got.ScheduledPlan != "starter" ||
			!got.LastEventAt.Equal(want.LastEventAt) || !got.LastInvoiceEventAt.Equal(want.LastInvoiceEventAt) {
			t.Fatalf("BillingState = %+v, %v; want %+v", got, err, want)
		}
		if id, err := db.OrgByCustomer(ctx, "cus_1"); id != "org_b" || err != nil {
			t.Fatalf("OrgByCustomer = %q, %v; want org_b", id, err)
		}
		if _, err := db.OrgByCustomer(ctx, "cus_x"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("OrgByCustomer(unknown) err = %v; want NotFound", err)
		}
		if id, err := db.OrgBySubscription(ctx, "sub_1"); id != "org_b" || err != nil {
			t.Fatalf("OrgBySubscription = %q, %v; want org_b", id, err)
		}
		if ovs, err := db.OverageOrgs(ctx); err != nil || len(ovs) != 1 || ovs[0].OrgID != "org_b" {
			t.Fatalf("OverageOrgs = %+v, %v; want org_b", ovs, err)
		}

		if err := db.SetOrgPlan(ctx, "org_b", "pro", t0); err != nil {
			t.Fatal(err)
		}
		if o, _ := db.FindOrg(ctx, "org_b"); o.Plan != "pro" {
			t.Fatalf("plan after SetOrgPlan = %q, want pro", o.Plan)
		}
		if err := db.SetOrgPlan(ctx, "org_none", "pro", t0); !errs.Is(err, errs.NotFound) {
			t.Fatalf("SetOrgPlan(unknown) = %v; want NotFound", err)
		}

		if seen, err := db.StripeEventSeen(ctx, "evt_1"); seen || err != nil {
			t.Fatalf("StripeEventSeen before = %v, %v", seen, err)
		}
		for range 2 {
			if err := db.MarkStripeEvent(ctx, "evt_1", "invoice.paid", t0); err != nil {
				t.Fatalf("MarkStripeEvent: %v", err)
			}
		}
		if seen, err := db.StripeEventSeen(ctx, "evt_1"); !seen || err != nil {
			t.Fatalf("StripeEventSeen after = %v, %v; want true", seen, err)
		}

		// Claiming an event id runs the change once; the row is locked and
		// every field, the ordering included, is written.
		for i, want := range []bool{true, false} {
			ran := false
			claimed, err := db.ApplyStripeEvent(ctx, "evt_2", "customer.subscription.updated", t0, func(tx billing.EventTx) error {
				ran = true
				st, planID, err := tx.LockBillingState(ctx, "org_b")
				if err != nil || planID != "pro" || st.SubscriptionID != "sub_1" {
					t.Fatalf("LockBillingState = %+v, %q, %v; want sub_1 on pro", st, planID, err)
				}
				st.LastEventRank, st.LastEventID, st.SyncedTicket, st.Status = 12, "evt_2", 7, "past_due"
				return tx.SaveBillingState(ctx, st)
			})
			if err != nil || claimed != want || ran != want {
				t.Fatalf("ApplyStripeEvent #%d = %v (ran %v), %v; want %v", i+1, claimed, ran, err, want)
			}
		}
		if got, _ := db.BillingState(ctx, "org_b"); got.LastEventRank != 12 || got.LastEventID != "evt_2" || got.SyncedTicket != 7 || got.Status != "past_due" {
			t.Fatalf("after the event transaction: %+v", got)
		}
		for want := int64(1); want <= 2; want++ {
			if n, err := db.SyncTicket(ctx, "org_b", t0); n != want || err != nil {
				t.Fatalf("SyncTicket = %d, %v; want %d", n, err, want)
			}
		}
		if got, err := db.UpdateBillingState(ctx, "org_b", t0, func(s *billing.State) error { s.Status = "active"; return nil }); err != nil ||
			got.Status != "active" || got.SyncedTicket != 7 || got.LastEventID != "evt_2" {
			t.Fatalf("UpdateBillingState = %+v, %v; want active, the ordering kept", got, err)
		}

		if o, err := db.OverageState(ctx, "org_b", "2026-11"); err != nil || o.Reported != 0 || o.Seq != 0 || o.Pending != 0 {
			t.Fatalf("OverageState before = %+v, %v; want zero", o, err)
		}
		if err := db.SaveOverage(ctx, billing.Overage{OrgID: "org_b", Period: "2026-11", Reported: 10, Seq: 2, Pending: 5}); err != nil {
			t.Fatal(err)
		}
		if o, err := db.OverageState(ctx, "org_b", "2026-11"); err != nil || o.Reported != 10 || o.Seq != 2 || o.Pending != 5 {
			t.Fatalf("OverageState = %+v, %v; want 10/2/5", o, err)
		}

		if _, err := db.LatestBAASignature(ctx, "org_b"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("LatestBAASignature before = %v; want NotFound", err)
		}
		for i, name := range []string{"Ada Lovelace", "Grace Hopper"} {
			sig := billing.Signature{ID: "baa_" + name[:3], OrgID: "org_b", UserID: "usr_a", Name: name, Title: "CTO", IP: "192.0.2.1",
				DocumentVersion: billing.BAAVersion, SignedAt: t0.Add(time.Duration(i) * time.Hour)}
			if err := db.InsertBAASignature(ctx, sig); err != nil {
				t.Fatal(err)
			}
		}
		sig, err := db.LatestBAASignature(ctx, "org_b")
		if err != nil || sig.Name != "Grace Hopper" || sig.Title != "CTO" || sig.IP != "192.0.2.1" || sig.DocumentVersion != billing.BAAVersion || !sig.SignedAt.Equal(t0.Add(time.Hour).Truncate(time.Microsecond)) {
			t.Fatalf("LatestBAASignature = %+v, %v; want Grace Hopper's", sig, err)
		}
		if err := db.InsertEnterpriseRequest(ctx, billing.EnterpriseRequest{ID: "ent_1", OrgID: "org_b", UserID: "usr_a", Message: "10M req/month", CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	})
}
