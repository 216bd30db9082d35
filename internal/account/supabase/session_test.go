package supabase_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/account"
	"github.com/clinikapi/clinikapi/internal/account/supabase"
	"github.com/clinikapi/clinikapi/internal/account/supabase/gotruefake"
	"github.com/clinikapi/clinikapi/internal/errs"
)

// bus is an in-memory invalidation channel between providers ("instances").
type bus struct {
	mu    sync.Mutex
	subs  []*supabase.Provider
	msgs  []string
	muted bool // messages are lost
}

func (b *bus) Publish(_ context.Context, msg string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.msgs = append(b.msgs, msg)
	if b.muted {
		return nil
	}
	for _, p := range b.subs {
		p.Receive(msg)
	}
	return nil
}

// second starts another provider on the same fake and clock, connected to
// the first through b.
func (e *env) second(t *testing.T, b *bus, first *supabase.Options) *supabase.Provider {
	t.Helper()
	po := *first
	p, err := supabase.New(po)
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	b.subs = append(b.subs, p)
	b.mu.Unlock()
	return p
}

func TestSignOutRevokesTheSessionOnEveryInstance(t *testing.T) {
	b := &bus{}
	var opts supabase.Options
	eachMode(t, func(_ *gotruefake.Options, po *supabase.Options) {
		po.Publish = b.Publish
		opts = *po
	}, func(t *testing.T, e *env) {
		b.subs = []*supabase.Provider{e.p}
		opts.URL = e.fake.URL
		two := e.second(t, b, &opts)
		_, tok := e.signUp(t, "ada@example.com", "correct horse battery")
		for name, p := range map[string]*supabase.Provider{"one": e.p, "two": two} {
			if _, _, err := p.Authenticate(e.ctx, tok); err != nil {
				t.Fatalf("instance %s before sign-out: %v", name, err)
			}
		}
		users := e.fake.Hits("GET", "/user")
		if err := e.p.SignOut(e.ctx, tok); err != nil {
			t.Fatalf("SignOut: %v", err)
		}
		// Copied cookies are refused at once, by both instances, without
		// asking Supabase; the refresh token is spent too.
		for name, p := range map[string]*supabase.Provider{"one": e.p, "two": two} {
			_, fresh, err := p.Authenticate(e.ctx, tok)
			wantCode(t, "instance "+name+" after sign-out", err, errs.Unauthorized)
			if fresh != nil {
				t.Errorf("instance %s: got new tokens after sign-out", name)
			}
			_, _, err = p.Authenticate(e.ctx, account.Tokens{Refresh: tok.Refresh})
			wantCode(t, "instance "+name+" refresh token after sign-out", err, errs.Unauthorized)
		}
		if got := e.fake.Hits("GET", "/user") - users; got != 0 {
			t.Errorf("GET /user calls for revoked sessions: got %d, want 0", got)
		}
	})
}

func TestSignOutWhileSupabaseIsDownStillRevokes(t *testing.T) {
	b := &bus{}
	e := newEnv(t, gotruefake.Options{JWTSecret: secret}, func(_ *gotruefake.Options, po *supabase.Options) { po.Publish = b.Publish })
	b.subs = []*supabase.Provider{e.p}
	_, tok := e.signUp(t, "ada@example.com", "correct horse battery")
	e.fake.Close()
	if err := e.p.SignOut(e.ctx, tok); err == nil {
		t.Fatalf("SignOut with Supabase down: got nil, want an error")
	}
	_, _, err := e.p.Authenticate(e.ctx, tok)
	wantCode(t, "after a sign-out Supabase did not hear of", err, errs.Unauthorized)
	if len(b.msgs) != 1 || !strings.HasPrefix(b.msgs[0], "session:end:") {
		t.Errorf("published: %q, want one session:end message", b.msgs)
	}
}

