package web_test

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/quota"
	"github.com/clinikapi/clinikapi/internal/records"
	"github.com/clinikapi/clinikapi/internal/suborg"
)

// tenantKey is one API key of the isolation matrix and what it wrote.
type tenantKey struct {
	name   string // "parent/test", "sub1/live", …
	org    string // the organization (plan, pool)
	tenant string // the tenant its data must carry
	key    string
	// What it wrote: raw FHIR ids (Type/id), the simplified patient's id.
	patient, encounter, simple string
	cursor                     string // a page-2 cursor of its own search
}

// subOrgMatrix makes an organization with two sub-organizations and
// another organization, each with a test and a live key, all on Team.
func subOrgMatrix(t *testing.T, env *apptest.Env) (parent string, subs [2]suborg.SubOrg, keys []*tenantKey) {
	t.Helper()
	ctx := context.Background()
	parent = env.Browser().SignUp("", "platform@example.com", pw, "Platform")
	other := env.Browser().SignUp("", "other@example.com", pw, "Other Org")
	setPlan(t, env, parent, "team")
	setPlan(t, env, other, "team")
	for i, name := range []string{"North Clinic", "South Clinic"} {
		so, err := env.App.SubOrgs.Create(ctx, suborg.Actor{OrgID: parent}, name)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(so.ID, "sub_") {
			t.Fatalf("sub-organization id %q", so.ID)
		}
		subs[i] = so
	}
	for _, o := range []struct{ name, org, tenant string }{
		{"parent", parent, ""}, {"sub1", parent, subs[0].ID}, {"sub2", parent, subs[1].ID}, {"other", other, ""},
	} {
		for _, e := range []apikey.Env{apikey.Test, apikey.Live} {
			cr, err := env.App.Keys.Create(ctx, apikey.Actor{OrgID: o.org}, apikey.CreateInput{Name: o.name, Env: e, TenantID: o.tenant})
			if err != nil {
				t.Fatal(err)
			}
			tenant := o.tenant
			if tenant == "" {
				tenant = o.org
			}
			keys = append(keys, &tenantKey{name: o.name + "/" + string(e), org: o.org, tenant: tenant, key: cr.Secret})
		}
	}
	return parent, subs, keys
}

