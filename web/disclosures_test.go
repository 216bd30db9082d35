package web_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

// accessReport is the CSV of patient's access report in orgID, as rows of
// operation and resources.
func accessReport(t *testing.T, env *apptest.Env, b *apptest.Browser, orgID, patient string) [][]string {
	t.Helper()
	if err := env.App.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := b.Get("/o/" + orgID + "/compliance/access/export?patient=" + patient)
	wantStatus(t, "access report export", r, http.StatusOK)
	rows, err := csv.NewReader(strings.NewReader(r.Body)).ReadAll()
	if err != nil {
		t.Fatalf("csv: %v\n%s", err, r.Body)
	}
	return rows[1:]
}

// has reports whether rows hold op on a resource reference that starts
// with ref.
func has(rows [][]string, op, ref string) bool {
	for _, r := range rows {
		if r[6] == op && strings.Contains(" "+r[10], " "+ref) {
			return true
		}
	}
	return false
}

// TestPatientAccessReport: a read, a search hit, an include, an export and
// a write of patient P's resources each appear in P's report (with the key,
// route and request) and not in patient Q's; another organization's report
// on P's id shows none of them.
func TestPatientAccessReport(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		owner := env.Browser()
		orgID, key := newOrgWithKeyOn(t, env, owner, "disclose@example.com")
		create := func(body string) string {
			t.Helper()
			r := fhirCall(t, env, "POST", "/v1/fhir/"+strings.SplitN(strings.SplitN(body, `"resourceType":"`, 2)[1], `"`, 2)[0], key, body)
			if r.Status != 201 {
				t.Fatalf("create: %d %s", r.Status, r.Raw)
			}
			return r.Body["id"].(string)
		}
		p := create(`{"resourceType":"Patient","name":[{"family":"Disclosed","given":["Pat"]}]}`)
		q := create(`{"resourceType":"Patient","name":[{"family":"Other","given":["Quinn"]}]}`)
		obs := create(`{"resourceType":"Observation","status":"final","code":{"text":"pulse"},"subject":{"reference":"Patient/` + p + `"}}`)

		if r := fhirCall(t, env, "GET", "/v1/fhir/Patient/"+p, key, ""); r.Status != 200 {
			t.Fatalf("read: %d", r.Status)
		}
		if r := fhirCall(t, env, "GET", "/v1/fhir/Patient?family=Disclosed", key, ""); r.Status != 200 {
			t.Fatalf("search: %d", r.Status)
		}
		if r := fhirCall(t, env, "GET", "/v1/fhir/Patient?_id="+q+"&_revinclude=Observation:subject", key, ""); r.Status != 200 {
			t.Fatalf("search of Q: %d", r.Status)
		}
		if r := fhirCall(t, env, "GET", "/v1/fhir/Observation?_id="+obs+"&_include=Observation:subject", key, ""); r.Status != 200 {
			t.Fatalf("search with include: %d", r.Status)
		}
		job := startedJob(t, bulkCall(t, env, "/v1/bulk/export", key, map[string]any{"resourceTypes": []string{"Observation"}}))
		waitJob(t, env, key, job)

		rows := accessReport(t, env, owner, orgID, p)
		for _, want := range []struct{ op, ref string }{
			{"create", "Patient/" + p}, {"create", "Observation/" + obs},
			{"read", "Patient/" + p},
			{"search", "Patient/" + p},       // the family search
			{"search", "Observation/" + obs}, // the Observation search: its subject is P
			{"include", "Patient/" + p},      // included by Observation:subject
			{"export", "Observation/" + obs}, // the bulk export
		} {
			if !has(rows, want.op, want.ref) {
				t.Errorf("P's report has no %s of %s:\n%v", want.op, want.ref, rows)
			}
		}
		for _, r := range rows {
			if r[1] != p || r[3] == "" || !strings.Contains(r[4], "backend") || r[5] != "test" {
				t.Errorf("row %v: want patient %s, the key's id and name, environment test", r, p)
			}
			if r[6] == "read" && (r[7] != "GET /v1/fhir/:type/:id" || !strings.HasPrefix(r[8], "req_")) {
				t.Errorf("read row %v: want the route pattern and the request id", r)
			}
			if strings.Contains(strings.Join(r, ","), "Disclosed") {
				t.Errorf("row %v holds the patient's name", r)
			}
		}
		qrows := accessReport(t, env, owner, orgID, q)
		if has(qrows, "read", "Patient/"+p) || has(qrows, "include", "Patient/"+p) || has(qrows, "export", "Observation/"+obs) {
			t.Errorf("Q's report shows P's disclosures:\n%v", qrows)
		}
		if !has(qrows, "search", "Patient/"+q) || has(qrows, "include", "Observation/"+obs) {
			t.Errorf("Q's report: want the search hit of Q and not P's Observation (it does not reference Q):\n%v", qrows)
		}

		// Another organization sees nothing of P.
		other := env.Browser()
		otherOrg, _ := newOrgWithKeyOn(t, env, other, "other-disclose@example.com")
		if rows := accessReport(t, env, other, otherOrg, p); len(rows) != 0 {
			t.Errorf("another organization's report on P: %v", rows)
		}
		// Nor can it open this organization's report.
		if r := other.Get("/o/" + orgID + "/compliance/access?patient=" + p); r.Status != http.StatusNotFound {
			t.Errorf("another organization's member opens the report: %d", r.Status)
		}
		// The page shows the same; a bad id is a clear 422.
		page := owner.Get("/o/" + orgID + "/compliance/access?patient=" + p)
		wantStatus(t, "report page", page, http.StatusOK)
		if !strings.Contains(page.Body, "Observation/"+obs) || !strings.Contains(page.Body, "include") {
			t.Errorf("report page lacks the disclosures:\n%s", page.Body)
		}
		if r := owner.Get("/o/" + orgID + "/compliance/access?patient=%3Dbad%20id"); r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, "A patient id is") {
			t.Errorf("bad patient id: %d", r.Status)
		}
	})
}

