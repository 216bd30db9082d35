package web_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

// restrictedKey makes a test key of orgID with the given restrictions.
func restrictedKey(t *testing.T, env *apptest.Env, orgID, name string, in apikey.CreateInput) string {
	t.Helper()
	in.Name, in.Env = name, apikey.Test
	k, err := env.App.Keys.Create(context.Background(), apikey.Actor{OrgID: orgID}, in)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return k.Secret
}

// bundleTypes counts the resource types of a search Bundle's entries.
func bundleTypes(t *testing.T, r apiResult) map[string]int {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("search: %d %s", r.Status, r.Raw)
	}
	b := r.Body
	if d, ok := b["data"].(map[string]any); ok {
		b = d
	}
	out := map[string]int{}
	entries, _ := b["entry"].([]any)
	for _, e := range entries {
		res := e.(map[string]any)["resource"].(map[string]any)
		out[res["resourceType"].(string)]++
	}
	return out
}

func TestKeyResourceTypeRestrictions(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		orgID, full := newOrgWithKey(t, env, "restrict@example.com", apikey.ScopeAll)
		pt := fhirCall(t, env, "POST", "/v1/fhir/Patient", full.Secret, `{"resourceType":"Patient","name":[{"family":"Reminder"}]}`)
		if pt.Status != 201 {
			t.Fatalf("patient: %d %s", pt.Status, pt.Raw)
		}
		pid := pt.Body["id"].(string)
		obs := fhirCall(t, env, "POST", "/v1/fhir/Observation", full.Secret, `{"resourceType":"Observation","status":"final","code":{"text":"hr"},"subject":{"reference":"Patient/`+pid+`"}}`)
		if obs.Status != 201 {
			t.Fatalf("observation: %d %s", obs.Status, obs.Raw)
		}

		// An appointment reminder service: appointments and patients, read only.
		reminder := restrictedKey(t, env, orgID, "reminders", apikey.CreateInput{ResourceTypes: "appointments:read, patients:read"})
		if r := apiCall(t, env, "GET", "/v1/patients", reminder, nil); r.Status != 200 {
			t.Fatalf("reading patients: %d %s", r.Status, r.Raw)
		}
		if r := apiCall(t, env, "GET", "/v1/fhir/Appointment", reminder, nil); r.Status != 200 {
			t.Fatalf("reading raw appointments: %d %s", r.Status, r.Raw)
		}
		r := apiCall(t, env, "POST", "/v1/patients", reminder, jsonBody(map[string]any{"firstName": "A", "lastName": "B"}), "Content-Type", "application/json")
		wantAPIError(t, "writing a read-only type", r, 403, "INSUFFICIENT_SCOPE")
		if msg := r.Body["message"].(string); !strings.Contains(msg, "Patient") || !strings.Contains(msg, "write") {
			t.Fatalf("the refusal does not name the type and the access: %q", msg)
		}
		for _, path := range []string{"/v1/fhir/Observation", "/v1/observations", "/v1/fhir/Observation/" + obs.Body["id"].(string), "/v1/fhir/Observation/" + obs.Body["id"].(string) + "/_history"} {
			// Raw FHIR answers an OperationOutcome carrying the code.
			r := apiCall(t, env, "GET", path, reminder, nil)
			if r.Status != 403 || !strings.Contains(r.Raw, `"INSUFFICIENT_SCOPE"`) || !strings.Contains(r.Raw, "may not read Observation") {
				t.Fatalf("GET %s: %d %s, want 403 INSUFFICIENT_SCOPE naming Observation", path, r.Status, r.Raw)
			}
		}

		// Includes of a type the key may not read are left out, never leaked.
		if got := bundleTypes(t, fhirCall(t, env, "GET", "/v1/fhir/Patient?_revinclude=Observation:subject", reminder, "")); got["Observation"] != 0 || got["Patient"] != 1 {
			t.Fatalf("restricted _revinclude: %v, want the patient alone", got)
		}
		if got := bundleTypes(t, fhirCall(t, env, "GET", "/v1/fhir/Patient?_revinclude=Observation:subject", full.Secret, "")); got["Observation"] != 1 {
			t.Fatalf("unrestricted _revinclude: %v, want the observation too (the test would prove nothing)", got)
		}
		if got := bundleTypes(t, apiCall(t, env, "GET", "/v1/patients/"+pid+"?_revinclude=Observation:subject", reminder, nil)); got["Observation"] != 0 || got["Patient"] != 1 {
			t.Fatalf("restricted simplified read with includes: %v", got)
		}
		obsOnly := restrictedKey(t, env, orgID, "vitals", apikey.CreateInput{ResourceTypes: "Observation:read"})
		if got := bundleTypes(t, fhirCall(t, env, "GET", "/v1/fhir/Observation?_include=Observation:subject", obsOnly, "")); got["Patient"] != 0 || got["Observation"] != 1 {
			t.Fatalf("restricted _include: %v, want the observation alone", got)
		}
		if got := bundleTypes(t, fhirCall(t, env, "GET", "/v1/fhir/Observation?_include=Observation:subject", full.Secret, "")); got["Patient"] != 1 {
			t.Fatalf("unrestricted _include: %v", got)
		}

		// Bulk export and import hold to the types.
		wantAPIError(t, "export of an unreadable type", bulkCall(t, env, "/v1/bulk/export", reminder, map[string]any{"resourceTypes": []string{"Observation"}}), 403, "INSUFFICIENT_SCOPE")
		job := startedJob(t, bulkCall(t, env, "/v1/bulk/export", reminder, map[string]any{}))
		d := waitJob(t, env, reminder, job)
		if d["status"] != "completed" || d["totalRecords"].(float64) != 1 {
			t.Fatalf("restricted export of every type: %v, want the one patient only", d)
		}
		for _, o := range d["output"].([]any) {
			if typ := o.(map[string]any)["type"]; typ != "Patient" && typ != "Appointment" {
				t.Fatalf("restricted export has a %v file", typ)
			}
		}
		wantAPIError(t, "import into a read-only type", bulkCall(t, env, "/v1/bulk/import", reminder, map[string]any{"resourceType": "Patient", "data": `{"resourceType":"Patient"}` + "\n"}), 403, "INSUFFICIENT_SCOPE")

		// The CapabilityStatement the key sees: its types, read interactions.
		cs := apiCall(t, env, "GET", "/v1/metadata", reminder, nil)
		rest := cs.Body["rest"].([]any)[0].(map[string]any)
		var types []string
		for _, res := range rest["resource"].([]any) {
			m := res.(map[string]any)
			types = append(types, m["type"].(string))
			for _, in := range m["interaction"].([]any) {
				if code := in.(map[string]any)["code"]; code == "create" || code == "delete" {
					t.Fatalf("read-only key sees the %v interaction on %v", code, m["type"])
				}
			}
		}
		if strings.Join(types, ",") != "Appointment,Patient" {
			t.Fatalf("restricted CapabilityStatement lists %v", types)
		}
		if public := apiCall(t, env, "GET", "/v1/metadata", "", nil); len(public.Body["rest"].([]any)[0].(map[string]any)["resource"].([]any)) < 100 {
			t.Fatal("the public CapabilityStatement lost types")
		}

		// Bad restrictions are refused with the field named.
		if _, err := env.App.Keys.Create(context.Background(), apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "x", Env: apikey.Test, ResourceTypes: "Patients:read"}); err == nil || !strings.Contains(err.Error(), "Patients") {
			t.Fatalf("unknown type: %v", err)
		}
	})
}

