package supabase_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/account"
	"github.com/clinikapi/clinikapi/internal/account/supabase"
	"github.com/clinikapi/clinikapi/internal/account/supabase/gotruefake"
	"github.com/clinikapi/clinikapi/internal/errs"
)

const (
	anonKey = "anon-key-for-tests"
	secret  = "test-jwt-secret-with-at-least-32-characters"
	baseURL = "https://dashboard.example.com"
)

// clock is shared by the fake and the provider, so expiry can be tested.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	fake  *gotruefake.Server
	p     *supabase.Provider
	clock *clock
	ctx   context.Context
}

// modes are the token signing set-ups of a Supabase project.
var modes = []struct {
	name string
	opt  gotruefake.Options
}{
	{"HS256", gotruefake.Options{JWTSecret: secret}},
	{"ES256", gotruefake.Options{Asymmetric: true}},
	{"RS256", gotruefake.Options{Asymmetric: true, RSA: true}},
}

// eachMode runs f against a fresh fake in every signing mode.
func eachMode(t *testing.T, tune func(*gotruefake.Options, *supabase.Options), f func(t *testing.T, e *env)) {
	t.Helper()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			f(t, newEnv(t, m.opt, tune))
		})
	}
}

func newEnv(t *testing.T, fo gotruefake.Options, tune func(*gotruefake.Options, *supabase.Options)) *env {
	t.Helper()
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	fo.AnonKey = anonKey
	fo.Autoconfirm = true
	fo.Now = clk.Now
	po := supabase.Options{AnonKey: anonKey, BaseURL: baseURL, GitHub: true, Now: clk.Now}
	if !fo.Asymmetric {
		po.JWTSecret = fo.JWTSecret
	}
	if tune != nil {
		tune(&fo, &po)
	}
	fake := gotruefake.New(fo)
	t.Cleanup(fake.Close)
	po.URL = fake.URL
	p, err := supabase.New(po)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &env{fake: fake, p: p, clock: clk, ctx: context.Background()}
}

func (e *env) signUp(t *testing.T, email, password string) (account.Identity, account.Tokens) {
	t.Helper()
	id, tok, err := e.p.SignUp(e.ctx, email, password, "Ada")
	if err != nil {
		t.Fatalf("SignUp(%s): %v", email, err)
	}
	return id, tok
}

func (e *env) signIn(t *testing.T, email, password string) (account.Identity, account.Tokens) {
	t.Helper()
	id, tok, err := e.p.SignIn(e.ctx, email, password)
	if err != nil {
		t.Fatalf("SignIn(%s): %v", email, err)
	}
	return id, tok
}

func wantCode(t *testing.T, what string, err error, code errs.Code) {
	t.Helper()
	if got := errs.CodeOf(err); got != code {
		t.Fatalf("%s: got error code %q (%v), want %q", what, got, err, code)
	}
}

func wantField(t *testing.T, what string, err error, field, msgPart string) {
	t.Helper()
	wantCode(t, what, err, errs.Invalid)
	if got := errs.FieldOf(err); got != field {
		t.Fatalf("%s: got field %q, want %q", what, got, field)
	}
	if got := errs.MessageOf(err); !strings.Contains(got, msgPart) {
		t.Fatalf("%s: got message %q, want it to contain %q", what, got, msgPart)
	}
}

