package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

const pw = "correct horse battery"

func wantStatus(t *testing.T, what string, r *apptest.Response, want int) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("%s: status %d, want %d\n%s", what, r.Status, want, apptest.Text(r.Body))
	}
}

func wantText(t *testing.T, what string, r *apptest.Response, texts ...string) {
	t.Helper()
	body := apptest.Text(r.Body)
	for _, s := range texts {
		if !strings.Contains(body, s) {
			t.Fatalf("%s: page does not say %q\n%s", what, s, body)
		}
	}
}

func TestSignUpSignOutSignIn(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		b := env.Browser()

		r := b.Get("/")
		if r.URL.Path != "/signin" {
			t.Fatalf("signed-out home went to %s, want /signin", r.URL.Path)
		}
		orgID := b.SignUp("Ada Lovelace", "Ada@Example.com", pw, "Analytical Health")
		if !regexp.MustCompile(`^org_[0-9a-z]{16}$`).MatchString(orgID) {
			t.Fatalf("organization id %q does not look like org_…", orgID)
		}
		r = b.Get("/o/" + orgID)
		wantStatus(t, "overview", r, http.StatusOK)
		wantText(t, "overview", r, "Analytical Health", "Owner", "Ada Lovelace", "Getting started")

		session := b.Cookie("clinik_session")
		if len(session) < 32 {
			t.Fatalf("session cookie %q is too short for 128 bits", session)
		}
		r = b.Post("/signout", nil)
		if r.URL.Path != "/signin" {
			t.Fatalf("sign-out landed on %s, want /signin", r.URL.Path)
		}
		wantText(t, "after sign-out", r, "You are signed out.")
		// The old session secret no longer works anywhere.
		replay := env.Browser()
		u, _ := url.Parse(env.Server.URL)
		replay.Client.Jar.SetCookies(u, []*http.Cookie{{Name: "clinik_session", Value: session, Path: "/"}})
		if r := replay.Get("/o/" + orgID); r.URL.Path != "/signin" {
			t.Fatalf("replayed session after sign-out reached %s, want /signin", r.URL.Path)
		}

		// Wrong password and unknown account read the same.
		bad := b.Post("/signin", url.Values{"email": {"ada@example.com"}, "password": {"wrong password"}})
		wantStatus(t, "wrong password", bad, http.StatusUnauthorized)
		unknown := b.Post("/signin", url.Values{"email": {"nobody@example.com"}, "password": {"wrong password"}})
		wantStatus(t, "unknown account", unknown, http.StatusUnauthorized)
		if a, b := apptest.Text(bad.Body), apptest.Text(unknown.Body); !strings.Contains(a, "The e-mail or password is incorrect.") || strings.Replace(b, "nobody@example.com", "ada@example.com", 1) != a {
			t.Fatalf("wrong-password and unknown-account pages differ:\n%s\n%s", a, b)
		}

		b.SignIn("ADA@example.com", pw)
		if got := b.Cookie("clinik_session"); got == session || got == "" {
			t.Fatalf("sign-in reused the old session id")
		}
		wantText(t, "after sign-in", b.Get("/"), "Analytical Health")

		// The audit trail has the whole story.
		audit := b.Get("/o/" + orgID + "/audit")
		wantStatus(t, "audit log", audit, http.StatusOK)
		wantText(t, "audit log", audit, "user.signed_up", "organization.created", "user.signed_out", "user.signed_in")
	})
}

