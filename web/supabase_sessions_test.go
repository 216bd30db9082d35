package web_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/account/supabase/gotruefake"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
)

// supabaseFake starts a fake Supabase Auth whose clock is set later (the
// clock of the first program on it) and returns it with the program's
// variables for it.
func supabaseFake(t *testing.T, fo gotruefake.Options) (*gotruefake.Server, map[string]string, func(func() time.Time)) {
	t.Helper()
	now := time.Now
	fo.Now = func() time.Time { return now() }
	fo.AnonKey, fo.Autoconfirm = "anon-key", true
	if !fo.Asymmetric {
		fo.JWTSecret = gotruefake.DefaultJWTSecret
	}
	fake := gotruefake.New(fo)
	t.Cleanup(fake.Close)
	vars := map[string]string{"SUPABASE_URL": fake.URL, "SUPABASE_ANON_KEY": "anon-key"}
	if !fo.Asymmetric {
		vars["SUPABASE_JWT_SECRET"] = gotruefake.DefaultJWTSecret
	}
	return fake, vars, func(clock func() time.Time) { now = clock }
}

// supabaseInstances starts two programs on one PostgreSQL database and one
// fake Supabase Auth; the fake runs on the first program's clock.
func supabaseInstances(t *testing.T, fo gotruefake.Options, extra map[string]string) (*apptest.Env, *apptest.Env, *gotruefake.Server) {
	t.Helper()
	fake, vars, setClock := supabaseFake(t, fo)
	for k, v := range extra {
		vars[k] = v
	}
	one, two := twoInstances(t, vars)
	setClock(one.Clock.Now)
	return one, two, fake
}

// advance moves the clocks of every program (and so the fake's) together.
func advance(d time.Duration, envs ...*apptest.Env) {
	for _, e := range envs {
		e.Clock.Advance(d)
	}
}

// replay is a stranger's browser holding copies of a person's cookies.
func replay(env *apptest.Env, access, refresh string) *apptest.Browser {
	b := env.Browser()
	u, _ := url.Parse(env.Server.URL)
	b.Client.Jar.SetCookies(u, []*http.Cookie{{Name: "clinik_session", Value: access, Path: "/"}, {Name: "clinik_refresh", Value: refresh, Path: "/"}})
	return b
}

// wantSignedOut checks that a page sends the browser to sign in.
func wantSignedOut(t *testing.T, what string, r *apptest.Response) {
	t.Helper()
	if r.URL.Path != "/signin" {
		t.Fatalf("%s: landed on %s (status %d), want the sign-in page", what, r.URL.Path, r.Status)
	}
}