func TestSessionEndedAtSupabaseIsNoticedWithinAMinute(t *testing.T) {
	for _, how := range []struct {
		name string
		end  func(*gotruefake.Server) bool
	}{
		{"password reset elsewhere", func(f *gotruefake.Server) bool { return f.ResetPassword("ada@example.com", "another long password") }},
		{"signed out elsewhere", func(f *gotruefake.Server) bool { return f.EndSessions("ada@example.com") }},
	} {
		t.Run(how.name, func(t *testing.T) {
			eachMode(t, nil, func(t *testing.T, e *env) {
				_, tok := e.signUp(t, "ada@example.com", "correct horse battery")
				// Many requests within the minute cost no call to Supabase.
				for i := 0; i < 10; i++ {
					e.clock.Advance(5 * time.Second)
					if _, _, err := e.p.Authenticate(e.ctx, tok); err != nil {
						t.Fatalf("request %d: %v", i, err)
					}
				}
				if got := e.fake.Hits("GET", "/user"); got != 0 {
					t.Fatalf("GET /user within the first minute: got %d, want 0", got)
				}
				e.clock.Advance(11 * time.Second) // 61 s after sign-up
				if _, _, err := e.p.Authenticate(e.ctx, tok); err != nil {
					t.Fatalf("after a minute: %v", err)
				}
				if got := e.fake.Hits("GET", "/user"); got != 1 {
					t.Fatalf("GET /user after a minute: got %d, want 1", got)
				}
				if !how.end(e.fake) {
					t.Fatal("no such user at the fake")
				}
				// Still within the minute of the last check: accepted.
				e.clock.Advance(59 * time.Second)
				if _, _, err := e.p.Authenticate(e.ctx, tok); err != nil {
					t.Fatalf("59 s after the check: %v", err)
				}
				e.clock.Advance(time.Second)
				_, fresh, err := e.p.Authenticate(e.ctx, tok)
				wantCode(t, "60 s after the check", err, errs.Unauthorized)
				if fresh != nil {
					t.Errorf("got new tokens for an ended session")
				}
				// Refused from then on without asking again.
				calls := e.fake.Hits("GET", "/user")
				_, _, err = e.p.Authenticate(e.ctx, tok)
				wantCode(t, "again", err, errs.Unauthorized)
				if got := e.fake.Hits("GET", "/user"); got != calls {
					t.Errorf("GET /user for a session known to be over: got %d more", got-calls)
				}
			})
		})
	}
}

func TestPasswordChangeMakesEveryInstanceRecheck(t *testing.T) {
	b := &bus{}
	var opts supabase.Options
	e := newEnv(t, gotruefake.Options{Asymmetric: true}, func(_ *gotruefake.Options, po *supabase.Options) {
		po.Publish = b.Publish
		opts = *po
	})
	opts.URL = e.fake.URL
	b.subs = []*supabase.Provider{e.p}
	two := e.second(t, b, &opts)
	id, laptop := e.signUp(t, "ada@example.com", "correct horse battery")
	_, phone := e.signIn(t, "ada@example.com", "correct horse battery")
	if _, _, err := two.Authenticate(e.ctx, phone); err != nil {
		t.Fatalf("phone on instance two: %v", err)
	}
	e.clock.Advance(time.Second)
	if err := e.p.ChangePassword(e.ctx, laptop, id, "correct horse battery", "a new long password"); err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	// GoTrue ended the phone's session; instance two asks at once.
	_, _, err := two.Authenticate(e.ctx, phone)
	wantCode(t, "other session after a password change", err, errs.Unauthorized)
	if _, _, err := two.Authenticate(e.ctx, laptop); err != nil {
		t.Errorf("the session that changed the password: %v", err)
	}
}

func TestLostMessagesMakeEverySessionRecheck(t *testing.T) {
	e := newEnv(t, gotruefake.Options{JWTSecret: secret}, nil)
	_, tok := e.signUp(t, "ada@example.com", "correct horse battery")
	e.fake.EndSessions("ada@example.com")
	e.clock.Advance(time.Second)
	e.p.Missed()
	_, _, err := e.p.Authenticate(e.ctx, tok)
	wantCode(t, "after the invalidation channel reconnected", err, errs.Unauthorized)
}

func TestConcurrentRequestsShareOneCheck(t *testing.T) {
	e := newEnv(t, gotruefake.Options{JWTSecret: secret}, nil)
	_, tok := e.signUp(t, "ada@example.com", "correct horse battery")
	e.clock.Advance(2 * time.Minute)
	var wg sync.WaitGroup
	errList := make([]error, 8)
	for i := range errList {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errList[i] = e.p.Authenticate(e.ctx, tok)
		}()
	}
	wg.Wait()
	for i, err := range errList {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	if got := e.fake.Hits("GET", "/user"); got != 1 {
		t.Errorf("GET /user for 8 parallel requests: got %d, want 1", got)
	}
}

