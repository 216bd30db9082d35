package billing_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/account"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/billing"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/quota"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
)

// flaky is a Stripe gateway whose meter events fail on demand; it records
// what Stripe would have counted (one count per identifier, as Stripe does
// within 24 hours).
type flaky struct {
	billing.Development
	fail    bool
	counted map[string]int64
	calls   int
}

func (f *flaky) Configured() bool { return true }

func (f *flaky) ReportUsage(_ context.Context, _ string, id string, v int64, _ time.Time) error {
	f.calls++
	if f.fail {
		return errors.New("network down")
	}
	if _, dup := f.counted[id]; !dup {
		f.counted[id] = v
	}
	return nil
}

// TestOverageReportRetry checks that a batch that failed is resent with
// the same identifier and value, so Stripe never counts a request twice,
// and that new traffic goes into the next batch.
func TestOverageReportRetry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := storetest.Open(t, engine)
		now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		if err := db.CreateUser(ctx, account.User{ID: "usr_o", Email: "o@example.com", CreatedAt: now}, "x"); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateOrg(ctx, org.Organization{ID: "org_o", Name: "Over", Plan: "starter", CreatedAt: now}, "usr_o"); err != nil {
			t.Fatal(err)
		}
		if err := db.SaveBillingState(ctx, billing.State{OrgID: "org_o", CustomerID: "cus_o", Overage: true, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		gw := &flaky{counted: map[string]int64{}}
		s := billing.NewService(db, gw, audit.New(db, log, nil), nil, log, billing.Options{Now: func() time.Time { return now }})
		period, _ := quota.Period(now)
		if _, err := db.AddQuota(ctx, "org_o", period, quota.PoolLive, 60_000+25); err != nil {
			t.Fatal(err)
		}
		gw.fail = true
		if _, err := s.ReportOverage(ctx); err == nil {
			t.Fatal("ReportOverage with Stripe down succeeded")
		}
		// More traffic arrives before the retry: the failed batch is resent
		// unchanged, the new requests wait for the next batch.
		db.AddQuota(ctx, "org_o", period, quota.PoolLive, 5)
		gw.fail = false
		n, err := s.ReportOverage(ctx)
		if err != nil || n != 25 {
			t.Fatalf("retry reported %d, %v; want the failed batch of 25", n, err)
		}
		if n, err = s.ReportOverage(ctx); err != nil || n != 5 {
			t.Fatalf("next run reported %d, %v; want the 5 new requests", n, err)
		}
		if n, err = s.ReportOverage(ctx); err != nil || n != 0 {
			t.Fatalf("idle run reported %d, %v; want 0", n, err)
		}
		want := map[string]int64{billing.Identifier("org_o", period, 1): 25, billing.Identifier("org_o", period, 2): 5}
		if len(gw.counted) != 2 || gw.counted[billing.Identifier("org_o", period, 1)] != 25 || gw.counted[billing.Identifier("org_o", period, 2)] != 5 {
			t.Fatalf("Stripe counted %v; want %v", gw.counted, want)
		}
		ov, _ := s.ReportedOverage(ctx, "org_o", period)
		if ov.Reported != 30 || ov.Seq != 2 || ov.Pending != 0 {
			t.Fatalf("stored overage %+v; want 30 reported in 2 batches", ov)
		}
	})
}