func testSupabaseSignOutEndsSessionOnBothInstances(t *testing.T, extra map[string]string) {
	if os.Getenv(storetest.EnvPostgres) == "" {
		t.Skip(storetest.EnvPostgres + " is not set")
	}
	for _, mode := range []struct {
		name string
		opt  gotruefake.Options
	}{{"hs256", gotruefake.Options{}}, {"es256", gotruefake.Options{Asymmetric: true}}} {
		t.Run(mode.name, func(t *testing.T) {
			one, two, fake := supabaseInstances(t, mode.opt, extra)
			waitListening(t, one, two)
			b := one.Browser()
			orgID := b.SignUp("Sue Base", "sue@example.com", pw, "Supa Clinic")
			access, refresh := b.Cookie("clinik_session"), b.Cookie("clinik_refresh")
			for name, env := range map[string]*apptest.Env{"one": one, "two": two} {
				wantText(t, "copied cookies on instance "+name+" before sign-out", replay(env, access, refresh).Get("/o/"+orgID), "Supa Clinic")
			}
			users := fake.Hits("GET", "/user")

			wantSignedOut(t, "sign-out", b.Post("/signout", nil))
			// No clock moves: only the revocation can refuse them.
			wantSignedOut(t, "copied cookies on the instance that signed out", replay(one, access, refresh).Get("/o/"+orgID))
			waitFor(t, "the other instance to refuse the copied cookies", func() bool {
				return replay(two, access, refresh).Get("/o/"+orgID).URL.Path == "/signin"
			})
			if got := fake.Hits("GET", "/user") - users; got != 0 {
				t.Errorf("GET /user calls to refuse revoked sessions: got %d, want 0", got)
			}
			for name, env := range map[string]*apptest.Env{"one": one, "two": two} {
				r := replay(env, access, refresh).Post("/o/"+orgID+"/keys", url.Values{"name": {"stolen"}, "env": {"live"}, "scope": {"*"}})
				if r.Status != http.StatusUnauthorized || strings.Contains(r.Body, "clk_live_") {
					t.Errorf("creating a live key with copied cookies on instance %s: status %d", name, r.Status)
				}
			}
			// Later too: the revocation lasts as long as the token.
			advance(39*time.Minute, one, two)
			for name, env := range map[string]*apptest.Env{"one": one, "two": two} {
				wantSignedOut(t, "copied cookies 39 minutes later on instance "+name, replay(env, access, refresh).Get("/o/"+orgID))
			}
			if keys, err := one.App.Keys.List(context.Background(), orgID); err == nil {
				for _, k := range keys {
					if k.Name == "stolen" {
						t.Fatalf("a key was created with copied cookies after sign-out")
					}
				}
			}

			// Signing in again works on both.
			b.SignIn("sue@example.com", pw)
			wantText(t, "signed in again", b.Get("/o/"+orgID), "Supa Clinic")
			again := b.Cookie("clinik_session")
			wantText(t, "new session on instance two", replay(two, again, b.Cookie("clinik_refresh")).Get("/o/"+orgID), "Supa Clinic")
		})
	}
}

func TestSupabaseSignOutEndsSessionOnBothInstancesPostgresNotify(t *testing.T) {
	testSupabaseSignOutEndsSessionOnBothInstances(t, nil)
}

func TestSupabaseSignOutEndsSessionOnBothInstancesRedis(t *testing.T) {
	u := os.Getenv(apptest.EnvRedis)
	if u == "" {
		t.Skip(apptest.EnvRedis + " is not set")
	}
	testSupabaseSignOutEndsSessionOnBothInstances(t, map[string]string{"REDIS_URL": u})
}

// waitListening returns once two hears session revocations from one (its
// subscription is up, so the re-check every new subscription causes is
// behind us): a throw-away account signs out on one until two refuses it.
func waitListening(t *testing.T, one, two *apptest.Env) {
	t.Helper()
	c := one.Browser()
	orgID := c.SignUp("Canary", "canary@example.com", pw, "Canary Clinic")
	access, refresh := c.Cookie("clinik_session"), c.Cookie("clinik_refresh")
	wantSignedOut(t, "canary sign-out", c.Post("/signout", nil))
	waitFor(t, "instance two to hear revocations", func() bool {
		return replay(two, access, refresh).Get("/o/"+orgID).URL.Path == "/signin"
	})
}

func TestSupabaseSessionEndedAtSupabaseOnBothInstances(t *testing.T) {
	one, two, fake := supabaseInstances(t, gotruefake.Options{Asymmetric: true}, nil)
	waitListening(t, one, two)
	b := one.Browser()
	orgID := b.SignUp("Sue Base", "sue@example.com", pw, "Supa Clinic")
	access, refresh := b.Cookie("clinik_session"), b.Cookie("clinik_refresh")
	wantText(t, "instance two before the reset", replay(two, access, refresh).Get("/o/"+orgID), "Supa Clinic")

	// The password is reset through a link opened in another browser:
	// GoTrue ends every session of the person.
	if !fake.ResetPassword("sue@example.com", "a brand new password") {
		t.Fatal("no such user at the fake")
	}
	advance(30*time.Second, one, two)
	wantText(t, "within the minute", replay(two, access, refresh).Get("/o/"+orgID), "Supa Clinic")
	advance(31*time.Second, one, two)
	for name, env := range map[string]*apptest.Env{"one": one, "two": two} {
		wantSignedOut(t, "copied cookies on instance "+name+" 61 s after the reset", replay(env, access, refresh).Get("/o/"+orgID))
	}
	wantSignedOut(t, "the person's own browser", b.Get("/o/"+orgID))
	b.SignIn("sue@example.com", "a brand new password")
}

