package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

type apiResult struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

func apiCall(t *testing.T, env *apptest.Env, method, path, key string, body io.Reader, headers ...string) apiResult {
	t.Helper()
	req, _ := http.NewRequest(method, env.Server.URL+path, body)
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := apiResult{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &r.Body)
	return r
}

func wantAPIError(t *testing.T, what string, r apiResult, status int, code string) {
	t.Helper()
	if r.Status != status || r.Body["code"] != code {
		t.Fatalf("%s: %d %v, want %d %s\n%s", what, r.Status, r.Body["code"], status, code, r.Raw)
	}
	if r.Body["requestId"] != r.Header.Get("X-Request-Id") || r.Header.Get("X-Request-Id") == "" {
		t.Fatalf("%s: requestId %v does not match X-Request-Id %q", what, r.Body["requestId"], r.Header.Get("X-Request-Id"))
	}
	issues, _ := r.Body["issues"].([]any)
	issue, _ := r.Body["issue"].([]any)
	if len(issues) == 0 || len(issue) != len(issues) || r.Body["error"] == "" || r.Body["message"] == "" {
		t.Fatalf("%s: error body incomplete: %s", what, r.Raw)
	}
	if r.Header.Get("X-Timestamp") == "" {
		t.Fatalf("%s: no X-Timestamp", what)
	}
}

// newOrgWithKey signs up an owner and creates a key with the given scope.
func newOrgWithKey(t *testing.T, env *apptest.Env, email string, scope apikey.Scope) (orgID string, key apikey.Created) {
	t.Helper()
	orgID = env.Browser().SignUp("", email, pw, "API Org")
	k, err := env.App.Keys.Create(context.Background(), apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "backend", Env: apikey.Test, Scope: scope})
	if err != nil {
		t.Fatal(err)
	}
	return orgID, k
}

func TestAPIAuthErrors(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		_, k := newOrgWithKey(t, env, "api@example.com", apikey.ScopeAll)

		wantAPIError(t, "no key", apiCall(t, env, "GET", "/v1/patients", "", nil), 401, "UNAUTHORIZED")
		wantAPIError(t, "malformed key", apiCall(t, env, "GET", "/v1/patients", "clk_prod_123", nil), 401, "INVALID_KEY_FORMAT")
		wantAPIError(t, "unknown key", apiCall(t, env, "GET", "/v1/patients", "clk_test_"+strings.Repeat("A", 32), nil), 401, "INVALID_KEY")
		r := apiCall(t, env, "GET", "/v1/patients?api_key="+k.Secret, "", nil)
		wantAPIError(t, "key in the query string", r, 401, "UNAUTHORIZED")
		for _, h := range []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"} {
			wantAPIError(t, h, apiCall(t, env, "POST", "/v1/patients", k.Secret, nil, h, "DELETE"), 400, "METHOD_OVERRIDE_REJECTED")
		}
		big := strings.NewReader(strings.Repeat("x", 1<<20+1))
		wantAPIError(t, "body over 1 MiB", apiCall(t, env, "POST", "/v1/patients", k.Secret, big, "Content-Type", "application/json"), 413, "PAYLOAD_TOO_LARGE")

		for _, p := range []string{"/v1/patients/..%2Fkeys", "/v1/patients/%2e%2e/x", "/v1/patients/a%5Cb", "/v1//patients"} {
			r := apiCall(t, env, "GET", p, k.Secret, nil)
			wantAPIError(t, "malformed path "+p, r, 404, "NOT_FOUND")
			if !strings.Contains(r.Raw, "malformed") {
				t.Fatalf("path %s was not refused as malformed: %s", p, r.Raw)
			}
		}
		// Whatever the path or method under /v1, the key comes first.
		for _, mp := range [][2]string{{"GET", "/v1"}, {"POST", "/v1"}, {"QUERY", "/v1/patients"}, {"FOO", "/v1/no-such-thing"}} {
			wantAPIError(t, mp[0]+" "+mp[1]+" without a key", apiCall(t, env, mp[0], mp[1], "", nil), 401, "UNAUTHORIZED")
		}
		wantAPIError(t, "/v1 with a key", apiCall(t, env, "GET", "/v1", k.Secret, nil), 404, "NOT_FOUND")
		r = apiCall(t, env, "GET", "/v1/no-such-thing", k.Secret, nil)
		wantAPIError(t, "unknown route with a valid key", r, 404, "NOT_FOUND")
		if r.Header.Get("X-RateLimit-Limit") != "100" || r.Header.Get("X-RateLimit-Remaining") == "" || r.Header.Get("X-RateLimit-Reset") == "" {
			t.Fatalf("rate-limit headers on an authenticated response: %v", r.Header)
		}
		if strings.Contains(env.Logs.String(), k.Secret) {
			t.Fatalf("a key secret reached the log")
		}
	})
}

