package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

// TestFormsShowEveryErrorAtOnce: each dashboard form with several fields
// answers a submission with more than one mistake with every field's
// message, and puts the focus on the first invalid field in the form's
// order.
func TestFormsShowEveryErrorAtOnce(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	owner := env.Browser()
	orgID := owner.SignUp("Ada Lovelace", "ada@example.com", pw, "Forms Clinic")
	o := "/o/" + orgID
	setPlan(t, env, orgID, "starter") // a BAA is signed on paid plans

	// Which fields are marked invalid, and which one has the focus.
	invalid := regexp.MustCompile(`<(?:input|select|textarea)[^>]*\bid="([^"]+)"[^>]*aria-invalid="true"|<(?:input|select|textarea)[^>]*aria-invalid="true"[^>]*\bid="([^"]+)"`)
	focused := regexp.MustCompile(`<(?:input|select|textarea)[^>]*\bid="([^"]+)"[^>]*\bautofocus|<(?:input|select|textarea)[^>]*\bautofocus[^>]*\bid="([^"]+)"`)
	ids := func(re *regexp.Regexp, body string) []string {
		var out []string
		for _, m := range re.FindAllStringSubmatch(body, -1) {
			out = append(out, m[1]+m[2])
		}
		return out
	}
	for _, c := range []struct {
		what, path string
		form       url.Values
		fields     []string // invalid, in the form's order
		messages   []string
	}{
		{"new key", o + "/keys", url.Values{"name": {" "}, "env": {"prod"}, "scope": {"admin"}, "expires_at": {"next week"}},
			[]string{"name", "env", "scope", "expires_at"}, []string{"Give the key a name", "test or the live environment", "scope read, write", "expiry as a date"}},
		{"new key, expiry in the past", o + "/keys", url.Values{"name": {""}, "env": {"test"}, "scope": {"*"}, "expires_at": {"2001-01-01"}},
			[]string{"name", "expires_at"}, []string{"Give the key a name", "expiry date in the future"}},
		{"invitation", o + "/invites", url.Values{"email": {"not-an-address"}, "role": {"emperor"}},
			[]string{"email", "role"}, nil},
		{"closing the organization", o + "/privacy/close", url.Values{"confirm_name": {"Other Clinic"}, "password": {""}},
			[]string{"confirm_name", "password"}, []string{"name exactly as shown", "Enter your password"}},
		{"BAA signature", o + "/settings/compliance", url.Values{"name": {" "}, "title": {""}},
			[]string{"name", "title"}, []string{"full legal name", "Enter your title"}},
		{"password change", "/account/password", url.Values{"current_password": {""}, "password": {"password"}},
			[]string{"current_password", "password"}, []string{"current password", ""}},
		{"organization name", o + "/settings", url.Values{"org_name": {" "}}, []string{"org_name"}, nil},
		{"profile", "/account", url.Values{"name": {"Ada\nLovelace"}}, []string{"name"}, nil},
	} {
		r := owner.Post(c.path, c.form)
		if r.Status != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422", c.what, r.Status)
			continue
		}
		if got := ids(invalid, r.Body); strings.Join(got, ",") != strings.Join(c.fields, ",") {
			t.Errorf("%s: invalid fields %v, want %v", c.what, got, c.fields)
		}
		for _, f := range c.fields {
			if !strings.Contains(r.Body, `id="`+f+`-error"`) {
				t.Errorf("%s: no message for %s", c.what, f)
			}
		}
		for _, m := range c.messages {
			if !strings.Contains(r.Body, m) {
				t.Errorf("%s: the page does not say %q", c.what, m)
			}
		}
		if got := ids(focused, r.Body); len(got) != 1 || got[0] != c.fields[0] {
			t.Errorf("%s: focus on %v, want the first invalid field %s", c.what, got, c.fields[0])
		}
	}
	// Nothing was created or closed meanwhile.
	if keys := owner.Get(o + "/keys"); strings.Contains(keys.Body, "data-key-row") {
		t.Error("a key was created from an invalid form")
	}
	if p := owner.Get(o + "/privacy"); strings.Contains(p.Body, `data-testid="closed-note"`) {
		t.Error("the organization was closed from an invalid form")
	}
}