func TestSupabaseSessionRevalidation(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		fake, vars, setClock := supabaseFake(t, gotruefake.Options{})
		env := apptest.New(t, engine, vars)
		setClock(env.Clock.Now)
		b := env.Browser()
		orgID := b.SignUp("Sue Base", "sue@example.com", pw, "Supa Clinic")
		// A page a second for two minutes: two calls to GoTrue, not 120.
		for i := 0; i < 120; i++ {
			advance(time.Second, env)
			wantStatus(t, "page", b.Get("/o/"+orgID), http.StatusOK)
		}
		// (On PostgreSQL, one more when the invalidation listener's first
		// subscription comes after the sign-up: a new subscription makes
		// every session be checked, as messages may have been missed.)
		if got := fake.Hits("GET", "/user"); got != 2 && (engine == "sqlite" || got != 3) {
			t.Errorf("GET /user for 120 pages over 2 minutes: got %d, want 2", got)
		}
		// Signed out on another device (global scope): noticed within a minute.
		fake.EndSessions("sue@example.com")
		advance(time.Minute, env)
		wantSignedOut(t, "after a sign-out elsewhere", b.Get("/o/"+orgID))
	})
}

func TestSupabaseKeyRotationAndRemoval(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		fake, vars, setClock := supabaseFake(t, gotruefake.Options{Asymmetric: true})
		env := apptest.New(t, engine, vars)
		setClock(env.Clock.Now)
		b := env.Browser()
		orgID := b.SignUp("Sue Base", "sue@example.com", pw, "Supa Clinic")
		oldKid := fake.Kids()[0]
		oldAccess, oldRefresh := b.Cookie("clinik_session"), b.Cookie("clinik_refresh")

		// Rotation: sign-in with the new key works at once.
		fake.RotateKey()
		other := env.Browser()
		r := other.SignIn("sue@example.com", pw)
		wantText(t, "sign-in right after a key rotation", r, "Supa Clinic")
		wantText(t, "the next page", other.Get("/o/"+orgID), "Supa Clinic")
		wantText(t, "old key still published", replay(env, oldAccess, oldRefresh).Get("/o/"+orgID), "Supa Clinic")

		// Removal: a token signed with the removed key is refused within
		// the bound (here the minute's session check, as GoTrue refuses it
		// too; the JWKS itself is refreshed within 5 minutes).
		fake.RemoveKey(oldKid)
		advance(61*time.Second, env)
		wantSignedOut(t, "token signed with a removed key", replay(env, oldAccess, "").Get("/o/"+orgID))
		advance(4*time.Minute, env)
		wantText(t, "new key 5 minutes on", other.Get("/o/"+orgID), "Supa Clinic")
		logs := env.Logs.String()
		if !strings.Contains(logs, "no longer trusted") || !strings.Contains(logs, oldKid) {
			t.Errorf("the key's removal is not logged")
		}

		// A JWKS outage is logged (without tokens); cached keys keep working.
		fake.SetJWKSDown(true)
		advance(5*time.Minute, env)
		wantText(t, "JWKS down, keys cached", other.Get("/o/"+orgID), "Supa Clinic")
		logs = env.Logs.String()
		if !strings.Contains(logs, "fetching the JWKS failed") {
			t.Errorf("the JWKS failure is not logged")
		}
		for _, tok := range []string{oldAccess, oldRefresh, other.Cookie("clinik_session"), other.Cookie("clinik_refresh")} {
			if tok != "" && strings.Contains(logs, tok) {
				t.Fatalf("a token is in the log")
			}
		}
	})
}

