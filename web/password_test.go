package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

// TestPasswordPolicy: common passwords and one's own e-mail address are
// refused at sign-up and on the Account page; the sign-up form shows every
// error at once and focuses the first invalid field.
func TestPasswordPolicy(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		b := env.Browser()
		for _, weak := range []string{"password", "12345678", "weak@example.com"} {
			r := b.Post("/signup", url.Values{"email": {"weak@example.com"}, "password": {weak}, "org_name": {"Weak Clinic"}})
			wantStatus(t, "sign-up with "+weak, r, http.StatusUnprocessableEntity)
			if !strings.Contains(r.Body, `id="password-error"`) {
				t.Fatalf("sign-up with %q: no password error\n%s", weak, apptest.Text(r.Body))
			}
		}

		// Three bad fields: three messages, the focus on the first.
		r := b.Post("/signup", url.Values{"name": {"Ada"}, "email": {"not-an-email"}, "password": {"password"}, "org_name": {" "}})
		wantStatus(t, "three bad fields", r, http.StatusUnprocessableEntity)
		for _, id := range []string{"email-error", "password-error", "org_name-error"} {
			if !strings.Contains(r.Body, `id="`+id+`"`) {
				t.Errorf("three bad fields: %s missing\n%s", id, apptest.Text(r.Body))
			}
		}
		focused := regexp.MustCompile(`<input[^>]*\bautofocus\b[^>]*>`).FindAllString(r.Body, -1)
		if len(focused) != 1 || !strings.Contains(focused[0], `id="email"`) {
			t.Fatalf("autofocus on %q, want the e-mail field only", focused)
		}

		b.SignUp("Ada", "ada@example.com", pw, "Strong Clinic")
		r = b.Post("/account/password", url.Values{"current_password": {pw}, "password": {"ada@example.com"}})
		wantStatus(t, "new password = e-mail", r, http.StatusUnprocessableEntity)
		wantText(t, "new password = e-mail", r, "not your e-mail address")
		r = b.Post("/account/password", url.Values{"current_password": {pw}, "password": {"qwertyuiop"}})
		wantStatus(t, "keyboard pattern", r, http.StatusUnprocessableEntity)
		wantText(t, "keyboard pattern", r, "too easy to guess")
	})
}
