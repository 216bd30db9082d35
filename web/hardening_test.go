package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/seed"
)

// outcomeCode reads the ClinikAPI error code of an OperationOutcome.
func outcomeCode(r apiResult) string {
	issues, _ := r.Body["issue"].([]any)
	if len(issues) == 0 {
		return ""
	}
	is, _ := issues[0].(map[string]any)
	det, _ := is["details"].(map[string]any)
	cs, _ := det["coding"].([]any)
	if len(cs) == 0 {
		return ""
	}
	c, _ := cs[0].(map[string]any)
	s, _ := c["code"].(string)
	return s
}

func outcomeText(r apiResult) string {
	issues, _ := r.Body["issue"].([]any)
	if len(issues) == 0 {
		return ""
	}
	is, _ := issues[0].(map[string]any)
	s, _ := is["diagnostics"].(string)
	return s
}

func list(prefix string, n int) string {
	v := make([]string, n)
	for i := range v {
		v[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return strings.Join(v, ",")
}

// TestSearchInputNeverFails500 replays the search inputs an attack on the
// API answered with 500 or ran for seconds: each is now a 400
// INVALID_SEARCH OperationOutcome that names the parameter or the limit,
// answered at once.
func TestSearchInputNeverFails500(t *testing.T) {
	sortKeys := strings.Repeat("name,family,address-city,birthdate,", 75)
	manyParams := url.Values{}
	for i := range 31 {
		manyParams.Add("family", fmt.Sprintf("f%d", i))
	}
	includes := url.Values{}
	for range 11 {
		includes.Add("_revinclude", "Encounter:subject")
	}
	cases := []struct {
		name, path string
		want       string // in the diagnostics
	}{
		{"long OR list", "/v1/fhir/Patient?name=" + list("v", 500), "name has 500 values"},
		{"chain with an empty reference", "/v1/fhir/Immunization?performer%3APatient.name=Patient%2F&_profile%3A=-_id%2C_id", "_profile:"},
		{"chain alone", "/v1/fhir/Immunization?performer%3APatient.name=Patient%2F", "performer:Patient.name"},
		{"empty reference", "/v1/fhir/Immunization?performer=Patient%2F", "performer: a reference"},
		{"empty modifier", "/v1/fhir/Immunization?_profile%3A=-_id%2C_id", "_profile: has an empty modifier"},
		{"unknown reference modifier", "/v1/fhir/Observation?subject%3Anope=1", ":nope"},
		{"chain", "/v1/fhir/Observation?subject.name=ada", "subject.name"},
		{"sort keys", "/v1/fhir/Patient?_sort=" + strings.TrimSuffix(sortKeys, ","), "_sort has 300 keys: the limit is 5"},
		{"parameters", "/v1/fhir/Patient?" + manyParams.Encode(), "31 parameters: the limit is 30"},
		{"includes", "/v1/fhir/Patient?" + includes.Encode(), "11 _include and _revinclude values: the limit is 10"},
		{"iterate", "/v1/fhir/Patient?_include%3Aiterate=Patient:organization", "one level deep"},
		{"query length", "/v1/fhir/Patient?family=" + strings.Repeat("a", 500) + "&given=" + strings.Repeat("b,", 4000) + "b", "the limit is 8192 bytes"},
	}
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		_, k := newOrgWithKey(t, env, "limits@example.com", apikey.ScopeAll)
		if r := fhirCall(t, env, "POST", "/v1/fhir/Patient", k.Secret, patientJSON); r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Raw)
		}
		for _, tc := range cases {
			start := time.Now()
			r := fhirCall(t, env, "GET", tc.path, k.Secret, "")
			took := time.Since(start)
			if r.Status != 400 || outcomeCode(r) != "INVALID_SEARCH" || !strings.Contains(outcomeText(r), tc.want) {
				t.Errorf("%s: got %d %s %q, want 400 INVALID_SEARCH saying %q", tc.name, r.Status, outcomeCode(r), outcomeText(r), tc.want)
			}
			if took > 2*time.Second {
				t.Errorf("%s: answered in %v", tc.name, took)
			}
		}
		// The CapabilityStatement lists the limits.
		meta := fhirCall(t, env, "GET", "/v1/fhir/metadata", "", "")
		rest, _ := meta.Body["rest"].([]any)
		if len(rest) == 0 {
			t.Fatalf("metadata: %d %.200s", meta.Status, meta.Raw)
		}
		doc, _ := rest[0].(map[string]any)["documentation"].(string)
		for _, want := range []string{"at most 30 search parameters", "100 values per parameter", "5 _sort keys", "10 _include and _revinclude", "8192 bytes", "SEARCH_TOO_COSTLY"} {
			if !strings.Contains(doc, want) {
				t.Errorf("CapabilityStatement rest.documentation %q does not say %q", doc, want)
			}
		}
		// Within the limits the same shapes work.
		for _, p := range []string{
			"/v1/fhir/Patient?name=" + list("v", 100),
			"/v1/fhir/Patient?_sort=name,family,address-city,birthdate,-_id",
			"/v1/fhir/Observation?subject:Patient=pt-1",
		} {
			if r := fhirCall(t, env, "GET", p, k.Secret, ""); r.Status != 200 {
				t.Errorf("GET %.60s…: %d %s", p, r.Status, r.Raw)
			}
		}
	})
}

