package web_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"strings"
	"testing"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/audit"
)

// TestAuditExportEscapesFormulas: cells a spreadsheet would run as a
// formula (= + - @, tab, CR at the start) leave the CSV export as text.
func TestAuditExportEscapesFormulas(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		owner := env.Browser()
		orgID := owner.SignUp("", "csv@example.com", pw, "Sheet Clinic")
		hostile := []string{"=2+3", "+SUM(A1)", "-1+1", "@cmd", "\tx", "\rx"}
		var events []audit.Event
		for i, h := range hostile {
			events = append(events, audit.Event{ID: "aud_csv" + string(rune('a'+i)), OrgID: orgID, ActorType: audit.ActorNone,
				Action: audit.UserSignInFailed, TargetType: h, TargetID: h, IP: "203.0.113.9", UserAgent: h, Outcome: audit.Failure,
				Detail: map[string]string{"note": h}, CreatedAt: env.Clock.Now()})
		}
		if err := env.App.DB.InsertAuditEvents(context.Background(), events); err != nil {
			t.Fatal(err)
		}
		r := owner.Get("/o/" + orgID + "/audit/export?format=csv&action=" + audit.UserSignInFailed)
		wantStatus(t, "csv export", r, http.StatusOK)
		rows, err := csv.NewReader(strings.NewReader(r.Body)).ReadAll()
		if err != nil {
			t.Fatalf("csv: %v\n%s", err, r.Body)
		}
		if len(rows) != 1+len(hostile) {
			t.Fatalf("csv has %d rows, want a header and %d events:\n%s", len(rows), len(hostile), r.Body)
		}
		for _, row := range rows[1:] {
			for i, cell := range row {
				if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
					t.Errorf("column %s begins with %q: %q", rows[0][i], cell[0], cell)
				}
			}
			ua := row[8]
			if !strings.HasPrefix(ua, "'") {
				t.Errorf("user agent %q is not escaped with an apostrophe", ua)
			}
		}
		// Plain values are left alone.
		r = owner.Get("/o/" + orgID + "/audit/export?format=csv&action=organization.created")
		if !strings.Contains(r.Body, ",organization.created,") || strings.Contains(r.Body, "'organization.created") {
			t.Fatalf("plain cells changed:\n%s", r.Body)
		}
	})
}

// TestAuditLogCategoriesPrefixesAndKeyNames: the category filter keeps one
// kind of event, the action filter matches by prefix, and API key actors
// show the key's name.
func TestAuditLogCategoriesPrefixesAndKeyNames(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		owner := env.Browser()
		orgID, key := newOrgWithKeyOn(t, env, owner, "cats@example.com")
		invite(t, owner, orgID, "dev@example.com", "developer")
		if r := fhirCall(t, env, "POST", "/v1/fhir/Patient", key, `{"resourceType":"Patient","name":[{"family":"Cat"}]}`); r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Raw)
		}
		if err := env.App.Records.RelayAudit(context.Background()); err != nil {
			t.Fatal(err)
		}
		env.App.Audit.Flush(context.Background())
		base := "/o/" + orgID + "/audit"

		r := owner.Get(base + "?category=data")
		wantStatus(t, "data category", r, http.StatusOK)
		if !strings.Contains(r.Body, ">data.create<") || strings.Contains(r.Body, ">member.invited<") || strings.Contains(r.Body, ">api_key.created<") {
			t.Fatalf("data category:\n%s", apptest.Text(r.Body))
		}
		wantText(t, "api key actor", r, "API key backend (")

		r = owner.Get(base + "?category=members")
		if !strings.Contains(r.Body, ">member.invited<") || !strings.Contains(r.Body, ">organization.created<") || strings.Contains(r.Body, ">data.create<") {
			t.Fatalf("members category:\n%s", apptest.Text(r.Body))
		}
		r = owner.Get(base + "?category=keys")
		if !strings.Contains(r.Body, ">api_key.created<") || strings.Contains(r.Body, ">member.invited<") {
			t.Fatalf("keys category:\n%s", apptest.Text(r.Body))
		}

		// Prefix matching; LIKE wildcards in the filter are plain text.
		r = owner.Get(base + "?action=member.")
		if !strings.Contains(r.Body, ">member.invited<") || strings.Contains(r.Body, ">organization.created<") {
			t.Fatalf("action prefix member.:\n%s", apptest.Text(r.Body))
		}
		r = owner.Get(base + "?action=%25.created")
		if strings.Contains(r.Body, ">organization.created<") || strings.Contains(r.Body, ">api_key.created<") {
			t.Fatal("a % in the action filter worked as a wildcard")
		}
		csvRes := owner.Get(base + "/export?format=csv&category=data")
		if !strings.Contains(csvRes.Body, "data.create") || strings.Contains(csvRes.Body, "member.invited") || !strings.Contains(csvRes.Body, "API key backend") {
			t.Fatalf("csv export of the data category:\n%s", csvRes.Body)
		}
	})
}

// newOrgWithKeyOn signs up through b (which stays signed in) and creates a
// test key named backend.
func newOrgWithKeyOn(t *testing.T, env *apptest.Env, b *apptest.Browser, email string) (string, string) {
	t.Helper()
	orgID := b.SignUp("", email, pw, "Category Clinic")
	k, err := env.App.Keys.Create(context.Background(), apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "backend", Env: apikey.Test, Scope: apikey.ScopeAll})
	if err != nil {
		t.Fatal(err)
	}
	return orgID, k.Secret
}

// TestAuditExportCarriesTheChain: both export formats carry each event's
// chain (position, previous hash, hash), which verifies offline; a changed
// line of the export does not.
func TestAuditExportCarriesTheChain(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		owner := env.Browser()
		orgID := owner.SignUp("", "chain@example.com", pw, "Chain Clinic")
		for _, format := range []string{"ndjson", "csv"} {
			r := owner.Get("/o/" + orgID + "/audit/export?format=" + format)
			wantStatus(t, format+" export", r, http.StatusOK)
			es, err := audit.ReadExport(strings.NewReader(r.Body), format == "csv")
			if err != nil {
				t.Fatalf("%s: %v\n%s", format, err, r.Body)
			}
			rep := audit.VerifyExport(es)
			if len(es) < 2 || len(rep.Problems) > 0 || rep.Unchained > 0 || rep.Events != int64(len(es)) {
				t.Fatalf("%s export of %d events: %+v, want every event checked and no problem:\n%s", format, len(es), rep, r.Body)
			}
			tampered := strings.Replace(r.Body, ",organization.created,", ",organization.renamed,", 1)
			if format == "ndjson" {
				tampered = strings.Replace(r.Body, `"action":"organization.created"`, `"action":"organization.renamed"`, 1)
			}
			if tampered == r.Body {
				t.Fatalf("%s export has no organization.created event:\n%s", format, r.Body)
			}
			es, err = audit.ReadExport(strings.NewReader(tampered), format == "csv")
			if err != nil {
				t.Fatal(err)
			}
			if rep := audit.VerifyExport(es); len(rep.Problems) == 0 {
				t.Fatalf("%s: a changed export verifies:\n%s", format, tampered)
			}
		}
	})
}
