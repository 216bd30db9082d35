package apikey_test

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/account"
	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/store"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
)

var keyShape = map[apikey.Env]*regexp.Regexp{
	apikey.Test: regexp.MustCompile(`^clk_test_[0-9A-Za-z]{32}$`),
	apikey.Live: regexp.MustCompile(`^clk_live_[0-9A-Za-z]{32}$`),
}

func TestGenerateParseRoundTrip(t *testing.T) {
	for _, env := range []apikey.Env{apikey.Test, apikey.Live} {
		seen := map[string]bool{}
		for i := 0; i < 200; i++ {
			raw, hash, prefix, last4 := apikey.Generate(env)
			if !keyShape[env].MatchString(raw) {
				t.Fatalf("Generate(%s) = %q, want clk_%s_ and 32 base62 characters (≥128 bits)", env, raw, env)
			}
			if seen[raw] {
				t.Fatalf("Generate(%s) repeated %q", env, raw)
			}
			seen[raw] = true
			got, err := apikey.Parse(raw)
			if err != nil || got != env {
				t.Fatalf("Parse(Generate(%s)) = %q, %v; want %s, nil", env, got, err, env)
			}
			if hash != apikey.Hash(raw) || len(hash) != 64 {
				t.Fatalf("hash %q is not the hex SHA-256 of the key", hash)
			}
			if wantPrefix := "clk_" + string(env) + "_" + raw[len("clk_"+string(env)+"_"):][:4]; prefix != wantPrefix {
				t.Fatalf("prefix = %q, want %q", prefix, wantPrefix)
			}
			if last4 != raw[len(raw)-4:] {
				t.Fatalf("last4 = %q, want %q", last4, raw[len(raw)-4:])
			}
			if strings.Contains(hash, raw[9:]) {
				t.Fatalf("hash contains the secret")
			}
		}
	}
	// Every base62 character shows up: the alphabet is used uniformly enough.
	chars := map[rune]bool{}
	for i := 0; i < 200; i++ {
		raw, _, _, _ := apikey.Generate(apikey.Test)
		for _, r := range raw[len("clk_test_"):] {
			chars[r] = true
		}
	}
	if len(chars) != 62 {
		t.Fatalf("6,400 generated characters used %d distinct symbols, want all 62", len(chars))
	}
}

func TestParseRejects(t *testing.T) {
	valid, _, _, _ := apikey.Generate(apikey.Test)
	secret := valid[len("clk_test_"):]
	cases := []struct {
		name string
		raw  string
		want error
	}{
		{"empty", "", apikey.ErrMissing},
		{"unknown environment", "clk_prod_" + secret, apikey.ErrFormat},
		{"no prefix", secret, apikey.ErrFormat},
		{"upper-case prefix", "CLK_TEST_" + secret, apikey.ErrFormat},
		{"short", "clk_test_" + secret[:31], apikey.ErrFormat},
		{"long", "clk_test_" + secret + "A", apikey.ErrFormat},
		{"non-base62", "clk_test_" + secret[:31] + "-", apikey.ErrFormat},
		{"space", " " + valid, apikey.ErrFormat},
		{"unicode", "clk_test_" + secret[:30] + "é", apikey.ErrFormat},
		{"huge", "clk_test_" + strings.Repeat("A", 10000), apikey.ErrFormat},
	}
	for _, c := range cases {
		if _, err := apikey.Parse(c.raw); err != c.want {
			t.Errorf("Parse(%s) = %v, want %v", c.name, err, c.want)
		}
	}
	if r := errs.ReasonOf(apikey.ErrFormat); r != "INVALID_KEY_FORMAT" {
		t.Errorf("ErrFormat reason = %q", r)
	}
}