func TestKeyAllowlistLimitAndDisable(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		orgID, _ := newOrgWithKey(t, env, "allow@example.com", apikey.ScopeAll)
		ctx := context.Background()
		admin := apikey.Actor{OrgID: orgID}

		far := restrictedKey(t, env, orgID, "far", apikey.CreateInput{AllowIPs: "203.0.113.0/24, 2001:db8::/32"})
		wantAPIError(t, "outside the allowlist", apiCall(t, env, "GET", "/v1/patients", far, nil), 403, "IP_NOT_ALLOWED")
		// X-Forwarded-For is not trusted by default.
		wantAPIError(t, "forged X-Forwarded-For", apiCall(t, env, "GET", "/v1/patients", far, nil, "X-Forwarded-For", "203.0.113.9"), 403, "IP_NOT_ALLOWED")
		near := restrictedKey(t, env, orgID, "near", apikey.CreateInput{AllowIPs: "127.0.0.0/8 ::1"})
		if r := apiCall(t, env, "GET", "/v1/patients", near, nil); r.Status != 200 {
			t.Fatalf("inside the allowlist: %d %s", r.Status, r.Raw)
		}

		// The key's own rate limit, below the plan's.
		slow := restrictedKey(t, env, orgID, "slow", apikey.CreateInput{PerMinute: 2})
		for i := 0; i < 2; i++ {
			if r := apiCall(t, env, "GET", "/v1/patients", slow, nil); r.Status != 200 || r.Header.Get("X-RateLimit-Limit") != "2" {
				t.Fatalf("request %d: %d, limit header %q", i+1, r.Status, r.Header.Get("X-RateLimit-Limit"))
			}
		}
		r := apiCall(t, env, "GET", "/v1/patients", slow, nil)
		wantAPIError(t, "past the key's limit", r, 429, "RATE_LIMITED")
		if r.Header.Get("Retry-After") == "" || !strings.Contains(r.Body["message"].(string), "this key") {
			t.Fatalf("key limit refusal: %v %s", r.Header, r.Raw)
		}
		if r := apiCall(t, env, "GET", "/v1/patients", near, nil); r.Status != 200 {
			t.Fatalf("another key is not held to the slow key's limit: %d", r.Status)
		}
		if _, err := env.App.Keys.Create(ctx, admin, apikey.CreateInput{Name: "x", Env: apikey.Test, PerMinute: 100}); err == nil {
			t.Fatal("a key limit at the Sandbox plan's 100/min was accepted")
		}

		// Disable and enable, without losing the key.
		id := keyIDOf(t, env, orgID, "near")
		if _, err := env.App.Keys.SetDisabled(ctx, admin, id, true); err != nil {
			t.Fatal(err)
		}
		wantAPIError(t, "disabled", apiCall(t, env, "GET", "/v1/patients", near, nil), 401, "KEY_DISABLED")
		if _, err := env.App.Keys.SetDisabled(ctx, admin, id, false); err != nil {
			t.Fatal(err)
		}
		if r := apiCall(t, env, "GET", "/v1/patients", near, nil); r.Status != 200 {
			t.Fatalf("enabled again: %d %s", r.Status, r.Raw)
		}
	})
}

