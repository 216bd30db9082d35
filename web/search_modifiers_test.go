package web_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

// TestUnsupportedReferenceSearchesAre400: on both route families, an
// unknown or unsupported modifier of a reference parameter, a chained
// parameter (with or without a type) and _has answer 400 naming the
// parameter (an OperationOutcome on the FHIR routes, the error envelope on
// the simplified ones) instead of being ignored or failing; the supported
// forms keep answering 200, and HEAD answers as GET does.
func TestUnsupportedReferenceSearchesAre400(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		a, _ := twoTenants(t, env)
		pt := fhirCall(t, env, "POST", "/v1/fhir/Patient", a.test, patientJSON)
		if pt.Status != 201 {
			t.Fatalf("create: %d %s", pt.Status, pt.Raw)
		}
		pid := pt.Body["id"].(string)
		// Each query, and what the answer names.
		bad := map[string][][]string{
			"/v1/fhir/Observation": {
				{"subject:not=Patient/" + pid, ":not", "subject"},
				{"patient:exact=Patient/" + pid, ":exact", "patient"},
				{"subject:contains=Patient", ":contains", "subject"},
				{"subject:nope=Patient/" + pid, ":nope", "subject"},
				{"subject.name=ada", "subject.name"},
				{"subject:Patient.name=ada", "subject:Patient.name"},
				{"patient.identifier=MRN-1", "patient.identifier"},
				{"_has:Observation:patient:code=1234-5", "_has"},
			},
			"/v1/fhir/Patient": {
				{"general-practitioner:not=Practitioner/pr-1", ":not", "general-practitioner"},
				{"organization:exact=Organization/or-1", ":exact", "organization"},
				{"organization.name=Acme", "organization.name"},
				{"general-practitioner:Practitioner.name=Who", "general-practitioner:Practitioner.name"},
				{"_has:Observation:patient:code=1234-5", "_has"},
			},
			"/v1/patients": {
				{"organization.name=Acme", "organization.name"},
				{"generalPractitionerId:not=pr-1", "generalPractitionerId:not"},
				{"_has:Observation:subject:code=x", "_has"},
			},
			// The simplified routes take their own parameters (patientId).
			"/v1/observations": {
				{"patientId:not=" + pid, "patientId:not"},
				{"patientId:exact=" + pid, "patientId:exact"},
				{"subject:not=Patient/" + pid, "subject:not"},
				{"patientId.name=ada", "patientId.name"},
				{"subject:Patient.name=ada", "subject:Patient.name"},
				{"_has:Observation:patient:code=1234-5", "_has"},
			},
		}
		for family, cases := range bad {
			for _, tc := range cases {
				path := family + "?" + tc[0]
				r := fhirCall(t, env, "GET", path, a.test, "")
				named := r.Status == 400
				for _, want := range tc[1:] {
					named = named && strings.Contains(r.Raw, want)
				}
				if !named {
					t.Errorf("GET %s: %d %.300s; want 400 naming %q", path, r.Status, r.Raw, tc[1:])
					continue
				}
				if strings.HasPrefix(family, "/v1/fhir/") {
					if r.Body["resourceType"] != "OperationOutcome" || outcomeCode(r) != "INVALID_SEARCH" {
						t.Errorf("GET %s: not an INVALID_SEARCH OperationOutcome: %.300s", path, r.Raw)
					}
				} else if r.Body["code"] != "INVALID_SEARCH" || r.Body["message"] == "" {
					t.Errorf("GET %s: not an INVALID_SEARCH error: %.300s", path, r.Raw)
				}
				if h := fhirCall(t, env, "HEAD", path, a.test, ""); h.Status != 400 || h.Raw != "" {
					t.Errorf("HEAD %s: %d %q", path, h.Status, h.Raw)
				}
			}
		}
		// What is supported answers.
		for _, path := range []string{
			"/v1/fhir/Observation?subject=Patient/" + pid,
			"/v1/fhir/Observation?subject:Patient=" + pid,
			"/v1/fhir/Observation?subject:missing=true",
			"/v1/fhir/Observation?patient=" + url.QueryEscape("Patient/"+pid),
			"/v1/observations?patientId=" + pid,
		} {
			g := fhirCall(t, env, "GET", path, a.test, "")
			h := fhirCall(t, env, "HEAD", path, a.test, "")
			if g.Status != 200 || h.Status != 200 || h.Raw != "" {
				t.Errorf("%s: GET %d %.200s, HEAD %d", path, g.Status, g.Raw, h.Status)
			}
		}
		// Creates on both families answer with a Location that answers,
		// to GET and HEAD.
		created := map[string]apiResult{
			"fhir":       fhirCall(t, env, "POST", "/v1/fhir/Patient", a.test, patientJSON),
			"simplified": apiCall(t, env, "POST", "/v1/patients", a.test, strings.NewReader(`{"firstName":"Loc","lastName":"Ation"}`), "Content-Type", "application/json"),
		}
		for family, r := range created {
			loc := r.Header.Get("Location")
			if r.Status != 201 || !strings.Contains(loc, "/v1/") {
				t.Fatalf("%s create: %d Location %q %s", family, r.Status, loc, r.Raw)
			}
			path := loc[strings.Index(loc, "/v1/"):]
			for _, m := range []string{"GET", "HEAD"} {
				if g := fhirCall(t, env, m, path, a.test, ""); g.Status != 200 {
					t.Errorf("%s create: %s %s: %d %.200s", family, m, path, g.Status, g.Raw)
				}
			}
		}
	})
}