func TestSignUpValidation(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	b := env.Browser()
	cases := []struct {
		name string
		form url.Values
		want string
	}{
		{"bad e-mail", url.Values{"email": {"not-an-email"}, "password": {pw}, "org_name": {"X"}}, "Enter a valid e-mail address"},
		{"short password", url.Values{"email": {"a@example.com"}, "password": {"short"}, "org_name": {"X"}}, "at least 8 characters"},
		{"no organization", url.Values{"email": {"a@example.com"}, "password": {pw}, "org_name": {"  "}}, "Enter a name for your organization."},
	}
	for _, c := range cases {
		r := b.Post("/signup", c.form)
		wantStatus(t, c.name, r, http.StatusUnprocessableEntity)
		wantText(t, c.name, r, c.want)
		if strings.Contains(r.Body, pw) {
			t.Fatalf("%s: the password was echoed back into the page", c.name)
		}
	}
	b.SignUp("", "a@example.com", pw, "First")
	r := env.Browser().Post("/signup", url.Values{"email": {"a@example.com"}, "password": {pw}, "org_name": {"Second"}})
	wantStatus(t, "duplicate", r, http.StatusUnprocessableEntity)
	wantText(t, "duplicate", r, "An account with this e-mail already exists")
}

func TestSignInThrottled(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	env.Browser().SignUp("", "t@example.com", pw, "T")
	b := env.Browser()
	var last *apptest.Response
	for i := 0; i < 11; i++ {
		last = b.Post("/signin", url.Values{"email": {"t@example.com"}, "password": {"nope nope"}})
	}
	wantStatus(t, "11th attempt", last, http.StatusTooManyRequests)
	wantText(t, "11th attempt", last, "Too many attempts")
	// Even the right password waits until the window passes.
	wantStatus(t, "right password while throttled", b.Post("/signin", url.Values{"email": {"t@example.com"}, "password": {pw}}), http.StatusTooManyRequests)
	env.Clock.Advance(31 * time.Minute)
	b.SignIn("t@example.com", pw)
}

func TestSessionIdleTimeout(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	b := env.Browser()
	orgID := b.SignUp("", "idle@example.com", pw, "Idle")
	env.Clock.Advance(23 * time.Hour)
	wantStatus(t, "within idle timeout", b.Get("/o/"+orgID), http.StatusOK)
	env.Clock.Advance(23 * time.Hour) // touched above, so still alive
	wantStatus(t, "activity extends the session", b.Get("/o/"+orgID), http.StatusOK)
	env.Clock.Advance(25 * time.Hour)
	if r := b.Get("/o/" + orgID); r.URL.Path != "/signin" {
		t.Fatalf("after 25 idle hours reached %s, want /signin", r.URL.Path)
	}
}

func TestCrossSiteFormsRefused(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		b := env.Browser()
		orgID := b.SignUp("", "o@example.com", pw, "Original Name")

		b.Site = "cross-site"
		r := b.Post("/o/"+orgID+"/settings", url.Values{"org_name": {"Hijacked"}})
		wantStatus(t, "cross-site rename", r, http.StatusForbidden)
		b.Site = ""
		b.Headers["Origin"] = "https://evil.example"
		r = b.Post("/o/"+orgID+"/settings", url.Values{"org_name": {"Hijacked"}})
		wantStatus(t, "foreign Origin rename", r, http.StatusForbidden)
		r = b.Post("/signout", nil)
		wantStatus(t, "cross-site sign-out", r, http.StatusForbidden)
		// HTMX requests are state changes too.
		b.Headers["HX-Request"] = "true"
		wantStatus(t, "cross-site htmx invite", b.Post("/o/"+orgID+"/invites", url.Values{"email": {"x@example.com"}, "role": {"admin"}}), http.StatusForbidden)

		delete(b.Headers, "Origin")
		delete(b.Headers, "HX-Request")
		b.Site = "same-origin"
		wantText(t, "name unchanged", b.Get("/o/"+orgID+"/settings"), "Original Name")
		r = b.Post("/o/"+orgID+"/settings", url.Values{"org_name": {"Renamed"}})
		wantStatus(t, "same-origin rename", r, http.StatusOK)
		wantText(t, "renamed", r, "Renamed", "Organization renamed.")
	})
}