// TestTwoAPIKeysAreRefused: two x-api-key headers are an ambiguous
// credential (the first one used to win), whether they are equal or not.
func TestTwoAPIKeysAreRefused(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		_, k := newOrgWithKey(t, env, "twokeys@example.com", apikey.ScopeAll)
		_, other := newOrgWithKey(t, env, "other@example.com", apikey.ScopeAll)
		for _, path := range []string{"/v1/patients", "/v1/fhir/Patient"} {
			for _, second := range []string{other.Secret, k.Secret} {
				req, _ := http.NewRequest("GET", env.Server.URL+path, nil)
				req.Header.Add("x-api-key", k.Secret)
				req.Header.Add("x-api-key", second)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 400 || !strings.Contains(string(b), `"AMBIGUOUS_API_KEY"`) {
					t.Errorf("%s with two keys: %d %s, want 400 AMBIGUOUS_API_KEY", path, res.StatusCode, b)
				}
			}
		}
		if r := apiCall(t, env, "GET", "/v1/patients", k.Secret, nil); r.Status != 200 {
			t.Errorf("one key: %d %s", r.Status, r.Raw)
		}
	})
}

// heavySearch is a search within the limits that still reads every
// observation several times over: five sort keys, a total and a
// revinclude.
const heavySearch = "/v1/fhir/Observation?_sort=-combo-code,-date,-value-quantity,-subject,-status&_total=accurate&subject:missing=false&_revinclude=Observation:subject"