// claimsOf decodes a JWT payload without checking it.
func claimsOf(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("got %d JWT parts, want 3", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// rawPost calls the fake directly, for checks the provider cannot express.
func rawPost(t *testing.T, fake *gotruefake.Server, path string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, fake.AuthURL()+path, bytes.NewReader(b))
	req.Header.Set("apikey", anonKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestNewChecksOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  supabase.Options
	}{
		{"no URL", supabase.Options{AnonKey: "k", BaseURL: baseURL}},
		{"relative URL", supabase.Options{URL: "xyz.supabase.co", AnonKey: "k", BaseURL: baseURL}},
		{"no anon key", supabase.Options{URL: "https://xyz.supabase.co", BaseURL: baseURL}},
		{"no base URL", supabase.Options{URL: "https://xyz.supabase.co", AnonKey: "k"}},
	} {
		if _, err := supabase.New(tc.opt); err == nil {
			t.Errorf("%s: got no error, want one", tc.name)
		}
	}
	p, err := supabase.New(supabase.Options{URL: "https://xyz.supabase.co/", AnonKey: "k", BaseURL: baseURL})
	if err != nil {
		t.Fatalf("valid options: %v", err)
	}
	if got := p.Name(); got != "supabase" {
		t.Errorf("Name: got %q, want %q", got, "supabase")
	}
}

func TestSignUpAutoconfirm(t *testing.T) {
	eachMode(t, nil, func(t *testing.T, e *env) {
		id, tok := e.signUp(t, "Ada@Example.com", "correct horse battery")
		if want := e.fake.UserID("ada@example.com"); id.ExternalID != want || want == "" {
			t.Errorf("ExternalID: got %q, want %q", id.ExternalID, want)
		}
		if id.Email != "ada@example.com" || id.UserID != "" {
			t.Errorf("Identity: got %+v, want lower-cased e-mail and no UserID", id)
		}
		if tok.Access == "" || tok.Refresh == "" {
			t.Fatalf("Tokens: got %+v, want access and refresh", tok)
		}
		if want := e.clock.Now().Add(time.Hour); !tok.ExpiresAt.Equal(want) {
			t.Errorf("ExpiresAt: got %v, want %v", tok.ExpiresAt, want)
		}
		meta, _ := claimsOf(t, tok.Access)["user_metadata"].(map[string]any)
		if got := meta["name"]; got != "Ada" {
			t.Errorf("user_metadata.name: got %v, want Ada", got)
		}
		got, fresh, err := e.p.Authenticate(e.ctx, tok)
		if err != nil || fresh != nil || got != id {
			t.Errorf("Authenticate: got %+v, %v, %v; want %+v, nil, nil", got, fresh, err, id)
		}
	})
}

func TestSignUpNeedsConfirmation(t *testing.T) {
	eachMode(t, func(fo *gotruefake.Options, _ *supabase.Options) { fo.Autoconfirm = false }, func(t *testing.T, e *env) {
		id, tok := e.signUp(t, "ada@example.com", "correct horse battery")
		if !tok.Empty() {
			t.Errorf("Tokens: got %+v, want none (check your e-mail)", tok)
		}
		if want := e.fake.UserID("ada@example.com"); id.ExternalID != want || id.Email != "ada@example.com" {
			t.Errorf("Identity: got %+v, want ExternalID %q", id, want)
		}
		_, _, err := e.p.SignIn(e.ctx, "ada@example.com", "correct horse battery")
		wantCode(t, "SignIn before confirming", err, errs.Forbidden)

		// Confirm the address, as the e-mail link would.
		h := e.fake.LastConfirmationTokenHash("ada@example.com")
		if status, _ := rawPost(t, e.fake, "/verify", map[string]string{"type": "signup", "token_hash": h}); status != http.StatusOK {
			t.Fatalf("confirm: got HTTP %d, want 200", status)
		}
		e.signIn(t, "ada@example.com", "correct horse battery")

		// GoTrue hides that a confirmed address is taken (an obfuscated user
		// without identities); the provider must not take it for a new user.
		_, _, err = e.p.SignUp(e.ctx, "ada@example.com", "another password 1", "")
		wantField(t, "duplicate sign-up with confirmations on", err, "email", "already exists")
	})
}

func TestSignUpDuplicate(t *testing.T) {
	eachMode(t, nil, func(t *testing.T, e *env) {
		e.signUp(t, "ada@example.com", "correct horse battery")
		_, _, err := e.p.SignUp(e.ctx, "ada@example.com", "correct horse battery", "")
		wantField(t, "duplicate sign-up", err, "email", "An account with this e-mail already exists. Sign in instead.")
	})
}

func TestSignUpWeakPassword(t *testing.T) {
	eachMode(t, func(fo *gotruefake.Options, _ *supabase.Options) { fo.MinPasswordLength = 12 }, func(t *testing.T, e *env) {
		_, _, err := e.p.SignUp(e.ctx, "ada@example.com", "short pw", "")
		wantField(t, "weak password", err, "password", "password")
	})
}

func TestSignIn(t *testing.T) {
	eachMode(t, nil, func(t *testing.T, e *env) {
		want, _ := e.signUp(t, "ada@example.com", "correct horse battery")
		id, tok := e.signIn(t, "ada@example.com", "correct horse battery")
		if id != want || tok.Access == "" || tok.Refresh == "" {
			t.Errorf("SignIn: got %+v %+v, want %+v and tokens", id, tok, want)
		}
		_, _, err := e.p.SignIn(e.ctx, "ada@example.com", "wrong password")
		wantCode(t, "wrong password", err, errs.Unauthorized)
		_, _, err = e.p.SignIn(e.ctx, "nobody@example.com", "correct horse battery")
		wantCode(t, "unknown e-mail", err, errs.Unauthorized)
	})
}

func TestAuthenticateLocally(t *testing.T) {
	eachMode(t, nil, func(t *testing.T, e *env) {
		want, tok := e.signUp(t, "ada@example.com", "correct horse battery")
		for i := 0; i < 3; i++ {
			id, fresh, err := e.p.Authenticate(e.ctx, tok)
			if err != nil || fresh != nil || id != want {
				t.Fatalf("Authenticate #%d: got %+v, %v, %v; want %+v, nil, nil", i, id, fresh, err, want)
			}
		}
		if got := e.fake.Hits("GET", "/user"); got != 0 {
			t.Errorf("GET /user calls: got %d, want 0 (verification is local)", got)
		}
		wantJWKS := 1
		if !strings.Contains(tokHeader(t, tok.Access), "kid") {
			wantJWKS = 0
		}
		if got := e.fake.Hits("GET", "/.well-known/jwks.json"); got != wantJWKS {
			t.Errorf("JWKS fetches: got %d, want %d", got, wantJWKS)
		}
	})
}

func tokHeader(t *testing.T, token string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestAuthenticateRejectsForgeries(t *testing.T) {
	eachMode(t, nil, func(t *testing.T, e *env) {
		_, tok := e.signUp(t, "ada@example.com", "correct horse battery")
		refreshes := e.fake.Hits("POST", "/token")

		tampered := account.Tokens{Access: e.fake.TamperedToken(tok.Access), Refresh: tok.Refresh}
		_, fresh, err := e.p.Authenticate(e.ctx, tampered)
		wantCode(t, "tampered token", err, errs.Unauthorized)
		if got := errs.MessageOf(err); got != "Your session has ended. Sign in again." {
			t.Errorf("tampered token message: got %q", got)
		}
		if fresh != nil {
			t.Errorf("tampered token: got new tokens, want none")
		}

		// alg "none" with valid-looking claims.
		parts := strings.Split(tok.Access, ".")
		none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
		_, _, err = e.p.Authenticate(e.ctx, account.Tokens{Access: none})
		wantCode(t, `alg "none"`, err, errs.Unauthorized)

		if strings.Contains(tokHeader(t, tok.Access), "kid") {
			// An asymmetric token relabelled HS256 (key confusion).
			hs := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2]
			_, _, err = e.p.Authenticate(e.ctx, account.Tokens{Access: hs})
			wantCode(t, "algorithm switched to HS256", err, errs.Unauthorized)
		}

		_, _, err = e.p.Authenticate(e.ctx, account.Tokens{Access: "not-a-jwt"})
		wantCode(t, "garbage token", err, errs.Unauthorized)

		if got := e.fake.Hits("POST", "/token"); got != refreshes {
			t.Errorf("POST /token calls: got %d more, want none for forged tokens", got-refreshes)
		}
	})
}

func TestAuthenticateRejectsOtherProjects(t *testing.T) {
	eachMode(t, nil, func(t *testing.T, e *env) {
		// Another project with the same JWT secret (HS256) or its own keys.
		other := gotruefake.New(gotruefake.Options{JWTSecret: secret, Autoconfirm: true, AnonKey: anonKey})
		defer other.Close()
		status, body := rawPost(t, other, "/signup", map[string]string{"email": "eve@example.com", "password": "correct horse"})
		if status != http.StatusOK {
			t.Fatalf("signup at other project: HTTP %d", status)
		}
		_, _, err := e.p.Authenticate(e.ctx, account.Tokens{Access: body["access_token"].(string)})
		wantCode(t, "token from another project", err, errs.Unauthorized)
	})
}

func TestAuthenticateRefreshesExpiredToken(t *testing.T) {
	eachMode(t, nil, func(t *testing.T, e *env) {
		want, old := e.signUp(t, "ada@example.com", "correct horse battery")
		e.clock.Advance(2 * time.Hour)

		id, fresh, err := e.p.Authenticate(e.ctx, old)
		if err != nil || id != want {
			t.Fatalf("Authenticate expired: got %+v, %v; want %+v", id, err, want)
		}
		if fresh == nil || fresh.Access == "" || fresh.Access == old.Access || fresh.Refresh == "" || fresh.Refresh == old.Refresh {
			t.Fatalf("Authenticate expired: got new tokens %+v, want fresh access and refresh tokens", fresh)
		}
		if !fresh.ExpiresAt.After(e.clock.Now()) {
			t.Errorf("new ExpiresAt %v is not after now %v", fresh.ExpiresAt, e.clock.Now())
		}
		if id, again, err := e.p.Authenticate(e.ctx, *fresh); err != nil || again != nil || id != want {
			t.Errorf("Authenticate fresh: got %+v, %v, %v; want %+v, nil, nil", id, again, err, want)
		}

		// The old refresh token is spent. (Past the provider's reuse window.)
		e.clock.Advance(11 * time.Second)
		_, _, err = e.p.Authenticate(e.ctx, old)
		wantCode(t, "old tokens after refresh", err, errs.Unauthorized)
		status, body := rawPost(t, e.fake, "/token?grant_type=refresh_token", map[string]string{"refresh_token": old.Refresh})
		if status != http.StatusBadRequest || body["error_code"] != "refresh_token_not_found" {
			t.Errorf("reusing a refresh token at the fake: got %d %v, want 400 refresh_token_not_found", status, body["error_code"])
		}

		// Without a refresh token an expired access token is simply over.
		e.clock.Advance(2 * time.Hour)
		_, _, err = e.p.Authenticate(e.ctx, account.Tokens{Access: fresh.Access})
		wantCode(t, "expired access token alone", err, errs.Unauthorized)
	})
}

func TestAuthenticateRefreshesSoonToExpire(t *testing.T) {
	eachMode(t, nil, func(t *testing.T, e *env) {
		_, tok := e.signUp(t, "ada@example.com", "correct horse battery")
		e.clock.Advance(time.Hour - 90*time.Second)
		if _, fresh, err := e.p.Authenticate(e.ctx, tok); err != nil || fresh != nil {
			t.Fatalf("90 s before expiry: got %v, %v; want no refresh", fresh, err)
		}
		e.clock.Advance(45 * time.Second)
		if _, fresh, err := e.p.Authenticate(e.ctx, tok); err != nil || fresh == nil {
			t.Fatalf("45 s before expiry: got %v, %v; want refreshed tokens", fresh, err)
		}
		// Only a refresh cookie left (the access cookie was dropped).
		_, tok2 := e.signIn(t, "ada@example.com", "correct horse battery")
		if _, fresh, err := e.p.Authenticate(e.ctx, account.Tokens{Refresh: tok2.Refresh}); err != nil || fresh == nil {
			t.Fatalf("refresh token only: got %v, %v; want refreshed tokens", fresh, err)
		}
	})
}

func TestAuthenticateConcurrentRefreshSharesOneExchange(t *testing.T) {
	eachMode(t, nil, func(t *testing.T, e *env) {
		_, tok := e.signUp(t, "ada@example.com", "correct horse battery")
		e.clock.Advance(2 * time.Hour)
		before := e.fake.Hits("POST", "/token")
		const n = 8
		results := make([]*account.Tokens, n)
		errors := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, results[i], errors[i] = e.p.Authenticate(e.ctx, tok)
			}()
		}
		wg.Wait()
		for i := range n {
			if errors[i] != nil || results[i] == nil || results[i].Access != results[0].Access {
				t.Fatalf("request %d: got %v, %v; want the same new tokens as the others", i, results[i], errors[i])
			}
		}
		if got := e.fake.Hits("POST", "/token") - before; got != 1 {
			t.Errorf("refresh exchanges: got %d, want 1", got)
		}
	})
}

