package searchparam

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/clinikapi/clinikapi/internal/fhir"
)

// checkInvariants asserts what every extracted value must satisfy.
func checkInvariants(t *testing.T, r *Registry, typ string, vals []fhir.Value) {
	t.Helper()
	for _, v := range vals {
		sp, ok := r.Lookup(typ, v.Param)
		if !ok || sp.Type != v.Type {
			t.Fatalf("%s: value for %q of type %s (parameter %+v)", typ, v.Param, v.Type, sp)
		}
		switch v.Type {
		case fhir.Date:
			if !v.Start.Before(v.End) || v.Start.Before(OpenStart) || v.End.After(OpenEnd) {
				t.Fatalf("%s.%s: bad range [%v, %v)", typ, v.Param, v.Start, v.End)
			}
		case fhir.Number, fhir.Quantity:
			if math.IsNaN(v.Number) || math.IsInf(v.Number, 0) {
				t.Fatalf("%s.%s: number %v", typ, v.Param, v.Number)
			}
		case fhir.Token:
			if v.Code == "" {
				t.Fatalf("%s.%s: token without code", typ, v.Param)
			}
		case fhir.Reference:
			if v.RefID == "" && v.URL == "" && v.Code == "" {
				t.Fatalf("%s.%s: empty reference", typ, v.Param)
			}
		}
	}
}

func FuzzExtract(f *testing.F) {
	for _, s := range []string{
		patientJSON, observationJSON, evalPatient,
		`{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Composition", "id": "c"}}]}`,
		`{"resourceType": "Encounter", "period": {"start": "2024", "end": "2023"}, "subject": {"reference": "Patient/1"}}`,
		`{"resourceType": "Invoice", "totalGross": {"value": 1e308, "currency": "EUR"}}`,
		`{"resourceType": "Observation", "valueQuantity": {"value": "12"}, "effectiveTiming": {"event": [null, 5, "2020"]}}`,
		`[1, 2, {"a": null}]`, `"x"`, `null`,
	} {
		f.Add(uint8(255), []byte(s))
		f.Add(uint8(0), []byte(s))
	}
	r := Default()
	types := r.Types()
	elements := []string{"name", "code", "subject", "value", "valueQuantity", "identifier", "telecom", "address",
		"meta", "extension", "period", "effectiveDateTime", "status", "entry", "participant", "component"}
	f.Fuzz(func(t *testing.T, typ uint8, data []byte) {
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return
		}
		res, ok := v.(map[string]any)
		if !ok {
			res = map[string]any{}
			for _, e := range elements {
				res[e] = v
			}
		}
		if typ != 255 || res["resourceType"] == nil {
			res["resourceType"] = types[int(typ)%len(types)]
		}
		vals, err := r.Extract(res)
		if err != nil {
			if rt, _ := res["resourceType"].(string); r.byType[rt] != nil {
				t.Fatalf("Extract: %v", err)
			}
			return
		}
		checkInvariants(t, r, res["resourceType"].(string), vals)
	})
}

// TestExtractRandomShapes builds random resources of every type from the
// model: real element names with values that are sometimes of the right
// shape and sometimes not (wrong JSON types, nulls, empty and nested
// arrays, odd dates and references), and checks that Extract neither
// panics nor breaks the value invariants.
func TestExtractRandomShapes(t *testing.T) {
	r := Default()
	rng := rand.New(rand.NewPCG(1, 2))
	iterations := 40
	if testing.Short() {
		iterations = 5
	}
	strs := []string{"", " ", "x", "2020", "2020-02-30", "2021-03-04T10:00:00Z", "2021-03-04T10:00:00.1+14:00", "9999-12-31",
		"Patient/1", "http://a/fhir/Observation/2", "urn:uuid:1", "#c", "Straße Ünïcode", "phone", "email", "true", "-1e400"}
	var gen func(typ string, depth int) any
	gen = func(typ string, depth int) any {
		switch rng.IntN(12) {
		case 0:
			return nil
		case 1:
			return rng.NormFloat64() * 1e6
		case 2:
			return rng.IntN(2) == 0
		case 3:
			return strs[rng.IntN(len(strs))]
		case 4:
			return []any{}
		case 5:
			if depth > 0 {
				return []any{gen(typ, depth-1), []any{gen(typ, depth-1)}, nil}
			}
		}
		ti := r.m.types[typ]
		if ti == nil || depth <= 0 {
			if rng.IntN(3) == 0 {
				return json.Number("12.5")
			}
			return strs[rng.IntN(len(strs))]
		}
		keys := make([]string, 0, len(ti.props))
		for k := range ti.props {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		obj := map[string]any{}
		for range 1 + rng.IntN(8) {
			k := keys[rng.IntN(len(keys))]
			v := gen(ti.props[k], depth-1)
			if rng.IntN(3) == 0 {
				v = []any{v, gen(ti.props[k], depth-1)}
			}
			obj[k] = v
		}
		return obj
	}
	for _, typ := range r.Types() {
		for range iterations {
			res, ok := gen(typ, 5).(map[string]any)
			if !ok {
				res = map[string]any{}
			}
			res["resourceType"] = typ
			vals, err := r.Extract(res)
			if err != nil {
				t.Fatalf("%s: %v", typ, err)
			}
			checkInvariants(t, r, typ, vals)
		}
	}
}

func TestExtractConcurrent(t *testing.T) {
	r := Default()
	want := extract(t, patientJSON)
	res := decode(t, patientJSON) // shared: Extract only reads it
	done := make(chan []fhir.Value)
	for range 8 {
		go func() {
			var last []fhir.Value
			for range 50 {
				last, _ = r.Extract(res)
			}
			done <- last
		}()
	}
	for range 8 {
		if got := <-done; !equalValues(got, want) {
			t.Error("concurrent Extract differs")
		}
	}
}

func benchmarkExtract(b *testing.B, src string) {
	r := Default()
	var res fhir.Resource
	if err := json.Unmarshal([]byte(src), &res); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		vals, err := r.Extract(res)
		if err != nil {
			b.Fatal(err)
		}
		n = len(vals)
	}
	b.ReportMetric(float64(n), "values/op")
}

func BenchmarkExtractPatient(b *testing.B)     { benchmarkExtract(b, patientJSON) }
func BenchmarkExtractObservation(b *testing.B) { benchmarkExtract(b, observationJSON) }
