package seed_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/clinikapi/clinikapi/internal/fhir/validate"
	"github.com/clinikapi/clinikapi/internal/seed"
)

func TestSyntheticPatientsAreValidFHIR(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 50; i++ {
		if issues := validate.Default().ValidateValue("Patient", map[string]any(seed.Patient(r, i))); len(issues) > 0 {
			t.Fatalf("patient %d: %v", i, issues)
		}
	}
	_ = context.Background()
}