// tenantsOf returns the tenant tag of every resource in a Bundle, a
// resource or NDJSON.
func tenantsOf(t *testing.T, raw string) []string {
	t.Helper()
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["system"] == datastore.TenantSystem {
				out = append(out, v["code"].(string))
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	for _, line := range strings.Split(raw, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		walk(v)
	}
	return out
}

// TestSubOrgIsolationMatrix: an organization, two of its sub-organizations
// and another organization, × test and live keys; every family of
// endpoints (simplified CRUD and search, raw FHIR read, search, _include,
// _revinclude, history, cursors, bulk export). Each key sees its own
// tenant's data only; every miss is 404, every foreign cursor refused.
func TestSubOrgIsolationMatrix(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		_, _, keys := subOrgMatrix(t, env)
		// Every key writes the same shapes of data.
		for _, k := range keys {
			for i := 0; i < 3; i++ {
				r := fhirCall(t, env, "POST", "/v1/fhir/Patient", k.key, patientJSON)
				if r.Status != 201 {
					t.Fatalf("%s create: %d %s", k.name, r.Status, r.Raw)
				}
				if got := tenantsOf(t, r.Raw); !slices.Equal(got, []string{k.tenant}) {
					t.Fatalf("%s: tenant tag %v, want %s (forged tags dropped)", k.name, got, k.tenant)
				}
				if i == 0 {
					k.patient = r.Body["id"].(string)
				}
			}
			enc := fhirCall(t, env, "POST", "/v1/fhir/Encounter", k.key, `{"resourceType":"Encounter","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"subject":{"reference":"Patient/`+k.patient+`"}}`)
			if enc.Status != 201 {
				t.Fatalf("%s encounter: %d %s", k.name, enc.Status, enc.Raw)
			}
			k.encounter = enc.Body["id"].(string)
			if r := fhirCall(t, env, "PUT", "/v1/fhir/Patient/"+k.patient, k.key, strings.Replace(patientJSON, `"gender":"male"`, `"gender":"other","id":"`+k.patient+`"`, 1)); r.Status != 200 {
				t.Fatalf("%s update: %d %s", k.name, r.Status, r.Raw)
			}
			s := simpleCall(t, env, "POST", "/v1/patients", k.key, map[string]any{"firstName": "Ada", "lastName": "Zebra"}, "application/json")
			if s.Status != 201 {
				t.Fatalf("%s simplified create: %d %s", k.name, s.Status, s.Raw)
			}
			k.simple = s.Body["data"].(map[string]any)["id"].(string)
			// Its own view: everything it wrote, its cursor, includes.
			page := fhirCall(t, env, "GET", "/v1/fhir/Patient?family=zeb&_count=2&_total=accurate", k.key, "")
			if page.Status != 200 || page.Body["total"] != float64(4) {
				t.Fatalf("%s own search: %d %s", k.name, page.Status, page.Raw)
			}
			u, _ := url.Parse(linkOf(page.Body, "next"))
			k.cursor = u.RequestURI()
			if r := fhirCall(t, env, "GET", k.cursor, k.key, ""); r.Status != 200 || len(entries(r.Body)) != 2 {
				t.Fatalf("%s own next page: %d %s", k.name, r.Status, r.Raw)
			}
		}
		for _, k := range keys {
			own := func(what string, r apiResult, want int) {
				t.Helper()
				if r.Status != 200 {
					t.Fatalf("%s %s: %d %s", k.name, what, r.Status, r.Raw)
				}
				got := tenantsOf(t, r.Raw)
				for _, g := range got {
					if g != k.tenant {
						t.Fatalf("%s %s: a resource of tenant %s leaked: %s", k.name, what, g, r.Raw)
					}
				}
				if len(got) != want {
					t.Fatalf("%s %s: %d resources, want %d: %s", k.name, what, len(got), want, r.Raw)
				}
			}
			own("search all patients", fhirCall(t, env, "GET", "/v1/fhir/Patient?_count=100", k.key, ""), 4)
			own("token search", fhirCall(t, env, "GET", "/v1/fhir/Patient?identifier=urn:mrn|MRN-1", k.key, ""), 3)
			own("_include", fhirCall(t, env, "GET", "/v1/fhir/Encounter?_include=Encounter:subject", k.key, ""), 2)
			own("_revinclude", fhirCall(t, env, "GET", "/v1/fhir/Patient?_revinclude=Encounter:subject&_count=100", k.key, ""), 5)
			own("history", fhirCall(t, env, "GET", "/v1/fhir/Patient/"+k.patient+"/_history", k.key, ""), 2)
			list := simpleCall(t, env, "GET", "/v1/patients?count=100", k.key, nil, "")
			if list.Status != 200 {
				t.Fatalf("%s simplified list: %d %s", k.name, list.Status, list.Raw)
			}
			d := list.Body["data"].(map[string]any)
			if d["total"] != float64(4) || !strings.Contains(list.Raw, k.simple) {
				t.Fatalf("%s simplified list: %s", k.name, list.Raw)
			}
			for _, o := range keys {
				if o == k {
					continue
				}
				if strings.Contains(list.Raw, o.simple) || strings.Contains(list.Raw, o.patient) {
					t.Fatalf("%s simplified list shows %s's patients: %s", k.name, o.name, list.Raw)
				}
				for _, c := range []struct{ method, path string }{
					{"GET", "/v1/fhir/Patient/" + o.patient},
					{"GET", "/v1/fhir/Patient/" + o.patient + "/_history"},
					{"GET", "/v1/fhir/Patient/" + o.patient + "/_history/1"},
					{"GET", "/v1/fhir/Encounter/" + o.encounter},
					{"GET", "/v1/patients/" + o.simple},
					{"DELETE", "/v1/fhir/Encounter/" + o.encounter},
					{"DELETE", "/v1/patients/" + o.simple},
				} {
					if r := fhirCall(t, env, c.method, c.path, k.key, ""); r.Status != 404 {
						t.Fatalf("%s %s %s of %s: %d, want 404", k.name, c.method, c.path, o.name, r.Status)
					}
				}
				if r := simpleCall(t, env, "PATCH", "/v1/patients/"+o.simple, k.key, map[string]any{"firstName": "X"}, "application/json"); r.Status != 404 {
					t.Fatalf("%s PATCH %s's patient: %d", k.name, o.name, r.Status)
				}
				if r := fhirCall(t, env, "GET", "/v1/fhir/Encounter?subject=Patient/"+o.patient, k.key, ""); len(entries(r.Body)) != 0 {
					t.Fatalf("%s reference search into %s: %s", k.name, o.name, r.Raw)
				}
				if r := fhirCall(t, env, "GET", "/v1/fhir/Patient?_id="+o.patient, k.key, ""); len(entries(r.Body)) != 0 {
					t.Fatalf("%s _id search of %s: %s", k.name, o.name, r.Raw)
				}
				if r := fhirCall(t, env, "GET", o.cursor, k.key, ""); r.Status != 400 || strings.Contains(r.Raw, o.tenant) {
					t.Fatalf("%s replayed %s's cursor: %d %s", k.name, o.name, r.Status, r.Raw)
				}
			}
		}
		// Bulk export: each key's export holds its own tenant's data only,
		// and its job is invisible to every other key. The parent's hourly
		// bulk limit is shared by its sub-organizations: the clock moves on.
		var jobs []string
		for i, k := range keys {
			if i%4 == 0 && i > 0 {
				env.Clock.Advance(time.Hour + time.Minute)
			}
			id := startedJob(t, bulkCall(t, env, "/v1/bulk/export", k.key, map[string]any{}))
			jobs = append(jobs, id)
			d := waitJob(t, env, k.key, id)
			if d["status"] != "completed" {
				t.Fatalf("%s export: %v", k.name, d)
			}
			n := 0
			for _, o := range d["output"].([]any) {
				_, body := get(t, o.(map[string]any)["url"].(string))
				for _, g := range tenantsOf(t, body) {
					if g != k.tenant {
						t.Fatalf("%s export holds tenant %s", k.name, g)
					}
					n++
				}
			}
			if n != 5 { // 4 patients, 1 encounter
				t.Fatalf("%s export: %d resources, want 5", k.name, n)
			}
		}
		for i, k := range keys {
			for j, id := range jobs {
				if i == j {
					continue
				}
				if r := apiCall(t, env, "GET", "/v1/bulk/jobs/"+id, k.key, nil); r.Status != 404 {
					t.Fatalf("%s reads %s's bulk job: %d %s", k.name, keys[j].name, r.Status, r.Raw)
				}
			}
		}
	})
}