func TestScopeAllows(t *testing.T) {
	methods := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}
	want := map[apikey.Scope]map[string]bool{
		apikey.ScopeRead:  {"GET": true, "HEAD": true},
		apikey.ScopeWrite: {"POST": true, "PUT": true, "PATCH": true, "DELETE": true},
		apikey.ScopeAll:   {"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true},
		apikey.Scope(""):  {},
		apikey.Scope("x"): {},
	}
	for scope, allowed := range want {
		for _, m := range methods {
			if got := scope.Allows(m); got != allowed[m] {
				t.Errorf("Scope(%q).Allows(%s) = %v, want %v", scope, m, got, allowed[m])
			}
		}
		if scope != apikey.ScopeAll && (scope.Allows("OPTIONS") || scope.Allows("get") || scope.Allows("")) {
			t.Errorf("Scope(%q) allows a method outside its list", scope)
		}
	}
	for in, want := range map[string]apikey.Scope{"": apikey.ScopeAll, "*": apikey.ScopeAll, "read": apikey.ScopeRead, "write": apikey.ScopeWrite} {
		if got, err := apikey.ParseScope(in); err != nil || got != want {
			t.Errorf("ParseScope(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := apikey.ParseScope("admin"); errs.FieldOf(err) != "scope" {
		t.Errorf("ParseScope(admin) = %v, want a scope field error", err)
	}
	if _, err := apikey.ParseEnv("prod"); errs.FieldOf(err) != "env" {
		t.Errorf("ParseEnv(prod) = %v, want an env field error", err)
	}
}

func TestStatusAt(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		k    apikey.Key
		want apikey.Status
	}{
		{"no expiry", apikey.Key{}, apikey.Active},
		{"expires in 30 days", apikey.Key{ExpiresAt: now.Add(30 * 24 * time.Hour)}, apikey.Active},
		{"expires in exactly 7 days", apikey.Key{ExpiresAt: now.Add(7 * 24 * time.Hour)}, apikey.Active},
		{"expires in 6 days", apikey.Key{ExpiresAt: now.Add(6 * 24 * time.Hour)}, apikey.Expiring},
		{"expires in a second", apikey.Key{ExpiresAt: now.Add(time.Second)}, apikey.Expiring},
		{"expires now", apikey.Key{ExpiresAt: now}, apikey.Expired},
		{"expired", apikey.Key{ExpiresAt: now.Add(-time.Hour)}, apikey.Expired},
		{"revoked", apikey.Key{RevokedAt: now.Add(-time.Hour)}, apikey.Revoked},
		{"revoked and expired", apikey.Key{RevokedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Minute)}, apikey.Revoked},
	}
	for _, c := range cases {
		if got := c.k.StatusAt(now); got != c.want {
			t.Errorf("%s: StatusAt = %s, want %s", c.name, got, c.want)
		}
	}
	k := apikey.Key{Prefix: "clk_test_AbCd", Last4: "wxyz"}
	if got := k.Masked(); got != "clk_test_AbCd…wxyz" {
		t.Errorf("Masked = %q", got)
	}
}

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	db    *store.DB
	keys  *apikey.Service
	clock *clock
	orgID string
	actor apikey.Actor
}

func newFixture(t *testing.T, engine string) *fixture {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, engine)
	c := &clock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	if err := db.CreateUser(ctx, account.User{ID: "usr_dev", Email: "dev@example.com", CreatedAt: c.now}, "hash"); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateOrg(ctx, org.Organization{ID: "org_1", Name: "Acme", Plan: "sandbox", CreatedAt: c.now}, "usr_dev"); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	return &fixture{
		db: db, clock: c, orgID: "org_1", actor: apikey.Actor{OrgID: "org_1", UserID: "usr_dev"},
		keys: apikey.NewService(db, audit.New(db, log, c.Now), nil, log, c.Now),
	}
}

func (f *fixture) create(t *testing.T, in apikey.CreateInput) apikey.Created {
	t.Helper()
	cr, err := f.keys.Create(context.Background(), f.actor, in)
	if err != nil {
		t.Fatalf("Create(%+v): %v", in, err)
	}
	return cr
}

// wantVerify checks that raw verifies (reason "") or fails with reason.
func (f *fixture) wantVerify(t *testing.T, what, raw string, reason errs.Reason) apikey.Principal {
	t.Helper()
	p, err := f.keys.Verify(context.Background(), raw)
	if got := errs.ReasonOf(err); got != reason || (reason == "" && err != nil) {
		t.Fatalf("%s: Verify = %v (reason %q), want reason %q", what, err, got, reason)
	}
	if err != nil && strings.Contains(err.Error(), raw) && raw != "" {
		t.Fatalf("%s: the error %q contains the key", what, err)
	}
	return p
}

