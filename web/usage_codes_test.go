package web_test

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/analytics"
	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

// TestUsageRecordsKeepTheErrorCode sends refused requests of every route
// family (simplified, raw FHIR, bulk, an unknown path) and checks that the
// usage record of each stores the error code the client was answered with,
// so the analytics error-code breakdown and the request log count them.
func TestUsageRecordsKeepTheErrorCode(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		ctx := context.Background()
		owner := env.Browser()
		orgID := owner.SignUp("", "codes@example.com", pw, "Codes Clinic")
		key, err := env.App.Keys.Create(ctx, apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "backend", Env: apikey.Test})
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name, method, path, body string
			status                   int
			code                     string
			idem                     string // Idempotency-Key
		}{
			{"simplified 404, malformed id", "GET", "/v1/patients/pt_missing", "", 404, "NOT_FOUND", ""},
			{"simplified 404", "GET", "/v1/patients/missing-1", "", 404, "NOT_FOUND", ""},
			{"simplified HEAD 404", "HEAD", "/v1/patients/missing-1", "", 404, "NOT_FOUND", ""},
			{"simplified 400", "POST", "/v1/patients", "{not json", 400, "INVALID_JSON", ""},
			{"simplified 422", "POST", "/v1/patients", `{"gender":"sometimes"}`, 422, "VALIDATION_ERROR", ""},
			{"simplified 400 search", "GET", "/v1/patients?_count=banana", "", 400, "INVALID_SEARCH", ""},
			{"fhir 404", "GET", "/v1/fhir/Patient/missing-1", "", 404, "NOT_FOUND", ""},
			{"fhir 400", "POST", "/v1/fhir/Patient", "{not json", 400, "INVALID_JSON", ""},
			{"fhir 422", "POST", "/v1/fhir/Patient", `{"resourceType":"Patient","gender":"sometimes"}`, 422, "VALIDATION_ERROR", ""},
			{"bulk 404", "GET", "/v1/bulk/jobs/job_missing", "", 404, "NOT_FOUND", ""},
			{"bulk 400", "POST", "/v1/bulk/export", "{not json", 400, "INVALID_JSON", ""},
			{"unknown path", "GET", "/v1/nothing-here", "", 404, "NOT_FOUND", ""},
			{"simplified 422, idempotent", "POST", "/v1/patients", `{"gender":"sometimes"}`, 422, "VALIDATION_ERROR", "idem-1"},
			{"simplified 422, replayed", "POST", "/v1/patients", `{"gender":"sometimes"}`, 422, "VALIDATION_ERROR", "idem-1"},
			{"fhir 422, replayed", "POST", "/v1/fhir/Patient", `{"resourceType":"Patient","gender":"sometimes"}`, 422, "VALIDATION_ERROR", "idem-2"},
			{"fhir 422, replayed again", "POST", "/v1/fhir/Patient", `{"resourceType":"Patient","gender":"sometimes"}`, 422, "VALIDATION_ERROR", "idem-2"},
			{"idempotency key reused", "POST", "/v1/patients", `{"gender":"female"}`, 422, "IDEMPOTENCY_KEY_REUSED", "idem-1"},
		}
		ids := map[string]string{} // request id → want code
		for _, tc := range cases {
			ct := "application/json"
			if strings.HasPrefix(tc.path, "/v1/fhir") {
				ct = "application/fhir+json"
			}
			headers := []string{"Content-Type", ct}
			if tc.idem != "" {
				headers = append(headers, "Idempotency-Key", tc.idem)
			}
			r := apiCall(t, env, tc.method, tc.path, key.Secret, strings.NewReader(tc.body), headers...)
			if r.Status != tc.status {
				t.Fatalf("%s: %d, want %d\n%s", tc.name, r.Status, tc.status, r.Raw)
			}
			if tc.method != "HEAD" && !strings.Contains(r.Raw, tc.code) {
				t.Fatalf("%s: the answer does not carry %s\n%s", tc.name, tc.code, r.Raw)
			}
			ids[r.Header.Get("X-Request-Id")] = tc.code
		}
		if err := env.App.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		rows, err := env.App.DB.SQL().QueryContext(ctx, `SELECT request_id, code, status FROM usage_records WHERE org_id = $1`, orgID)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id, code string
			var status int
			if err := rows.Scan(&id, &code, &status); err != nil {
				t.Fatal(err)
			}
			got[id] = code
		}
		rows.Close()
		for id, want := range ids {
			if got[id] != want {
				t.Errorf("request %s: usage record has code %q, want %q", id, got[id], want)
			}
		}
		if t.Failed() {
			t.FailNow()
		}

		// The analytics page's breakdown counts every refusal under its
		// code, over the window its totals cover (the requests are in the
		// minute "the last hour" ends with: the bucket holding its end).
		runJob(t, env, analytics.JobRollup)
		page := owner.Get("/o/" + orgID + "/analytics?range=1h")
		wantStatus(t, "analytics", page, http.StatusOK)
		if want := `data-stat="Requests">` + strconv.Itoa(len(cases)) + `<`; !strings.Contains(page.Body, want) {
			t.Fatalf("the analytics page does not count the %d requests: %s", len(cases), regexp.MustCompile(`data-stat="Requests">[^<]*<`).FindString(page.Body))
		}
		for code, n := range map[string]int{"NOT_FOUND": 6, "VALIDATION_ERROR": 6, "INVALID_JSON": 3, "INVALID_SEARCH": 1, "IDEMPOTENCY_KEY_REUSED": 1} {
			if !regexp.MustCompile(`(?s)data-code="` + code + `".{0,800}?data-requests>` + strconv.Itoa(n) + `<`).MatchString(page.Body) {
				t.Errorf("the analytics error-code breakdown does not count %d %s", n, code)
			}
		}
		if strings.Contains(page.Body, "no error code") {
			t.Error("the analytics error-code breakdown has refused requests without a code")
		}
		// The request log filters by the code.
		env.Clock.Advance(time.Minute) // the requests are now in the past of "the last hour"
		log := owner.Get("/o/" + orgID + "/requests?range=1h&code=NOT_FOUND")
		wantStatus(t, "request log", log, http.StatusOK)
		if n := len(regexp.MustCompile(`href="/o/`+orgID+`/requests/\d+"`).FindAllString(log.Body, -1)); n != 6 {
			t.Fatalf("request log lists %d NOT_FOUND requests, want 6", n)
		}
	})
}
