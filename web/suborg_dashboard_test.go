package web_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/analytics"
	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/suborg"
)

// waitUsage waits until n usage records of the organization are stored
// (a response reaches the client before its record is buffered).
func waitUsage(t *testing.T, env *apptest.Env, orgID string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := env.App.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		var got int
		env.App.DB.SQL().QueryRow(`SELECT COUNT(*) FROM usage_records WHERE org_id = $1`, orgID).Scan(&got)
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d usage records stored, want %d", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tenantQuery is the last hour of one tenant's traffic, by minute.
func tenantQuery(env *apptest.Env, orgID, tenant string) analytics.Query {
	now := env.Clock.Now()
	return analytics.Query{OrgID: orgID, Tenant: tenant, Grain: analytics.Minute, From: now.Add(-time.Hour), To: now.Add(time.Minute)}
}

// tenantRows counts a tenant's rows in every datastore of the organization.
func tenantRows(t *testing.T, env *apptest.Env, orgID, tenant string) int64 {
	t.Helper()
	stores, err := env.App.Records.Datastores(context.Background(), orgID)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, s := range stores {
		c, err := s.TenantRows(context.Background(), datastore.Tenant(tenant))
		if err != nil {
			t.Fatal(err)
		}
		n += c
	}
	return n
}

// createSubOrgKey makes a sub-organization and its test key through the
// dashboard and returns their id and secret.
func createSubOrgKey(t *testing.T, br *apptest.Browser, orgID, name string) (string, string) {
	t.Helper()
	r := br.Post("/o/"+orgID+"/suborgs", url.Values{"name": {name}})
	if r.Status != 200 || !strings.HasPrefix(r.URL.Path, "/o/"+orgID+"/keys") || !strings.Contains(apptest.Text(r.Body), "Keys of the sub-organization "+name) {
		t.Fatalf("create %s: %d %s %s", name, r.Status, r.URL, apptest.Text(r.Body))
	}
	sub := r.URL.Query().Get("tenant")
	if !strings.HasPrefix(sub, "sub_") {
		t.Fatalf("redirected to %s", r.URL)
	}
	r = br.Post("/o/"+orgID+"/keys", url.Values{"name": {name + " backend"}, "env": {"test"}, "scope": {"*"}, "tenant": {sub}})
	m := regexp.MustCompile(`clk_test_[A-Za-z0-9]{32}`).FindString(r.Body)
	if r.Status != 200 || m == "" || !strings.Contains(r.Body, `data-testid="secret-tenant"`) {
		t.Fatalf("key of %s: %d %s", name, r.Status, apptest.Text(r.Body))
	}
	return sub, m
}

// TestSubOrgDashboard: owners and admins create, rename, archive and
// restore sub-organizations; keys pages show a key's tenant; analytics,
// the request log and the audit log filter by sub-organization.
func TestSubOrgDashboard(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		owner := env.Browser()
		orgID := owner.SignUp("", "owner@example.com", pw, "Reseller")
		if r := owner.Post("/o/"+orgID+"/suborgs", url.Values{"name": {"  "}}); r.Status != 422 || !strings.Contains(apptest.Text(r.Body), "Enter a name") {
			t.Fatalf("empty name: %d %s", r.Status, apptest.Text(r.Body))
		}
		north, northKey := createSubOrgKey(t, owner, orgID, "North Clinic")
		south, southKey := createSubOrgKey(t, owner, orgID, "South Clinic")
		ownKey, err := env.App.Keys.Create(context.Background(), apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "own", Env: apikey.Test})
		if err != nil {
			t.Fatal(err)
		}
		own := ownKey.Secret

		// The keys page lists every key with its tenant; ?tenant= one's.
		all := owner.Get("/o/" + orgID + "/keys?env=test")
		if n := strings.Count(all.Body, `data-testid="key-tenant"`); n != 3 || !strings.Contains(all.Body, `data-tenant="`+north+`"`) || !strings.Contains(apptest.Text(all.Body), "Tenant: this organization") {
			t.Fatalf("all keys: %d tenants shown\n%s", n, apptest.Text(all.Body))
		}
		scoped := owner.Get("/o/" + orgID + "/keys?env=test&tenant=" + north)
		if strings.Count(scoped.Body, `data-testid="key-tenant"`) != 1 || !strings.Contains(apptest.Text(scoped.Body), "Tenant: North Clinic") {
			t.Fatalf("north's keys: %s", apptest.Text(scoped.Body))
		}
		// Another organization's sub-organization is not found.
		other := env.Browser()
		otherID := other.SignUp("", "other@example.com", pw, "Other")
		if r := other.Get("/o/" + otherID + "/keys?tenant=" + north); r.Status != 404 {
			t.Fatalf("another org's sub-organization: %d", r.Status)
		}
		if r := other.Post("/o/"+otherID+"/keys", url.Values{"name": {"x"}, "env": {"test"}, "tenant": {north}}); r.Status != 422 {
			t.Fatalf("key for another org's sub-organization: %d %s", r.Status, apptest.Text(r.Body))
		}
		if r := other.Post("/o/"+orgID+"/suborgs/"+north+"/archive", nil); r.Status != 403 && r.Status != 404 {
			t.Fatalf("stranger archives: %d", r.Status)
		}

		// Traffic of each tenant, then the filters.
		for i := 0; i < 3; i++ {
			apiCall(t, env, "GET", "/v1/patients", northKey, nil)
		}
		apiCall(t, env, "GET", "/v1/fhir/Patient", southKey, nil)
		apiCall(t, env, "GET", "/v1/fhir/Observation", own, nil)
		apiCall(t, env, "GET", "/v1/fhir/Observation", own, nil)
		waitUsage(t, env, orgID, 6)
		runJob(t, env, analytics.JobRollup)
		for tenant, want := range map[string]string{north: "/v1/patients", south: "/v1/fhir/:type", orgID: "/v1/fhir/:type"} {
			r := owner.Get("/o/" + orgID + "/requests?tenant=" + tenant)
			rows := strings.Count(r.Body, `href="/o/`+orgID+`/requests/`)
			wantRows := map[string]int{north: 3, south: 1, orgID: 2}[tenant]
			if r.Status != 200 || rows != wantRows || !strings.Contains(r.Body, want) {
				t.Fatalf("request log of %s: %d, %d rows, want %d\n%s", tenant, r.Status, rows, wantRows, apptest.Text(r.Body))
			}
		}
		a := owner.Get("/o/" + orgID + "/analytics?range=24h&tenant=" + north)
		if a.Status != 200 || !strings.Contains(a.Body, `value="`+north+`" selected`) {
			t.Fatalf("analytics filter: %d %s", a.Status, apptest.Text(a.Body))
		}
		ov, err := env.App.Analytics.Overview(context.Background(), tenantQuery(env, orgID, north))
		if err != nil || ov.Total.Requests != 3 {
			t.Fatalf("north's analytics: %d requests, %v", ov.Total.Requests, err)
		}
		ov, _ = env.App.Analytics.Overview(context.Background(), tenantQuery(env, orgID, south))
		if ov.Total.Requests != 1 {
			t.Fatalf("south's analytics: %d requests", ov.Total.Requests)
		}

		// Rename, archive (keys refused), restore; audit log per tenant.
		if r := owner.Post("/o/"+orgID+"/suborgs/"+north+"/rename", url.Values{"name": {"North Family Clinic"}}); r.Status != 200 || !strings.Contains(apptest.Text(r.Body), "North Family Clinic") {
			t.Fatalf("rename: %d %s", r.Status, apptest.Text(r.Body))
		}
		r := owner.Post("/o/"+orgID+"/suborgs/"+south+"/archive", nil)
		if r.Status != 200 || !strings.Contains(r.Body, `id="suborg-`+south+`" data-status="archived"`) {
			t.Fatalf("archive: %d %s", r.Status, r.Body)
		}
		wantAPIError(t, "archived sub-organization's key", apiCall(t, env, "GET", "/v1/patients", southKey, nil), 401, "KEY_REVOKED")
		if r := owner.Post("/o/"+orgID+"/keys", url.Values{"name": {"again"}, "env": {"test"}, "tenant": {south}}); r.Status != 409 {
			t.Fatalf("key for an archived sub-organization: %d", r.Status)
		}
		if r := owner.Post("/o/"+orgID+"/suborgs/"+south+"/rename", url.Values{"name": {"X"}}); r.Status != 409 {
			t.Fatalf("rename of an archived sub-organization: %d", r.Status)
		}
		if r := owner.Post("/o/"+orgID+"/suborgs/"+south+"/restore", nil); r.Status != 200 || !strings.Contains(r.Body, `id="suborg-`+south+`" data-status="active"`) {
			t.Fatalf("restore: %d", r.Status)
		}
		if err := env.App.Audit.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		au := owner.Get("/o/" + orgID + "/audit?tenant=" + south)
		text := apptest.Text(au.Body)
		for _, want := range []string{suborg.ActionCreated, suborg.ActionClosed, suborg.ActionReopened, "api_key.created", "api_key.revoked"} {
			if !strings.Contains(text, want) {
				t.Fatalf("south's audit log lacks %s: %s", want, text)
			}
		}
		if strings.Contains(text, suborg.ActionRenamed) || strings.Count(au.Body, north) != 1 { // its filter option only
			t.Fatalf("south's audit log shows north's events: %s", text)
		}
		evs, _ := env.App.Audit.List(context.Background(), audit.Filter{OrgID: orgID, Tenant: north, Limit: 50})
		if len(evs) == 0 {
			t.Fatal("no audit events of north")
		}

		// Developers (no ManageSubOrgs) cannot manage sub-organizations.
		if org.Developer.Can(org.ManageSubOrgs) || !org.Admin.Can(org.ManageSubOrgs) {
			t.Fatal("ManageSubOrgs grants")
		}
	})
}

