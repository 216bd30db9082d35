package web_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/account/supabase/gotruefake"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

// supabaseEnv runs the program against an in-process fake of Supabase Auth
// sharing the test's clock.
func supabaseEnv(t *testing.T, engine string, asymmetric bool) (*apptest.Env, *gotruefake.Server) {
	t.Helper()
	now := time.Now
	fake := gotruefake.New(gotruefake.Options{JWTSecret: gotruefake.DefaultJWTSecret, Asymmetric: asymmetric, Autoconfirm: true, AnonKey: "anon-key", Now: func() time.Time { return now() }})
	t.Cleanup(fake.Close)
	vars := map[string]string{"SUPABASE_URL": fake.URL, "SUPABASE_ANON_KEY": "anon-key"}
	if !asymmetric {
		vars["SUPABASE_JWT_SECRET"] = gotruefake.DefaultJWTSecret
	}
	env := apptest.New(t, engine, vars)
	now = env.Clock.Now
	return env, fake
}

func TestSupabaseDashboardSessions(t *testing.T) {
	for _, mode := range []struct {
		name       string
		asymmetric bool
	}{{"hs256", false}, {"es256", true}} {
		t.Run(mode.name, func(t *testing.T) {
			apptest.Engines(t, func(t *testing.T, engine string) {
				env, fake := supabaseEnv(t, engine, mode.asymmetric)
				b := env.Browser()
				orgID := b.SignUp("Sue Base", "sue@example.com", pw, "Supa Clinic")
				wantText(t, "overview", b.Get("/o/"+orgID), "Supa Clinic", "Sue Base")
				access, refresh := b.Cookie("clinik_session"), b.Cookie("clinik_refresh")
				if access == "" || refresh == "" {
					t.Fatalf("session cookies after Supabase sign-up: access %t, refresh %t", access != "", refresh != "")
				}

				// The access token expires; the next page refreshes it transparently.
				env.Clock.Advance(2 * time.Hour)
				wantStatus(t, "after the access token expired", b.Get("/o/"+orgID), http.StatusOK)
				if b.Cookie("clinik_session") == access || b.Cookie("clinik_refresh") == refresh {
					t.Fatalf("tokens were not refreshed")
				}

				// A tampered access token is refused (and the cookies cleared).
				evil := env.Browser()
				u, _ := url.Parse(env.Server.URL)
				evil.Client.Jar.SetCookies(u, []*http.Cookie{{Name: "clinik_session", Value: fake.TamperedToken(b.Cookie("clinik_session")), Path: "/"}})
				if r := evil.Get("/o/" + orgID); r.URL.Path != "/signin" {
					t.Fatalf("tampered token reached %s", r.URL.Path)
				}

				r := b.Post("/signout", nil)
				if r.URL.Path != "/signin" || fake.Sessions("sue@example.com") != 0 {
					t.Fatalf("sign-out: at %s with %d Supabase sessions left", r.URL.Path, fake.Sessions("sue@example.com"))
				}
				wantStatus(t, "wrong password", b.Post("/signin", url.Values{"email": {"sue@example.com"}, "password": {"not it at all"}}), http.StatusUnauthorized)
				b.SignIn("sue@example.com", pw)
				wantText(t, "after sign-in", b.Get("/"), "Supa Clinic")

				// Password reset through Supabase's recovery e-mail.
				wantStatus(t, "forgot", b.Post("/forgot-password", url.Values{"email": {"sue@example.com"}}), http.StatusOK)
				token := fake.LastRecoveryTokenHash("sue@example.com")
				if token == "" {
					t.Fatalf("no recovery e-mail at Supabase")
				}
				wantStatus(t, "reset page", b.Get("/reset-password?token="+token), http.StatusOK)
				r = b.Post("/reset-password", url.Values{"token": {token}, "password": {"brand new garnet harbor"}})
				wantText(t, "reset", r, "Your password was changed")
				b.SignIn("sue@example.com", "brand new garnet harbor")

				audit := b.Get("/o/" + orgID + "/audit")
				wantText(t, "audit", audit, "user.signed_up", "user.signed_in", "user.signed_out", "user.password_reset", "user.sign_in_failed")
			})
		})
	}
}

func TestSupabaseGitHubSignIn(t *testing.T) {
	now := time.Now
	fake := gotruefake.New(gotruefake.Options{JWTSecret: gotruefake.DefaultJWTSecret, Autoconfirm: true, Now: func() time.Time { return now() }})
	t.Cleanup(fake.Close)
	env := apptest.New(t, "sqlite", map[string]string{"SUPABASE_URL": fake.URL, "SUPABASE_ANON_KEY": "anon", "SUPABASE_JWT_SECRET": gotruefake.DefaultJWTSecret, "SUPABASE_GITHUB_ENABLED": "true"})
	now = env.Clock.Now
	b := env.Browser()
	wantText(t, "sign-in page", b.Get("/signin"), "Continue with GitHub")
	// Start the flow without following the redirect to GitHub.
	b.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r := b.Post("/auth/github", url.Values{"next": {"/orgs/new"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("OAuth start: %d", r.Status)
	}
	callback, err := fake.CompleteOAuth(r.Header.Get("Location"), "octo@example.com")
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := url.Parse(callback)
	b.Client.CheckRedirect = nil
	r = b.Get(cb.RequestURI())
	wantStatus(t, "OAuth callback", r, http.StatusOK)
	if r.URL.Path != "/orgs/new" {
		t.Fatalf("after GitHub sign-in landed on %s, want /orgs/new", r.URL.Path)
	}
	wantText(t, "first organization", r, "Create your first organization", "octo@example.com")
}
