package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/analytics"
	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/fhir"
)

// panickyValidator panics, quoting the resource it was handed (the worst a
// bug could do), when a resource's text mentions the trigger.
type panickyValidator struct {
	datastore.Validator
	trigger string
}

func (v panickyValidator) Validate(typ string, res fhir.Resource) []datastore.Issue {
	if b, _ := json.Marshal(res); strings.Contains(string(b), v.trigger) {
		panic("cannot validate " + string(b))
	}
	return v.Validator.Validate(typ, res)
}

// TestPanicInAnAPIHandlerIsAUsageRecord makes an API request panic inside
// the handler (a validation bug, injected through the harness): the client
// gets the contract's 500 INTERNAL_ERROR body, the request has a usage
// record like any failed request (status 500, the code, a latency, the
// route pattern) that the request log and analytics show, the PHI the
// panic quoted is in no log line, and the server goes on answering.
func TestPanicInAnAPIHandlerIsAUsageRecord(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		const phi = "Zebulon-Quackenbush-1957"
		env := apptest.NewWith(t, engine, nil, app.Options{WrapValidator: func(v datastore.Validator) datastore.Validator {
			return panickyValidator{Validator: v, trigger: phi}
		}})
		ctx := context.Background()
		owner := env.Browser()
		orgID := owner.SignUp("", "panic@example.com", pw, "Panic Clinic")
		key, err := env.App.Keys.Create(ctx, apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "backend", Env: apikey.Test})
		if err != nil {
			t.Fatal(err)
		}

		r := fhirCall(t, env, "POST", "/v1/fhir/Patient", key.Secret, `{"resourceType":"Patient","name":[{"family":"`+phi+`"}]}`)
		if r.Status != http.StatusInternalServerError {
			t.Fatalf("a panicking handler answered %d, want 500\n%s", r.Status, r.Raw)
		}
		if !strings.Contains(r.Raw, "INTERNAL_ERROR") || strings.Contains(r.Raw, phi) {
			t.Fatalf("the 500 answer is not the contract's INTERNAL_ERROR without the data: %s", r.Raw)
		}
		reqID := r.Header.Get("X-Request-Id")
		if reqID == "" || !strings.Contains(r.Raw, "Something went wrong on our side") {
			t.Fatalf("the 500 answer (request id %q) is not the internal error's: %s", reqID, r.Raw)
		}
		// The server answers the next request.
		if ok := fhirCall(t, env, "POST", "/v1/fhir/Patient", key.Secret, `{"resourceType":"Patient","name":[{"family":"Calm"}]}`); ok.Status != http.StatusCreated {
			t.Fatalf("after the panic: %d\n%s", ok.Status, ok.Raw)
		}

		runJob(t, env, analytics.JobRollup) // flushes usage, then rolls up
		recs, _, err := env.App.Analytics.RequestLog(ctx, analytics.LogFilter{OrgID: orgID, RequestID: reqID, Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 {
			t.Fatalf("the panicked request has %d usage records, want 1", len(recs))
		}
		rec := recs[0]
		if rec.Status != 500 || rec.Code != "INTERNAL_ERROR" || rec.Route != "/v1/fhir/:type" || rec.Method != "POST" ||
			rec.Latency <= 0 || rec.KeyID != key.Key.ID || rec.ResourceType != "Patient" {
			t.Fatalf("usage record of the panicked request: %+v", rec)
		}

		// The dashboard's request log lists it among the errors, with its
		// code, and analytics counts it by code.
		env.Clock.Advance(time.Minute) // the test clock stands still; ranges end before now
		page := owner.Get("/o/" + orgID + "/requests?status=err&code=INTERNAL_ERROR&range=24h")
		if page.Status != 200 || !strings.Contains(page.Body, reqID) || !strings.Contains(page.Body, "INTERNAL_ERROR") {
			t.Fatalf("the request log does not show the panicked request %s (%d)\n%s", reqID, page.Status, apptest.Text(page.Body))
		}
		stats := owner.Get("/o/" + orgID + "/analytics?range=24h")
		if stats.Status != 200 || !strings.Contains(stats.Body, `data-code="INTERNAL_ERROR"`) {
			t.Fatalf("analytics' errors by code do not count the panicked request (%d)", stats.Status)
		}

		logs := env.Logs.String()
		if strings.Contains(logs, phi) {
			t.Fatalf("the log quotes the data the panic carried:\n%s", logs)
		}
		if strings.Contains(logs, key.Secret) {
			t.Fatal("the log carries the API key")
		}
		var line string
		for _, l := range strings.Split(logs, "\n") {
			if strings.Contains(l, `"msg":"panic"`) {
				line = l
			}
		}
		if line == "" || !strings.Contains(line, `"panic":"string"`) || !strings.Contains(line, "/v1/fhir/:type") {
			t.Fatalf("no panic log line with the route and the value's type only: %q", line)
		}
	})
}
