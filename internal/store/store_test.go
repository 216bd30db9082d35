package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/account"
	"github.com/clinikapi/clinikapi/internal/account/builtin"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/store"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
)

var t0 = time.Date(2026, 11, 23, 10, 30, 15, 123456789, time.UTC)

func mustUser(t *testing.T, db *store.DB, id, email string) account.User {
	t.Helper()
	u := account.User{ID: id, Email: email, Name: "N " + id, CreatedAt: t0}
	if err := db.CreateUser(context.Background(), u, "hash-"+id); err != nil {
		t.Fatalf("CreateUser(%s): %v", id, err)
	}
	return u
}

func TestUsersAndSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := storetest.Open(t, engine)
		mustUser(t, db, "usr_a", "a@example.com")
		if err := db.CreateUser(ctx, account.User{ID: "usr_b", Email: "a@example.com", CreatedAt: t0}, "x"); !errs.Is(err, errs.Conflict) {
			t.Fatalf("duplicate e-mail: got %v, want Conflict", err)
		}
		got, err := db.FindUserByEmail(ctx, "a@example.com")
		if err != nil || got.ID != "usr_a" || !got.CreatedAt.Equal(t0.Truncate(time.Microsecond)) {
			t.Fatalf("FindUserByEmail = %+v, %v; want usr_a created at %v", got, err, t0)
		}
		if _, err := db.FindUserByID(ctx, "usr_missing"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("FindUserByID(missing): got %v, want NotFound", err)
		}
		id, hash, err := db.FindPasswordHash(ctx, "a@example.com")
		if err != nil || id != "usr_a" || hash != "hash-usr_a" {
			t.Fatalf("FindPasswordHash = %q %q %v", id, hash, err)
		}

		s := builtin.Session{Hash: "h1", UserID: "usr_a", CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := db.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		later := t0.Add(5 * time.Minute)
		if err := db.TouchSession(ctx, "h1", later); err != nil {
			t.Fatal(err)
		}
		gs, err := db.FindSession(ctx, "h1")
		if err != nil || !gs.LastSeenAt.Equal(later.Truncate(time.Microsecond)) || gs.UserID != "usr_a" {
			t.Fatalf("FindSession = %+v, %v; want last seen %v", gs, err, later)
		}
		if err := db.DeleteUserSessions(ctx, "usr_a"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.FindSession(ctx, "h1"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("session after DeleteUserSessions: got %v, want NotFound", err)
		}

		// Reset tokens: single use, expiry enforced.
		if err := db.CreatePasswordReset(ctx, "r1", "usr_a", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if uid, err := db.ConsumePasswordReset(ctx, "r1", t0); err != nil || uid != "usr_a" {
			t.Fatalf("ConsumePasswordReset = %q, %v", uid, err)
		}
		if _, err := db.ConsumePasswordReset(ctx, "r1", t0); !errs.Is(err, errs.NotFound) {
			t.Fatalf("second use: got %v, want NotFound", err)
		}
		_ = db.CreatePasswordReset(ctx, "r2", "usr_a", t0.Add(time.Hour))
		if _, err := db.ConsumePasswordReset(ctx, "r2", t0.Add(2*time.Hour)); !errs.Is(err, errs.NotFound) {
			t.Fatalf("expired token: got %v, want NotFound", err)
		}
	})
}

func TestExternalUsers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := storetest.Open(t, engine)
		u, err := db.UpsertExternalUser(ctx, "usr_x", "sub-1", "x@example.com", t0)
		if err != nil || u.ID != "usr_x" || u.ExternalID != "sub-1" {
			t.Fatalf("first upsert = %+v, %v", u, err)
		}
		u2, err := db.UpsertExternalUser(ctx, "usr_y", "sub-1", "x2@example.com", t0)
		if err != nil || u2.ID != "usr_x" || u2.Email != "x2@example.com" {
			t.Fatalf("second upsert = %+v, %v; want same user with new e-mail", u2, err)
		}
		// A built-in account is linked by e-mail, keeping its id.
		mustUser(t, db, "usr_b", "b@example.com")
		u3, err := db.UpsertExternalUser(ctx, "usr_new", "sub-2", "b@example.com", t0)
		if err != nil || u3.ID != "usr_b" {
			t.Fatalf("link by e-mail = %+v, %v; want usr_b", u3, err)
		}
	})
}