// TestSubOrgClosure: archiving a sub-organization deletes its data on the
// organization's schedule, and nothing else; closing the parent closes
// every sub-organization and deletes all their data.
func TestSubOrgClosure(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a := orgWithData(t, env, "owner@example.com", "Acme Health")
		ids := map[string]string{}
		for _, name := range []string{"Kept", "Archived", "Reopened"} {
			sub, key := createSubOrgKey(t, a.br, a.id, name)
			ids[name] = sub
			if r := fhirCall(t, env, "POST", "/v1/fhir/Patient", key, patientJSON); r.Status != 201 {
				t.Fatalf("%s create: %d", name, r.Status)
			}
			if tenantRows(t, env, a.id, sub) == 0 {
				t.Fatalf("%s: no rows", name)
			}
		}
		a.br.Post("/o/"+a.id+"/suborgs/"+ids["Archived"]+"/archive", nil)
		a.br.Post("/o/"+a.id+"/suborgs/"+ids["Reopened"]+"/archive", nil)
		a.br.Post("/o/"+a.id+"/suborgs/"+ids["Reopened"]+"/restore", nil)
		env.Clock.Advance(28 * 24 * time.Hour)
		runDeletions(t, env)
		if tenantRows(t, env, a.id, ids["Archived"]) == 0 {
			t.Fatal("deleted before it was due")
		}
		env.Clock.Advance(2 * 24 * time.Hour)
		runDeletions(t, env)
		if n := tenantRows(t, env, a.id, ids["Archived"]); n != 0 {
			t.Fatalf("%d rows of the archived sub-organization remain", n)
		}
		if tenantRows(t, env, a.id, ids["Kept"]) == 0 || tenantRows(t, env, a.id, ids["Reopened"]) == 0 || purgeRows(t, env, a.id) == 0 {
			t.Fatal("data of the organization or another sub-organization was deleted")
		}
		so, err := env.App.SubOrgs.Find(context.Background(), a.id, ids["Archived"])
		if err != nil || so.Status() != "deleted" {
			t.Fatalf("archived after deletion: %+v %v", so, err)
		}
		var keys int
		env.App.DB.SQL().QueryRow(`SELECT COUNT(*) FROM api_keys WHERE tenant_id = $1`, ids["Archived"]).Scan(&keys)
		if keys != 0 {
			t.Fatalf("%d keys of the deleted sub-organization remain", keys)
		}
		a.br.SignIn("owner@example.com", pw) // the session ended meanwhile
		if r := a.br.Post("/o/"+a.id+"/suborgs/"+ids["Archived"]+"/restore", nil); r.Status != 409 {
			t.Fatalf("restore after deletion: %d", r.Status)
		}

		// Closing the parent closes the others and, when due, deletes all.
		r := a.br.Post("/o/"+a.id+"/privacy/close", url.Values{"confirm_name": {"Acme Health"}, "password": {pw}})
		if r.Status != 200 {
			t.Fatalf("close: %d", r.Status)
		}
		for _, name := range []string{"Kept", "Reopened"} {
			so, _ := env.App.SubOrgs.Find(context.Background(), a.id, ids[name])
			if so.Status() != "archived" || !so.WithOrg {
				t.Fatalf("%s after the organization closed: %+v", name, so)
			}
		}
		env.Clock.Advance(30 * 24 * time.Hour)
		runDeletions(t, env)
		for _, name := range []string{"Kept", "Reopened"} {
			if n := tenantRows(t, env, a.id, ids[name]); n != 0 {
				t.Fatalf("%s: %d rows remain after the organization's deletion", name, n)
			}
		}
		if n := purgeRows(t, env, a.id); n != 0 {
			t.Fatalf("%d rows of the organization remain", n)
		}
	})
}

