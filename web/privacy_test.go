package web_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/bulk"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/privacy"
)

type closingOrg struct {
	br         *apptest.Browser
	id         string
	test, live string
}

// orgWithData signs up an owner and stores a patient with each of a test
// and a live key.
func orgWithData(t *testing.T, env *apptest.Env, email, name string) closingOrg {
	t.Helper()
	br := env.Browser()
	id := br.SignUp("", email, pw, name)
	ctx := context.Background()
	test, _ := env.App.Keys.Create(ctx, apikey.Actor{OrgID: id}, apikey.CreateInput{Name: "t", Env: apikey.Test})
	live, _ := env.App.Keys.Create(ctx, apikey.Actor{OrgID: id}, apikey.CreateInput{Name: "l", Env: apikey.Live})
	for _, k := range []string{test.Secret, live.Secret} {
		r := fhirCall(t, env, "POST", "/v1/fhir/Patient", k, `{"resourceType":"Patient","name":[{"family":"Closing","given":["Data"]}],"identifier":[{"system":"urn:x","value":"1"}],"birthDate":"1970-01-01"}`)
		if r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Raw)
		}
		id := r.Body["id"].(string)
		fhirCall(t, env, "PUT", "/v1/fhir/Patient/"+id, k, `{"resourceType":"Patient","id":"`+id+`","name":[{"family":"Closing2"}]}`)
	}
	return closingOrg{br: br, id: id, test: test.Secret, live: live.Secret}
}

func runDeletions(t *testing.T, env *apptest.Env) {
	t.Helper()
	if _, err := env.App.Jobs.RunNow(context.Background(), "orgs.delete_scheduled"); err != nil {
		t.Fatal(err)
	}
}

func TestCloseOrganizationDeletesPHI(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a := orgWithData(t, env, "owner@example.com", "Acme Health")
		b := orgWithData(t, env, "other@example.com", "Other Clinic")
		if purgeRows(t, env, a.id) == 0 || purgeRows(t, env, b.id) == 0 {
			t.Fatal("no rows to delete")
		}
		page := "/o/" + a.id + "/privacy"
		if r := a.br.Get(page); r.Status != 200 || !strings.Contains(apptest.Text(r.Body), "Close organization") {
			t.Fatalf("privacy page: %d %s", r.Status, apptest.Text(r.Body))
		}
		// Wrong confirmation or password: nothing happens.
		r := a.br.Post(page+"/close", url.Values{"confirm_name": {"Acme"}, "password": {pw}})
		if r.Status != 422 || !strings.Contains(apptest.Text(r.Body), "Type the organization's name") {
			t.Fatalf("wrong name: %d %s", r.Status, apptest.Text(r.Body))
		}
		r = a.br.Post(page+"/close", url.Values{"confirm_name": {"Acme Health"}, "password": {"wrong password"}})
		if r.Status != 422 || !strings.Contains(apptest.Text(r.Body), "password is incorrect") {
			t.Fatalf("wrong password: %d %s", r.Status, apptest.Text(r.Body))
		}
		if r := fhirCall(t, env, "GET", "/v1/fhir/Patient", a.test, ""); r.Status != 200 {
			t.Fatalf("keys stopped working after a refused closure: %d", r.Status)
		}

		r = a.br.Post(page+"/close", url.Values{"confirm_name": {"Acme Health"}, "password": {pw}})
		if r.Status != 200 || !strings.Contains(apptest.Text(r.Body), "This organization is closed") {
			t.Fatalf("close: %d %s", r.Status, apptest.Text(r.Body))
		}
		// Keys refused at once; no new keys; the banner on every page.
		wantAPIError(t, "test key after closure", apiCall(t, env, "GET", "/v1/patients", a.test, nil), 401, "KEY_REVOKED")
		wantAPIError(t, "live key after closure", apiCall(t, env, "GET", "/v1/patients", a.live, nil), 401, "KEY_REVOKED")
		if r := a.br.Post("/o/"+a.id+"/keys", url.Values{"name": {"new"}, "env": {"test"}}); r.Status != 409 {
			t.Fatalf("new key in a closed org: %d", r.Status)
		}
		if r := a.br.Get("/o/" + a.id); !strings.Contains(apptest.Text(r.Body), "will be permanently deleted on") {
			t.Fatalf("no closed banner: %s", apptest.Text(r.Body))
		}
		// The owner can still export.
		if r := a.br.Post(page+"/exports", url.Values{"env": {"live"}}); r.Status != 200 || !strings.Contains(r.Body, `data-testid="bulk-job"`) {
			t.Fatalf("export of a closed org: %d %s", r.Status, apptest.Text(r.Body))
		}

		// Not due yet: nothing is deleted.
		env.Clock.Advance(28 * 24 * time.Hour)
		runDeletions(t, env)
		if purgeRows(t, env, a.id) == 0 {
			t.Fatal("deleted before the due date")
		}
		env.Clock.Advance(2 * 24 * time.Hour)
		runDeletions(t, env)
		if n := purgeRows(t, env, a.id); n != 0 {
			t.Fatalf("%d rows of the closed organization remain", n)
		}
		if purgeRows(t, env, b.id) == 0 {
			t.Fatal("another organization's data was deleted")
		}
		var members, keys int
		env.App.DB.SQL().QueryRow(`SELECT COUNT(*) FROM memberships WHERE org_id = $1`, a.id).Scan(&members)
		env.App.DB.SQL().QueryRow(`SELECT COUNT(*) FROM api_keys WHERE org_id = $1`, a.id).Scan(&keys)
		if members != 0 || keys != 0 {
			t.Fatalf("account data left: %d members, %d keys", members, keys)
		}
		env.App.Audit.Flush(context.Background())
		evs, _ := env.App.Audit.List(context.Background(), audit.Filter{OrgID: a.id, Action: privacy.ActionOrgDataDeleted, Limit: 5})
		if len(evs) != 1 || evs[0].Detail["resources"] != "2" || evs[0].ActorType != audit.ActorSystem {
			t.Fatalf("deletion audit: %+v", evs)
		}
		// A second run finds nothing to do.
		runDeletions(t, env)
	})
}

