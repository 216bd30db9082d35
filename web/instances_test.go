package web_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/random"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
)

// waitFor polls cond for up to 5 s (cross-instance messages are asynchronous).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 250; i++ {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// twoInstances starts two servers on one PostgreSQL database.
func twoInstances(t *testing.T, extra map[string]string) (*apptest.Env, *apptest.Env) {
	t.Helper()
	if os.Getenv(storetest.EnvPostgres) == "" {
		t.Skip(storetest.EnvPostgres + " is not set")
	}
	// Both instances share the database and the Redis prefix, as a real
	// deployment does.
	vars := map[string]string{"DATABASE_URL": storetest.DatabaseURL(t, "postgres"), "CLINIKAPI_REDIS_PREFIX": random.ID("test") + ":"}
	for k, v := range extra {
		vars[k] = v
	}
	return apptest.New(t, "postgres", vars), apptest.New(t, "postgres", vars)
}

func testRevocationAcrossInstances(t *testing.T, extra map[string]string) {
	one, two := twoInstances(t, extra)
	_, k := newOrgWithKey(t, one, "multi@example.com", apikey.ScopeAll)
	// Both instances verify (and cache) the key.
	for _, env := range []*apptest.Env{one, two} {
		if r := apiCall(t, env, "GET", "/v1/x", k.Secret, nil); r.Status != 404 {
			t.Fatalf("before revocation: %d %s", r.Status, r.Raw)
		}
	}
	if _, err := one.App.Keys.Revoke(context.Background(), apikey.Actor{OrgID: k.Key.OrgID}, k.Key.ID); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, "revoked, same instance", apiCall(t, one, "GET", "/v1/x", k.Secret, nil), 401, "KEY_REVOKED")
	waitFor(t, "the other instance to refuse the revoked key", func() bool {
		return apiCall(t, two, "GET", "/v1/x", k.Secret, nil).Status == 401
	})
	wantAPIError(t, "revoked, other instance", apiCall(t, two, "GET", "/v1/x", k.Secret, nil), 401, "KEY_REVOKED")
}

func TestRevocationAcrossInstancesPostgresNotify(t *testing.T) {
	testRevocationAcrossInstances(t, nil)
}

func TestRevocationAcrossInstancesRedis(t *testing.T) {
	url := os.Getenv(apptest.EnvRedis)
	if url == "" {
		t.Skip(apptest.EnvRedis + " is not set")
	}
	testRevocationAcrossInstances(t, map[string]string{"REDIS_URL": url})
}

func TestRateLimitSharedThroughRedis(t *testing.T) {
	url := os.Getenv(apptest.EnvRedis)
	if url == "" {
		t.Skip(apptest.EnvRedis + " is not set")
	}
	one, two := twoInstances(t, map[string]string{"REDIS_URL": url})
	_, k := newOrgWithKey(t, one, "shared-rl@example.com", apikey.ScopeAll)
	for i := 0; i < 100; i++ {
		env := one
		if i%2 == 1 {
			env = two
		}
		if r := apiCall(t, env, "GET", "/v1/x", k.Secret, nil); r.Status != 404 {
			t.Fatalf("request %d: %d %s", i+1, r.Status, r.Raw)
		}
	}
	wantAPIError(t, "101st request across two instances", apiCall(t, two, "GET", "/v1/x", k.Secret, nil), 429, "RATE_LIMITED")
	wantAPIError(t, "102nd request across two instances", apiCall(t, one, "GET", "/v1/x", k.Secret, nil), 429, "RATE_LIMITED")
}
