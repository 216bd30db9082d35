package account_test

import (
	"strings"
	"testing"

	"github.com/clinikapi/clinikapi/internal/account"
	"github.com/clinikapi/clinikapi/internal/errs"
)

func TestCheckPassword(t *testing.T) {
	for _, c := range []struct {
		pw     string
		inputs []string
		want   string // part of the message; "" when accepted
	}{
		{"short", nil, "at least 8 characters"},
		{"password", nil, "too easy to guess"},
		{"12345678", nil, "too easy to guess"},
		{"qwertyuiop", nil, "too easy to guess"},
		{"password1", nil, "too easy to guess"},
		{"ada@example.com", []string{"ada@example.com", "Ada Lovelace"}, "not your e-mail address"},
		{"ADA@EXAMPLE.COM", []string{"ada@example.com"}, "not your e-mail address"},
		{"adalovelace1815", []string{"ada@example.com", "adalovelace"}, "too easy to guess"},
		{"correct horse battery", []string{"ada@example.com"}, ""},
		{"quiet violet harbor lantern", nil, ""},
		{strings.Repeat("x", 129), nil, "at most 128"},
	} {
		err := account.CheckPassword(c.pw, c.inputs...)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q refused: %v", c.pw, err)
		case c.want != "" && err == nil:
			t.Errorf("%q accepted, want refused (%s)", c.pw, c.want)
		case c.want != "" && (!strings.Contains(errs.MessageOf(err), c.want) || errs.FieldOf(err) != "password"):
			t.Errorf("%q: %q on field %q, want %q on password", c.pw, errs.MessageOf(err), errs.FieldOf(err), c.want)
		}
	}
}
