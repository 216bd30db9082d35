package web_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/config"
)

// fuzzSlack is what a response may take past the datastore's time budget
// (decoding, validation, writes, a busy machine).
const fuzzSlack = time.Second

// FuzzAPI sends arbitrary requests through the whole /v1 API — raw FHIR
// and the simplified routes, their search parameters, bodies, content
// types, an extra header — with a valid test key, and checks that the
// server never answers 500 (a panic is one: it is recovered into a 500),
// never answers any other 5xx than 503 with a Retry-After, and never
// takes longer than the datastore's time budget and a little slack.
//
// go test runs the seed corpus (testdata/fuzz/FuzzAPI and the f.Add
// seeds below); CI fuzzes for 30 s; for a longer run:
//
//	go test -run '^$' -fuzz FuzzAPI -fuzztime 10m ./web/
func FuzzAPI(f *testing.F) {
	for _, s := range []struct {
		method, path, query, ctype, hname, hvalue string
		body                                      []byte
	}{
		{"GET", "fhir/Patient", "name=" + list("v", 500), "", "", "", nil},
		{"GET", "fhir/Immunization", "performer%3APatient.name=Patient%2F&_profile%3A=-_id%2C_id", "", "", "", nil},
		{"GET", "fhir/Patient", "_sort=" + strings.TrimSuffix(strings.Repeat("name,family,address-city,", 20), ","), "", "", "", nil},
		{"GET", "fhir/Observation", "_sort=-combo-code,-date&_total=accurate&subject:missing=false&_revinclude=Observation:subject", "", "", "", nil},
		{"GET", "fhir/Patient", "birthdate=ge2020-01-01&gender:not=male&_count=5&_include=Patient:general-practitioner", "", "", "", nil},
		{"GET", "fhir/Observation", "value-quantity=gt5.4|http://unitsofmeasure.org|mg&code=http://loinc.org|8867-4,x", "", "", "", nil},
		{"GET", "fhir/Patient", "_cursor=bad&_summary=count", "", "", "", nil},
		{"GET", "patients", "name=lov&count=500&cursor=zzz", "", "", "", nil},
		{"GET", "observations", "patientId=pt-1&status=final", "", "", "", nil},
		{"GET", "patients/pt-1", "_revinclude=Encounter:subject&_revinclude=Observation:patient", "", "", "", nil},
		{"POST", "fhir/Patient", "", "application/fhir+json", "", "", []byte(`{"resourceType":"Patient","name":[{"family":"Zebra"}]}`)},
		{"POST", "patients", "", "application/json", "", "", []byte(`{"firstName":"Ada","lastName":"Lovelace","gender":"female"}`)},
		{"POST", "fhir/Observation", "", "application/fhir+json", "", "", []byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1e308}}`)},
		{"PUT", "fhir/Patient/pt-x", "", "application/fhir+json", "If-Match", `W/"2"`, []byte(`{"resourceType":"Patient","id":"pt-x"}`)},
		{"PATCH", "fhir/Patient/pt-x", "", "application/json-patch+json", "", "", []byte(`[{"op":"replace","path":"/meta/tag","value":[]}]`)},
		{"PATCH", "patients/pt-x", "", "application/json-patch+json", "", "", []byte(`{"lastName":null}`)},
		{"DELETE", "fhir/Patient/..", "", "", "", "", nil},
		{"GET", "fhir/Patient/pt-1/_history", "", "", "x-api-key", "clk_test_zzz", nil},
		{"POST", "bulk/import", "", "application/json", "", "", []byte(`{"resourceType":"Patient","data":"{}\n{"}`)},
		{"GET", "fhir/metadata", "", "", "X-HTTP-Method-Override", "DELETE", nil},
	} {
		f.Add(s.method, s.path, s.query, s.ctype, s.hname, s.hvalue, s.body)
	}
	env := apptest.New(f, "sqlite", nil)
	orgID := env.Browser().SignUp("", "fuzz@example.com", pw, "Fuzz Org")
	if _, err := env.App.DB.SQL().Exec(`UPDATE organizations SET plan = 'enterprise' WHERE id = $1`, orgID); err != nil {
		f.Fatal(err)
	}
	key, err := env.App.Keys.Create(context.Background(), apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "fuzz", Env: apikey.Test})
	if err != nil {
		f.Fatal(err)
	}
	client := &http.Client{Timeout: 2 * (config.DefaultQueryTimeout + fuzzSlack), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(method, url, ctype string, body []byte, headers ...string) (*http.Response, []byte, time.Duration, error) {
		req, err := http.NewRequest(method, url, bytes.NewReader(body))
		if err != nil {
			return nil, nil, 0, err
		}
		req.Header.Set("x-api-key", key.Secret)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Add(headers[i], headers[i+1])
		}
		start := time.Now()
		res, err := client.Do(req)
		if err != nil {
			return nil, nil, 0, err
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res, b, time.Since(start), nil
	}
	// Something to find: a patient with an encounter and an observation.
	res, b, _, err := send("POST", env.Server.URL+"/v1/fhir/Patient", "application/fhir+json", []byte(patientJSON))
	if err != nil || res.StatusCode != 201 {
		f.Fatalf("seed patient: %v %s", err, b)
	}
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, method, path, query, ctype, hname, hvalue string, body []byte) {
		if n.Add(1)%2000 == 0 {
			env.Clock.Advance(time.Minute) // keep clear of the rate limit
		}
		url := env.Server.URL + "/v1/" + strings.TrimPrefix(path, "/")
		if query != "" {
			url += "?" + query
		}
		var headers []string
		if hname != "" {
			headers = []string{hname, hvalue}
		}
		res, b, took, err := send(method, url, ctype, body, headers...)
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			t.Fatalf("%s %s (%s, %s: %q, %d-byte body): no answer within %v", method, url, ctype, hname, hvalue, len(body), client.Timeout)
		}
		if err != nil {
			return // not a request net/http can send
		}
		if res.StatusCode >= 500 && (res.StatusCode != 503 || res.Header.Get("Retry-After") == "") {
			t.Fatalf("%s %s (%s, %s: %q, %d-byte body): %d %s", method, url, ctype, hname, hvalue, len(body), res.StatusCode, b)
		}
		if took > config.DefaultQueryTimeout+fuzzSlack {
			t.Fatalf("%s %s: answered after %v, past the %v budget", method, url, took, config.DefaultQueryTimeout)
		}
	})
}