// TestSubOrgSharesParentPoolAndRateLimit: two sub-organizations' traffic
// draws from the parent's one monthly pool and its one rate limit; the
// parent's plan decides both.
func TestSubOrgSharesParentPoolAndRateLimit(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		ctx := context.Background()
		parent := env.Browser().SignUp("", "pool@example.com", pw, "Pool Platform")
		var subKeys []string
		for _, name := range []string{"One", "Two"} {
			so, err := env.App.SubOrgs.Create(ctx, suborg.Actor{OrgID: parent}, name)
			if err != nil {
				t.Fatal(err)
			}
			k, err := env.App.Keys.Create(ctx, apikey.Actor{OrgID: parent}, apikey.CreateInput{Name: name, Env: apikey.Test, TenantID: so.ID})
			if err != nil {
				t.Fatal(err)
			}
			subKeys = append(subKeys, k.Secret)
		}
		own, err := env.App.Keys.Create(ctx, apikey.Actor{OrgID: parent}, apikey.CreateInput{Name: "own", Env: apikey.Test})
		if err != nil {
			t.Fatal(err)
		}
		// Sandbox: 100 requests per minute for the whole organization,
		// 1,000 a month in one pool. Alternate the two sub-organizations.
		for i := 0; i < 100; i++ {
			r := apiCall(t, env, "GET", "/v1/patients", subKeys[i%2], nil)
			if r.Status != 200 {
				t.Fatalf("request %d: %d %s", i+1, r.Status, r.Raw)
			}
			if want := strconv.Itoa(99 - i); r.Header.Get("X-RateLimit-Remaining") != want || r.Header.Get("X-RateLimit-Limit") != "100" {
				t.Fatalf("request %d: rate limit %s of %s, want %s of 100 (one limit for both)", i+1, r.Header.Get("X-RateLimit-Remaining"), r.Header.Get("X-RateLimit-Limit"), want)
			}
			if want := strconv.Itoa(i + 1); r.Header.Get("X-Quota-Used") != want || r.Header.Get("X-Quota-Limit") != "1000" {
				t.Fatalf("request %d: quota used %s of %s, want %s of 1000 (one pool for both)", i+1, r.Header.Get("X-Quota-Used"), r.Header.Get("X-Quota-Limit"), want)
			}
		}
		for _, k := range append(subKeys, own.Secret) {
			wantAPIError(t, "past the organization's rate limit", apiCall(t, env, "GET", "/v1/patients", k, nil), 429, "RATE_LIMITED")
		}
		env.Clock.Advance(61 * time.Second)
		// The parent's own key draws from the same pool: 100 used so far.
		r := apiCall(t, env, "GET", "/v1/patients", own.Secret, nil)
		if r.Status != 200 || r.Header.Get("X-Quota-Used") != "101" {
			t.Fatalf("parent after its sub-organizations: %d quota used %s", r.Status, r.Header.Get("X-Quota-Used"))
		}
		// Next month's pool, nearly used up: the first sub-organization's
		// request takes the last one, the other's is refused.
		next := time.Date(env.Clock.Now().Year(), env.Clock.Now().Month()+1, 1, 12, 0, 0, 0, time.UTC)
		period, _ := quota.Period(next)
		if _, err := env.App.DB.AddQuota(ctx, parent, period, quota.PoolAll, 999); err != nil {
			t.Fatal(err)
		}
		env.Clock.Advance(next.Sub(env.Clock.Now()))
		if r := apiCall(t, env, "GET", "/v1/patients", subKeys[0], nil); r.Status != 200 || r.Header.Get("X-Quota-Remaining") != "0" {
			t.Fatalf("last request of the pool: %d %v", r.Status, r.Header)
		}
		for _, k := range append(subKeys[1:], own.Secret) {
			wantAPIError(t, "pool used up by a sibling", apiCall(t, env, "GET", "/v1/patients", k, nil), 429, "MONTHLY_QUOTA_EXCEEDED")
		}
		// The usage records are the parent's (its bill), with the keys that
		// made them.
		if err := env.App.Usage.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := env.App.DB.SQL().QueryRow(`SELECT COUNT(*) FROM usage_records WHERE org_id = $1`, parent).Scan(&n); err != nil || n < 100 {
			t.Fatalf("usage records of the parent: %d %v", n, err)
		}
	})
}

