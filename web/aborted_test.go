package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/web/httperr"
)

// TestDashboardAbortedRequest: a dashboard request whose browser went away
// is answered (and logged) as 499, not as a server error.
func TestDashboardAbortedRequest(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	b := env.Browser()
	orgID := b.SignUp("", "gone@example.com", pw, "Gone Clinic")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/o/"+orgID+"/audit", nil)
	req.AddCookie(&http.Cookie{Name: "clinik_session", Value: b.Cookie("clinik_session")})
	rec := httptest.NewRecorder()
	env.Server.Config.Handler.ServeHTTP(rec, req)
	if rec.Code != httperr.StatusClientClosed {
		t.Fatalf("aborted dashboard request: status %d, want 499", rec.Code)
	}
}