func TestSignOut(t *testing.T) {
	eachMode(t, nil, func(t *testing.T, e *env) {
		_, tok := e.signUp(t, "ada@example.com", "correct horse battery")
		_, other := e.signIn(t, "ada@example.com", "correct horse battery")
		if err := e.p.SignOut(e.ctx, tok); err != nil {
			t.Fatalf("SignOut: %v", err)
		}
		if got := e.fake.Sessions("ada@example.com"); got != 0 {
			t.Errorf("sessions after sign-out: got %d, want 0 (all of the user's)", got)
		}
		e.clock.Advance(2 * time.Hour)
		for name, tk := range map[string]account.Tokens{"signed-out session": tok, "other session": other} {
			_, fresh, err := e.p.Authenticate(e.ctx, tk)
			wantCode(t, name, err, errs.Unauthorized)
			if fresh != nil {
				t.Errorf("%s: got new tokens, want none", name)
			}
		}
		// Signing out again, or with an expired token, is not an error.
		if err := e.p.SignOut(e.ctx, tok); err != nil {
			t.Errorf("second SignOut: got %v, want nil", err)
		}
		if err := e.p.SignOut(e.ctx, account.Tokens{}); err != nil {
			t.Errorf("SignOut without tokens: got %v, want nil", err)
		}
	})
}