func TestKeyAllowlistBehindProxy(t *testing.T) {
	env := apptest.New(t, "sqlite", map[string]string{"CLINIKAPI_TRUST_PROXY": "true"})
	orgID, _ := newOrgWithKey(t, env, "proxy@example.com", apikey.ScopeAll)
	k := restrictedKey(t, env, orgID, "behind", apikey.CreateInput{AllowIPs: "203.0.113.0/24, 2001:db8::/32"})
	for _, ip := range []string{"203.0.113.9", "2001:db8::5"} {
		if r := apiCall(t, env, "GET", "/v1/patients", k, nil, "X-Forwarded-For", ip); r.Status != 200 {
			t.Fatalf("from %s: %d %s", ip, r.Status, r.Raw)
		}
	}
	wantAPIError(t, "from outside", apiCall(t, env, "GET", "/v1/patients", k, nil, "X-Forwarded-For", "198.51.100.1"), 403, "IP_NOT_ALLOWED")
}

// keyIDOf finds a key's id by name.
func keyIDOf(t *testing.T, env *apptest.Env, orgID, name string) string {
	t.Helper()
	list, err := env.App.Keys.List(context.Background(), orgID)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range list {
		if k.Name == name {
			return k.ID
		}
	}
	t.Fatalf("no key %q", name)
	return ""
}

func testRestrictionAcrossInstances(t *testing.T, extra map[string]string) {
	one, two := twoInstances(t, extra)
	_, k := newOrgWithKey(t, one, "multi-restrict@example.com", apikey.ScopeAll)
	for _, env := range []*apptest.Env{one, two} {
		if r := apiCall(t, env, "GET", "/v1/fhir/Observation", k.Secret, nil); r.Status != 200 {
			t.Fatalf("before the restriction: %d %s", r.Status, r.Raw)
		}
	}
	if _, err := one.App.Keys.Restrict(context.Background(), apikey.Actor{OrgID: k.Key.OrgID}, k.Key.ID, apikey.Restrictions{Scope: apikey.ScopeAll, ResourceTypes: "Patient:read"}, ""); err != nil {
		t.Fatal(err)
	}
	if r := apiCall(t, one, "GET", "/v1/fhir/Observation", k.Secret, nil); r.Status != 403 || !strings.Contains(r.Raw, "INSUFFICIENT_SCOPE") {
		t.Fatalf("restricted, same instance: %d %s", r.Status, r.Raw)
	}
	waitFor(t, "the other instance to enforce the restriction", func() bool {
		return apiCall(t, two, "GET", "/v1/fhir/Observation", k.Secret, nil).Status == 403
	})
	if _, err := one.App.Keys.Restrict(context.Background(), apikey.Actor{OrgID: k.Key.OrgID}, k.Key.ID, apikey.Restrictions{Scope: apikey.ScopeAll, AllowIPs: "203.0.113.0/24"}, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the other instance to enforce the allowlist", func() bool {
		return apiCall(t, two, "GET", "/v1/fhir/Patient", k.Secret, nil).Status == 403
	})
	if r := apiCall(t, two, "GET", "/v1/fhir/Patient", k.Secret, nil); !strings.Contains(r.Raw, "IP_NOT_ALLOWED") {
		t.Fatalf("allowlisted, other instance: %d %s", r.Status, r.Raw)
	}
}

func TestRestrictionAcrossInstancesPostgresNotify(t *testing.T) {
	testRestrictionAcrossInstances(t, nil)
}

func TestRestrictionAcrossInstancesRedis(t *testing.T) {
	url := os.Getenv(apptest.EnvRedis)
	if url == "" {
		t.Skip(apptest.EnvRedis + " is not set")
	}
	testRestrictionAcrossInstances(t, map[string]string{"REDIS_URL": url})
}
