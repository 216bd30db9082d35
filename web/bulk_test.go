package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/bulk"
	"github.com/clinikapi/clinikapi/internal/datastore"
)

func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}

func bulkCall(t *testing.T, env *apptest.Env, path, key string, body any) apiResult {
	t.Helper()
	return apiCall(t, env, "POST", path, key, jsonBody(body), "Content-Type", "application/json")
}

// waitJob runs the bulk worker until the job finishes and returns its
// status body.
func waitJob(t *testing.T, env *apptest.Env, key, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := env.App.Bulk.Work(context.Background()); err != nil {
			t.Fatalf("worker: %v", err)
		}
		r := apiCall(t, env, "GET", "/v1/bulk/jobs/"+id, key, nil)
		if r.Status != 200 {
			t.Fatalf("job status: %d %s", r.Status, r.Raw)
		}
		d := r.Body["data"].(map[string]any)
		if s := d["status"]; s == "completed" || s == "failed" {
			return d
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("job %s did not finish", id)
	return nil
}

func startedJob(t *testing.T, r apiResult) string {
	t.Helper()
	if r.Status != 202 {
		t.Fatalf("start: %d %s", r.Status, r.Raw)
	}
	d := r.Body["data"].(map[string]any)
	if d["status"] != "pending" || !strings.HasPrefix(d["jobId"].(string), "job_") {
		t.Fatalf("start answer: %s", r.Raw)
	}
	return d["jobId"].(string)
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// comparable drops what differs between organizations: id, meta (version,
// time, tenant tag) and references' ids.
func comparable(t *testing.T, raw string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	delete(m, "id")
	delete(m, "meta")
	if s, ok := m["subject"].(map[string]any); ok {
		delete(s, "reference")
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestBulkExportImportRoundTrip(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a, b := twoTenants(t, env)
		// A's test data: raw and simplified patients, observations; a
		// deleted patient; live data that a test export must not contain.
		var pid string
		for i := range 3 {
			r := fhirCall(t, env, "POST", "/v1/fhir/Patient", a.test, `{"resourceType":"Patient","name":[{"family":"Round`+strconv.Itoa(i)+`","given":["Trip"]}],"gender":"female","birthDate":"1990-01-0`+strconv.Itoa(i+1)+`"}`)
			if r.Status != 201 {
				t.Fatalf("create: %d %s", r.Status, r.Raw)
			}
			pid = r.Body["id"].(string)
		}
		if r := bulkCall(t, env, "/v1/patients", a.test, map[string]any{"firstName": "Simple", "lastName": "Record"}); r.Status != 201 {
			t.Fatalf("simplified create: %d %s", r.Status, r.Raw)
		}
		gone := fhirCall(t, env, "POST", "/v1/fhir/Patient", a.test, `{"resourceType":"Patient","name":[{"family":"Deleted"}]}`)
		fhirCall(t, env, "DELETE", "/v1/fhir/Patient/"+gone.Body["id"].(string), a.test, "")
		for i := range 2 {
			r := fhirCall(t, env, "POST", "/v1/fhir/Observation", a.test, `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/`+pid+`"},"valueQuantity":{"value":`+strconv.Itoa(60+i)+`,"unit":"/min"}}`)
			if r.Status != 201 {
				t.Fatalf("observation: %d %s", r.Status, r.Raw)
			}
		}
		fhirCall(t, env, "POST", "/v1/fhir/Patient", a.live, `{"resourceType":"Patient","name":[{"family":"LiveOnly"}]}`)
		fhirCall(t, env, "POST", "/v1/fhir/Patient", b.test, `{"resourceType":"Patient","name":[{"family":"OtherOrg"}]}`)

		job := startedJob(t, bulkCall(t, env, "/v1/bulk/export", a.test, map[string]any{}))
		d := waitJob(t, env, a.test, job)
		if d["status"] != "completed" || d["totalRecords"].(float64) != 6 || d["processedRecords"].(float64) != 6 {
			t.Fatalf("export: %v", d)
		}
		dl, _ := d["downloadUrl"].(string)
		if !strings.HasPrefix(dl, env.Server.URL+"/v1/bulk/files/"+job+"?") || strings.Contains(dl, a.test) {
			t.Fatalf("downloadUrl %q", dl)
		}
		// The manifest and the files need no key: the signature is the authorization.
		status, manifest := get(t, dl)
		if status != 200 {
			t.Fatalf("manifest: %d %s", status, manifest)
		}
		var m struct {
			Output []struct {
				Type, URL string
				Count     int
			}
		}
		json.Unmarshal([]byte(manifest), &m)
		files := map[string]string{}
		for _, o := range m.Output {
			st, body := get(t, o.URL)
			if st != 200 {
				t.Fatalf("download %s: %d %s", o.Type, st, body)
			}
			files[o.Type] = body
		}
		if len(files) != 2 || strings.Count(files["Patient"], "\n") != 4 || strings.Count(files["Observation"], "\n") != 2 {
			t.Fatalf("files: %v", files)
		}
		for _, body := range files {
			for _, bad := range []string{"LiveOnly", "OtherOrg", "Deleted", b.org} {
				if strings.Contains(body, bad) {
					t.Fatalf("export contains %s", bad)
				}
			}
		}

		// Isolation: B cannot see A's job, and a tampered or expired link is refused.
		wantAPIError(t, "another org's job", apiCall(t, env, "GET", "/v1/bulk/jobs/"+job, b.test, nil), 404, "NOT_FOUND")
		u, _ := url.Parse(m.Output[0].URL)
		q := u.Query()
		q.Set("expires", strconv.FormatInt(env.Clock.Now().Add(48*time.Hour).Unix(), 10))
		u.RawQuery = q.Encode()
		if st, body := get(t, u.String()); st != 403 || !strings.Contains(body, "INVALID_DOWNLOAD_LINK") {
			t.Fatalf("tampered expiry: %d %s", st, body)
		}
		other := strings.Replace(m.Output[0].URL, "/"+m.Output[0].Type+".ndjson", "/Observation.ndjson", 1)
		if m.Output[0].Type == "Observation" {
			other = strings.Replace(m.Output[0].URL, "/Observation.ndjson", "/Patient.ndjson", 1)
		}
		if st, _ := get(t, other); st != 403 {
			t.Fatalf("a link used for another file: %d", st)
		}

		// B imports A's files: identical resources apart from ids and meta.
		for _, typ := range []string{"Patient", "Observation"} {
			imp := startedJob(t, bulkCall(t, env, "/v1/bulk/import", b.test, map[string]any{"resourceType": typ, "data": files[typ]}))
			d := waitJob(t, env, b.test, imp)
			if d["status"] != "completed" || len(d["errors"].([]any)) != 0 {
				t.Fatalf("import %s: %v", typ, d)
			}
		}
		bexp := startedJob(t, bulkCall(t, env, "/v1/bulk/export", b.test, map[string]any{"resourceTypes": []string{"Patient", "Observation"}}))
		bd := waitJob(t, env, b.test, bexp)
		bfiles := map[string]string{}
		for _, o := range bd["output"].([]any) {
			o := o.(map[string]any)
			_, body := get(t, o["url"].(string))
			bfiles[o["type"].(string)] = body
		}
		for _, typ := range []string{"Patient", "Observation"} {
			var want, got []string
			for l := range strings.Lines(files[typ]) {
				want = append(want, comparable(t, l))
			}
			for l := range strings.Lines(bfiles[typ]) {
				if strings.Contains(l, "OtherOrg") {
					continue
				}
				if strings.Contains(l, a.org) {
					t.Fatalf("B's import kept A's tenant tag: %s", l)
				}
				got = append(got, comparable(t, l))
			}
			sort.Strings(want)
			sort.Strings(got)
			if !reflect.DeepEqual(want, got) {
				t.Fatalf("%s round trip differs:\nwant %v\ngot  %v", typ, want, got)
			}
		}

		// After an hour the links stop working and the retention job removes the files.
		env.Clock.Advance(bulk.LinkLifetime + time.Minute)
		if st, body := get(t, dl); st != 403 || !strings.Contains(body, "expired") {
			t.Fatalf("expired link: %d %s", st, body)
		}
		if _, err := os.Stat(filepath.Join(env.App.Config.ExportDir, job)); err != nil {
			t.Fatalf("export files missing before the retention job: %v", err)
		}
		if _, err := env.App.Jobs.RunNow(context.Background(), "bulk.expire_exports"); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(env.App.Config.ExportDir, job)); !os.IsNotExist(err) {
			t.Fatalf("export files still there after expiry: %v", err)
		}
		d = apiCall(t, env, "GET", "/v1/bulk/jobs/"+job, a.test, nil).Body["data"].(map[string]any)
		if d["downloadUrl"] != nil || d["message"] == nil {
			t.Fatalf("expired export still offers links: %v", d)
		}
	})
}

func TestBulkImportEdgeCases(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a, b := twoTenants(t, env)
		lines := []string{
			`{"resourceType":"Patient","name":[{"family":"Good"}]}`,
			`{not json`,
			`{"resourceType":"Observation","status":"final","code":{"text":"x"}}`,
			``,
			`{"resourceType":"Patient","meta":{"tag":[{"system":"https://clinikapi.com/tenant","code":"` + b.org + `"}]},"name":[{"family":"Forged"}]}`,
			`{"firstName":"Simple","lastName":"Person"}`,
			`{"firstName":"MissingLast"}`,
			`{"resourceType":"Patient","gender":"not-a-gender","name":[{"family":"SecretValue"}]}`,
			`[1,2]`,
		}
		job := startedJob(t, bulkCall(t, env, "/v1/bulk/import", a.test, map[string]any{"resourceType": "Patient", "data": strings.Join(lines, "\n")}))
		d := waitJob(t, env, a.test, job)
		if d["status"] != "completed" || d["processedRecords"].(float64) != 3 || d["totalRecords"].(float64) != 8 {
			t.Fatalf("import: %v", d)
		}
		errList := d["errors"].([]any)
		want := []string{"line 2: ", "line 3: resourceType must be Patient", "line 7: lastName", "line 8: ", "line 9: not a JSON object"}
		if len(errList) != len(want) {
			t.Fatalf("errors %v, want %d", errList, len(want))
		}
		for i, w := range want {
			if !strings.HasPrefix(errList[i].(string), w) {
				t.Fatalf("error %d = %q, want prefix %q", i, errList[i], w)
			}
			if strings.Contains(errList[i].(string), "SecretValue") || strings.Contains(errList[i].(string), "not-a-gender") {
				t.Fatalf("an error names a value: %q", errList[i])
			}
		}
		// The forged tag was replaced by A's; B sees nothing.
		r := fhirCall(t, env, "GET", "/v1/fhir/Patient?family=Forged", a.test, "")
		if n := len(entries(r.Body)); n != 1 || !strings.Contains(r.Raw, a.org) || strings.Contains(r.Raw, `"code":"`+b.org+`"`) {
			t.Fatalf("forged tag: %d %s", n, r.Raw)
		}
		if r := fhirCall(t, env, "GET", "/v1/fhir/Patient?family=Forged", b.test, ""); len(entries(r.Body)) != 0 {
			t.Fatalf("B sees A's import")
		}
		if r := fhirCall(t, env, "GET", "/v1/fhir/Patient?family=Person", a.test, ""); len(entries(r.Body)) != 1 {
			t.Fatalf("simplified record not imported: %s", r.Raw)
		}

		// Over 10,000 records: refused as a whole, with a clear reason.
		many := strings.Repeat(`{"resourceType":"Patient"}`+"\n", bulk.MaxImportRecords+1)
		r = bulkCall(t, env, "/v1/bulk/import", a.test, map[string]any{"resourceType": "Patient", "data": many})
		wantAPIError(t, "over 10,000", r, 422, "VALIDATION_ERROR")
		if !strings.Contains(r.Body["message"].(string), "10000") {
			t.Fatalf("message: %s", r.Raw)
		}
		// Oversized body: refused on Content-Length before it is read.
		req := httptest.NewRequest("POST", "/v1/bulk/import", strings.NewReader("{}"))
		req.ContentLength = 200 << 20
		req.Header.Set("X-Api-Key", a.test)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		env.App.HTTP.ServeHTTP(rec, req)
		if rec.Code != 413 || !strings.Contains(rec.Body.String(), "PAYLOAD_TOO_LARGE") {
			t.Fatalf("oversized: %d %s", rec.Code, rec.Body.String())
		}
		// A 2 MiB import (over the API's usual 1 MiB) is accepted.
		big := strings.Repeat(`{"resourceType":"Patient","name":[{"family":"Bulkfamily","given":["`+strings.Repeat("x", 200)+`"]}]}`+"\n", 9000)
		if len(big) < 2<<20 {
			t.Fatalf("test body too small: %d", len(big))
		}
		startedJob(t, bulkCall(t, env, "/v1/bulk/import", a.test, map[string]any{"resourceType": "Patient", "data": big}))
		// Malformed requests.
		wantAPIError(t, "bad type", bulkCall(t, env, "/v1/bulk/import", a.test, map[string]any{"resourceType": "../etc", "data": "{}"}), 422, "VALIDATION_ERROR")
		wantAPIError(t, "not JSON", apiCall(t, env, "POST", "/v1/bulk/import", a.test, strings.NewReader("nope"), "Content-Type", "application/json"), 400, "INVALID_JSON")
	})
}

