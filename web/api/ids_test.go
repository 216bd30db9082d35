package api

import (
	"strings"
	"testing"
)

func TestValidID(t *testing.T) {
	for _, ok := range []string{"pt_1"[:2] + "1", "abc-123.X", strings.Repeat("a", 64), "A.b-C"} {
		if !ValidID(ok) {
			t.Errorf("ValidID(%q) = false, want true", ok)
		}
	}
	for _, bad := range []string{"", ".", "..", strings.Repeat("a", 65), "a/b", "a%2Fb", "a b", "pt_1", "é", "a\x00"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true, want false", bad)
		}
	}
}

func TestCleanPath(t *testing.T) {
	for raw, want := range map[string]bool{
		"/v1/patients/pt-1":          true,
		"/v1/fhir/Patient/abc/":      true,
		"/v1/patients/../keys":       false,
		"/v1/patients/%2e%2e/keys":   false,
		"/v1/patients/a%2Fb":         false,
		"/v1/patients/a%5cb":         false,
		"/v1//patients":              false,
		"/v1/patients/.":             false,
		"/v1/patients/%2E%2e":        false,
		"/v1/fhir/Patient/x%00.json": false,
	} {
		if got := cleanPath(raw); got != want {
			t.Errorf("cleanPath(%q) = %t, want %t", raw, got, want)
		}
	}
}

func FuzzValidID(f *testing.F) {
	for _, s := range []string{"abc", "..", "a/b", strings.Repeat("z", 64), "%2e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !ValidID(s) {
			return
		}
		if len(s) < 1 || len(s) > 64 || strings.ContainsAny(s, "/\\%?#") || s == ".." || s == "." {
			t.Fatalf("ValidID accepted %q", s)
		}
	})
}

func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"/v1/patients/1", "/v1/../x", "/v1/a%2fb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if cleanPath(raw) {
			for _, seg := range strings.Split(raw, "/") {
				if seg == ".." || seg == "." {
					t.Fatalf("cleanPath accepted dot segment in %q", raw)
				}
			}
			if strings.Contains(strings.ToLower(raw), "%2f") {
				t.Fatalf("cleanPath accepted an encoded slash in %q", raw)
			}
		}
	})
}