func TestCancelledClosureDeletesNothing(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a := orgWithData(t, env, "owner@example.com", "Acme Health")
		page := "/o/" + a.id + "/privacy"
		a.br.Post(page+"/close", url.Values{"confirm_name": {"Acme Health"}, "password": {pw}})
		r := a.br.Post(page+"/reopen", nil)
		if r.Status != 200 || strings.Contains(apptest.Text(r.Body), "will be permanently deleted") {
			t.Fatalf("cancel: %d %s", r.Status, apptest.Text(r.Body))
		}
		before := purgeRows(t, env, a.id)
		env.Clock.Advance(31 * 24 * time.Hour)
		runDeletions(t, env)
		if after := purgeRows(t, env, a.id); after != before || after == 0 {
			t.Fatalf("rows %d → %d after a cancelled closure", before, after)
		}
		// Keys stay revoked; new ones can be made.
		a.br.SignIn("owner@example.com", pw)
		if r := a.br.Post("/o/"+a.id+"/keys", url.Values{"name": {"again"}, "env": {"test"}, "scope": {"*"}}); r.Status != 200 {
			t.Fatalf("new key after cancelling: %d %s", r.Status, apptest.Text(r.Body))
		}
	})
}

func TestOnlyOwnersClose(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		ctx := context.Background()
		a := orgWithData(t, env, "owner@example.com", "Acme Health")
		admin := env.Browser()
		admin.SignUp("", "admin@example.com", pw, "Admin Org")
		dev := env.Browser()
		dev.SignUp("", "dev@example.com", pw, "Dev Org")
		for email, role := range map[string]org.Role{"admin@example.com": org.Admin, "dev@example.com": org.Developer} {
			u, _ := env.App.DB.FindUserByEmail(ctx, email)
			if err := env.App.DB.AddMember(ctx, a.id, u.ID, role, env.Clock.Now()); err != nil {
				t.Fatal(err)
			}
		}
		page := "/o/" + a.id + "/privacy"
		if r := admin.Get(page); r.Status != 200 || strings.Contains(r.Body, `data-testid="close-org"`) {
			t.Fatalf("admin: %d, close form shown: %v", r.Status, strings.Contains(r.Body, "close-org"))
		}
		if r := admin.Post(page+"/close", url.Values{"confirm_name": {"Acme Health"}, "password": {pw}}); r.Status != 403 {
			t.Fatalf("admin closed the organization: %d", r.Status)
		}
		if r := dev.Get(page); r.Status != 403 {
			t.Fatalf("developer sees data & privacy: %d", r.Status)
		}
	})
}

