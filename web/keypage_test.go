package web_test

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/usage"
)

func TestKeyPageRestrictHintAndLeak(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		owner := env.Browser()
		orgID := owner.SignUp("", "keypage@example.com", pw, "Key Page Org")
		k := restrictedKey(t, env, orgID, "reminders", apikey.CreateInput{})
		id := keyIDOf(t, env, orgID, "reminders")
		page := "/o/" + orgID + "/keys/" + id

		// Restrict it from its page: the next request is held to it.
		r := owner.Post(page+"/restrictions", url.Values{"scope": {"*"}, "resource_types": {"patients:read"}, "ip_allowlist": {""}, "per_minute": {""}})
		if r.Status != 200 || !strings.Contains(apptest.Text(r.Body), "Patient (Read only)") {
			t.Fatalf("restrict: %d %s", r.Status, apptest.Text(r.Body))
		}
		if res := apiCall(t, env, "GET", "/v1/fhir/Observation", k, nil); res.Status != 403 {
			t.Fatalf("after restricting from the page: %d", res.Status)
		}
		if bad := owner.Post(page+"/restrictions", url.Values{"scope": {"*"}, "ip_allowlist": {"not-a-network"}}); bad.Status != 422 || !strings.Contains(bad.Body, "CIDR") {
			t.Fatalf("bad allowlist: %d", bad.Status)
		}

		// Widen it, use it for patients only, follow the hint.
		owner.Post(page+"/restrictions", url.Values{"scope": {"*"}})
		for i := 0; i < 3; i++ {
			apiCall(t, env, "GET", "/v1/patients", k, nil)
		}
		if err := env.App.Usage.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		r = owner.Get(page)
		if !strings.Contains(apptest.Text(r.Body), "needed only scope read on Patient (Read only)") {
			t.Fatalf("no hint: %s", apptest.Text(r.Body))
		}
		owner.Post(page+"/hint", nil)
		k2, err := env.App.Keys.Find(t.Context(), orgID, id)
		if err != nil || k2.Scope != apikey.ScopeRead || apikey.FormatGrants(k2.Grants) != "Patient:read" {
			t.Fatalf("after the hint: %+v %v", k2, err)
		}
		if !strings.Contains(owner.Get(page).Body, "via: hint") {
			t.Fatal("the applied hint is not in the key's history")
		}

		// Leaked: roll at once, list the requests since.
		r = owner.Post(page+"/leaked", url.Values{"since": {"2000-01-01T00:00"}, "response": {"roll"}})
		if r.Status != 200 || strings.Count(r.Body, "/v1/patients") < 3 || !testSecret.MatchString(r.Body) {
			t.Fatalf("leak report: %d %s", r.Status, apptest.Text(r.Body))
		}
		wantVerify(t, env, "the leaked secret", k, errs.ReasonKeyExpired)
	})
}

// TestLeakReportPastTheList: when a leaked key made more requests since
// the chosen time than the page lists, the page says so and links to the
// request log filtered to the key since then, which has them all.
func TestLeakReportPastTheList(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		owner := env.Browser()
		orgID := owner.SignUp("", "leakmore@example.com", pw, "Leak More Org")
		restrictedKey(t, env, orgID, "busy", apikey.CreateInput{})
		id := keyIDOf(t, env, orgID, "busy")
		since := env.Clock.Now().Add(-time.Hour)
		recs := make([]usage.Record, 503)
		for i := range recs {
			recs[i] = usage.Record{Time: since.Add(time.Duration(i) * time.Second), OrgID: orgID, KeyID: id, Env: "test", Method: "GET",
				Route: "/v1/patients", Status: 200, RequestID: fmt.Sprintf("req_%016d", i), ResourceType: "Patient", ClientIP: "203.0.113.9", UAFamily: "curl"}
		}
		if err := env.App.DB.InsertUsage(t.Context(), recs); err != nil {
			t.Fatal(err)
		}
		page := "/o/" + orgID + "/keys/" + id
		r := owner.Post(page+"/leaked", url.Values{"since": {since.UTC().Format("2006-01-02T15:04")}, "response": {"revoke"}})
		if r.Status != 200 || strings.Count(r.Body, "203.0.113.9") != 500+20+1 { // the report, the 20 recent requests, "last used from"
			t.Fatalf("leak report: %d, %d rows", r.Status, strings.Count(r.Body, "203.0.113.9"))
		}
		more := regexp.MustCompile(`data-testid="leak-more">[^<]*<a href="([^"]+)"`).FindStringSubmatch(r.Body)
		if more == nil || !strings.Contains(apptest.Text(r.Body), "more requests since then than the 500 listed here") {
			t.Fatalf("no pointer past the list: %s", apptest.Text(r.Body))
		}
		log := owner.Get(strings.ReplaceAll(more[1], "&amp;", "&"))
		if log.Status != 200 || !strings.Contains(log.Body, "req_0000000000000502") || strings.Count(log.Body, "req_0000000000000") < 50 { // a full page of them
			t.Fatalf("request log from the link %s: %d %s", more[1], log.Status, apptest.Text(log.Body))
		}
	})
}