func TestSupabaseClientAddress(t *testing.T) {
	for _, tc := range []struct {
		name, trust, sent, want string
	}{
		{"behind a trusted proxy", "true", "203.0.113.50", "203.0.113.50"},
		{"direct: a forged header is not passed on", "false", "203.0.113.50", "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, vars, setClock := supabaseFake(t, gotruefake.Options{RateLimitHeader: "X-Forwarded-For", SignInLimit: 30})
			vars["CLINIKAPI_TRUST_PROXY"] = tc.trust
			env := apptest.New(t, "sqlite", vars)
			setClock(env.Clock.Now)
			b := env.Browser()
			b.Headers["X-Forwarded-For"] = tc.sent
			b.SignUp("Sue Base", "sue@example.com", pw, "Supa Clinic")
			wantStatus(t, "sign-out", b.Post("/signout", nil), http.StatusOK)
			b.SignIn("sue@example.com", pw)
			for _, ep := range [][2]string{{"POST", "/signup"}, {"POST", "/token"}, {"POST", "/logout"}} {
				keys := fake.RateLimitKeys(ep[0], ep[1])
				if len(keys) == 0 || keys[len(keys)-1] != tc.want {
					t.Errorf("%s %s at GoTrue: X-Forwarded-For %q, want %q", ep[0], ep[1], keys, tc.want)
				}
			}
		})
	}
	// Many people behind the proxy are limited one by one.
	fake, vars, setClock := supabaseFake(t, gotruefake.Options{RateLimitHeader: "X-Forwarded-For", SignInLimit: 30})
	vars["CLINIKAPI_TRUST_PROXY"] = "true"
	env := apptest.New(t, "sqlite", vars)
	setClock(env.Clock.Now)
	for i := 0; i < 35; i++ {
		b := env.Browser()
		b.Headers["X-Forwarded-For"] = "198.51.100." + string(rune('0'+i/10)) + string(rune('0'+i%10))
		b.SignUp("Person", "p"+string(rune('a'+i/26))+string(rune('a'+i%26))+"@example.com", pw, "Clinic")
	}
	if got := len(fake.RateLimitKeys("POST", "/signup")); got != 35 {
		t.Errorf("sign-ups at GoTrue: %d, want 35", got)
	}
}

func TestSupabaseUnreachable(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		fake, vars, setClock := supabaseFake(t, gotruefake.Options{})
		env := apptest.New(t, engine, vars)
		setClock(env.Clock.Now)
		b := env.Browser()
		orgID := b.SignUp("Sue Base", "sue@example.com", pw, "Supa Clinic")
		access, refresh := b.Cookie("clinik_session"), b.Cookie("clinik_refresh")
		fake.Close()

		// Within 5 minutes of Supabase's last word the session carries on.
		advance(4*time.Minute, env)
		wantText(t, "Supabase down for 4 minutes", b.Get("/o/"+orgID), "Supa Clinic")
		// Then pages that need a person say so, and keep the cookies.
		advance(2*time.Minute, env)
		r := b.Get("/o/" + orgID)
		wantStatus(t, "Supabase down for 6 minutes", r, http.StatusServiceUnavailable)
		wantText(t, "Supabase down for 6 minutes", r, "unavailable")
		if b.Cookie("clinik_session") != access {
			t.Fatalf("the session cookie was dropped while Supabase was unreachable")
		}
		// Signing out still works, and ends the session everywhere.
		wantSignedOut(t, "sign-out with Supabase down", b.Post("/signout", nil))
		if b.Cookie("clinik_session") != "" {
			t.Errorf("session cookie kept after sign-out")
		}
		wantSignedOut(t, "copied cookies after that sign-out", replay(env, access, refresh).Get("/o/"+orgID))
	})
}