func TestSignOutWithExpiredAccessToken(t *testing.T) {
	eachMode(t, nil, func(t *testing.T, e *env) {
		_, tok := e.signUp(t, "ada@example.com", "correct horse battery")
		e.clock.Advance(2 * time.Hour)
		if err := e.p.SignOut(e.ctx, tok); err != nil {
			t.Fatalf("SignOut: %v", err)
		}
		if got := e.fake.Sessions("ada@example.com"); got != 0 {
			t.Errorf("sessions after sign-out: got %d, want 0", got)
		}
	})
}

func TestPasswordReset(t *testing.T) {
	eachMode(t, func(fo *gotruefake.Options, _ *supabase.Options) { fo.MinPasswordLength = 10 }, func(t *testing.T, e *env) {
		want, before := e.signUp(t, "ada@example.com", "correct horse battery")

		if err := e.p.RequestPasswordReset(e.ctx, "ada@example.com"); err != nil {
			t.Fatalf("RequestPasswordReset: %v", err)
		}
		rec, ok := e.fake.LastRecovery("ada@example.com")
		if !ok || rec.TokenHash == "" {
			t.Fatalf("no recovery e-mail was sent")
		}
		if want := baseURL + "/reset-password"; rec.RedirectTo != want {
			t.Errorf("redirect_to: got %q, want %q", rec.RedirectTo, want)
		}

		// Unknown addresses get the same answer and no e-mail.
		if err := e.p.RequestPasswordReset(e.ctx, "nobody@example.com"); err != nil {
			t.Errorf("RequestPasswordReset(unknown): got %v, want nil", err)
		}
		if _, ok := e.fake.LastRecovery("nobody@example.com"); ok {
			t.Errorf("an e-mail was sent to an unknown address")
		}

		_, err := e.p.ResetPassword(e.ctx, "not-a-token-hash", "a brand new password")
		wantCode(t, "bogus reset token", err, errs.Invalid)

		// A password Supabase refuses; the same link works for the retry.
		_, err = e.p.ResetPassword(e.ctx, rec.TokenHash, "too short")
		wantField(t, "weak new password", err, "password", "password")

		id, err := e.p.ResetPassword(e.ctx, rec.TokenHash, "a brand new password")
		if err != nil || id != want {
			t.Fatalf("ResetPassword: got %+v, %v; want %+v", id, err, want)
		}
		if _, _, err := e.p.SignIn(e.ctx, "ada@example.com", "correct horse battery"); !errs.Is(err, errs.Unauthorized) {
			t.Errorf("old password: got %v, want Unauthorized", err)
		}
		_, after := e.signIn(t, "ada@example.com", "a brand new password")
		if got := e.fake.Sessions("ada@example.com"); got != 1 {
			t.Errorf("sessions after reset and one sign-in: got %d, want 1 (earlier ones and the recovery one end)", got)
		}
		e.clock.Advance(2 * time.Hour)
		if _, _, err := e.p.Authenticate(e.ctx, before); !errs.Is(err, errs.Unauthorized) {
			t.Errorf("session from before the reset: got %v, want Unauthorized", err)
		}
		if _, fresh, err := e.p.Authenticate(e.ctx, after); err != nil || fresh == nil {
			t.Errorf("session from after the reset: got %v, %v; want refreshed", fresh, err)
		}

		_, err = e.p.ResetPassword(e.ctx, rec.TokenHash, "yet another password")
		wantCode(t, "reusing a reset link", err, errs.Invalid)
		if got := errs.MessageOf(err); got != "This reset link is invalid or has expired. Ask for a new one." {
			t.Errorf("reused link message: got %q", got)
		}
	})
}