func TestServiceCreateValidates(t *testing.T) {
	f := newFixture(t, "sqlite")
	ctx := context.Background()
	cases := []struct {
		in    apikey.CreateInput
		field string
	}{
		{apikey.CreateInput{Name: "  ", Env: apikey.Test}, "name"},
		{apikey.CreateInput{Name: strings.Repeat("n", 81), Env: apikey.Test}, "name"},
		{apikey.CreateInput{Name: "x", Env: "prod"}, "env"},
		{apikey.CreateInput{Name: "x", Env: apikey.Test, Scope: "admin"}, "scope"},
		{apikey.CreateInput{Name: "x", Env: apikey.Test, ExpiresAt: f.clock.Now()}, "expires_at"},
	}
	for _, c := range cases {
		if _, err := f.keys.Create(ctx, f.actor, c.in); errs.FieldOf(err) != c.field {
			t.Errorf("Create(%+v) = %v, want an error about %s", c.in, err, c.field)
		}
	}
	cr := f.create(t, apikey.CreateInput{Name: "  backend  ", Env: apikey.Live})
	if cr.Key.Name != "backend" || cr.Key.Scope != apikey.ScopeAll || cr.Key.CreatedBy != "usr_dev" || !keyShape[apikey.Live].MatchString(cr.Secret) {
		t.Fatalf("Create = %+v; want trimmed name, scope *, created by usr_dev, a live secret", cr.Key)
	}
	sys, err := f.keys.Create(ctx, apikey.Actor{OrgID: f.orgID}, apikey.CreateInput{Name: "ops", Env: apikey.Test, Scope: apikey.ScopeRead})
	if err != nil || sys.Key.CreatedBy != "system" {
		t.Fatalf("system Create = %+v, %v; want created by system", sys.Key, err)
	}
	list, err := f.keys.List(ctx, f.orgID)
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %d keys, %v; want 2", len(list), err)
	}
	events, _ := f.db.ListAuditEvents(ctx, audit.Filter{OrgID: f.orgID, Action: apikey.KeyCreated, Limit: 10})
	if len(events) != 2 {
		t.Fatalf("%d api_key.created events, want 2", len(events))
	}
	for _, e := range events {
		if e.Detail["prefix"] == "" || strings.Contains(detail(e), cr.Secret) || strings.Contains(detail(e), sys.Secret) {
			t.Fatalf("audit event %+v: want the prefix and never the secret", e)
		}
	}
	for _, e := range events {
		want := map[string]string{cr.Key.ID: string(audit.ActorUser) + "/usr_dev", sys.Key.ID: string(audit.ActorSystem) + "/cli"}[e.TargetID]
		if got := string(e.ActorType) + "/" + e.ActorID; got != want {
			t.Fatalf("actor of the creation of %s = %s, want %s", e.TargetID, got, want)
		}
	}
}

func detail(e audit.Event) string {
	var b strings.Builder
	for k, v := range e.Detail {
		b.WriteString(k + "=" + v + " ")
	}
	return b.String()
}

func TestServiceVerify(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		f := newFixture(t, engine)
		ctx := context.Background()
		cr := f.create(t, apikey.CreateInput{Name: "backend", Env: apikey.Test, Scope: apikey.ScopeRead})

		p := f.wantVerify(t, "valid key", cr.Secret, "")
		if p.KeyID != cr.Key.ID || p.OrgID != f.orgID || p.Env != apikey.Test || p.Scope != apikey.ScopeRead || p.Prefix != cr.Key.Prefix {
			t.Fatalf("Principal = %+v; want key %s of %s, test, read", p, cr.Key.ID, f.orgID)
		}
		f.wantVerify(t, "valid key again (cached)", cr.Secret, "")
		unknown, _, _, _ := apikey.Generate(apikey.Test)
		f.wantVerify(t, "unknown key", unknown, "INVALID_KEY")
		f.wantVerify(t, "unknown key again (cached miss)", unknown, "INVALID_KEY")
		f.wantVerify(t, "malformed key", "clk_test_short", "INVALID_KEY_FORMAT")
		f.wantVerify(t, "no key", "", "UNAUTHORIZED")
		// The same secret in the other environment is another, unknown key.
		f.wantVerify(t, "key with its environment swapped", "clk_live_"+cr.Secret[len("clk_test_"):], "INVALID_KEY")

		// Revocation applies to the very next call, although the key is cached.
		if _, err := f.keys.Revoke(ctx, f.actor, cr.Key.ID); err != nil {
			t.Fatal(err)
		}
		f.wantVerify(t, "revoked key", cr.Secret, "KEY_REVOKED")
		if _, err := f.keys.Roll(ctx, f.actor, cr.Key.ID, 0); !errs.Is(err, errs.Conflict) {
			t.Fatalf("Roll of a revoked key = %v, want Conflict", err)
		}

		// Another organization cannot touch the key.
		other := apikey.Actor{OrgID: "org_other", UserID: "usr_x"}
		live := f.create(t, apikey.CreateInput{Name: "live", Env: apikey.Live})
		if _, err := f.keys.Revoke(ctx, other, live.Key.ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Revoke from another organization = %v, want NotFound", err)
		}
		if _, err := f.keys.Roll(ctx, other, live.Key.ID, time.Hour); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Roll from another organization = %v, want NotFound", err)
		}
		f.wantVerify(t, "key another organization tried to revoke", live.Secret, "")
	})
}

