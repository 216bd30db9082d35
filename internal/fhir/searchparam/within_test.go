package searchparam

import (
	"fmt"
	"slices"
	"testing"

	"github.com/clinikapi/clinikapi/internal/fhir"
)

// TestWithin: the parameters within others, as the expressions say.
func TestWithin(t *testing.T) {
	r := Default()
	for _, c := range []struct {
		typ, code string
		want      []string
	}{
		{"Patient", "name", []string{"family", "given"}},
		{"Patient", "phonetic", []string{"family", "given", "name"}}, // the same expression as name
		{"Patient", "address", []string{"address-city", "address-country", "address-postalcode", "address-state"}},
		{"Patient", "telecom", []string{"email", "phone"}},
		{"Patient", "family", nil},
		{"Patient", "address-use", nil}, // a token under a string parameter's element
		{"Patient", "general-practitioner", nil},
		{"Practitioner", "name", []string{"family", "given"}},
		{"Organization", "name", []string{"phonetic"}}, // name | alias
		{"Organization", "phonetic", nil},
		{"Observation", "combo-code", []string{"code", "component-code"}},
		{"Observation", "code", nil},
		{"Observation", "subject", nil}, // references are not compacted
		{"CapabilityStatement", "version", []string{"fhirversion"}},
	} {
		sp, ok := r.Lookup(c.typ, c.code)
		if !ok {
			t.Fatalf("%s.%s unknown", c.typ, c.code)
		}
		if !slices.Equal(sp.Within, c.want) {
			t.Errorf("%s.%s within %v, want %v", c.typ, c.code, sp.Within, c.want)
		}
	}
}

func TestBalanced(t *testing.T) {
	for s, want := range map[string]bool{
		"system='email'":               true,
		"use='home' and (a or b)":      true,
		"system=')'":                   true,
		`system='it\'s)'`:              true,
		"b).c.where(d":                 false,
		"system='email":                false,
		"(a":                           false,
		"resolve() is Patient":         true,
		"x) | Patient.telecom.where(y": false,
	} {
		if got := balanced(s); got != want {
			t.Errorf("balanced(%q) = %v", s, got)
		}
	}
}

// withinCorpus has resources whose values overlap in every way Within
// relies on: names, addresses and contact points with several parts,
// repeats across parameters, an Organization alias equal to its name,
// Observation components sharing the resource's code.
var withinCorpus = []string{
	patientJSON,
	observationJSON,
	`{"resourceType":"Patient","name":[{"family":"Cohen","given":["Richard","Cohen"],"prefix":["Dr"],"suffix":["Jr"],"text":"Dr Richard Cohen Jr"},{"given":["Rick"]}],
	  "telecom":[{"system":"phone","value":"+1 555 0101"},{"system":"email","value":"rc@example.org"},{"system":"fax","value":"+1 555 0102"},{"value":"rc@example.org"}],
	  "address":[{"line":["22 Main St"],"city":"Springfield","district":"Sangamon","state":"IL","postalCode":"62701","country":"US","text":"22 Main St, Springfield"},{"city":"Springfield"}]}`,
	`{"resourceType":"Practitioner","name":[{"family":"Levi","given":["Ana"]}],"telecom":[{"system":"email","value":"ana@example.org"},{"system":"pager","value":"42"}],"address":[{"city":"Haifa","country":"IL"}]}`,
	`{"resourceType":"Organization","name":"Acme","alias":["Acme","Acme Health"],"address":[{"city":"Boston","state":"MA"}],"telecom":[{"system":"phone","value":"1"}]}`,
	`{"resourceType":"Person","name":[{"family":"Roe","given":["Jo"],"text":"Jo Roe"}],"telecom":[{"system":"email","value":"jo@example.org"}],"address":[{"postalCode":"10001"}]}`,
	`{"resourceType":"RelatedPerson","patient":{"reference":"Patient/p1"},"name":[{"family":"Doe"}],"telecom":[{"system":"sms","value":"5"}],"address":[{"country":"FR","line":["1 rue X"]}]}`,
	`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},
	  "component":[{"code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"valueCodeableConcept":{"coding":[{"system":"s","code":"a"}]}},
	               {"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"dataAbsentReason":{"coding":[{"system":"r","code":"x"}]}}],
	  "valueCodeableConcept":{"coding":[{"system":"s","code":"a"}]},"dataAbsentReason":{"coding":[{"system":"r","code":"y"}]}}`,
	`{"resourceType":"Location","name":"Ward","address":{"line":["5 Elm"],"city":"Salem","state":"OR"}}`,
	`{"resourceType":"InsurancePlan","contact":[{"address":{"city":"Austin","state":"TX","country":"US"}}]}`,
}

func valueKey(v fhir.Value) string {
	if v.Type == fhir.String {
		return v.Text + "\x00" + v.Exact
	}
	return v.System + "\x00" + v.Code
}

func valueSets(vals []fhir.Value) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, v := range vals {
		if out[v.Param] == nil {
			out[v.Param] = map[string]bool{}
		}
		out[v.Param][valueKey(v)] = true
	}
	return out
}

// TestWithinHoldsForValues checks, on real extractions, what the index
// relies on: the values of a parameter within P are among P's, and after
// Compact the rows kept for P and the parameters within it give exactly
// P's values.
func TestWithinHoldsForValues(t *testing.T) {
	r := Default()
	for i, src := range withinCorpus {
		res := decode(t, src)
		typ := res["resourceType"].(string)
		vals, err := r.Extract(res)
		if err != nil {
			t.Fatal(err)
		}
		full := valueSets(vals)
		kept := valueSets(r.Compact(typ, append([]fhir.Value(nil), vals...)))
		checked := 0
		for code, sp := range r.For(typ) {
			if len(sp.Within) == 0 {
				continue
			}
			union := map[string]bool{}
			for k := range kept[code] {
				union[k] = true
			}
			for _, q := range sp.Within {
				for k := range full[q] {
					if !full[code][k] {
						t.Errorf("resource %d: %s.%s has %q, which %s has not", i, typ, q, k, code)
					}
				}
				for k := range kept[q] {
					union[k] = true
				}
			}
			if fmt.Sprint(sortedKeys(union)) != fmt.Sprint(sortedKeys(full[code])) {
				t.Errorf("resource %d: %s.%s reads %v after Compact, has %v", i, typ, code, sortedKeys(union), sortedKeys(full[code]))
			}
			checked += len(full[code])
		}
		if typ == "Patient" && checked == 0 {
			t.Fatalf("resource %d: nothing checked", i)
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestCompactPatient: what a typical Patient keeps.
func TestCompactPatient(t *testing.T) {
	r := Default()
	res := decode(t, `{"resourceType":"Patient","name":[{"family":"Cohen","given":["Richard"],"use":"official"}],
		"telecom":[{"system":"phone","value":"+1-555-6416"},{"system":"email","value":"p@example.org"}],"gender":"other",
		"address":[{"line":["22 Main St"],"city":"Springfield","state":"IL","postalCode":"62282","country":"US"}]}`)
	vals, err := r.Extract(res)
	if err != nil {
		t.Fatal(err)
	}
	kept := r.Compact("Patient", vals)
	count := map[string]int{}
	for _, v := range kept {
		count[v.Param]++
	}
	for param, want := range map[string]int{"name": 0, "phonetic": 0, "telecom": 0, "family": 1, "given": 1, "email": 1, "phone": 1, "address": 1, "address-city": 1} {
		if count[param] != want {
			t.Errorf("%s keeps %d rows, want %d (kept %v)", param, count[param], want, count)
		}
	}
}