// TestSubOrgDedicatedDatastore: on Enterprise, a sub-organization's live
// data lives in the parent's dedicated datastore, under its own tenant.
func TestSubOrgDedicatedDatastore(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		ctx := context.Background()
		parent := env.Browser().SignUp("", "ent@example.com", pw, "Enterprise Platform")
		setPlan(t, env, parent, "enterprise")
		so, err := env.App.SubOrgs.Create(ctx, suborg.Actor{OrgID: parent}, "Clinic")
		if err != nil {
			t.Fatal(err)
		}
		k, err := env.App.Keys.Create(ctx, apikey.Actor{OrgID: parent}, apikey.CreateInput{Name: "live", Env: apikey.Live, TenantID: so.ID})
		if err != nil {
			t.Fatal(err)
		}
		r := fhirCall(t, env, "POST", "/v1/fhir/Patient", k.Secret, patientJSON)
		if r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Raw)
		}
		ded, err := env.App.Data.Named(ctx, datastore.Name("live", parent, true))
		if err != nil {
			t.Fatal(err)
		}
		rec, err := ded.Read(ctx, datastore.Tenant(so.ID), "Patient", r.Body["id"].(string))
		if err != nil || !strings.Contains(string(rec.Content), so.ID) {
			t.Fatalf("not in the dedicated datastore under the sub-organization's tenant: %v", err)
		}
		if _, err := ded.Read(ctx, datastore.Tenant(parent), "Patient", r.Body["id"].(string)); err == nil {
			t.Fatal("the sub-organization's patient is readable as the parent's")
		}
	})
}

// TestSubOrgKeyRules: a key is made only for the organization's own,
// open sub-organizations.
func TestSubOrgKeyRules(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	ctx := context.Background()
	a := env.Browser().SignUp("", "ka@example.com", pw, "A")
	b := env.Browser().SignUp("", "kb@example.com", pw, "B")
	so, err := env.App.SubOrgs.Create(ctx, suborg.Actor{OrgID: a}, "Clinic")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.App.Keys.Create(ctx, apikey.Actor{OrgID: b}, apikey.CreateInput{Name: "x", Env: apikey.Test, TenantID: so.ID}); err == nil {
		t.Fatal("another organization made a key for A's sub-organization")
	}
	k, err := env.App.Keys.Create(ctx, apikey.Actor{OrgID: a}, apikey.CreateInput{Name: "x", Env: apikey.Test, TenantID: so.ID})
	if err != nil || k.Key.TenantID != so.ID {
		t.Fatalf("key: %+v %v", k.Key, err)
	}
	if _, err := env.App.Privacy.CloseSubOrg(ctx, suborg.Actor{OrgID: a}, so.ID); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, "key of an archived sub-organization", apiCall(t, env, "GET", "/v1/patients", k.Secret, nil), 401, "KEY_REVOKED")
	if _, err := env.App.Keys.Create(ctx, apikey.Actor{OrgID: a}, apikey.CreateInput{Name: "y", Env: apikey.Test, TenantID: so.ID}); err == nil {
		t.Fatal("a key was made for an archived sub-organization")
	}
}

