package web_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

func TestAccountProfileAndPassword(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	b := env.Browser()
	orgID := b.SignUp("Old Name", "me@example.com", pw, "Mine")
	other := env.Browser()
	other.SignIn("me@example.com", pw)

	r := b.Post("/account", url.Values{"name": {"New Name"}})
	wantStatus(t, "profile", r, http.StatusOK)
	wantText(t, "profile", r, "Profile saved.", "New Name")

	r = b.Post("/account/password", url.Values{"current_password": {"wrong one!"}, "password": {"next violet harbor 1"}})
	wantStatus(t, "wrong current password", r, http.StatusUnprocessableEntity)
	wantText(t, "wrong current password", r, "The current password is incorrect.")
	r = b.Post("/account/password", url.Values{"current_password": {pw}, "password": {"short"}})
	wantStatus(t, "short new password", r, http.StatusUnprocessableEntity)

	r = b.Post("/account/password", url.Values{"current_password": {pw}, "password": {"next violet harbor 1"}})
	wantStatus(t, "change password", r, http.StatusOK)
	wantText(t, "change password", r, "Password changed.")
	// This browser stays signed in; the other session ended.
	wantStatus(t, "same session", b.Get("/o/"+orgID), http.StatusOK)
	if r := other.Get("/o/" + orgID); r.URL.Path != "/signin" {
		t.Fatalf("other session after a password change reached %s", r.URL.Path)
	}
	env.Browser().SignIn("me@example.com", "next violet harbor 1")
	wantText(t, "audit", b.Get("/o/"+orgID+"/audit"), "user.password_changed", "user.profile_updated")
}

func TestSessionAbsoluteLifetime(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	b := env.Browser()
	orgID := b.SignUp("", "abs@example.com", pw, "Abs")
	for i := 0; i < 7; i++ { // active every day
		env.Clock.Advance(23 * time.Hour)
		if r := b.Get("/o/" + orgID); r.Status != http.StatusOK {
			t.Fatalf("day %d: status %d", i+1, r.Status)
		}
	}
	env.Clock.Advance(23 * time.Hour) // 8 × 23 h > 7 days since sign-in
	if r := b.Get("/o/" + orgID); r.URL.Path != "/signin" {
		t.Fatalf("a session older than 7 days reached %s", r.URL.Path)
	}
}
