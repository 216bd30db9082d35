package store_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/store"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
)

// mustKey stores a key of orgID with one current secret.
func mustKey(t *testing.T, db *store.DB, orgID, id string, env apikey.Env, at time.Time) (apikey.Key, apikey.Secret) {
	t.Helper()
	_, hash, prefix, last4 := apikey.Generate(env)
	k := apikey.Key{ID: id, OrgID: orgID, Name: "key " + id, Env: env, Scope: apikey.ScopeRead, Prefix: prefix, Last4: last4, CreatedBy: "usr_a", CreatedAt: at}
	s := apikey.Secret{Hash: hash, KeyID: id, CreatedAt: at}
	if err := db.CreateKey(context.Background(), k, s); err != nil {
		t.Fatalf("CreateKey(%s): %v", id, err)
	}
	return k, s
}

func keyOrgs(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	mustUser(t, db, "usr_a", "a@example.com")
	for _, id := range []string{"org_1", "org_2"} {
		if err := db.CreateOrg(ctx, org.Organization{ID: id, Name: id, Plan: "sandbox", CreatedAt: t0}, "usr_a"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAPIKeysCreateFindList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := storetest.Open(t, engine)
		keyOrgs(t, db)
		k1, s1 := mustKey(t, db, "org_1", "key_1", apikey.Test, t0)
		mustKey(t, db, "org_1", "key_2", apikey.Live, t0.Add(time.Minute))
		mustKey(t, db, "org_2", "key_3", apikey.Test, t0)

		// Expiry round-trips; zero times stay zero.
		exp := t0.Add(30 * 24 * time.Hour)
		_, hash, prefix, last4 := apikey.Generate(apikey.Test)
		k4 := apikey.Key{ID: "key_4", OrgID: "org_1", Name: "expiring", Env: apikey.Test, Scope: apikey.ScopeAll, Prefix: prefix, Last4: last4, CreatedBy: "system", CreatedAt: t0.Add(2 * time.Minute), ExpiresAt: exp}
		if err := db.CreateKey(ctx, k4, apikey.Secret{Hash: hash, KeyID: "key_4", CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateKey(ctx, apikey.Key{ID: "key_5", OrgID: "org_1", Name: "dup", Env: apikey.Test, Scope: apikey.ScopeAll, CreatedAt: t0}, apikey.Secret{Hash: hash, KeyID: "key_5", CreatedAt: t0}); err == nil {
			t.Fatalf("CreateKey with a secret hash already stored succeeded")
		}
		if _, err := db.FindKey(ctx, "org_1", "key_5"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("key of a failed CreateKey: got %v, want NotFound (the insert is one transaction)", err)
		}

		got, err := db.FindKey(ctx, "org_1", "key_1")
		if err != nil || got.Name != k1.Name || got.Env != apikey.Test || got.Scope != apikey.ScopeRead || got.Prefix != k1.Prefix || got.Last4 != k1.Last4 ||
			got.CreatedBy != "usr_a" || !got.CreatedAt.Equal(t0.Truncate(time.Microsecond)) || !got.ExpiresAt.IsZero() || !got.RevokedAt.IsZero() || !got.LastUsedAt.IsZero() {
			t.Fatalf("FindKey = %+v, %v; want %+v", got, err, k1)
		}
		if got, _ := db.FindKey(ctx, "org_1", "key_4"); !got.ExpiresAt.Equal(exp.Truncate(time.Microsecond)) {
			t.Fatalf("ExpiresAt = %v, want %v", got.ExpiresAt, exp)
		}
		if _, err := db.FindKey(ctx, "org_2", "key_1"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("FindKey of another organization's key: got %v, want NotFound", err)
		}

		list, err := db.ListKeys(ctx, "org_1")
		if err != nil || len(list) != 3 || list[0].ID != "key_4" || list[1].ID != "key_2" || list[2].ID != "key_1" {
			t.Fatalf("ListKeys(org_1) = %v, %v; want key_4, key_2, key_1 (newest first)", ids(list), err)
		}
		if list, _ := db.ListKeys(ctx, "org_none"); len(list) != 0 {
			t.Fatalf("ListKeys of an unknown organization = %v", ids(list))
		}

		sec, k, err := db.FindSecret(ctx, s1.Hash)
		if err != nil || k.ID != "key_1" || k.OrgID != "org_1" || sec.KeyID != "key_1" || !sec.ExpiresAt.IsZero() || !sec.CreatedAt.Equal(t0.Truncate(time.Microsecond)) {
			t.Fatalf("FindSecret = %+v %+v, %v", sec, k, err)
		}
		if _, _, err := db.FindSecret(ctx, apikey.Hash("clk_test_nope")); !errs.Is(err, errs.NotFound) {
			t.Fatalf("FindSecret(unknown) = %v, want NotFound", err)
		}
	})
}

func ids(ks []apikey.Key) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.ID
	}
	return out
}

