package web_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"strings"
	"testing"

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