func TestBulkRateLimitAndScopes(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		ctx := context.Background()
		orgID, all := newOrgWithKey(t, env, "bulk@example.com", apikey.ScopeAll)
		setPlan(t, env, orgID, "team")
		read, _ := env.App.Keys.Create(ctx, apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "r", Env: apikey.Test, Scope: apikey.ScopeRead})
		write, _ := env.App.Keys.Create(ctx, apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "w", Env: apikey.Test, Scope: apikey.ScopeWrite})

		wantAPIError(t, "write key exports", bulkCall(t, env, "/v1/bulk/export", write.Secret, map[string]any{}), 403, "INSUFFICIENT_SCOPE")
		wantAPIError(t, "read key imports", bulkCall(t, env, "/v1/bulk/import", read.Secret, map[string]any{"resourceType": "Patient", "data": "{}"}), 403, "INSUFFICIENT_SCOPE")
		startedJob(t, bulkCall(t, env, "/v1/bulk/export", read.Secret, map[string]any{"resourceTypes": []string{"Patient"}}))
		imp := startedJob(t, bulkCall(t, env, "/v1/bulk/import", write.Secret, map[string]any{"resourceType": "Patient", "data": `{"resourceType":"Patient"}`}))
		if r := apiCall(t, env, "GET", "/v1/bulk/jobs/"+imp, write.Secret, nil); r.Status != 200 {
			t.Fatalf("a write key cannot poll its import: %d %s", r.Status, r.Raw)
		}
		for range 3 {
			startedJob(t, bulkCall(t, env, "/v1/bulk/export", all.Secret, map[string]any{}))
		}
		r := bulkCall(t, env, "/v1/bulk/export", all.Secret, map[string]any{})
		wantAPIError(t, "sixth in an hour", r, 429, "RATE_LIMITED")
		if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); ra < 3000 || ra > 3600 {
			t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
		}
		wantAPIError(t, "imports count too", bulkCall(t, env, "/v1/bulk/import", all.Secret, map[string]any{"resourceType": "Patient", "data": "{}"}), 429, "RATE_LIMITED")
		env.Clock.Advance(time.Hour + time.Second)
		startedJob(t, bulkCall(t, env, "/v1/bulk/export", all.Secret, map[string]any{}))
	})
}

