package apikey_test

import (
	"strings"
	"testing"

	"github.com/clinikapi/clinikapi/internal/apikey"
)

// FuzzParse: Parse never panics, returns only nil, ErrMissing or ErrFormat,
// (fixed values, so they cannot echo the input), and accepts exactly the documented shape
// clk_(test|live)_ followed by 32 base62 characters.
func FuzzParse(f *testing.F) {
	test, _, _, _ := apikey.Generate(apikey.Test)
	live, _, _, _ := apikey.Generate(apikey.Live)
	for _, s := range []string{
		"", test, live, "clk_test_", "clk_live_", "clk_prod_" + test[9:], test[:40], test + "x",
		"clk_test_" + strings.Repeat("é", 16), "clk_test_" + strings.Repeat("\x00", 32), strings.Repeat("A", 200),
		"Bearer " + test, " " + test, test + "\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		env, err := apikey.Parse(raw)
		switch err {
		case nil:
			if !keyShape[apikey.Test].MatchString(raw) && !keyShape[apikey.Live].MatchString(raw) {
				t.Fatalf("Parse accepted %q, which is not clk_(test|live)_ and 32 base62 characters", raw)
			}
			if want := apikey.Env(raw[len("clk_") : len("clk_")+4]); env != want {
				t.Fatalf("Parse(%q) env = %q, want %q", raw, env, want)
			}
		case apikey.ErrMissing:
			if raw != "" {
				t.Fatalf("Parse(%q) = ErrMissing for a non-empty key", raw)
			}
		case apikey.ErrFormat:
			if raw == "" || keyShape[apikey.Test].MatchString(raw) || keyShape[apikey.Live].MatchString(raw) {
				t.Fatalf("Parse(%q) = ErrFormat for a key of the documented shape (or an empty one)", raw)
			}
		default:
			t.Fatalf("Parse(%q) = %v, want nil, ErrMissing or ErrFormat", raw, err)
		}
	})
}
