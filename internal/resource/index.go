package resource

import (
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/fhir"
	"github.com/clinikapi/clinikapi/internal/fhir/searchparam"
)

// ExtensionParam is a string search parameter over one of ClinikAPI's
// extensions, for a contract query parameter whose field has no R4
// element (and so no R4 search parameter): its values are the extension's
// valueString, or the text, displays and codes of its valueCodeableConcept.
type ExtensionParam struct {
	Type      string // resource type
	Code      string // search parameter code
	Extension string // extension name (under ExtensionBase)
}

// ExtensionParams are the search parameters the R4 definitions lack.
var ExtensionParams = []ExtensionParam{
	{Type: "Practitioner", Code: "specialty", Extension: "specialty"},
}

// BaseIndex is the search-parameter index Index extends.
type BaseIndex interface {
	datastore.Indexer
	Params(resourceType string) []fhir.SearchParam
}

// elementParam is a search parameter over an R4 element that the R4
// definitions do not search (ChargeItem.status, ActivityDefinition.kind):
// declared by a Param with an Element path, a token parameter (a
// reference one for a RefParam).
type elementParam struct {
	typ, code, path string
	ptype           fhir.ParamType
	target          string
}

// elementParams are the element parameters of the routed declarations,
// by resource type.
var elementParams = func() map[string][]elementParam {
	out := map[string][]elementParam{}
	for _, d := range All {
		for _, p := range d.Params {
			if p.Element == "" {
				continue
			}
			code, _, _ := strings.Cut(p.Code, ":")
			ep := elementParam{typ: d.Type, code: code, path: p.Element, ptype: fhir.Token}
			if p.Kind == RefParam {
				ep.ptype, ep.target = fhir.Reference, p.Target
			}
			if !slices.ContainsFunc(out[d.Type], func(e elementParam) bool { return e.code == code }) {
				out[d.Type] = append(out[d.Type], ep)
			}
		}
	}
	return out
}()

func (p elementParam) param() fhir.SearchParam {
	sp := fhir.SearchParam{Code: p.code, Type: p.ptype, Expression: p.typ + "." + p.path}
	if p.target != "" {
		sp.Targets = []string{p.target}
	}
	return sp
}