func TestPasswordResetRateLimited(t *testing.T) {
	e := newEnv(t, gotruefake.Options{JWTSecret: secret, RecoverInterval: time.Minute}, nil)
	e.signUp(t, "ada@example.com", "correct horse battery")
	if err := e.p.RequestPasswordReset(e.ctx, "ada@example.com"); err != nil {
		t.Fatalf("first request: %v", err)
	}
	err := e.p.RequestPasswordReset(e.ctx, "ada@example.com")
	wantCode(t, "second request within a minute", err, errs.RateLimited)
}

func TestChangePassword(t *testing.T) {
	eachMode(t, nil, func(t *testing.T, e *env) {
		id, tok := e.signUp(t, "ada@example.com", "correct horse battery")
		_, other := e.signIn(t, "ada@example.com", "correct horse battery")

		err := e.p.ChangePassword(e.ctx, tok, id, "wrong password", "a brand new password")
		wantField(t, "wrong current password", err, "current_password", "The current password is incorrect.")

		if err := e.p.ChangePassword(e.ctx, tok, id, "correct horse battery", "a brand new password"); err != nil {
			t.Fatalf("ChangePassword: %v", err)
		}
		if _, _, err := e.p.SignIn(e.ctx, "ada@example.com", "correct horse battery"); !errs.Is(err, errs.Unauthorized) {
			t.Errorf("old password: got %v, want Unauthorized", err)
		}
		if got := e.fake.Sessions("ada@example.com"); got != 1 {
			t.Errorf("sessions after change: got %d, want 1 (only the one that made the change)", got)
		}
		e.signIn(t, "ada@example.com", "a brand new password")
		e.clock.Advance(2 * time.Hour)
		_, fresh, err := e.p.Authenticate(e.ctx, tok)
		if err != nil || fresh == nil {
			t.Fatalf("session that changed the password: got %v, %v; want it kept (refreshed)", fresh, err)
		}
		if _, _, err := e.p.Authenticate(e.ctx, other); !errs.Is(err, errs.Unauthorized) {
			t.Errorf("other session: got %v, want Unauthorized", err)
		}

		err = e.p.ChangePassword(e.ctx, *fresh, id, "a brand new password", "a brand new password")
		wantField(t, "same password", err, "password", "different")
	})
}

