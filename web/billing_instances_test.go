package web_test

import (
	"context"
	"os"
	"testing"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

// testPlanChangeAcrossInstances changes the plan on one instance; the other
// applies the new limits without waiting for its plan cache to expire (the
// test clock stands still, so only the invalidation message can do it).
func testPlanChangeAcrossInstances(t *testing.T, extra map[string]string) {
	one, two := twoInstances(t, extra)
	orgID, k := newOrgWithKey(t, one, "plan-multi@example.com", apikey.ScopeAll)
	for _, env := range []*apptest.Env{one, two} {
		if r := apiCall(t, env, "GET", "/v1/x", k.Secret, nil); r.Header.Get("X-RateLimit-Limit") != "100" {
			t.Fatalf("before the change: rate limit %q, want 100", r.Header.Get("X-RateLimit-Limit"))
		}
	}
	if err := one.App.Billing.SetPlanSystem(context.Background(), orgID, "team", "test"); err != nil {
		t.Fatal(err)
	}
	if r := apiCall(t, one, "GET", "/v1/x", k.Secret, nil); r.Header.Get("X-RateLimit-Limit") != "5000" {
		t.Fatalf("same instance after the change: rate limit %q, want 5000", r.Header.Get("X-RateLimit-Limit"))
	}
	waitFor(t, "the other instance to apply the Team plan", func() bool {
		return apiCall(t, two, "GET", "/v1/x", k.Secret, nil).Header.Get("X-RateLimit-Limit") == "5000"
	})
}

func TestPlanChangeAcrossInstancesPostgresNotify(t *testing.T) {
	testPlanChangeAcrossInstances(t, nil)
}

func TestPlanChangeAcrossInstancesRedis(t *testing.T) {
	url := os.Getenv(apptest.EnvRedis)
	if url == "" {
		t.Skip(apptest.EnvRedis + " is not set")
	}
	testPlanChangeAcrossInstances(t, map[string]string{"REDIS_URL": url})
}