func TestAPIKeysRotateRevokeTouch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := storetest.Open(t, engine)
		keyOrgs(t, db)
		_, old := mustKey(t, db, "org_1", "key_1", apikey.Test, t0)

		_, hash, prefix, last4 := apikey.Generate(apikey.Test)
		next := apikey.Secret{Hash: hash, KeyID: "key_1", CreatedAt: t0.Add(time.Minute)}
		if err := db.RotateKey(ctx, "org_2", "key_1", next, prefix, last4, t0.Add(time.Hour)); !errs.Is(err, errs.NotFound) {
			t.Fatalf("RotateKey from another organization: got %v, want NotFound", err)
		}
		grace := t0.Add(time.Hour).Truncate(time.Microsecond)
		if err := db.RotateKey(ctx, "org_1", "key_1", next, prefix, last4, grace); err != nil {
			t.Fatal(err)
		}
		so, _, _ := db.FindSecret(ctx, old.Hash)
		sn, k, _ := db.FindSecret(ctx, hash)
		if !so.ExpiresAt.Equal(grace) || !sn.ExpiresAt.IsZero() || k.Prefix != prefix || k.Last4 != last4 {
			t.Fatalf("after RotateKey: old secret expires %v (want %v), new %v (want never), display %s…%s (want %s…%s)",
				so.ExpiresAt, grace, sn.ExpiresAt, k.Prefix, k.Last4, prefix, last4)
		}
		// A second rotation never extends an earlier secret's grace.
		_, hash3, prefix3, last43 := apikey.Generate(apikey.Test)
		if err := db.RotateKey(ctx, "org_1", "key_1", apikey.Secret{Hash: hash3, KeyID: "key_1", CreatedAt: t0}, prefix3, last43, t0.Add(7*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if so, _, _ := db.FindSecret(ctx, old.Hash); !so.ExpiresAt.Equal(grace) {
			t.Fatalf("first secret's expiry moved to %v by a later rotation, want %v", so.ExpiresAt, grace)
		}
		if sn, _, _ := db.FindSecret(ctx, hash); !sn.ExpiresAt.Equal(t0.Add(7 * 24 * time.Hour).Truncate(time.Microsecond)) {
			t.Fatalf("second secret expires %v, want in 7 days", sn.ExpiresAt)
		}

		// Revoke: another organization cannot, the first revocation time stays.
		if _, err := db.RevokeKey(ctx, "org_2", "key_1", t0); !errs.Is(err, errs.NotFound) {
			t.Fatalf("RevokeKey from another organization: got %v, want NotFound", err)
		}
		at := t0.Add(2 * time.Hour).Truncate(time.Microsecond)
		rk, err := db.RevokeKey(ctx, "org_1", "key_1", at)
		if err != nil || !rk.RevokedAt.Equal(at) {
			t.Fatalf("RevokeKey = %+v, %v; want revoked at %v", rk, err, at)
		}
		if rk, _ := db.RevokeKey(ctx, "org_1", "key_1", at.Add(time.Hour)); !rk.RevokedAt.Equal(at) {
			t.Fatalf("second RevokeKey moved revoked_at to %v", rk.RevokedAt)
		}
		if _, k, _ := db.FindSecret(ctx, hash3); k.RevokedAt.IsZero() {
			t.Fatalf("FindSecret does not report the key as revoked")
		}
		_, hash4, p4, l4 := apikey.Generate(apikey.Test)
		if err := db.RotateKey(ctx, "org_1", "key_1", apikey.Secret{Hash: hash4, KeyID: "key_1", CreatedAt: at}, p4, l4, at); !errs.Is(err, errs.NotFound) {
			t.Fatalf("RotateKey of a revoked key: got %v, want NotFound", err)
		}

		// Touch: coalesced last-used times only move forward.
		mustKey(t, db, "org_1", "key_2", apikey.Live, t0)
		used := t0.Add(3 * time.Hour).Truncate(time.Microsecond)
		if err := db.TouchKeys(ctx, map[string]time.Time{"key_1": used, "key_2": used.Add(time.Minute), "key_missing": used}); err != nil {
			t.Fatal(err)
		}
		if err := db.TouchKeys(ctx, map[string]time.Time{"key_1": used.Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		k1, _ := db.FindKey(ctx, "org_1", "key_1")
		k2, _ := db.FindKey(ctx, "org_1", "key_2")
		if !k1.LastUsedAt.Equal(used) || !k2.LastUsedAt.Equal(used.Add(time.Minute)) {
			t.Fatalf("last used = %v, %v; want %v, %v (never moved back)", k1.LastUsedAt, k2.LastUsedAt, used, used.Add(time.Minute))
		}
		if err := db.TouchKeys(ctx, nil); err != nil {
			t.Fatalf("TouchKeys(nil): %v", err)
		}
	})
}

// TestKeyChangesFeed: on SQLite every key change — roll, restriction or
// disable, revoke, deletion with its organization — is recorded in its
// transaction, and a feed started earlier (another process's, as a
// running server's) reports each changed key once, in order; a revoke that
// changes nothing records nothing. PostgreSQL has no feed (NOTIFY).
func TestKeyChangesFeed(t *testing.T) {
	if pg := os.Getenv(storetest.EnvPostgres); pg != "" {
		if db := storetest.Open(t, "postgres"); db.KeyChanges(slog.New(slog.DiscardHandler)) != nil {
			t.Fatal("PostgreSQL has a key change feed; NOTIFY carries the changes there")
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := storetest.Open(t, "sqlite")
	keyOrgs(t, db)
	mustKey(t, db, "org_1", "key_1", apikey.Test, t0)
	k2, _ := mustKey(t, db, "org_1", "key_2", apikey.Test, t0)
	mustKey(t, db, "org_1", "key_3", apikey.Test, t0)
	mustKey(t, db, "org_2", "key_4", apikey.Test, t0)
	if _, err := db.RevokeKey(ctx, "org_1", "key_3", t0); err != nil { // before the feed started: not reported
		t.Fatal(err)
	}

	got := make(chan string, 16)
	started := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- db.KeyChanges(slog.New(slog.DiscardHandler)).Subscribe(ctx, func(id string) { got <- id }, func() {
			select {
			case started <- struct{}{}:
			default:
			}
		})
	}()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the feed did not start")
	}

	_, hash, prefix, last4 := apikey.Generate(apikey.Test)
	if err := db.RotateKey(ctx, "org_1", "key_1", apikey.Secret{Hash: hash, KeyID: "key_1", CreatedAt: t0}, prefix, last4, t0); err != nil {
		t.Fatal(err)
	}
	k2.DisabledAt = t0
	if err := db.UpdateKey(ctx, k2); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RevokeKey(ctx, "org_1", "key_3", t0); err != nil { // revoked already: no change
		t.Fatal(err)
	}
	if _, err := db.RevokeKey(ctx, "org_1", "key_2", t0); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteOrgAccountData(ctx, "org_2", t0); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"key_1", "key_2", "key_2", "key_4"} {
		select {
		case id := <-got:
			if id != want {
				t.Fatalf("feed reported %s, want %s", id, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("feed did not report %s", want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	select {
	case id := <-got:
		t.Fatalf("feed reported %s more than once, or a change that changed nothing", id)
	default:
	}
}