func TestOAuthPKCE(t *testing.T) {
	eachMode(t, nil, func(t *testing.T, e *env) {
		if got := e.p.OAuthProviders(); len(got) != 1 || got[0] != "github" {
			t.Fatalf("OAuthProviders: got %v, want [github]", got)
		}
		callback := baseURL + "/auth/callback?next=%2Forgs"
		authURL, verifier, err := e.p.OAuthStart(e.ctx, "github", callback)
		if err != nil {
			t.Fatalf("OAuthStart: %v", err)
		}
		if verifier == "" || !strings.Contains(authURL, "/fake-github/login/oauth/authorize?") {
			t.Fatalf("OAuthStart: got %q, %q; want the provider's URL and a verifier", authURL, verifier)
		}
		back, err := e.fake.CompleteOAuth(authURL, "octo@example.com")
		if err != nil {
			t.Fatalf("CompleteOAuth: %v", err)
		}
		u, err := url.Parse(back)
		if err != nil {
			t.Fatal(err)
		}
		if got := u.Scheme + "://" + u.Host + u.Path; got != baseURL+"/auth/callback" {
			t.Errorf("callback: got %q, want %q", got, baseURL+"/auth/callback")
		}
		if got := u.Query().Get("next"); got != "/orgs" {
			t.Errorf("callback next: got %q, want /orgs", got)
		}
		code := u.Query().Get("code")

		_, _, err = e.p.OAuthFinish(e.ctx, code, "wrong-verifier-wrong-verifier-wrong-verifier")
		wantCode(t, "wrong verifier", err, errs.Unauthorized)

		id, tok, err := e.p.OAuthFinish(e.ctx, code, verifier)
		if err != nil {
			t.Fatalf("OAuthFinish: %v", err)
		}
		if want := e.fake.UserID("octo@example.com"); id.ExternalID != want || id.Email != "octo@example.com" {
			t.Errorf("Identity: got %+v, want ExternalID %q and octo@example.com", id, want)
		}
		if got, fresh, err := e.p.Authenticate(e.ctx, tok); err != nil || fresh != nil || got != id {
			t.Errorf("Authenticate: got %+v, %v, %v; want %+v", got, fresh, err, id)
		}
		_, _, err = e.p.OAuthFinish(e.ctx, code, verifier)
		wantCode(t, "reused code", err, errs.Unauthorized)

		_, _, err = e.p.OAuthStart(e.ctx, "gitlab", callback)
		wantCode(t, "provider not offered", err, errs.NotFound)
	})
}

