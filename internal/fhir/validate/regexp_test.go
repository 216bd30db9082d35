package validate

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/clinikapi/clinikapi/internal/fhir/definitions"
)

func TestTranslateECMA(t *testing.T) {
	tests := []struct{ in, want string }{
		{`^[A-Za-z0-9\-\.]{1,64}$`, `^[A-Za-z0-9\-\.]{1,64}$`},
		{`^\S*$`, `^[` + nonSpaceClass + `]*$`},
		{`^[ \r\n\t\S]+$`, `^[ \r\n\t` + nonSpaceClass + `]+$`},
		{`^[^\s]+(\s[^\s]+)*$`, `^[^` + spaceClass + `]+([` + spaceClass + `][^` + spaceClass + `]+)*$`},
		{`a.b`, `a` + dotClass + `b`},
		{`\u00e9\u00E9`, `\x{e9}\x{e9}`},
		{`\x41\cJ\0`, `\x41\x{a}\x00`},
		{`[^]`, `[\x00-\x{10FFFF}]`},
		{`a[]b`, `a[^\x00-\x{10FFFF}]b`},
		{`[\b]`, `[\x08]`},
		{`\a\/`, `a\/`},
		{`[[:alpha:]]`, `[\[:alpha:]]`},
		{`(?<year>\d{4})`, `(?P<year>\d{4})`},
		{`(?:ab)+?`, `(?:ab)+?`},
		{`\uZZ`, `uZZ`},
	}
	for _, tt := range tests {
		got, err := translateECMA(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("translateECMA(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestTranslateECMAUnsupported(t *testing.T) {
	for _, p := range []string{`a(?=b)`, `a(?!b)`, `(?<=a)b`, `(?<!a)b`, `(a)\1`, `(?<n>a)\k<n>`, `\01`} {
		if _, err := translateECMA(p); !errors.Is(err, errUnsupported) {
			t.Errorf("translateECMA(%q): got error %v, want errUnsupported", p, err)
		}
	}
	for _, p := range []string{`[a`, `a\`} {
		if _, err := compileECMA(p); err == nil {
			t.Errorf("compileECMA(%q): got nil error", p)
		}
	}
}

// TestECMASemantics checks matches where RE2 as written and ECMAScript
// disagree, and the documented choice for whitespace.
func TestECMASemantics(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{`^a.b$`, "a\rb", false}, // RE2's . matches \r
		{`^a.b$`, "a\u2028b", false},
		{`^a.b$`, "axb", true},
		{`^[^]$`, "\n", true},
		{`^\u00e9$`, "é", true},
		{`^\cJ$`, "\n", true},
		{`^\a$`, "a", true}, // RE2: \a is BEL
		{`^[\b]$`, "\b", true},
		{`^\S+$`, "\v", false}, // RE2's \S matches \v
		{`^\S+$`, "\f", false},
		{`^\s$`, "\v", true},
		{`^\S+$`, "\u00a0", true}, // deliberately not ECMAScript (see regexp.go)
		{`^\S+$`, "\u3000", true},
		{`^[ \r\n\t\S]+$`, "van\u00a0Dijk", true},
		{`^[ \r\n\t\S]+$`, "a\vb", false},
		{`^[ \r\n\t\S]+$`, "line\r\nbreak\ttab", true},
		{`^[ \r\n\t\S]+$`, "", false},
		{`$`, "x\n", true},
		{`^x$`, "x\n", false}, // $ is the end of input without the m flag, in both
	}
	for _, tt := range tests {
		re, err := compileECMA(tt.pattern)
		if err != nil {
			t.Errorf("compileECMA(%q): %v", tt.pattern, err)
			continue
		}
		if got := re.MatchString(tt.s); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
		if re.String() != tt.pattern {
			t.Errorf("String() = %q, want the source %q", re.String(), tt.pattern)
		}
	}
}

// TestSchemaPatterns compiles every pattern of the embedded schema with the
// engine and checks FHIR primitives' patterns on values the spec allows and
// forbids.
func TestSchemaPatterns(t *testing.T) {
	patterns := regexp.MustCompile(`"pattern": ?"((?:[^"\\]|\\.)*)"`).FindAllStringSubmatch(string(definitions.Schema), -1)
	if len(patterns) < 100 {
		t.Fatalf("found only %d patterns in the schema", len(patterns))
	}
	seen := map[string]bool{}
	for _, m := range patterns {
		p := strings.NewReplacer(`\\`, `\`, `\"`, `"`).Replace(m[1])
		if seen[p] {
			continue
		}
		seen[p] = true
		if _, err := compileECMA(p); err != nil {
			t.Errorf("schema pattern %q: %v", p, err)
		}
	}
	t.Logf("%d patterns, %d distinct, all compile", len(patterns), len(seen))

	v := validator(t)
	prim := func(name string) string {
		for p, n := range v.prims {
			if n == name {
				return p
			}
		}
		t.Fatalf("no pattern for %s", name)
		return ""
	}
	tests := []struct {
		prim  string
		value string
		want  bool
	}{
		{"id", "a-B.9", true}, {"id", strings.Repeat("x", 64), true}, {"id", strings.Repeat("x", 65), false},
		{"id", "a_b", false}, {"id", "", false}, {"id", "é", false},
		{"date", "2024", true}, {"date", "2024-05", true}, {"date", "2024-05-14", true},
		{"date", "0000", false}, {"date", "2024-5-14", false}, {"date", "2024-05-14Z", false},
		{"dateTime", "2024-05-14T09:21:37.123+14:00", true}, {"dateTime", "2024-05-14T09:21:37Z", true},
		{"dateTime", "2024-05-14T09:21Z", false}, {"dateTime", "2024-05-14T24:00:00Z", false},
		{"instant", "2024-05-14T09:21:37Z", true}, {"instant", "2024-05-14", false},
		{"time", "23:59:60", true}, {"time", "24:00:00", false},
		{"code", "entered-in-error", true}, {"code", "a b", true}, {"code", "a  b", false}, {"code", " a", false},
		{"code", "a\u00a0b", true}, {"code", "a\v", false},
		{"uri", "urn:uuid:0b9c3f7e-1111-4c1d-9f0e-2b6d8a5c3e17", true}, {"uri", "http://a b", false}, {"uri", "", true},
		{"string", "Anything at all, even\ttabs", true}, {"string", "", false}, {"string", "\f", false},
		{"oid", "urn:oid:2.16.840.1", true}, {"oid", "urn:oid:3.1", false},
		{"uuid", "urn:uuid:0b9c3f7e-1111-4c1d-9f0e-2b6d8a5c3e17", true}, {"uuid", "urn:uuid:0B9C3F7E-1111-4C1D-9F0E-2B6D8A5C3E17", false},
		{"base64Binary", "aGVsbG8=", true}, {"base64Binary", "not base64!", false},
	}
	for _, tt := range tests {
		re, err := compileECMA(prim(tt.prim))
		if err != nil {
			t.Fatal(err)
		}
		if got := re.MatchString(tt.value); got != tt.want {
			t.Errorf("%s %q: match = %v, want %v", tt.prim, tt.value, got, tt.want)
		}
	}
}

func FuzzTranslateECMA(f *testing.F) {
	for _, p := range []string{`^[A-Za-z0-9\-\.]{1,64}$`, `^[ \r\n\t\S]+$`, `[^]`, `\u00e9.`, `(?<n>a)`, `\c`, `[\b-\s]`, `\`} {
		f.Add(p, "sample text")
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		re, err := compileECMA(pattern)
		if err != nil {
			return
		}
		re.MatchString(s)
	})
}
