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

// ElementParam is a token or reference search parameter over a top-level
// element of a type (a code, boolean, CodeableConcept or Coding, or a
// Reference, or a list of them), for a
// contract query parameter whose element R4 gives no search parameter
// (CarePlan.author, RiskAssessment.status). The declarations list them
// beside the resource they are for.
type ElementParam struct {
	Type      string         // resource type
	Code      string         // search parameter code
	Element   string         // the element
	ParamType fhir.ParamType // fhir.Token or fhir.Reference
}

// ElementParams are the element search parameters the R4 definitions lack.
var ElementParams []ElementParam

func (p ElementParam) param() fhir.SearchParam {
	return fhir.SearchParam{Code: p.Code, Type: p.ParamType, Expression: p.Type + "." + p.Element}
}

// values are an element parameter's index entries for res.
func (p ElementParam) values(res fhir.Resource) []fhir.Value {
	v := res[p.Element]
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	var out []fhir.Value
	for _, it := range list {
		switch p.ParamType {
		case fhir.Token:
			if s, ok := it.(string); ok && s != "" {
				out = append(out, fhir.Value{Param: p.Code, Type: fhir.Token, Code: s})
			}
			if b, ok := it.(bool); ok {
				out = append(out, fhir.Value{Param: p.Code, Type: fhir.Token, Code: strconv.FormatBool(b)})
			}
			// A CodeableConcept's codings, or a Coding.
			if m, ok := it.(map[string]any); ok {
				codings, isConcept := m["coding"].([]any)
				if !isConcept {
					codings = []any{m}
				}
				for _, c := range codings {
					cm, _ := c.(map[string]any)
					system, _ := cm["system"].(string)
					if code, _ := cm["code"].(string); code != "" {
						out = append(out, fhir.Value{Param: p.Code, Type: fhir.Token, System: system, Code: code})
					}
				}
			}
		case fhir.Reference:
			m, _ := it.(map[string]any)
			ref, _ := m["reference"].(string)
			if ref == "" {
				continue
			}
			val := fhir.Value{Param: p.Code, Type: fhir.Reference}
			if t, id, ok := strings.Cut(ref, "/"); ok && !strings.Contains(id, "/") && datastore.ValidID(id) {
				val.RefType, val.RefID = t, id
			} else {
				val.URL = ref
			}
			out = append(out, val)
		}
	}
	return out
}

// BaseIndex is the search-parameter index Index extends.
type BaseIndex interface {
	datastore.Indexer
	Params(resourceType string) []fhir.SearchParam
}

// Index is a search-parameter index with ExtensionParams and
// ElementParams added: the datastore indexes and searches them like the
// R4 ones.
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
	for _, p := range ElementParams {
		if p.Type == t {
			vals = append(vals, p.values(res)...)
		}
	}
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

// Compact implements datastore.Indexer; extension parameters lie within
// none.
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
	for _, p := range ElementParams {
		if p.Type == t && p.Code == code {
			return p.param(), true
		}
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
	for _, p := range ElementParams {
		if p.Type == t && !slices.ContainsFunc(out, func(sp fhir.SearchParam) bool { return sp.Code == p.Code }) {
			out = append(out, p.param())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}
