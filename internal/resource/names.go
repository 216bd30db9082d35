package resource

import "slices"

// Names resolves the names people give resource types: a FHIR type the
// server stores (Patient) or a simplified route name (patients).
type Names struct {
	FHIR []string // the stored FHIR types, sorted
}

// Resolve returns the FHIR type of name.
func (n Names) Resolve(name string) (string, bool) {
	if _, ok := slices.BinarySearch(n.FHIR, name); ok {
		return name, true
	}
	if d, ok := ByPath(name); ok {
		return d.Type, true
	}
	return "", false
}

// PathsOf returns the simplified route names of a FHIR type (none when the
// contract has no simplified route for it).
func PathsOf(typ string) []string {
	var out []string
	for _, d := range All {
		if d.Type == typ {
			out = append(out, d.Path)
		}
	}
	return out
}
