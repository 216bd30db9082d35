// Package seed fills a datastore with realistic synthetic clinical data —
// patients, each with an encounter and observations — for benchmarks, demos
// and load tests. Names and values come from a seeded generator, so a run is
// repeatable. It contains no real person's data.
package seed

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/fhir"
)

var (
	families = []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
		"Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez",
		"Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King",
		"Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell",
		"Mitchell", "Carter", "Roberts", "Okafor", "Kowalski", "Müller", "Dubois", "Rossi", "Tanaka", "Kim", "Patel", "Singh", "Cohen"}
	givens = []string{"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
		"William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Chidi", "Aiko", "Priya", "Mateo", "Zoë", "Ingrid"}
	vitals = []struct {
		code, display, unit string
		min, max            float64
	}{
		{"8867-4", "Heart rate", "/min", 50, 120},
		{"8310-5", "Body temperature", "Cel", 36, 39.5},
		{"29463-7", "Body weight", "kg", 3, 140},
		{"2339-0", "Glucose [Mass/volume] in Blood", "mg/dL", 60, 240},
	}
)

// Family returns the i-th family name of the generator's list (for search
// benchmarks that want names that exist).
func Family(i int) string { return families[i%len(families)] }

// Patient returns the n-th synthetic patient.
func Patient(r *rand.Rand, n int) fhir.Resource {
	fam := families[r.IntN(len(families))]
	return fhir.Resource{
		"resourceType": "Patient",
		"active":       true,
		"identifier":   []any{map[string]any{"system": "urn:clinikapi:seed:mrn", "value": fmt.Sprintf("MRN-%08d", n)}},
		"name":         []any{map[string]any{"use": "official", "family": fam, "given": []any{givens[r.IntN(len(givens))]}}},
		"gender":       []string{"male", "female", "other", "unknown"}[r.IntN(4)],
		"birthDate":    fmt.Sprintf("%04d-%02d-%02d", 1930+r.IntN(90), 1+r.IntN(12), 1+r.IntN(28)),
		"telecom": []any{
			map[string]any{"system": "phone", "value": fmt.Sprintf("+1-555-%04d", r.IntN(10000)), "use": "mobile"},
			map[string]any{"system": "email", "value": fmt.Sprintf("patient%d@example.org", n)},
		},
		"address": []any{map[string]any{"line": []any{fmt.Sprintf("%d Main St", 1+r.IntN(999))}, "city": "Springfield", "state": "IL", "postalCode": fmt.Sprintf("62%03d", r.IntN(1000)), "country": "US"}},
	}
}

func encounter(r *rand.Rand, pid string) fhir.Resource {
	day := fmt.Sprintf("2025-%02d-%02d", 1+r.IntN(12), 1+r.IntN(28))
	return fhir.Resource{
		"resourceType": "Encounter", "status": "finished",
		"class":   map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "ambulatory"},
		"subject": map[string]any{"reference": "Patient/" + pid},
		"period":  map[string]any{"start": day + "T09:00:00Z", "end": day + "T09:30:00Z"},
	}
}

func observation(r *rand.Rand, pid, eid string) fhir.Resource {
	v := vitals[r.IntN(len(vitals))]
	value := v.min + r.Float64()*(v.max-v.min)
	return fhir.Resource{
		"resourceType": "Observation", "status": "final",
		"category":          []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}}}},
		"code":              map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": v.code, "display": v.display}}},
		"subject":           map[string]any{"reference": "Patient/" + pid},
		"encounter":         map[string]any{"reference": "Encounter/" + eid},
		"effectiveDateTime": fmt.Sprintf("2025-%02d-%02dT10:%02d:00Z", 1+r.IntN(12), 1+r.IntN(28), r.IntN(60)),
		"valueQuantity":     map[string]any{"value": float64(int(value*10)) / 10, "unit": v.unit, "system": "http://unitsofmeasure.org", "code": v.unit},
	}
}

// Result counts what was written.
type Result struct {
	PatientIDs []string
	Resources  int64
}

// Run writes n patients, each with one encounter and two observations,
// into tenant of s, using workers concurrent writers.
func Run(ctx context.Context, s *datastore.Store, tenant datastore.Tenant, n, workers int, progress func(done int)) (Result, error) {
	ids := make([]string, n)
	var next, written atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range max(1, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w)+1, 42))
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				p, err := s.Create(ctx, tenant, Patient(r, i), nil)
				if err != nil {
					errc <- fmt.Errorf("seed patient %d: %w", i, err)
					return
				}
				ids[i] = p.ID
				e, err := s.Create(ctx, tenant, encounter(r, p.ID), nil)
				if err != nil {
					errc <- fmt.Errorf("seed encounter %d: %w", i, err)
					return
				}
				for range 2 {
					if _, err := s.Create(ctx, tenant, observation(r, p.ID, e.ID), nil); err != nil {
						errc <- fmt.Errorf("seed observation %d: %w", i, err)
						return
					}
				}
				written.Add(4)
				if progress != nil && (i+1)%1000 == 0 {
					progress(i + 1)
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return Result{}, err
	}
	if err := s.Analyze(ctx); err != nil {
		return Result{}, fmt.Errorf("seed: refresh planner statistics: %w", err)
	}
	return Result{PatientIDs: ids, Resources: written.Load()}, ctx.Err()
}