func TestDeleteAccount(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		ctx := context.Background()
		a := orgWithData(t, env, "owner@example.com", "Acme Health")
		y := env.Browser()
		yOrg := y.SignUp("", "leaver@example.com", pw, "Leaver Org")
		yu, _ := env.App.DB.FindUserByEmail(ctx, "leaver@example.com")
		// The last owner of an organization cannot leave it ownerless.
		r := y.Post("/account/delete", url.Values{"delete_password": {pw}})
		if r.Status != 409 || !strings.Contains(apptest.Text(r.Body), "You are the last owner of Leaver Org") {
			t.Fatalf("last owner: %d %s", r.Status, apptest.Text(r.Body))
		}
		au, _ := env.App.DB.FindUserByEmail(ctx, "owner@example.com")
		env.App.DB.AddMember(ctx, yOrg, au.ID, org.Owner, env.Clock.Now())
		env.App.DB.AddMember(ctx, a.id, yu.ID, org.Developer, env.Clock.Now())
		if r := y.Post("/account/delete", url.Values{"delete_password": {"wrong password"}}); r.Status != 422 {
			t.Fatalf("wrong password: %d", r.Status)
		}
		r = y.Post("/account/delete", url.Values{"delete_password": {pw}})
		if r.Status != 200 || r.URL.Path != "/signin" {
			t.Fatalf("delete: %d at %s", r.Status, r.URL.Path)
		}
		if _, err := env.App.DB.FindUserByID(ctx, yu.ID); err == nil {
			t.Fatal("the user still exists")
		}
		if r := env.Browser().Post("/signin", url.Values{"email": {"leaver@example.com"}, "password": {pw}}); r.URL.Path != "/signin" {
			t.Fatalf("a deleted account signed in: %s", r.URL.Path)
		}
		var n int
		env.App.DB.SQL().QueryRow(`SELECT COUNT(*) FROM memberships WHERE user_id = $1`, yu.ID).Scan(&n)
		if n != 0 {
			t.Fatalf("%d memberships left", n)
		}
		env.App.Audit.Flush(ctx)
		var events int
		env.App.DB.SQL().QueryRow(`SELECT COUNT(*) FROM audit_events WHERE actor_id = $1 AND action = $2`, yu.ID, privacy.ActionAccountDeleted).Scan(&events)
		if events != 3 {
			t.Fatalf("account deletion audited %d times, want 3 (the account, and each of its two organizations' logs)", events)
		}
		for _, o := range []string{a.id, yOrg} {
			evs, _ := env.App.Audit.List(ctx, audit.Filter{OrgID: o, Action: privacy.ActionAccountDeleted})
			if len(evs) != 1 || evs[0].ActorID != yu.ID || evs[0].TargetID != yu.ID {
				t.Fatalf("organization %s's log of the account deletion: %+v", o, evs)
			}
		}
		if r.URL.RawQuery != "deleted=1" || !strings.Contains(r.Body, "Your account was deleted") {
			t.Fatalf("no notice after the deletion: %s?%s", r.URL.Path, r.URL.RawQuery)
		}
		env.App.DB.SQL().QueryRow(`SELECT COUNT(*) FROM audit_events WHERE detail LIKE '%leaver@%'`).Scan(&events)
		if events != 0 {
			t.Fatalf("audit detail keeps the e-mail address")
		}
	})
}

