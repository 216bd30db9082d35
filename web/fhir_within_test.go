package web_test

import (
	"strings"
	"testing"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

// TestFHIRSearchParametersWithinOthers: name, phonetic, address, telecom
// and Observation combo-code keep only the values their narrower
// parameters (family, given, address-city, email, code, …) do not, and a
// search on them reads both: every modifier, :missing, :not and _sort
// answer as if each value were stored under each parameter.
func TestFHIRSearchParametersWithinOthers(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a, b := twoTenants(t, env)
		create := func(key, typ, body string) string {
			t.Helper()
			r := fhirCall(t, env, "POST", "/v1/fhir/"+typ, key, body)
			if r.Status != 201 {
				t.Fatalf("create: %d %s", r.Status, r.Raw)
			}
			return r.Body["id"].(string)
		}
		cohen := create(a.test, "Patient", `{"resourceType":"Patient","name":[{"family":"Cohen","given":["Richard"],"prefix":["Dr"],"text":"Dr Richard Cohen"}],
			"telecom":[{"system":"email","value":"rc@example.org"},{"system":"phone","value":"+1 555 0101"},{"system":"fax","value":"+1 555 0199"}],
			"address":[{"line":["22 Main St"],"city":"Springfield","state":"IL","postalCode":"62701","country":"US"}]}`)
		zed := create(a.test, "Patient", `{"resourceType":"Patient","name":[{"family":"Zed","given":["Abel"]}],"telecom":[{"system":"phone","value":"+1 555 0202"}]}`)
		nameless := create(a.test, "Patient", `{"resourceType":"Patient","gender":"unknown"}`)
		obs := create(a.test, "Observation", `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},
			"component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]}}]}`)
		// The other tenant has the same values: never found through a.
		create(b.test, "Patient", `{"resourceType":"Patient","name":[{"family":"Cohen","given":["Richard"]}],"telecom":[{"system":"email","value":"rc@example.org"}]}`)

		ids := func(path string) []string {
			t.Helper()
			r := fhirCall(t, env, "GET", path, a.test, "")
			if r.Status != 200 {
				t.Fatalf("%s: %d %s", path, r.Status, r.Raw)
			}
			var out []string
			for _, e := range entries(r.Body) {
				out = append(out, e.(map[string]any)["resource"].(map[string]any)["id"].(string))
			}
			return out
		}
		for q, want := range map[string][]string{
			"name=cohen":               {cohen},
			"name=richard":             {cohen},
			"name=dr":                  {cohen},
			"name=dr richard":          {cohen}, // the text
			"name:exact=Cohen":         {cohen},
			"name:exact=cohen":         nil,
			"name:contains=ichar":      {cohen},
			"phonetic=abel":            {zed},
			"family=richard":           nil, // the narrower parameter stays narrow
			"name:missing=true":        {nameless},
			"phonetic:missing=true":    {nameless},
			"address=springfield":      {cohen},
			"address=22 main":          {cohen},
			"address=62701":            {cohen},
			"address-city=springfield": {cohen},
			"address:missing=false":    {cohen},
			"telecom=rc@example.org":   {cohen},
			"telecom=+1 555 0199":      {cohen}, // fax: only under telecom
			"email=+1 555 0101":        nil,
			"phone=+1 555 0202":        {zed},
			"telecom:not=+1 555 0202":  {cohen, nameless},
			"telecom:missing=true":     {nameless},
			"_sort=name":               {zed, cohen, nameless}, // abel < cohen; no name last
			"_sort=-name":              {zed, cohen, nameless}, // zed > richard
			"_sort=phonetic&name=e":    nil,                    // "e" starts no value
			"_sort=family&_count=2":    {cohen, zed},
		} {
			got := ids("/v1/fhir/Patient?" + escapeQuery(q))
			if len(got) != len(want) {
				t.Errorf("%s: %v, want %v", q, got, want)
				continue
			}
			for i := range want {
				if q[:5] == "_sort" && got[i] != want[i] || q[:5] != "_sort" && !contains(got, want[i]) {
					t.Errorf("%s: %v, want %v", q, got, want)
					break
				}
			}
		}
		for q, want := range map[string][]string{
			"combo-code=http://loinc.org|85354-9": {obs},
			"combo-code=8480-6":                   {obs}, // a component's code
			"code=8480-6":                         nil,
			"component-code=85354-9":              nil,
		} {
			if got := ids("/v1/fhir/Observation?" + escapeQuery(q)); len(got) != len(want) {
				t.Errorf("%s: %v, want %v", q, got, want)
			}
		}
	})
}

// escapeQuery escapes the values of a readable query string.
func escapeQuery(q string) string {
	return strings.NewReplacer("+", "%2B", " ", "%20", "|", "%7C").Replace(q)
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