func TestServiceExpiry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		f := newFixture(t, engine)
		cr := f.create(t, apikey.CreateInput{Name: "temp", Env: apikey.Test, ExpiresAt: f.clock.Now().Add(48 * time.Hour)})
		f.wantVerify(t, "before expiry", cr.Secret, "")
		f.clock.Advance(48*time.Hour - time.Second)
		f.wantVerify(t, "a second before expiry", cr.Secret, "")
		f.clock.Advance(time.Second)
		f.wantVerify(t, "at expiry (cached)", cr.Secret, "KEY_EXPIRED")
		f.clock.Advance(time.Hour)
		f.wantVerify(t, "after expiry (from the database)", cr.Secret, "KEY_EXPIRED")
	})
}

func TestServiceRoll(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		f := newFixture(t, engine)
		ctx := context.Background()
		cr := f.create(t, apikey.CreateInput{Name: "backend", Env: apikey.Live, Scope: apikey.ScopeWrite})
		f.wantVerify(t, "old secret before the roll", cr.Secret, "")

		if _, err := f.keys.Roll(ctx, f.actor, cr.Key.ID, 2*time.Hour); errs.FieldOf(err) != "grace" {
			t.Fatalf("Roll with a grace not offered = %v, want a grace field error", err)
		}
		rolled, err := f.keys.Roll(ctx, f.actor, cr.Key.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if rolled.Key.ID != cr.Key.ID || rolled.Secret == cr.Secret || rolled.Key.Name != "backend" || rolled.Key.Scope != apikey.ScopeWrite || !keyShape[apikey.Live].MatchString(rolled.Secret) {
			t.Fatalf("Roll = %+v; want the same key (name, scope) with a new live secret", rolled.Key)
		}
		if rolled.Key.Last4 != rolled.Secret[len(rolled.Secret)-4:] {
			t.Fatalf("rolled key shows last4 %q of the old secret", rolled.Key.Last4)
		}
		k, _ := f.db.FindKey(ctx, f.orgID, cr.Key.ID)
		if k.Prefix != rolled.Key.Prefix || k.Last4 != rolled.Key.Last4 {
			t.Fatalf("stored display %s…%s, want the new secret's %s…%s", k.Prefix, k.Last4, rolled.Key.Prefix, rolled.Key.Last4)
		}
		f.wantVerify(t, "new secret", rolled.Secret, "")
		f.wantVerify(t, "old secret at once", cr.Secret, "")
		f.clock.Advance(59 * time.Minute)
		f.wantVerify(t, "old secret inside the grace period", cr.Secret, "")
		f.clock.Advance(time.Minute)
		f.wantVerify(t, "old secret when the grace period ends", cr.Secret, "KEY_EXPIRED")
		f.clock.Advance(time.Hour)
		f.wantVerify(t, "old secret after the grace period", cr.Secret, "KEY_EXPIRED")
		f.wantVerify(t, "new secret after the grace period", rolled.Secret, "")

		// Rolling again with no grace: the previous secret stops at once,
		// and the first one stays dead (its expiry is not extended).
		again, err := f.keys.Roll(ctx, f.actor, cr.Key.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.wantVerify(t, "previous secret after a roll with no grace", rolled.Secret, "KEY_EXPIRED")
		f.wantVerify(t, "first secret after the second roll", cr.Secret, "KEY_EXPIRED")
		f.wantVerify(t, "newest secret", again.Secret, "")

		events, _ := f.db.ListAuditEvents(ctx, audit.Filter{OrgID: f.orgID, Action: apikey.KeyRotated, Limit: 10})
		if len(events) != 2 || events[0].Detail["prefix"] != again.Key.Prefix || events[1].Detail["grace"] != "1h0m0s" {
			t.Fatalf("api_key.rotated events = %+v; want 2 with the new prefix and the grace", events)
		}
	})
}

