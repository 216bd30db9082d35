package validate_test

import (
	"fmt"

	"github.com/clinikapi/clinikapi/internal/fhir/validate"
)

func ExampleValidator_Validate() {
	v := validate.Default()
	body := []byte(`{
		"resourceType": "Observation",
		"code": {"text": "Heart rate"},
		"effectiveDateTime": "2024-02-30",
		"valueQuantity": {"value": "72 bpm"},
		"subject": "Patient/123"
	}`)
	for _, issue := range v.Validate("Observation", body) {
		fmt.Printf("%-9s %s\n", issue.Code, issue)
	}
	// Output:
	// value     Observation.effectiveDateTime: must be a real calendar date (that month has no such day)
	// required  Observation.status: is required
	// structure Observation.subject: must be an object
	// structure Observation.valueQuantity.value: must be a number
}