func TestSupabaseDownDuringChecks(t *testing.T) {
	e := newEnv(t, gotruefake.Options{JWTSecret: secret}, nil)
	_, tok := e.signUp(t, "ada@example.com", "correct horse battery")
	e.clock.Advance(2 * time.Minute)
	if _, _, err := e.p.Authenticate(e.ctx, tok); err != nil { // checked at +2 min
		t.Fatal(err)
	}
	e.fake.Close()
	// Checks fail: the session carries on until 5 minutes after the last
	// good one, asking at most every 10 s.
	e.clock.Advance(time.Minute)
	if _, _, err := e.p.Authenticate(e.ctx, tok); err != nil {
		t.Fatalf("a minute after the last check, Supabase down: %v", err)
	}
	e.clock.Advance(3*time.Minute + 50*time.Second)
	if _, _, err := e.p.Authenticate(e.ctx, tok); err != nil {
		t.Fatalf("4 min 50 s after the last check, Supabase down: %v", err)
	}
	e.clock.Advance(20 * time.Second)
	_, _, err := e.p.Authenticate(e.ctx, tok)
	wantCode(t, "over 5 minutes after the last check", err, errs.Unavailable)
}

func TestJWKSRotationAndRemoval(t *testing.T) {
	for _, m := range modes[1:] {
		t.Run(m.name, func(t *testing.T) {
			var logs bytes.Buffer
			e := newEnv(t, m.opt, func(_ *gotruefake.Options, po *supabase.Options) {
				po.Log = slog.New(slog.NewTextHandler(&logs, nil))
			})
			_, old := e.signUp(t, "ada@example.com", "correct horse battery")
			oldKid := e.fake.Kids()[0]
			if _, _, err := e.p.Authenticate(e.ctx, old); err != nil {
				t.Fatal(err)
			}

			// Rotation: a token with the new kid works at once, however
			// recently the JWKS was fetched.
			e.fake.RotateKey()
			_, rotated := e.signIn(t, "ada@example.com", "correct horse battery")
			if _, _, err := e.p.Authenticate(e.ctx, rotated); err != nil {
				t.Fatalf("token signed with the new key right after the rotation: %v", err)
			}
			if _, _, err := e.p.Authenticate(e.ctx, old); err != nil {
				t.Fatalf("token signed with the old key, still published: %v", err)
			}

			// Removal: within 5 minutes the old key is no longer trusted.
			// (verifyLocal alone: the minute's session check would refuse
			// the token sooner, as the fake refuses it too.)
			e.fake.RemoveKey(oldKid)
			e.clock.Advance(4 * time.Minute)
			if err := supabase.VerifyForTest(e.p, old.Access); err != nil {
				t.Errorf("removed key 4 min later (not refetched yet): %v", err)
			}
			e.clock.Advance(time.Minute)
			err := supabase.VerifyForTest(e.p, old.Access)
			if err == nil {
				t.Fatalf("removed key 5 min later: accepted")
			}
			_, _, err = e.p.Authenticate(e.ctx, old)
			wantCode(t, "removed key", err, errs.Unauthorized)
			if _, _, err := e.p.Authenticate(e.ctx, rotated); err != nil {
				t.Errorf("current key: %v", err)
			}
			if !strings.Contains(logs.String(), "no longer trusted") || !strings.Contains(logs.String(), oldKid) {
				t.Errorf("log does not tell the key was removed:\n%s", logs.String())
			}

			// A JWKS outage is logged, and the keys fetched last keep
			// working for a while.
			e.fake.SetJWKSDown(true)
			e.clock.Advance(5 * time.Minute)
			if _, _, err := e.p.Authenticate(e.ctx, rotated); err != nil {
				t.Errorf("with the JWKS down and keys cached: %v", err)
			}
			if !strings.Contains(logs.String(), "fetching the JWKS failed") {
				t.Errorf("JWKS failure not logged:\n%s", logs.String())
			}
			for _, tk := range []string{old.Access, rotated.Access, old.Refresh, rotated.Refresh} {
				if strings.Contains(logs.String(), tk) {
					t.Fatalf("a token was logged")
				}
			}
		})
	}
}

