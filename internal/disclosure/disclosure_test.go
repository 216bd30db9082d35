package disclosure

import (
	"slices"
	"testing"
)

// TestPatients: the compartment of a resource is the Patient itself and
// every Patient it references, relative or absolute, versioned or not;
// other references and look-alike strings are not patients.
func TestPatients(t *testing.T) {
	for _, tc := range []struct {
		typ, id, content string
		want             []string
	}{
		{"Patient", "p1", `{"resourceType":"Patient","id":"p1","link":[{"other":{"reference":"Patient/p2"}}]}`, []string{"p1", "p2"}},
		{"Observation", "o1", `{"subject":{"reference":"Patient/p1"},"performer":[{"reference":"Practitioner/d1"}]}`, []string{"p1"}},
		{"Observation", "o1", `{"subject":{"reference":"https://fhir.example/v1/fhir/Patient/p3/_history/2"}}`, []string{"p3"}},
		{"Encounter", "e1", `{"subject":{"reference":"Patient/p1"},"participant":[{"individual":{"reference":"Patient/p1"}}]}`, []string{"p1"}},
		{"Observation", "o1", `{"note":[{"text":"see \"reference\":\"Patient/x\" elsewhere"}],"subject":{"reference":"Group/g1"}}`, nil},
		{"Practitioner", "d1", `{"name":[{"family":"Patient/p1"}]}`, nil},
	} {
		if got := Patients(tc.typ, tc.id, []byte(tc.content)); !slices.Equal(got, tc.want) {
			t.Errorf("Patients(%s %s) = %v, want %v", tc.typ, tc.content, got, tc.want)
		}
	}
}