// TestAccessReportPatientPicker: the report's picker finds the
// organization's patients by name in the chosen environment (POST: the
// name is in no URL or log line), links each to its report by id, leaves
// out other organizations' patients, says when nothing matches and when
// the input is bad; the search is itself disclosed. The report page has a
// print version: a "Print / save as PDF" button, the navigation and forms
// hidden in print.
func TestAccessReportPatientPicker(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		owner := env.Browser()
		orgID, key := newOrgWithKeyOn(t, env, owner, "picker@example.com")
		create := func(secret, family, given string) string {
			t.Helper()
			r := fhirCall(t, env, "POST", "/v1/fhir/Patient", secret, `{"resourceType":"Patient","birthDate":"1981-04-02","name":[{"family":"`+family+`","given":["`+given+`"]}]}`)
			if r.Status != 201 {
				t.Fatalf("create: %d %s", r.Status, r.Raw)
			}
			return r.Body["id"].(string)
		}
		p := create(key, "Pickeringham", "Ada")
		create(key, "Someone", "Else")
		other := env.Browser()
		_, otherKey := newOrgWithKeyOn(t, env, other, "picker-other@example.com")
		create(otherKey, "Pickeringham", "Intruder")

		path := "/o/" + orgID + "/compliance/access/patients"
		r := owner.Post(path, url.Values{"env": {"test"}, "name": {"pickering"}})
		wantStatus(t, "picker", r, http.StatusOK)
		if !strings.Contains(r.Body, "Ada Pickeringham") || !strings.Contains(r.Body, "1981-04-02") ||
			!strings.Contains(r.Body, `/o/`+orgID+`/compliance/access?patient=`+p) {
			t.Fatalf("the picker does not list the patient with a link to their report:\n%s", r.Body)
		}
		if strings.Contains(r.Body, "Intruder") || strings.Contains(r.Body, "Someone") {
			t.Fatalf("the picker lists another organization's or a non-matching patient:\n%s", r.Body)
		}
		// HTMX asks for the list alone.
		owner.Headers = map[string]string{"HX-Request": "true"}
		r = owner.Post(path, url.Values{"env": {"test"}, "name": {"pickering"}})
		owner.Headers = nil
		wantStatus(t, "picker fragment", r, http.StatusOK)
		if !strings.Contains(r.Body, `id="patient-picks"`) || strings.Contains(r.Body, "<html") || !strings.Contains(r.Body, "Ada Pickeringham") {
			t.Fatalf("fragment:\n%s", r.Body)
		}
		// The live environment has no such patient.
		r = owner.Post(path, url.Values{"env": {"live"}, "name": {"pickering"}})
		wantStatus(t, "picker, live", r, http.StatusOK)
		if strings.Contains(r.Body, "Pickeringham") || !strings.Contains(r.Body, "No patient of this organization matches") {
			t.Fatalf("live:\n%s", r.Body)
		}
		for _, bad := range []url.Values{{"env": {"prod"}, "name": {"x"}}, {"env": {"test"}, "name": {"  "}}, {"env": {"test"}, "name": {strings.Repeat("a", 101)}}} {
			r = owner.Post(path, bad)
			wantStatus(t, "picker with "+bad.Encode(), r, http.StatusUnprocessableEntity)
			if !strings.Contains(r.Body, `role="alert"`) {
				t.Fatalf("bad input %v says nothing:\n%s", bad, r.Body)
			}
		}
		// The search is the member's access to the patient: disclosed.
		rows := accessReport(t, env, owner, orgID, p)
		found := false
		for _, row := range rows {
			if row[2] == "user" && row[6] == "search" {
				found = true
			}
		}
		if !found {
			t.Fatalf("the picker's search is not in the patient's report: %v", rows)
		}
		if strings.Contains(env.Logs.String(), "Pickeringham") || strings.Contains(env.Logs.String(), "pickering") {
			t.Fatal("the searched name is in the logs")
		}

		// The report, printable.
		r = owner.Get("/o/" + orgID + "/compliance/access?patient=" + p)
		wantStatus(t, "report", r, http.StatusOK)
		for _, want := range []string{"data-print", "Print / save as PDF", `data-testid="print-summary"`, "print:hidden"} {
			if !strings.Contains(r.Body, want) {
				t.Fatalf("the report page lacks %q", want)
			}
		}
		css := owner.Get("/static/app.css")
		if !strings.Contains(css.Body, "@media print") {
			t.Fatal("the stylesheet has no print rules")
		}
		js := owner.Get("/static/app.js")
		if !strings.Contains(js.Body, "window.print()") {
			t.Fatal("app.js does not print")
		}
	})
}
