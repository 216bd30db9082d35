package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/quota"
	"github.com/clinikapi/clinikapi/internal/store"
)

// setPlan puts the organization on plan at once and, when that plan keeps
// live data in another datastore, waits until the data has moved there.
func setPlan(t *testing.T, env *apptest.Env, orgID, plan string) {
	t.Helper()
	setPlanSQL(t, env, orgID, plan)
	waitPlacement(t, env, orgID)
}

// setPlanSQL changes the plan in the database only.
func setPlanSQL(t *testing.T, env *apptest.Env, orgID, plan string) {
	t.Helper()
	if _, err := env.App.DB.SQL().Exec(`UPDATE organizations SET plan = $1 WHERE id = $2`, plan, orgID); err != nil {
		t.Fatal(err)
	}
}

// waitPlacement runs the data mover until the organization's live data is
// in the datastore its plan puts it in.
func waitPlacement(t *testing.T, env *apptest.Env, orgID string) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	for {
		planID, live, err := env.App.DB.Placement(ctx, orgID)
		if err != nil {
			t.Fatal(err)
		}
		if live == datastore.Name("live", orgID, planID == "enterprise") {
			env.App.Mover.Changed(ctx, orgID) // as the switch does; a plan set in SQL has not said so
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the live data of %s did not reach its plan's datastore (at %s, plan %s)", orgID, live, planID)
		}
		if err := env.App.Mover.Step(ctx); err != nil {
			t.Logf("mover: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSandboxPlanQuota(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		ctx := context.Background()
		orgID, test := newOrgWithKey(t, env, "quota@example.com", apikey.ScopeAll)
		live, _ := env.App.Keys.Create(ctx, apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "live", Env: apikey.Live})
		period, _ := quota.Period(env.Clock.Now())
		if _, err := env.App.DB.AddQuota(ctx, orgID, period, quota.PoolAll, 997); err != nil {
			t.Fatal(err)
		}
		r := apiCall(t, env, "GET", "/v1/x", test.Secret, nil)
		if r.Header.Get("X-Quota-Limit") != "1000" || r.Header.Get("X-Quota-Used") != "998" || r.Header.Get("X-Quota-Remaining") != "2" || r.Header.Get("X-Sandbox-Limit") != "" {
			t.Fatalf("Sandbox quota headers: %v", r.Header)
		}
		apiCall(t, env, "GET", "/v1/x", live.Secret, nil) // live counts in the same pool
		apiCall(t, env, "GET", "/v1/x", test.Secret, nil)
		r = apiCall(t, env, "GET", "/v1/x", live.Secret, nil)
		wantAPIError(t, "1,001st request", r, 429, "MONTHLY_QUOTA_EXCEEDED")
		if msg, _ := r.Body["message"].(string); strings.Contains(msg, "overage") && !strings.Contains(msg, "no overage") {
			t.Fatalf("the Sandbox 429 suggests overage billing, which Sandbox does not have: %q", msg)
		}
		if r.Header.Get("Retry-After") == "" || r.Header.Get("X-Quota-Remaining") != "0" {
			t.Fatalf("over-quota headers: %v", r.Header)
		}
		// The pool resets on the 1st (UTC).
		_, reset := quota.Period(env.Clock.Now())
		env.Clock.Advance(reset.Sub(env.Clock.Now()) + time.Second)
		r = apiCall(t, env, "GET", "/v1/x", test.Secret, nil)
		if r.Status != 404 || r.Header.Get("X-Quota-Used") != "1" {
			t.Fatalf("after the reset: %d, used %s", r.Status, r.Header.Get("X-Quota-Used"))
		}
	})
}

func TestPaidPlanSeparateSandboxPool(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	ctx := context.Background()
	orgID, test := newOrgWithKey(t, env, "paid@example.com", apikey.ScopeAll)
	setPlan(t, env, orgID, "starter")
	live, _ := env.App.Keys.Create(ctx, apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "live", Env: apikey.Live})
	period, _ := quota.Period(env.Clock.Now())
	env.App.DB.AddQuota(ctx, orgID, period, quota.PoolSandbox, 59_999)
	env.App.DB.AddQuota(ctx, orgID, period, quota.PoolLive, 10)

	r := apiCall(t, env, "GET", "/v1/x", test.Secret, nil)
	if r.Status != 404 || r.Header.Get("X-Sandbox-Limit") != "60000" || r.Header.Get("X-Sandbox-Used") != "60000" || r.Header.Get("X-Sandbox-Remaining") != "0" {
		t.Fatalf("test traffic on Starter: %d %v", r.Status, r.Header)
	}
	if r.Header.Get("X-Quota-Used") != "10" || r.Header.Get("X-RateLimit-Limit") != "200" {
		t.Fatalf("live pool headers on test traffic: %v", r.Header)
	}
	wantAPIError(t, "sandbox pool exhausted", apiCall(t, env, "GET", "/v1/x", test.Secret, nil), 429, "SANDBOX_QUOTA_EXCEEDED")
	r = apiCall(t, env, "GET", "/v1/x", live.Secret, nil)
	if r.Status != 404 || r.Header.Get("X-Quota-Used") != "11" || r.Header.Get("X-Quota-Limit") != "60000" || r.Header.Get("X-Sandbox-Limit") != "" {
		t.Fatalf("live traffic while the sandbox pool is exhausted: %d %v", r.Status, r.Header)
	}
}

func TestUsageRecordsFlushedAtShutdown(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		_, k := newOrgWithKey(t, env, "usage@example.com", apikey.ScopeRead)
		const n = 37
		for i := 0; i < n; i++ {
			method := "GET"
			if i%5 == 0 {
				method = "POST" // refused by scope: still recorded
			}
			apiCall(t, env, method, "/v1/patients/pt_"+strings.Repeat("9", i%3+1)+"?name=Secret+Name", k.Secret, nil)
		}
		apiCall(t, env, "GET", "/v1/x", "", nil) // no key: no organization to record it for
		cfg := env.App.Config
		if err := env.App.Close(); err != nil {
			t.Fatal(err)
		}
		db, err := store.Open(context.Background(), cfg.DatabaseURL, cfg.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var count, forbidden int
		if err := db.SQL().QueryRow(`SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = 403 THEN 1 ELSE 0 END), 0) FROM usage_records`).Scan(&count, &forbidden); err != nil {
			t.Fatal(err)
		}
		if count != n || forbidden != 8 {
			t.Fatalf("usage records: %d (%d forbidden), want %d (8 forbidden)", count, forbidden, n)
		}
		rows, err := db.SQL().Query(`SELECT route, key_id, env, request_id FROM usage_records`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var route, keyID, env, reqID string
			rows.Scan(&route, &keyID, &env, &reqID)
			all := route + keyID + env + reqID
			// The route template (GET has a route, POST falls to /v1/*), never the id or query.
			if route != "/v1/*" && route != "/v1/patients/:id" || keyID != k.Key.ID || env != "test" || !strings.HasPrefix(reqID, "req_") || strings.Contains(all, "pt_") || strings.Contains(all, "Secret") || strings.Contains(all, k.Secret) {
				t.Fatalf("usage record carries more than metadata: route %q key %q env %q request %q", route, keyID, env, reqID)
			}
		}
	})
}