func TestSignInDuringRotationWithJWKSCachedEverywhere(t *testing.T) {
	e := newEnv(t, gotruefake.Options{Asymmetric: true}, nil)
	_, first := e.signUp(t, "ada@example.com", "correct horse battery")
	// An unknown kid was just refused (a refetch happened), so the 10 s
	// throttle is running: sign-in with the new key must still work.
	e.clock.Advance(11 * time.Second)
	_, _, _ = e.p.Authenticate(e.ctx, account.Tokens{Access: forgeKid(t, first.Access, "nope")})
	fetches := e.fake.Hits("GET", "/.well-known/jwks.json")
	e.fake.RotateKey()
	_, tok := e.signIn(t, "ada@example.com", "correct horse battery")
	if _, _, err := e.p.Authenticate(e.ctx, tok); err != nil {
		t.Fatalf("first request after sign-in with a new signing key: %v", err)
	}
	if got := e.fake.Hits("GET", "/.well-known/jwks.json") - fetches; got != 1 {
		t.Errorf("JWKS fetches for the new key: got %d, want 1 (at sign-in)", got)
	}
}

func TestClientAddressReachesSupabase(t *testing.T) {
	e := newEnv(t, gotruefake.Options{JWTSecret: secret, RateLimitHeader: "X-Forwarded-For", SignInLimit: 3},
		func(_ *gotruefake.Options, po *supabase.Options) {
			po.ClientIP = func(ctx context.Context) string { ip, _ := ctx.Value(ipKey{}).(string); return ip }
		})
	ctxFor := func(ip string) context.Context { return context.WithValue(context.Background(), ipKey{}, ip) }
	for i, ip := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"} {
		if _, _, err := e.p.SignUp(ctxFor(ip), "p"+string(rune('a'+i))+"@example.com", "correct horse battery", ""); err != nil {
			t.Fatalf("sign-up from %s: %v", ip, err)
		}
	}
	if got := e.fake.RateLimitKeys("POST", "/signup"); strings.Join(got, ",") != "203.0.113.1,203.0.113.2,203.0.113.3,203.0.113.4" {
		t.Errorf("rate-limit header values at Supabase: %q", got)
	}
	// One address is limited, others are not.
	for i := 0; i < 2; i++ {
		if _, _, err := e.p.SignIn(ctxFor("203.0.113.1"), "pa@example.com", "correct horse battery"); err != nil {
			t.Fatalf("sign-in %d: %v", i, err)
		}
	}
	_, _, err := e.p.SignIn(ctxFor("203.0.113.1"), "pa@example.com", "correct horse battery")
	wantCode(t, "fourth attempt from one address", err, errs.RateLimited)
	if _, _, err := e.p.SignIn(ctxFor("203.0.113.9"), "pa@example.com", "correct horse battery"); err != nil {
		t.Errorf("another address: %v", err)
	}
	// Not an address: nothing is sent.
	if _, _, err := e.p.SignIn(ctxFor("1.2.3.4, 5.6.7.8"), "pa@example.com", "correct horse battery"); err != nil {
		t.Errorf("bad address: %v", err)
	}
	keys := e.fake.RateLimitKeys("POST", "/token")
	if last := keys[len(keys)-1]; last != "" {
		t.Errorf("header for a malformed address: %q, want none", last)
	}
}

type ipKey struct{}

func TestTokensThatDoNotVerifyHereAreLogged(t *testing.T) {
	var logs bytes.Buffer
	e := newEnv(t, gotruefake.Options{JWTSecret: secret}, func(_ *gotruefake.Options, po *supabase.Options) {
		po.JWTSecret = "not the project's secret, but long enough"
		po.Log = slog.New(slog.NewTextHandler(&logs, nil))
	})
	_, tok := e.signUp(t, "ada@example.com", "correct horse battery")
	if !strings.Contains(logs.String(), "does not verify here") {
		t.Errorf("a misconfigured secret is not logged at sign-in:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), tok.Access) {
		t.Errorf("the token was logged")
	}
}
