package datastore_test

import (
	"errors"
	"net/url"
	"testing"

	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/fhir"
	"github.com/clinikapi/clinikapi/internal/fhir/searchparam"
)

type regIndex struct{ r *searchparam.Registry }

func (x regIndex) Extract(res fhir.Resource) ([]fhir.Value, error) { return x.r.Extract(res) }
func (x regIndex) Compact(t string, v []fhir.Value) []fhir.Value   { return x.r.Compact(t, v) }
func (x regIndex) Lookup(t, c string) (fhir.SearchParam, bool)     { return x.r.Lookup(t, c) }
func (x regIndex) Types() []string                                 { return x.r.Types() }

// FuzzParseQuery: any query string parses or fails with an Invalid error
// naming the problem — no panic, no other kind of error.
func FuzzParseQuery(f *testing.F) {
	ix := regIndex{searchparam.Default()}
	for _, s := range []string{
		"family=smith&_count=5", "birthdate=ge2020-01-01&_sort=-birthdate", "identifier=urn:x|1,urn:y|2",
		"name:contains=ab&gender:not=male", "_include=Patient:general-practitioner&_revinclude=Encounter:subject",
		"value-quantity=gt5.4|http://unitsofmeasure.org|mg", "_lastUpdated=lt2030&_total=accurate", "subject:Patient=123",
		"x=1", "_count=-1", "birthdate=2020-13-45", "name:missing=maybe", "family=a\\,b", "%zz",
	} {
		f.Add("Patient", s)
		f.Add("Observation", s)
	}
	f.Fuzz(func(t *testing.T, typ, raw string) {
		params, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := datastore.ParseQuery(ix, searchparam.Normalize, typ, params)
		if err != nil {
			var e *errs.Error
			if !errors.As(err, &e) || e.Code != errs.Invalid {
				t.Fatalf("ParseQuery(%q): %v is not an Invalid error", raw, err)
			}
			return
		}
		if q.Limit < 0 || q.Limit > datastore.MaxCount {
			t.Fatalf("limit %d out of range", q.Limit)
		}
	})
}
