package billing_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/account"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/billing"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/product"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
)

type captured struct {
	mu     sync.Mutex
	events []product.Event
}

func (c *captured) Capture(_ context.Context, e product.Event) {
	c.mu.Lock()
	c.events = append(c.events, e)
	c.mu.Unlock()
}
func (c *captured) Close() error { return nil }

// TestPlanChangeEffects checks what a plan change sets off: the API tier is
// told, product analytics get the change without personal data, and
// CancelAtPeriodEnd is a no-op without a subscription.
func TestPlanChangeEffects(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, "sqlite")
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	u := account.User{ID: "usr_p", Email: "person@example.com", CreatedAt: now}
	if err := db.CreateUser(ctx, u, "x"); err != nil {
		t.Fatal(err)
	}
	o := org.Organization{ID: "org_p", Name: "Plans", Plan: "sandbox", CreatedAt: now}
	if err := db.CreateOrg(ctx, o, u.ID); err != nil {
		t.Fatal(err)
	}
	var invalidated []string
	pt := &captured{}
	s := billing.NewService(db, billing.Development{}, audit.New(db, log, nil), pt, log, billing.Options{
		Now: func() time.Time { return now }, Invalidate: func(_ context.Context, id string) { invalidated = append(invalidated, id) },
	})
	a := org.Actor{User: u, Org: o, Role: org.Owner}
	if url, err := s.ChangePlan(ctx, a, "starter", "http://x"); err != nil || url != "" {
		t.Fatalf("ChangePlan in development billing = %q, %v; want an immediate change", url, err)
	}
	if len(invalidated) != 1 || invalidated[0] != "org_p" {
		t.Fatalf("invalidated %v; want org_p once", invalidated)
	}
	if len(pt.events) != 1 || pt.events[0].Name != product.PlanChanged || pt.events[0].UserID != u.ID || pt.events[0].OrgID != "org_p" {
		t.Fatalf("product events %+v; want one plan change by %s in org_p", pt.events, u.ID)
	}
	// What leaves the server is what passes the allow-list.
	sent := product.Sanitize(pt.events[0].Props)
	if sent["previous_plan"] != "sandbox" || sent["plan"] != "starter" || sent["source"] != "development" || len(sent) != 3 {
		t.Fatalf("plan change properties after Sanitize = %v; want previous_plan sandbox, plan starter, source development", sent)
	}
	for k, v := range pt.events[0].Props {
		if s, _ := v.(string); strings.Contains(s, "@") {
			t.Fatalf("product event property %s carries an e-mail address", k)
		}
	}
	if err := s.CancelAtPeriodEnd(ctx, "org_p"); err != nil {
		t.Fatalf("CancelAtPeriodEnd without a subscription: %v", err)
	}
	a.Role = org.Developer
	if _, err := s.ChangePlan(ctx, a, "pro", "http://x"); err == nil {
		t.Fatal("a developer changed the plan")
	}
}