func TestOAuthDisabled(t *testing.T) {
	e := newEnv(t, gotruefake.Options{JWTSecret: secret}, func(_ *gotruefake.Options, po *supabase.Options) { po.GitHub = false })
	if got := e.p.OAuthProviders(); got != nil {
		t.Errorf("OAuthProviders: got %v, want nil", got)
	}
	_, _, err := e.p.OAuthStart(e.ctx, "github", baseURL+"/auth/callback")
	wantCode(t, "OAuthStart when disabled", err, errs.NotFound)
}

func TestJWKSRefetchIsThrottled(t *testing.T) {
	for _, m := range modes[1:] {
		t.Run(m.name, func(t *testing.T) {
			e := newEnv(t, m.opt, nil)
			_, tok := e.signUp(t, "ada@example.com", "correct horse battery")
			if _, _, err := e.p.Authenticate(e.ctx, tok); err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if got := e.fake.Hits("GET", "/.well-known/jwks.json"); got != 1 {
				t.Fatalf("JWKS fetches after sign-up: got %d, want 1", got)
			}
			// Tokens with kids nobody published: none within 10 s of the
			// last fetch, then one refetch, then none for 10 s however
			// many arrive.
			forged := forgeKid(t, tok.Access, "forged-kid")
			_, _, err := e.p.Authenticate(e.ctx, account.Tokens{Access: forged})
			wantCode(t, "unknown kid right after a fetch", err, errs.Unauthorized)
			if got := e.fake.Hits("GET", "/.well-known/jwks.json"); got != 1 {
				t.Errorf("JWKS fetches after an unknown kid within 10 s: got %d, want 1", got)
			}
			e.clock.Advance(11 * time.Second)
			for i := 0; i < 5; i++ {
				_, _, err := e.p.Authenticate(e.ctx, account.Tokens{Access: forged})
				wantCode(t, "unknown kid", err, errs.Unauthorized)
			}
			if got := e.fake.Hits("GET", "/.well-known/jwks.json"); got != 2 {
				t.Errorf("JWKS fetches after unknown kids: got %d, want 2", got)
			}
			e.clock.Advance(11 * time.Second)
			_, _, err = e.p.Authenticate(e.ctx, account.Tokens{Access: forged})
			wantCode(t, "unknown kid 11 s later", err, errs.Unauthorized)
			if got := e.fake.Hits("GET", "/.well-known/jwks.json"); got != 3 {
				t.Errorf("JWKS fetches 11 s later: got %d, want 3", got)
			}
			if _, _, err := e.p.Authenticate(e.ctx, tok); err != nil {
				t.Errorf("the real token meanwhile: %v", err)
			}
		})
	}
}

