package resource

import (
	"strings"

	"github.com/clinikapi/clinikapi/internal/fhir"
)

// Response renders a stored FHIR resource as the simplified routes answer
// it: the fields of its create body (ToSimple, from the same declarations
// as ToFHIR), plus id, resourceType, meta (versionId and lastUpdated) and,
// for a type that has them, derived display fields such as a patient's
// fullName. What the simplified shape cannot express stays in the stored
// resource, readable through /v1/fhir.
func (d *Def) Response(res fhir.Resource) map[string]any {
	out := d.ToSimple(res)
	out["id"] = res["id"]
	out["resourceType"] = d.Type
	if m, ok := res["meta"].(map[string]any); ok {
		meta := map[string]any{}
		for _, k := range []string{"versionId", "lastUpdated"} {
			if v, ok := m[k]; ok {
				meta[k] = v
			}
		}
		out["meta"] = meta
	}
	if derive := derived[d.Type]; derive != nil {
		derive(res, out)
	}
	return out
}

// derived adds, per FHIR type, the read-only display fields the official
// SDK declares for a simplified answer.
var derived = map[string]func(res fhir.Resource, out map[string]any){
	"Patient": humanName,
}

// humanName adds the display fields of the first name of a person
// (Patient, …; the name firstName and lastName are written to): fullName ("Dr. Amara N. Okafor Jr.", "" when the record
// has no name), firstName and lastName always (possibly ""), and
// middleName, prefix and suffix when the name has them.
func humanName(res fhir.Resource, out map[string]any) {
	names, _ := res["name"].([]any)
	var name map[string]any
	if len(names) > 0 {
		name, _ = names[0].(map[string]any)
	}
	given := strs(name["given"])
	family, _ := name["family"].(string)
	prefix, suffix := strs(name["prefix"]), strs(name["suffix"])
	first := ""
	if len(given) > 0 {
		first = given[0]
	}
	out["firstName"], out["lastName"] = first, family
	if len(given) > 1 {
		out["middleName"] = strings.Join(given[1:], " ")
	}
	if len(prefix) > 0 {
		out["prefix"] = strings.Join(prefix, " ")
	}
	if len(suffix) > 0 {
		out["suffix"] = strings.Join(suffix, " ")
	}
	full := strings.Join(nonEmpty(append(append(append(prefix, given...), family), suffix...)), " ")
	if full == "" {
		full, _ = name["text"].(string)
	}
	out["fullName"] = full
}

// strs reads a JSON array of strings.
func strs(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func nonEmpty(ss []string) []string {
	out := ss[:0:0]
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