func TestAPIScopes(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	methods := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}
	allowed := map[apikey.Scope]map[string]bool{
		apikey.ScopeRead:  {"GET": true, "HEAD": true},
		apikey.ScopeWrite: {"POST": true, "PUT": true, "PATCH": true, "DELETE": true},
		apikey.ScopeAll:   {"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true},
	}
	for i, scope := range []apikey.Scope{apikey.ScopeRead, apikey.ScopeWrite, apikey.ScopeAll} {
		_, k := newOrgWithKey(t, env, "scope"+strconv.Itoa(i)+"@example.com", scope)
		for _, m := range methods {
			r := apiCall(t, env, m, "/v1/patients/pt_1", k.Secret, nil)
			want := 403
			if allowed[scope][m] {
				want = 404 // passes the pipeline; no such record yet
			}
			if r.Status != want {
				t.Errorf("scope %s, %s: status %d, want %d (%s)", scope, m, r.Status, want, r.Raw)
			}
			if want == 403 && m != "HEAD" && r.Body["code"] != "INSUFFICIENT_SCOPE" {
				t.Errorf("scope %s, %s: code %v, want INSUFFICIENT_SCOPE", scope, m, r.Body["code"])
			}
		}
	}
}

func TestAPIKeyLifecycle(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		ctx := context.Background()
		orgID, k := newOrgWithKey(t, env, "life@example.com", apikey.ScopeAll)
		a := apikey.Actor{OrgID: orgID}
		if r := apiCall(t, env, "GET", "/v1/x", k.Secret, nil); r.Status != 404 {
			t.Fatalf("fresh key: %d %s", r.Status, r.Raw)
		}
		// Roll with a one-hour grace: both secrets work, then only the new one.
		rolled, err := env.App.Keys.Roll(ctx, a, k.Key.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{k.Secret, rolled.Secret} {
			if r := apiCall(t, env, "GET", "/v1/x", s, nil); r.Status != 404 {
				t.Fatalf("inside the grace period: %d %s", r.Status, r.Raw)
			}
		}
		env.Clock.Advance(time.Hour + time.Second)
		wantAPIError(t, "old secret after the grace period", apiCall(t, env, "GET", "/v1/x", k.Secret, nil), 401, "KEY_EXPIRED")
		if r := apiCall(t, env, "GET", "/v1/x", rolled.Secret, nil); r.Status != 404 {
			t.Fatalf("new secret after the grace period: %d %s", r.Status, r.Raw)
		}
		// Revocation takes effect on the very next request.
		if _, err := env.App.Keys.Revoke(ctx, a, k.Key.ID); err != nil {
			t.Fatal(err)
		}
		wantAPIError(t, "revoked key", apiCall(t, env, "GET", "/v1/x", rolled.Secret, nil), 401, "KEY_REVOKED")

		// Expiry.
		exp, err := env.App.Keys.Create(ctx, a, apikey.CreateInput{Name: "short", Env: apikey.Live, ExpiresAt: env.Clock.Now().Add(24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if r := apiCall(t, env, "GET", "/v1/x", exp.Secret, nil); r.Status != 404 {
			t.Fatalf("before expiry: %d %s", r.Status, r.Raw)
		}
		env.Clock.Advance(24 * time.Hour)
		wantAPIError(t, "expired key", apiCall(t, env, "GET", "/v1/x", exp.Secret, nil), 401, "KEY_EXPIRED")
	})
}

func TestAPIRateLimit(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	orgID, k := newOrgWithKey(t, env, "rl@example.com", apikey.ScopeAll)
	// A second key of the same organization shares the limit.
	k2, err := env.App.Keys.Create(context.Background(), apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "second", Env: apikey.Live})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		key := k.Secret
		if i%2 == 1 {
			key = k2.Secret
		}
		r := apiCall(t, env, "GET", "/v1/x", key, nil)
		if r.Status != 404 {
			t.Fatalf("request %d: %d %s", i+1, r.Status, r.Raw)
		}
		if got, want := r.Header.Get("X-RateLimit-Remaining"), strconv.Itoa(99-i); got != want {
			t.Fatalf("request %d: X-RateLimit-Remaining %s, want %s", i+1, got, want)
		}
	}
	r := apiCall(t, env, "GET", "/v1/x", k.Secret, nil)
	wantAPIError(t, "101st request in a minute", r, 429, "RATE_LIMITED")
	ra, _ := strconv.Atoi(r.Header.Get("Retry-After"))
	if ra < 1 || ra > 60 || r.Header.Get("X-RateLimit-Reset") != r.Header.Get("Retry-After") {
		t.Fatalf("Retry-After %q, X-RateLimit-Reset %q: want the same, 1 to 60 s (a rolling minute)", r.Header.Get("Retry-After"), r.Header.Get("X-RateLimit-Reset"))
	}
	// Another organization is not affected.
	_, other := newOrgWithKey(t, env, "rl2@example.com", apikey.ScopeAll)
	if r := apiCall(t, env, "GET", "/v1/x", other.Secret, nil); r.Status != 404 {
		t.Fatalf("other organization: %d", r.Status)
	}
	env.Clock.Advance(2 * time.Minute)
	if r := apiCall(t, env, "GET", "/v1/x", k.Secret, nil); r.Status != 404 {
		t.Fatalf("after the window: %d %s", r.Status, r.Raw)
	}
}