// forgeKid relabels a token's kid (its signature no longer matters: the key
// is looked up first).
func forgeKid(t *testing.T, token, kid string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	var h map[string]any
	if err := json.Unmarshal([]byte(tokHeader(t, token)), &h); err != nil {
		t.Fatal(err)
	}
	h["kid"] = kid
	raw, _ := json.Marshal(h)
	parts[0] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

func TestAuthenticateWithoutSecretAsksSupabase(t *testing.T) {
	e := newEnv(t, gotruefake.Options{JWTSecret: secret}, func(_ *gotruefake.Options, po *supabase.Options) { po.JWTSecret = "" })
	want, tok := e.signUp(t, "ada@example.com", "correct horse battery")
	id, fresh, err := e.p.Authenticate(e.ctx, tok)
	if err != nil || fresh != nil || id != want {
		t.Fatalf("Authenticate: got %+v, %v, %v; want %+v", id, fresh, err, want)
	}
	if got := e.fake.Hits("GET", "/user"); got != 1 {
		t.Errorf("GET /user calls: got %d, want 1", got)
	}
	_, _, err = e.p.Authenticate(e.ctx, account.Tokens{Access: e.fake.TamperedToken(tok.Access)})
	wantCode(t, "tampered token", err, errs.Unauthorized)

	e.clock.Advance(2 * time.Hour)
	if _, fresh, err := e.p.Authenticate(e.ctx, tok); err != nil || fresh == nil {
		t.Errorf("expired token: got %v, %v; want refreshed", fresh, err)
	}
}

func TestWrongAnonKeyIsUnavailable(t *testing.T) {
	e := newEnv(t, gotruefake.Options{JWTSecret: secret}, func(_ *gotruefake.Options, po *supabase.Options) { po.AnonKey = "wrong" })
	_, _, err := e.p.SignIn(e.ctx, "ada@example.com", "correct horse battery")
	wantCode(t, "wrong anon key", err, errs.Unavailable)
}

func TestUnreachable(t *testing.T) {
	eachMode(t, nil, func(t *testing.T, e *env) {
		_, tok := e.signUp(t, "ada@example.com", "correct horse battery")
		e.fake.Close()

		_, _, err := e.p.SignIn(e.ctx, "ada@example.com", "correct horse battery")
		wantCode(t, "SignIn", err, errs.Unavailable)
		err = e.p.RequestPasswordReset(e.ctx, "ada@example.com")
		wantCode(t, "RequestPasswordReset", err, errs.Unavailable)

		// The access token is still good, and Supabase vouched for its
		// session when it issued it: no need to ask. (In asymmetric mode
		// the signing key was fetched when the token was issued.)
		if _, _, err := e.p.Authenticate(e.ctx, tok); err != nil {
			t.Errorf("Authenticate with a valid token: %v", err)
		}
		e.clock.Advance(2 * time.Hour)
		_, _, err = e.p.Authenticate(e.ctx, tok)
		wantCode(t, "Authenticate needing a refresh", err, errs.Unavailable)
	})
}

func TestUnreachableWithCachedJWKS(t *testing.T) {
	e := newEnv(t, gotruefake.Options{Asymmetric: true}, nil)
	_, tok := e.signUp(t, "ada@example.com", "correct horse battery")
	if _, _, err := e.p.Authenticate(e.ctx, tok); err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	e.fake.Close()
	if _, _, err := e.p.Authenticate(e.ctx, tok); err != nil {
		t.Errorf("Authenticate with Supabase down and the JWKS cached: %v", err)
	}
	// Supabase vouched for the session when it issued the token; with
	// Supabase down it carries on for 5 minutes after that, then the
	// dashboard is unavailable (the session is not ended).
	e.clock.Advance(4*time.Minute + 50*time.Second)
	if _, fresh, err := e.p.Authenticate(e.ctx, tok); err != nil || fresh != nil {
		t.Errorf("4 min 50 s after issue with Supabase down: got %v, %v; want the session", fresh, err)
	}
	e.clock.Advance(20 * time.Second)
	_, _, err := e.p.Authenticate(e.ctx, tok)
	wantCode(t, "over 5 minutes without a word from Supabase", err, errs.Unavailable)
}
