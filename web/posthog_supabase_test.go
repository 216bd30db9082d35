package web_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/account/supabase/gotruefake"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/product"
)

// With Supabase Auth, both an e-mail sign-up and the first GitHub sign-in
// are "signed up"; signing in again with GitHub is not.
func TestPostHogSupabaseSignUps(t *testing.T) {
	ph := newPostHog(t)
	now := time.Now
	fake := gotruefake.New(gotruefake.Options{JWTSecret: gotruefake.DefaultJWTSecret, Autoconfirm: true, Now: func() time.Time { return now() }})
	t.Cleanup(fake.Close)
	env := apptest.New(t, "sqlite", map[string]string{"SUPABASE_URL": fake.URL, "SUPABASE_ANON_KEY": "anon", "SUPABASE_JWT_SECRET": gotruefake.DefaultJWTSecret,
		"SUPABASE_GITHUB_ENABLED": "true", "POSTHOG_API_KEY": "phc_project", "POSTHOG_HOST": ph.srv.URL})
	now = env.Clock.Now

	env.Browser().SignUp("Erin Email", "erin@example.com", pw, "Echo Clinic")
	erinID := accountID(t, env, "erin@example.com")

	github := func() {
		b := env.Browser()
		b.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		r := b.Post("/auth/github", url.Values{})
		callback, err := fake.CompleteOAuth(r.Header.Get("Location"), "octo@example.com")
		if err != nil {
			t.Fatal(err)
		}
		cb, _ := url.Parse(callback)
		b.Client.CheckRedirect = nil
		wantStatus(t, "OAuth callback", b.Get(cb.RequestURI()), http.StatusOK)
	}
	github()
	github()
	octoID := accountID(t, env, "octo@example.com")
	if err := env.App.Close(); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, c := range ph.captures() {
		if c.Event == product.SignedUp {
			count[c.DistinctID+"/"+c.Props["method"].(string)+"/"+c.Props["provider"].(string)]++
		}
	}
	if len(count) != 2 || count[erinID+"/password/supabase"] != 1 || count[octoID+"/oauth/supabase"] != 1 {
		t.Fatalf("signed-up events = %v; want one for %s by password and one for %s by oauth", count, erinID, octoID)
	}
}