func TestSecurityHeaders(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	r := env.Browser().Get("/signin")
	for k, want := range map[string]string{
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "strict-origin-when-cross-origin",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	csp := r.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	if r.Header.Get("Strict-Transport-Security") != "" {
		t.Errorf("HSTS sent over plain HTTP")
	}
	if !regexp.MustCompile(`^req_[0-9a-z]{16}$`).MatchString(r.Header.Get("X-Request-Id")) || r.Header.Get("X-Timestamp") == "" {
		t.Errorf("X-Request-Id %q / X-Timestamp %q", r.Header.Get("X-Request-Id"), r.Header.Get("X-Timestamp"))
	}
	// API answers (JSON, often PHI) carry the API's set: never cached, never
	// rendered, without the HTML-only policies.
	a := env.Browser().Get("/v1/patients")
	for k, want := range map[string]string{
		"Cache-Control":           "no-store",
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		"Permissions-Policy":      "",
		"Referrer-Policy":         "",
	} {
		if got := a.Header.Get(k); got != want {
			t.Errorf("API %s = %q, want %q", k, got, want)
		}
	}
	if a.Header.Get("X-Request-Id") == "" || a.Header.Get("X-Timestamp") == "" {
		t.Errorf("API answer without X-Request-Id / X-Timestamp")
	}
	if strings.Contains(r.Body, "<script>") || strings.Contains(r.Body, " style=\"") {
		t.Errorf("page has inline script or style, which the CSP would block")
	}
	css := regexp.MustCompile(`/static/app\.[0-9a-f]{8}\.css`).FindString(r.Body)
	s := env.Browser().Get(css)
	wantStatus(t, "hashed stylesheet", s, http.StatusOK)
	if cc := s.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("Cache-Control of %s = %q, want immutable", css, cc)
	}
}

func TestHealthAndReady(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	b := env.Browser()
	wantStatus(t, "/health", b.Get("/health"), http.StatusOK)
	r := b.Get("/ready")
	wantStatus(t, "/ready", r, http.StatusOK)
	if !strings.Contains(r.Body, `"database":"ok"`) {
		t.Fatalf("/ready body %s", r.Body)
	}
	env.App.DB.Close()
	wantStatus(t, "/ready with the database closed", b.Get("/ready"), http.StatusServiceUnavailable)
	wantStatus(t, "/health with the database closed", b.Get("/health"), http.StatusOK)
}

func TestPasswordReset(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	env.Browser().SignUp("", "r@example.com", pw, "R")
	other := env.Browser()
	orgID := other.SignUp("", "keep@example.com", pw, "K")

	b := env.Browser()
	for _, email := range []string{"r@example.com", "ghost@example.com"} {
		r := b.Post("/forgot-password", url.Values{"email": {email}})
		wantStatus(t, "forgot "+email, r, http.StatusOK)
		wantText(t, "forgot "+email, r, "If an account exists for that address")
	}
	if _, ok := env.Mail.Last("ghost@example.com"); ok {
		t.Fatalf("a reset e-mail went to an address without an account")
	}
	msg, ok := env.Mail.Last("r@example.com")
	if !ok {
		t.Fatalf("no reset e-mail sent")
	}
	link := regexp.MustCompile(`http://\S+/reset-password\?token=\S+`).FindString(msg.Body)
	u, _ := url.Parse(link)
	token := u.Query().Get("token")
	r := b.Get(u.RequestURI())
	wantStatus(t, "reset page", r, http.StatusOK)
	r = b.Post("/reset-password", url.Values{"token": {token}, "password": {"new lantern quiet 123"}})
	wantStatus(t, "reset", r, http.StatusOK)
	wantText(t, "reset", r, "Your password was changed")
	r = b.Post("/reset-password", url.Values{"token": {token}, "password": {"second ocean garnet"}})
	wantStatus(t, "reused reset link", r, http.StatusUnprocessableEntity)
	wantText(t, "reused reset link", r, "invalid or has expired")
	b.SignIn("r@example.com", "new lantern quiet 123")
	// Other people's sessions are untouched.
	wantStatus(t, "other user's session", other.Get("/o/"+orgID), http.StatusOK)
}