// TestSubOrgsShareRateLimitThroughRedis: two sub-organizations on two
// instances spend their parent's one rate limit, counted in Redis.
func TestSubOrgsShareRateLimitThroughRedis(t *testing.T) {
	u := os.Getenv(apptest.EnvRedis)
	if u == "" {
		t.Skip(apptest.EnvRedis + " is not set")
	}
	one, two := twoInstances(t, map[string]string{"REDIS_URL": u})
	ctx := context.Background()
	parent := one.Browser().SignUp("", "redis-subs@example.com", pw, "Shared Platform")
	var keys []string
	for _, name := range []string{"One", "Two"} {
		so, err := one.App.SubOrgs.Create(ctx, suborg.Actor{OrgID: parent}, name)
		if err != nil {
			t.Fatal(err)
		}
		k, err := one.App.Keys.Create(ctx, apikey.Actor{OrgID: parent}, apikey.CreateInput{Name: name, Env: apikey.Test, TenantID: so.ID})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.Secret)
	}
	envs := []*apptest.Env{one, two}
	for i := 0; i < 100; i++ {
		if r := apiCall(t, envs[i%2], "GET", "/v1/patients", keys[(i/2)%2], nil); r.Status != 200 {
			t.Fatalf("request %d: %d %s", i+1, r.Status, r.Raw)
		}
	}
	for i, k := range keys {
		wantAPIError(t, "101st request of the organization", apiCall(t, envs[i], "GET", "/v1/patients", k, nil), 429, "RATE_LIMITED")
	}
}

// TestSubOrgDataMovesWithPlanChange: a plan change moves the live data of
// every sub-organization with the organization's own, both ways, and
// each stays in its tenant.
func TestSubOrgDataMovesWithPlanChange(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		ctx := context.Background()
		env.App.Mover.Grace = 0 // the source copy goes as soon as the switch is made
		parent := env.Browser().SignUp("", "mover@example.com", pw, "Moving Platform")
		setPlan(t, env, parent, "team")
		so, err := env.App.SubOrgs.Create(ctx, suborg.Actor{OrgID: parent}, "Clinic")
		if err != nil {
			t.Fatal(err)
		}
		subKey, err := env.App.Keys.Create(ctx, apikey.Actor{OrgID: parent}, apikey.CreateInput{Name: "clinic live", Env: apikey.Live, TenantID: so.ID})
		if err != nil {
			t.Fatal(err)
		}
		ownKey, err := env.App.Keys.Create(ctx, apikey.Actor{OrgID: parent}, apikey.CreateInput{Name: "own live", Env: apikey.Live})
		if err != nil {
			t.Fatal(err)
		}
		sub := fhirCall(t, env, "POST", "/v1/fhir/Patient", subKey.Secret, patientJSON)
		own := fhirCall(t, env, "POST", "/v1/fhir/Patient", ownKey.Secret, patientJSON)
		if sub.Status != 201 || own.Status != 201 {
			t.Fatalf("creates: %d %d", sub.Status, own.Status)
		}
		subID, ownID := sub.Body["id"].(string), own.Body["id"].(string)
		check := func(when string) {
			t.Helper()
			for _, c := range []struct {
				key, id string
				want    int
			}{{subKey.Secret, subID, 200}, {ownKey.Secret, ownID, 200}, {subKey.Secret, ownID, 404}, {ownKey.Secret, subID, 404}} {
				if r := fhirCall(t, env, "GET", "/v1/fhir/Patient/"+c.id, c.key, ""); r.Status != c.want {
					t.Fatalf("%s: read %s: %d, want %d", when, c.id, r.Status, c.want)
				}
			}
		}
		setPlan(t, env, parent, "enterprise")
		waitMove(t, env, parent, datastore.Name("live", parent, true), records.MoveDone)
		check("after the move to the dedicated datastore")
		ded, err := env.App.Data.Named(ctx, datastore.Name("live", parent, true))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ded.Read(ctx, datastore.Tenant(so.ID), "Patient", subID); err != nil {
			t.Fatalf("the sub-organization's patient is not in the dedicated datastore: %v", err)
		}
		setPlan(t, env, parent, "team")
		waitMove(t, env, parent, "live", records.MoveDone)
		check("after the move back to the shared datastore")
		if _, err := ded.Read(ctx, datastore.Tenant(so.ID), "Patient", subID); err == nil {
			t.Fatal("the sub-organization's patient stayed in the dedicated datastore after the move back")
		}
	})
}