// values are the index values of an element parameter: codes, booleans,
// the codings of CodeableConcepts and Codings (tokens), or the local
// "Type/id" of References.
func (p elementParam) values(res fhir.Resource) []fhir.Value {
	var out []fhir.Value
	base := fhir.Value{Param: p.code, Type: p.ptype}
	add := func(v fhir.Value) {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	token := func(system, code string) {
		if code != "" {
			v := base
			v.System, v.Code = system, code
			add(v)
		}
	}
	for _, n := range collect(map[string]any(res), strings.Split(p.path, ".")) {
		switch x := n.(type) {
		case string:
			if p.ptype == fhir.Token {
				token("", x)
			}
		case bool:
			if p.ptype == fhir.Token {
				token("", strconv.FormatBool(x))
			}
		case map[string]any:
			if p.ptype == fhir.Reference {
				ref, _ := x["reference"].(string)
				if t, id, ok := strings.Cut(ref, "/"); ok && t != "" && datastore.ValidID(id) {
					v := base
					v.RefType, v.RefID = t, id
					add(v)
				}
				continue
			}
			codings := []any{x}
			if cs, ok := x["coding"].([]any); ok {
				codings = cs
			}
			for _, c := range codings {
				m, _ := c.(map[string]any)
				system, _ := m["system"].(string)
				code, _ := m["code"].(string)
				token(system, code)
			}
		}
	}
	return out
}

func (x Index) element(t, code string) (elementParam, bool) {
	for _, p := range elementParams[t] {
		if p.code == code {
			return p, true
		}
	}
	return elementParam{}, false
}

// Index is a search-parameter index with ExtensionParams and the element
// parameters of the declarations added: the datastore indexes and
// searches them like the R4 ones.
type Index struct{ Base BaseIndex }

func (x Index) ext(t, code string) (ExtensionParam, bool) {
	for _, p := range ExtensionParams {
		if p.Type == t && p.Code == code {
			return p, true
		}
	}
	return ExtensionParam{}, false
}

func (p ExtensionParam) param() fhir.SearchParam {
	return fhir.SearchParam{Code: p.Code, Type: fhir.String,
		Expression: p.Type + ".extension('" + ExtensionBase + p.Extension + "').value"}
}

// Extract implements datastore.Indexer.
func (x Index) Extract(res fhir.Resource) ([]fhir.Value, error) {
	vals, err := x.Base.Extract(res)
	if err != nil {
		return nil, err
	}
	for i := range vals {
		localCanonical(&vals[i])
	}
	t, _ := res["resourceType"].(string)
	for _, p := range ExtensionParams {
		if p.Type != t {
			continue
		}
		exts, _ := res["extension"].([]any)
		for _, e := range exts {
			m, _ := e.(map[string]any)
			if m["url"] != ExtensionBase+p.Extension {
				continue
			}
			for _, s := range extensionStrings(m) {
				vals = append(vals, fhir.Value{Param: p.Code, Type: fhir.String, Text: searchparam.Normalize(s), Exact: s})
			}
		}
	}
	for _, p := range elementParams[t] {
		vals = append(vals, p.values(res)...)
	}
	return vals, nil
}

// localCanonical makes a reference value of a canonical written as
// Type/id (a Canonical field stores an id so: MeasureReport.measure
// "Measure/…") a local reference too, so that searching and including by
// Type/id find it like a Reference. Its URL stays indexed as well.
func localCanonical(v *fhir.Value) {
	if v.Type != fhir.Reference || v.RefType != "" || v.URL == "" {
		return
	}
	t, id, ok := strings.Cut(v.URL, "/")
	if ok && t != "" && t[0] >= 'A' && t[0] <= 'Z' && !strings.ContainsAny(t, ":#") && datastore.ValidID(id) {
		v.RefType, v.RefID = t, id
	}
}

// Compact implements datastore.Indexer; extension and element parameters
// lie within none.
func (x Index) Compact(resourceType string, vals []fhir.Value) []fhir.Value {
	return x.Base.Compact(resourceType, vals)
}

func extensionStrings(ext map[string]any) []string {
	var out []string
	add := func(v any) {
		if s, ok := v.(string); ok && strings.TrimSpace(s) != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	add(ext["valueString"])
	if cc, ok := ext["valueCodeableConcept"].(map[string]any); ok {
		add(cc["text"])
		codings, _ := cc["coding"].([]any)
		for _, c := range codings {
			if m, ok := c.(map[string]any); ok {
				add(m["display"])
				add(m["code"])
			}
		}
	}
	return out
}

// Lookup implements datastore.Indexer.
func (x Index) Lookup(t, code string) (fhir.SearchParam, bool) {
	if sp, ok := x.Base.Lookup(t, code); ok {
		return sp, true
	}
	if p, ok := x.ext(t, code); ok {
		return p.param(), true
	}
	if p, ok := x.element(t, code); ok {
		return p.param(), true
	}
	return fhir.SearchParam{}, false
}

// Types implements datastore.Indexer.
func (x Index) Types() []string { return x.Base.Types() }

// Params lists a type's search parameters (for the CapabilityStatement).
func (x Index) Params(t string) []fhir.SearchParam {
	out := x.Base.Params(t)
	for _, p := range ExtensionParams {
		if p.Type == t && !slices.ContainsFunc(out, func(sp fhir.SearchParam) bool { return sp.Code == p.Code }) {
			out = append(out, p.param())
		}
	}
	for _, p := range elementParams[t] {
		if !slices.ContainsFunc(out, func(sp fhir.SearchParam) bool { return sp.Code == p.code }) {
			out = append(out, p.param())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}