func TestBulkQuotaCountsRecords(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		_, k := newOrgWithKey(t, env, "q@example.com", apikey.ScopeAll) // Sandbox: 1,000 requests
		data := strings.Repeat(`{"resourceType":"Patient"}`+"\n", 1200)
		r := bulkCall(t, env, "/v1/bulk/import", k.Secret, map[string]any{"resourceType": "Patient", "data": data})
		wantAPIError(t, "import over the pool", r, 429, "MONTHLY_QUOTA_EXCEEDED")
		data = strings.Repeat(`{"resourceType":"Patient"}`+"\n", 900)
		job := startedJob(t, bulkCall(t, env, "/v1/bulk/import", k.Secret, map[string]any{"resourceType": "Patient", "data": data}))
		waitJob(t, env, k.Secret, job)
		r = apiCall(t, env, "GET", "/v1/bulk/jobs/"+job, k.Secret, nil)
		if used, _ := strconv.Atoi(r.Header.Get("X-Quota-Used")); used < 900 {
			t.Fatalf("X-Quota-Used %q after importing 900 records", r.Header.Get("X-Quota-Used"))
		}
	})
}

func TestBulkRestartSafety(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		ctx := context.Background()
		a, _ := twoTenants(t, env)
		fhirCall(t, env, "POST", "/v1/fhir/Patient", a.test, `{"resourceType":"Patient","name":[{"family":"Restart"}]}`)
		exp := startedJob(t, bulkCall(t, env, "/v1/bulk/export", a.test, map[string]any{}))
		imp := startedJob(t, bulkCall(t, env, "/v1/bulk/import", a.test, map[string]any{"resourceType": "Patient", "data": `{"resourceType":"Patient"}`}))
		// A worker that died: it claimed both jobs and left a half-written export.
		now := env.Clock.Now()
		for range 2 {
			if _, ok, err := env.App.DB.ClaimBulkJob(ctx, "dead-worker", now, now.Add(time.Minute)); err != nil || !ok {
				t.Fatalf("claim: %v %v", ok, err)
			}
		}
		tmp := filepath.Join(env.App.Config.ExportDir, exp+".tmp")
		os.MkdirAll(tmp, 0o700)
		os.WriteFile(filepath.Join(tmp, "Patient.ndjson"), []byte(`{"resourceType":"Pat`), 0o600)
		if n, _ := env.App.Bulk.Work(ctx); n != 0 {
			t.Fatalf("jobs under a live lease were taken over")
		}
		if r := apiCall(t, env, "GET", "/v1/bulk/jobs/"+exp, a.test, nil); r.Body["data"].(map[string]any)["downloadUrl"] != nil {
			t.Fatalf("a half-written export is offered: %s", r.Raw)
		}
		env.Clock.Advance(2 * time.Minute) // the lease runs out
		d := waitJob(t, env, a.test, exp)
		if d["status"] != "completed" || d["processedRecords"].(float64) != 1 {
			t.Fatalf("resumed export: %v", d)
		}
		_, body := get(t, d["output"].([]any)[0].(map[string]any)["url"].(string))
		if strings.Count(body, "\n") != 1 || !strings.Contains(body, "Restart") {
			t.Fatalf("resumed export file: %q", body)
		}
		if _, err := os.Stat(tmp); !os.IsNotExist(err) {
			t.Fatalf("temporary directory left: %v", err)
		}
		d = waitJob(t, env, a.test, imp)
		if d["status"] != "failed" || !strings.Contains(d["errors"].([]any)[0].(string), "interrupted") {
			t.Fatalf("interrupted import: %v", d)
		}
	})
}

// purgeRows counts org's rows in every table of the datastores.
func purgeRows(t *testing.T, env *apptest.Env, orgID string) int64 {
	t.Helper()
	stores, err := env.App.Records.Datastores(context.Background(), orgID)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, s := range stores {
		c, err := s.TenantRows(context.Background(), datastore.Tenant(orgID))
		if err != nil {
			t.Fatal(err)
		}
		n += c
	}
	return n
}