// TestSubOrgReopenWithOrganization: cancelling the organization's closure
// reopens the sub-organizations closed with it, not those archived before.
func TestSubOrgReopenWithOrganization(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	a := orgWithData(t, env, "owner@example.com", "Acme Health")
	before, _ := createSubOrgKey(t, a.br, a.id, "Before")
	with, _ := createSubOrgKey(t, a.br, a.id, "With")
	a.br.Post("/o/"+a.id+"/suborgs/"+before+"/archive", nil)
	a.br.Post("/o/"+a.id+"/privacy/close", url.Values{"confirm_name": {"Acme Health"}, "password": {pw}})
	if r := a.br.Post("/o/"+a.id+"/suborgs/"+before+"/restore", nil); r.Status != 409 {
		t.Fatalf("restore while the organization is closed: %d", r.Status)
	}
	if r := a.br.Post("/o/"+a.id+"/privacy/reopen", nil); r.Status != 200 {
		t.Fatalf("reopen: %d", r.Status)
	}
	ctx := context.Background()
	if so, _ := env.App.SubOrgs.Find(ctx, a.id, with); so.Status() != "active" {
		t.Fatalf("closed with the organization, not reopened: %+v", so)
	}
	if so, _ := env.App.SubOrgs.Find(ctx, a.id, before); so.Status() != "archived" {
		t.Fatalf("archived before, reopened: %+v", so)
	}
}