func TestServiceFlushLastUsed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		f := newFixture(t, engine)
		ctx := context.Background()
		a := f.create(t, apikey.CreateInput{Name: "a", Env: apikey.Test})
		b := f.create(t, apikey.CreateInput{Name: "b", Env: apikey.Test})
		if err := f.keys.FlushLastUsed(ctx); err != nil {
			t.Fatalf("FlushLastUsed with nothing to do: %v", err)
		}
		f.clock.Advance(time.Minute)
		f.wantVerify(t, "a", a.Secret, "")
		f.clock.Advance(time.Minute)
		f.wantVerify(t, "a again", a.Secret, "")
		usedAt := f.clock.Now()
		if k, _ := f.db.FindKey(ctx, f.orgID, a.Key.ID); !k.LastUsedAt.IsZero() {
			t.Fatalf("last used written before the flush: %v", k.LastUsedAt)
		}
		if err := f.keys.FlushLastUsed(ctx); err != nil {
			t.Fatal(err)
		}
		ka, _ := f.db.FindKey(ctx, f.orgID, a.Key.ID)
		kb, _ := f.db.FindKey(ctx, f.orgID, b.Key.ID)
		if !ka.LastUsedAt.Equal(usedAt) || !kb.LastUsedAt.IsZero() {
			t.Fatalf("last used = %v and %v; want %v for a and never for b", ka.LastUsedAt, kb.LastUsedAt, usedAt)
		}
		// Requests less than a second apart note the use once (the hot
		// path skips the lock); a second later it is noted again.
		f.clock.Advance(300 * time.Millisecond)
		f.wantVerify(t, "a within the second", a.Secret, "")
		if err := f.keys.FlushLastUsed(ctx); err != nil {
			t.Fatal(err)
		}
		if ka, _ = f.db.FindKey(ctx, f.orgID, a.Key.ID); !ka.LastUsedAt.Equal(usedAt) {
			t.Fatalf("last used = %v after a request within the second; want %v kept", ka.LastUsedAt, usedAt)
		}
		f.clock.Advance(time.Second)
		f.wantVerify(t, "a a second later", a.Secret, "")
		if err := f.keys.FlushLastUsed(ctx); err != nil {
			t.Fatal(err)
		}
		if ka, _ = f.db.FindKey(ctx, f.orgID, a.Key.ID); !ka.LastUsedAt.Equal(f.clock.Now()) {
			t.Fatalf("last used = %v; want %v", ka.LastUsedAt, f.clock.Now())
		}
	})
}

func TestParseAllowlist(t *testing.T) {
	got, err := apikey.ParseAllowlist("10.1.2.3/8, 2001:db8::1/32\n203.0.113.7 ::ffff:192.0.2.0/120;10.0.0.0/8 2001:db8::7")
	if err != nil {
		t.Fatal(err)
	}
	if want := "10.0.0.0/8 192.0.2.0/24 2001:db8::/32 2001:db8::7/128 203.0.113.7/32"; strings.Join(got, " ") != want {
		t.Fatalf("ParseAllowlist = %v, want %s (masked, unmapped, deduplicated, sorted)", got, want)
	}
	for _, bad := range []string{"10.0.0.0/33", "fe80::1%eth0", "fe80::/10%eth0", "example.com", "10.0.0", "2001:db8::/129"} {
		if _, err := apikey.ParseAllowlist(bad); errs.FieldOf(err) != "ip_allowlist" || !strings.Contains(errs.MessageOf(err), "CIDR notation") {
			t.Errorf("ParseAllowlist(%q) = %v, want an ip_allowlist error", bad, err)
		}
	}
	if got, err := apikey.ParseAllowlist("  "); err != nil || len(got) != 0 {
		t.Errorf("empty allowlist = %v, %v", got, err)
	}
}