// With Supabase Auth, closing re-authenticates through Supabase and keeps
// the dashboard session; deleting the account ends the Supabase sessions.
func TestSupabaseReauthenticationAndAccountDeletion(t *testing.T) {
	env, _ := supabaseEnv(t, "sqlite", false)
	b := env.Browser()
	orgID := b.SignUp("Sue Base", "sue@example.com", pw, "Supa Clinic")
	page := "/o/" + orgID + "/privacy"
	if r := b.Post(page+"/close", url.Values{"confirm_name": {"Supa Clinic"}, "password": {"not the password"}}); r.Status != 422 || !strings.Contains(apptest.Text(r.Body), "password is incorrect") {
		t.Fatalf("wrong password: %d %s", r.Status, apptest.Text(r.Body))
	}
	if r := b.Post(page+"/close", url.Values{"confirm_name": {"Supa Clinic"}, "password": {pw}}); r.Status != 200 || r.URL.Path != page {
		t.Fatalf("close: %d at %s %s", r.Status, r.URL.Path, apptest.Text(r.Body))
	}
	if r := b.Get(page); r.Status != 200 || !strings.Contains(r.Body, `data-testid="closed-note"`) {
		t.Fatalf("the session did not survive re-authentication: %d %s", r.Status, r.URL.Path)
	}
	// Still the last owner: the account cannot go yet.
	if r := b.Post("/account/delete", url.Values{"delete_password": {pw}}); r.Status != 409 {
		t.Fatalf("last owner deleted: %d", r.Status)
	}
	ctx := context.Background()
	other := env.Browser()
	other.SignUp("", "other@example.com", pw, "Other")
	ou, _ := env.App.DB.FindUserByEmail(ctx, "other@example.com")
	env.App.DB.AddMember(ctx, orgID, ou.ID, org.Owner, env.Clock.Now())
	if r := b.Post("/account/delete", url.Values{"delete_password": {pw}}); r.URL.Path != "/signin" {
		t.Fatalf("delete: %d at %s", r.Status, r.URL.Path)
	}
	if r := b.Get("/account"); r.URL.Path != "/signin" {
		t.Fatalf("still signed in after deleting the account: %s", r.URL.Path)
	}
}

// The dashboard's download link sends a member of the organization to the
// file's signed link; a job id of another organization is not found.
func TestDashboardExportDownload(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	ctx := context.Background()
	a := orgWithData(t, env, "owner@example.com", "Acme Health")
	b := orgWithData(t, env, "other@example.com", "Other Clinic")
	if r := a.br.Post("/o/"+a.id+"/privacy/exports", url.Values{"env": {"test"}}); r.Status != 200 {
		t.Fatalf("start: %d", r.Status)
	}
	jobs, _ := env.App.Bulk.Jobs(ctx, a.id, 5)
	if len(jobs) != 1 {
		t.Fatalf("%d jobs", len(jobs))
	}
	env.App.Bulk.Work(ctx)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if j, _ := env.App.Bulk.Job(ctx, a.id, jobs[0].ID); j.Status == "completed" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := a.br.Get("/o/" + a.id + "/privacy/jobs/" + jobs[0].ID + "/Patient.ndjson")
	if r.Status != 200 || !strings.Contains(r.Body, "Closing2") || strings.Contains(r.Body, b.id) || !strings.Contains(r.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("download: %d at %s: %q", r.Status, r.URL.Path, r.Body)
	}
	// The audit trail names who downloaded it.
	env.App.Audit.Flush(ctx)
	owner, _ := env.App.DB.FindUserByEmail(ctx, "owner@example.com")
	evs, _ := env.App.Audit.List(ctx, audit.Filter{OrgID: a.id, Action: bulk.ActionDownloaded})
	if len(evs) != 1 || evs[0].ActorType != audit.ActorUser || evs[0].ActorID != owner.ID {
		t.Fatalf("download audited as %+v, want one event by the owner (%s)", evs, owner.ID)
	}
	if r := b.br.Get("/o/" + b.id + "/privacy/jobs/" + jobs[0].ID + "/Patient.ndjson"); r.Status != 404 {
		t.Fatalf("another organization's job: %d", r.Status)
	}
}