// TestSearchTimeBudget: a search that runs past CLINIKAPI_QUERY_TIMEOUT
// is stopped at the budget (SQLite interrupts it, PostgreSQL cancels it
// on the server) and answered 400 SEARCH_TOO_COSTLY; the datastore keeps
// answering, and on PostgreSQL no statement is left running.
func TestSearchTimeBudget(t *testing.T) {
	const budget = 10 * time.Millisecond
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, map[string]string{"CLINIKAPI_QUERY_TIMEOUT": budget.String()})
		org, k := newOrgWithKey(t, env, "budget@example.com", apikey.ScopeAll)
		ctx := context.Background()
		st, err := env.App.Data.Named(ctx, "test")
		if err != nil {
			t.Fatal(err)
		}
		// 2,000 resources: the heavy search takes 100-200 ms unbounded.
		seeded, err := seed.Run(ctx, st, datastore.Tenant(org), 500, 4, nil)
		if err != nil {
			t.Fatal(err)
		}
		running := func() int {
			var n int
			if err := env.App.DB.SQL().QueryRow(`SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE '%FROM resources r%' AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		for range 3 {
			start := time.Now()
			r := fhirCall(t, env, "GET", heavySearch, k.Secret, "")
			took := time.Since(start)
			if r.Status != 400 || outcomeCode(r) != "SEARCH_TOO_COSTLY" || !strings.Contains(outcomeText(r), "time budget") {
				t.Fatalf("heavy search: %d %s %.200s, want 400 SEARCH_TOO_COSTLY", r.Status, outcomeCode(r), r.Raw)
			}
			if took > budget+time.Second {
				t.Errorf("heavy search answered after %v: the budget is %v", took, budget)
			}
			// On PostgreSQL the statement was cancelled on the server
			// before the answer, not left running (the unbounded search
			// runs several times the budget).
			if engine == "postgres" {
				if n := running(); n > 0 {
					t.Fatalf("%d search statements still running on the server after the answer", n)
				}
			}
		}
		// The datastore still answers cheap requests under the same budget
		// (a few tries: the machine may be busy).
		ok := false
		for range 5 {
			r := fhirCall(t, env, "GET", "/v1/fhir/Patient?_id="+seeded.PatientIDs[0], k.Secret, "")
			if r.Status == 200 {
				ok = true
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !ok {
			t.Fatal("a search by id fails after the budget ran out")
		}
	})
}

// rawHTTP sends raw bytes to the server and returns its answer.
func rawHTTP(t *testing.T, env *apptest.Env, req string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", env.Server.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	go conn.Write([]byte(req)) // a header too large is answered before it is all sent
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer to %.40q: %v", req, err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

// TestProtocolErrorsInTheAPIShape: what net/http answers by itself before
// any handler runs (framing it does not support, headers too large,
// requests it cannot parse) is answered under /v1 in the API's error
// shape, with a request id — JSON, or an OperationOutcome under /v1/fhir.
func TestProtocolErrorsInTheAPIShape(t *testing.T) {
	big := strings.Repeat("a", 70<<10)
	cases := []struct {
		name, req string
		status    int
		code      string
	}{
		{"chunked, identity", "POST /v1/patients HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 501, "UNSUPPORTED_TRANSFER_ENCODING"},
		{"chunked, identity on FHIR", "POST /v1/fhir/Patient HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 501, "UNSUPPORTED_TRANSFER_ENCODING"},
		{"header too large", "GET /v1/patients HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n", 431, "HEADERS_TOO_LARGE"},
		{"header too large on FHIR", "GET /v1/fhir/Patient?x=1 HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n", 431, "HEADERS_TOO_LARGE"},
		{"no Host", "GET /v1/patients HTTP/1.1\r\n\r\n", 400, "INVALID_REQUEST"},
		{"two Content-Lengths", "POST /v1/patients HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400, "INVALID_REQUEST"},
		{"bad header line", "GET /v1/patients HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400, "INVALID_REQUEST"},
	}
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		for _, tc := range cases {
			res, body := rawHTTP(t, env, tc.req)
			fhirPath := strings.Contains(tc.req, "/v1/fhir/")
			var got map[string]any
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Errorf("%s: %d %q is not JSON", tc.name, res.StatusCode, body)
				continue
			}
			code := ""
			if fhirPath {
				code = outcomeCode(apiResult{Body: got})
				if got["resourceType"] != "OperationOutcome" || res.Header.Get("Content-Type") != "application/fhir+json" {
					t.Errorf("%s: %s %s, want an OperationOutcome", tc.name, res.Header.Get("Content-Type"), body)
				}
			} else {
				code, _ = got["code"].(string)
				if got["requestId"] == "" || got["message"] == "" || got["issues"] == nil {
					t.Errorf("%s: %s is not the API's error shape", tc.name, body)
				}
			}
			if res.StatusCode != tc.status || code != tc.code || !strings.HasPrefix(res.Header.Get("X-Request-Id"), "req_") {
				t.Errorf("%s: %d %s (request id %q), want %d %s", tc.name, res.StatusCode, code, res.Header.Get("X-Request-Id"), tc.status, tc.code)
			}
		}
		// The dashboard keeps net/http's own answer; a good request after a
		// bad one on another connection is served as usual.
		if res, body := rawHTTP(t, env, "GET /signin HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n"); res.StatusCode != 501 || strings.HasPrefix(body, "{") {
			t.Errorf("dashboard: %d %q", res.StatusCode, body)
		}
		if res, _ := rawHTTP(t, env, "GET /v1/metadata HTTP/1.1\r\nHost: x\r\n\r\n"); res.StatusCode != 200 {
			t.Errorf("a good request: %d", res.StatusCode)
		}
	})
}
