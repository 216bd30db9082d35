package searchparam

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// model is the part of the FHIR R4 type system the evaluator needs, derived
// from the embedded JSON schema: for every complex type and resource, the
// type of each element, and the JSON keys a choice element ("value[x]") is
// spelled with.
type model struct {
	types      map[string]*typeInfo
	primitives map[string]bool
	resources  map[string]bool // the R4 resource types
}

type typeInfo struct {
	props   map[string]string    // element name → type name
	choices map[string][]variant // choice base name ("value") → variants
	domain  bool                 // a DomainResource (has text)
}

type variant struct {
	key string // JSON key, e.g. "valueQuantity"
	typ string // type name, e.g. "Quantity"
}

type schemaProp struct {
	Ref     string      `json:"$ref"`
	Enum    []string    `json:"enum"`
	Pattern string      `json:"pattern"`
	Items   *schemaProp `json:"items"`
}

type schemaDef struct {
	Properties map[string]schemaProp `json:"properties"`
	Pattern    string                `json:"pattern"`
	OneOf      []schemaProp          `json:"oneOf"`
}

func refName(ref string) string {
	return strings.TrimPrefix(ref, "#/definitions/")
}

func loadModel(schema []byte) (*model, error) {
	var doc struct {
		Definitions map[string]schemaDef `json:"definitions"`
	}
	if err := json.Unmarshal(schema, &doc); err != nil {
		return nil, fmt.Errorf("searchparam: FHIR schema: %w", err)
	}
	m := &model{
		types:      make(map[string]*typeInfo, len(doc.Definitions)),
		primitives: map[string]bool{},
		resources:  map[string]bool{},
	}
	byPattern := map[string]string{} // inline primitive pattern → type
	for name, d := range doc.Definitions {
		if d.Properties == nil && name != "ResourceList" {
			m.primitives[name] = true
			if d.Pattern != "" {
				// Shared patterns (uri/url/canonical …): the first name.
				if prev, dup := byPattern[d.Pattern]; !dup || name < prev {
					byPattern[d.Pattern] = name
				}
			}
		}
	}
	// The schema's ResourceList also names Medplum's own resources
	// (Project, Bot …); the R4 ones are those with the R4 element
	// implicitRules and its primitive extension _implicitRules.
	for _, r := range doc.Definitions["ResourceList"].OneOf {
		name := refName(r.Ref)
		if _, r4 := doc.Definitions[name].Properties["_implicitRules"]; r4 {
			m.resources[name] = true
		}
	}
	if len(m.resources) == 0 {
		return nil, fmt.Errorf("searchparam: FHIR schema has no ResourceList")
	}
	propType := func(p schemaProp) string {
		if p.Items != nil {
			p = *p.Items
		}
		switch {
		case p.Ref != "":
			return refName(p.Ref)
		case p.Enum != nil:
			return "code"
		case p.Pattern != "":
			if t, ok := byPattern[p.Pattern]; ok {
				return t
			}
			return "string"
		}
		return ""
	}
	for name, d := range doc.Definitions {
		if d.Properties == nil {
			continue
		}
		ti := &typeInfo{props: make(map[string]string, len(d.Properties))}
		for key, p := range d.Properties {
			if strings.HasPrefix(key, "_") || key == "resourceType" {
				continue
			}
			ti.props[key] = propType(p)
		}
		_, ti.domain = d.Properties["text"]
		m.types[name] = ti
	}
	// Choice elements: key = base + TypeName where base is not an element
	// itself and the key's type is TypeName ("valueQuantity" → Quantity).
	// Inline primitives (valueBoolean with a pattern) take the suffix type.
	for name, d := range doc.Definitions {
		ti := m.types[name]
		if ti == nil {
			continue
		}
		for key, p := range d.Properties {
			if strings.HasPrefix(key, "_") {
				continue
			}
			for i := 1; i < len(key); i++ {
				if key[i] < 'A' || key[i] > 'Z' {
					continue
				}
				base, suffix := key[:i], key[i:]
				if _, isProp := ti.props[base]; isProp {
					continue
				}
				st := m.suffixType(suffix)
				if st == "" {
					continue
				}
				inline := p.Ref == "" && p.Items == nil && p.Pattern != ""
				if pt := propType(p); pt != st && !(inline && m.primitives[st]) {
					continue
				}
				if ti.choices == nil {
					ti.choices = map[string][]variant{}
				}
				ti.choices[base] = append(ti.choices[base], variant{key: key, typ: st})
				ti.props[key] = st
				break
			}
		}
		for _, vs := range ti.choices {
			sort.Slice(vs, func(i, j int) bool { return vs[i].key < vs[j].key })
		}
	}
	return m, nil
}

// suffixType maps the type part of a choice key ("Quantity", "DateTime") to
// the type name ("Quantity", "dateTime"), or "" if it names no type.
func (m *model) suffixType(suffix string) string {
	if suffix == "" {
		return ""
	}
	if _, ok := m.types[suffix]; ok && !strings.Contains(suffix, "_") {
		return suffix
	}
	lc := strings.ToLower(suffix[:1]) + suffix[1:]
	if m.primitives[lc] {
		return lc
	}
	return ""
}

// element is the type of element name on type typ; for a choice element,
// "" and its variants.
func (m *model) element(typ, name string) (string, []variant, bool) {
	ti := m.types[typ]
	if ti == nil {
		return "", nil, false
	}
	if t, ok := ti.props[name]; ok {
		return t, nil, true
	}
	if vs, ok := ti.choices[name]; ok {
		return "", vs, true
	}
	return "", nil, false
}

// supertype is the parent of a type in the FHIR type hierarchy that
// FHIRPath's is/as/ofType honour ("" at the top).
func (m *model) supertype(t string) string {
	switch t {
	case "Age", "Count", "Distance", "Duration", "MoneyQuantity", "SimpleQuantity":
		return "Quantity"
	case "code", "id", "markdown":
		return "string"
	case "url", "canonical", "oid", "uuid":
		return "uri"
	case "positiveInt", "unsignedInt":
		return "integer"
	case "DomainResource":
		return "Resource"
	}
	if m.resources[t] {
		if ti := m.types[t]; ti != nil && ti.domain {
			return "DomainResource"
		}
		return "Resource"
	}
	return ""
}

// isType reports whether a value of type t is a want (or a subtype of it).
func (m *model) isType(t, want string) bool {
	want = strings.TrimPrefix(want, "FHIR.")
	switch want {
	case "System.String":
		want = "string"
	case "System.Boolean":
		want = "boolean"
	case "System.Integer":
		want = "integer"
	case "System.Decimal":
		want = "decimal"
	case "System.DateTime":
		want = "dateTime"
	case "System.Date":
		want = "date"
	case "System.Time":
		want = "time"
	}
	for i := 0; t != "" && i < 8; i++ {
		if t == want {
			return true
		}
		t = m.supertype(t)
	}
	return false
}