func TestOrganizationsAndLastOwner(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := storetest.Open(t, engine)
		mustUser(t, db, "usr_a", "a@example.com")
		mustUser(t, db, "usr_b", "b@example.com")
		o := org.Organization{ID: "org_1", Name: "Acme", Plan: "sandbox", CreatedAt: t0}
		if err := db.CreateOrg(ctx, o, "usr_a"); err != nil {
			t.Fatal(err)
		}
		m, err := db.FindMembership(ctx, "org_1", "usr_a")
		if err != nil || m.Role != org.Owner || m.Org.Name != "Acme" {
			t.Fatalf("owner membership = %+v, %v", m, err)
		}
		if _, err := db.FindMembership(ctx, "org_1", "usr_b"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("non-member: got %v, want NotFound", err)
		}
		if err := db.SetMemberRole(ctx, "org_1", "usr_a", org.Admin); !errs.Is(err, errs.Conflict) {
			t.Fatalf("demote last owner: got %v, want Conflict", err)
		}
		if err := db.RemoveMember(ctx, "org_1", "usr_a"); !errs.Is(err, errs.Conflict) {
			t.Fatalf("remove last owner: got %v, want Conflict", err)
		}
		if err := db.AddMember(ctx, "org_1", "usr_b", org.Developer, t0); err != nil {
			t.Fatal(err)
		}
		if err := db.AddMember(ctx, "org_1", "usr_b", org.Developer, t0); !errs.Is(err, errs.Conflict) {
			t.Fatalf("duplicate member: got %v, want Conflict", err)
		}
		if err := db.SetMemberRole(ctx, "org_1", "usr_b", org.Owner); err != nil {
			t.Fatal(err)
		}
		// Two owners now: either may step down, but not both.
		if err := db.SetMemberRole(ctx, "org_1", "usr_a", org.Admin); err != nil {
			t.Fatalf("demote one of two owners: %v", err)
		}
		if err := db.RemoveMember(ctx, "org_1", "usr_b"); !errs.Is(err, errs.Conflict) {
			t.Fatalf("remove the remaining owner: got %v, want Conflict", err)
		}
		ms, err := db.ListMembers(ctx, "org_1")
		if err != nil || len(ms) != 2 {
			t.Fatalf("ListMembers = %d, %v; want 2", len(ms), err)
		}
		if err := db.RenameOrg(ctx, "org_1", "Acme Health", t0); err != nil {
			t.Fatal(err)
		}
		list, err := db.ListMemberships(ctx, "usr_a")
		if err != nil || len(list) != 1 || list[0].Org.Name != "Acme Health" || list[0].Role != org.Admin {
			t.Fatalf("ListMemberships = %+v, %v", list, err)
		}
	})
}

func TestInvites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := storetest.Open(t, engine)
		mustUser(t, db, "usr_a", "a@example.com")
		mustUser(t, db, "usr_b", "b@example.com")
		_ = db.CreateOrg(ctx, org.Organization{ID: "org_1", Name: "Acme", Plan: "sandbox", CreatedAt: t0}, "usr_a")
		inv := org.Invite{ID: "inv_1", OrgID: "org_1", Email: "b@example.com", Role: org.Billing, TokenHash: "th1", InvitedBy: "usr_a", CreatedAt: t0, ExpiresAt: t0.Add(org.InviteLifetime)}
		if err := db.CreateInvite(ctx, inv); err != nil {
			t.Fatal(err)
		}
		if l, err := db.ListInvites(ctx, "org_1", t0); err != nil || len(l) != 1 {
			t.Fatalf("ListInvites = %d, %v", len(l), err)
		}
		if l, _ := db.ListInvites(ctx, "org_1", t0.Add(8*24*time.Hour)); len(l) != 0 {
			t.Fatalf("expired invites listed: %d", len(l))
		}
		got, err := db.AcceptInvite(ctx, "th1", "usr_b", t0.Add(time.Hour))
		if err != nil || got.Role != org.Billing {
			t.Fatalf("AcceptInvite = %+v, %v", got, err)
		}
		if m, err := db.FindMembership(ctx, "org_1", "usr_b"); err != nil || m.Role != org.Billing {
			t.Fatalf("membership after accept = %+v, %v", m, err)
		}
		if _, err := db.AcceptInvite(ctx, "th1", "usr_b", t0); !errs.Is(err, errs.NotFound) {
			t.Fatalf("second accept: got %v, want NotFound", err)
		}
		_ = db.CreateInvite(ctx, org.Invite{ID: "inv_2", OrgID: "org_1", Email: "c@example.com", Role: org.Admin, TokenHash: "th2", InvitedBy: "usr_a", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
		if _, err := db.AcceptInvite(ctx, "th2", "usr_b", t0.Add(2*time.Hour)); !errs.Is(err, errs.NotFound) {
			t.Fatalf("expired accept: got %v, want NotFound", err)
		}
		if _, err := db.DeleteInvite(ctx, "org_other", "inv_2"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("delete another org's invite: got %v, want NotFound", err)
		}
	})
}

func TestAuditEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := storetest.Open(t, engine)
		for i, action := range []string{audit.OrgCreated, audit.MemberInvited, audit.MemberRoleChanged} {
			e := audit.Event{ID: "aud_" + action, OrgID: "org_1", ActorType: audit.ActorUser, ActorID: "usr_a", Action: action,
				TargetType: "user", TargetID: "usr_b", IP: "10.0.0.1", UserAgent: "ua", Outcome: audit.Success,
				Detail: map[string]string{"role": "admin"}, CreatedAt: t0.Add(time.Duration(i) * time.Minute)}
			if err := db.InsertAuditEvent(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		_ = db.InsertAuditEvent(ctx, audit.Event{ID: "aud_x", ActorType: audit.ActorNone, Action: audit.UserSignInFailed, Outcome: audit.Failure, CreatedAt: t0})
		got, err := db.ListAuditEvents(ctx, audit.Filter{OrgID: "org_1", Limit: 10})
		if err != nil || len(got) != 3 || got[0].Action != audit.MemberRoleChanged || got[0].Detail["role"] != "admin" {
			t.Fatalf("ListAuditEvents = %+v, %v; want 3 newest first with detail", got, err)
		}
		got, _ = db.ListAuditEvents(ctx, audit.Filter{OrgID: "org_1", Before: t0.Add(time.Minute), Limit: 10})
		if len(got) != 1 || got[0].Action != audit.OrgCreated {
			t.Fatalf("before filter = %+v; want only the first event", got)
		}
		got, _ = db.ListAuditEvents(ctx, audit.Filter{OrgID: "org_1", Action: audit.MemberInvited, Limit: 10})
		if len(got) != 1 {
			t.Fatalf("action filter = %d events; want 1", len(got))
		}

		// A batch retried after an uncertain failure is written once.
		batch := []audit.Event{
			{ID: "aud_b1", OrgID: "org_2", ActorType: audit.ActorAPIKey, ActorID: "key_1", Action: "fhir.read", Outcome: audit.Success, CreatedAt: t0},
			{ID: "aud_b2", OrgID: "org_2", ActorType: audit.ActorAPIKey, ActorID: "key_1", Action: "fhir.read", Outcome: audit.Success, CreatedAt: t0},
		}
		for range 2 {
			if err := db.InsertAuditEvents(ctx, batch); err != nil {
				t.Fatalf("insert batch: %v", err)
			}
		}
		if got, _ = db.ListAuditEvents(ctx, audit.Filter{OrgID: "org_2", Limit: 10}); len(got) != 2 {
			t.Fatalf("retried batch = %d events; want 2", len(got))
		}

		// A batch may hold an account event (no organization: the ""
		// chain) beside an organization's; every field is kept and both
		// chains verify.
		mixed := []audit.Event{
			{ID: "aud_m1", ActorType: audit.ActorUser, ActorID: "usr_a", Action: audit.UserSignedIn, IP: "10.0.0.2", UserAgent: "ua/1",
				Outcome: audit.Success, Detail: map[string]string{"method": "password"}, CreatedAt: t0.Add(time.Second)},
			{ID: "aud_m2", OrgID: "org_2", ActorType: audit.ActorAPIKey, ActorID: "key_1", Action: "data.read", TargetType: "Patient", TargetID: "p1",
				Outcome: audit.Failure, Detail: map[string]string{"env": "test", "note": `"quoted" <b>`}, CreatedAt: t0.Add(2 * time.Second)},
		}
		if err := db.InsertAuditEvents(ctx, mixed); err != nil {
			t.Fatal(err)
		}
		if got, _ = db.ListAuditEvents(ctx, audit.Filter{OrgID: "org_2", Limit: 1}); len(got) != 1 || got[0].ID != "aud_m2" ||
			got[0].TargetID != "p1" || got[0].Outcome != audit.Failure || got[0].Detail["note"] != `"quoted" <b>` || !got[0].CreatedAt.Equal(t0.Add(2*time.Second).Truncate(time.Microsecond)) || got[0].Seq != 3 {
			t.Fatalf("batched event read back as %+v", got)
		}
		rep, err := audit.Verify(ctx, db, 50)
		if err != nil || len(rep.Problems) != 0 || rep.Chains != 3 || rep.Events != 8 {
			t.Fatalf("Verify = %+v, %v; want 3 sound chains (org_1, org_2, accounts) of 8 events", rep, err)
		}
	})
}
