// Package searchparam knows the FHIR R4 search parameters and extracts the
// values a resource has for them, for the search index written alongside
// every resource.
//
// The parameters come from the embedded R4 SearchParameter Bundle
// (definitions.SearchParameters); their FHIRPath expressions are evaluated
// by a small FHIRPath interpreter that covers every expression of the
// supported types (string, token, reference, date, number, quantity, uri).
// Element types, including which JSON keys spell a choice element such as
// value[x], come from the embedded R4 JSON schema (definitions.Schema).
package searchparam

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/clinikapi/clinikapi/internal/fhir"
	"github.com/clinikapi/clinikapi/internal/fhir/definitions"
)

// Registry holds the search parameters of every resource type, with their
// expressions compiled. It is read-only after Load and safe for concurrent
// use. Callers must not modify the Targets and Within slices of the
// SearchParams it returns.
type Registry struct {
	m      *model
	byType map[string]*typeParams
	types  []string
}

type typeParams struct {
	params      map[string]fhir.SearchParam
	within      bool                // some parameter has a Within list
	parts       map[string][]string // code → the parts of its expression (the "|" alternatives)
	compiled    []compiled          // sorted by code
	unsupported map[string]string   // code → why
	sizeHint    atomic.Int32        // values in the last extraction, to size the next
}

type compiled struct {
	sp fhir.SearchParam
	e  *expr
}

// Always unsupported: search result and chaining controls that are not
// SearchParameter resources (and so are not in the Bundle).
var controlParams = map[string]string{
	"_list": "_list (search within a List) is not supported",
	"_has":  "_has (reverse chaining) is not supported",
}

var (
	defaultOnce sync.Once
	defaultReg  *Registry
	defaultErr  error
)

// Default is the registry loaded from the embedded definitions, loaded
// once. It panics if they cannot be loaded, which the package's tests rule
// out.
func Default() *Registry {
	defaultOnce.Do(func() { defaultReg, defaultErr = Load() })
	if defaultErr != nil {
		panic(defaultErr)
	}
	return defaultReg
}

// Load builds a registry from the embedded R4 definitions. Prefer Default,
// which loads them once (this takes tens of milliseconds).
func Load() (*Registry, error) {
	return load(definitions.SearchParameters, definitions.Schema)
}

type bundleEntry struct {
	Resource struct {
		Code       string   `json:"code"`
		Base       []string `json:"base"`
		Type       string   `json:"type"`
		Expression string   `json:"expression"`
		Target     []string `json:"target"`
	} `json:"resource"`
}

func load(bundle, schema []byte) (*Registry, error) {
	m, err := loadModel(schema)
	if err != nil {
		return nil, err
	}
	var b struct {
		Entry []bundleEntry `json:"entry"`
	}
	if err := json.Unmarshal(bundle, &b); err != nil {
		return nil, fmt.Errorf("searchparam: search parameters: %w", err)
	}
	if len(b.Entry) == 0 {
		return nil, fmt.Errorf("searchparam: search parameters: empty bundle")
	}
	r := &Registry{m: m, byType: map[string]*typeParams{}}
	tp := func(t string) *typeParams {
		p := r.byType[t]
		if p == nil {
			p = &typeParams{params: map[string]fhir.SearchParam{}, unsupported: map[string]string{}, parts: map[string][]string{}}
			r.byType[t] = p
		}
		return p
	}
	var all, domain []string
	for t := range m.resources {
		all = append(all, t)
		if m.types[t] != nil && m.types[t].domain {
			domain = append(domain, t)
		}
		tp(t)
	}
	expand := func(base string) []string {
		switch base {
		case "Resource":
			return all
		case "DomainResource":
			return domain
		}
		return []string{base}
	}
	for _, entry := range b.Entry {
		d := entry.Resource
		typ := fhir.ParamType(d.Type)
		why := ""
		switch {
		case d.Code == "":
			continue
		case typ == fhir.Composite || typ == fhir.Special:
			why = fmt.Sprintf("%s parameters are not supported", typ)
		case d.Code == "_text" || d.Code == "_content":
			why = d.Code + " (full-text search) is not supported"
		case d.Code == "_query":
			why = "_query (named queries) is not supported"
		case d.Expression == "":
			why = "the parameter has no expression"
		case typ != fhir.String && typ != fhir.Token && typ != fhir.Reference && typ != fhir.Date &&
			typ != fhir.Number && typ != fhir.Quantity && typ != fhir.URI:
			why = fmt.Sprintf("%s parameters are not supported", typ)
		}
		var parts []*expr
		if why == "" {
			e, err := parse(d.Expression)
			if err != nil {
				why = "cannot parse the expression: " + err.Error()
			} else {
				parts = unionParts(e, nil)
			}
		}
		for _, base := range d.Base {
			if why != "" {
				for _, t := range expand(base) {
					tp(t).unsupported[d.Code] = why
				}
				continue
			}
			var sel []*expr
			var text []string
			for _, p := range parts {
				// Parts start with the type they apply to ("Patient.name"),
				// or Resource/DomainResource; a few start with an element
				// of the one base type ("name | alias" on InsurancePlan).
				root := rootName(p)
				relative := root != "" && (root[0] < 'A' || root[0] > 'Z') && len(d.Base) == 1
				if root == base || root == "Resource" || root == "DomainResource" || relative {
					sel = append(sel, p)
					text = append(text, d.Expression[p.pos:p.end])
				}
			}
			if len(sel) == 0 {
				for _, t := range expand(base) {
					tp(t).unsupported[d.Code] = "the expression has no part for " + base
				}
				continue
			}
			e := sel[0]
			for _, p := range sel[1:] {
				e = &expr{kind: nBinary, name: "|", left: e, right: p, pos: e.pos, end: p.end}
			}
			if err := m.check(e); err != nil {
				for _, t := range expand(base) {
					tp(t).unsupported[d.Code] = "expression: " + err.Error()
				}
				continue
			}
			sp := fhir.SearchParam{
				Code:       d.Code,
				Type:       typ,
				Expression: strings.Join(text, " | "),
				Targets:    slices.Clone(d.Target),
			}
			for _, t := range expand(base) {
				p := tp(t)
				p.params[d.Code] = sp
				p.parts[d.Code] = text
				ae, _ := m.annotate(e, []string{t})
				p.compiled = append(p.compiled, compiled{sp, ae})
			}
		}
	}
	for t, p := range r.byType {
		for code, why := range controlParams {
			p.unsupported[code] = why
		}
		sort.Slice(p.compiled, func(i, j int) bool { return p.compiled[i].sp.Code < p.compiled[j].sp.Code })
		if len(p.params) > 0 {
			r.types = append(r.types, t)
		}
	}
	sort.Strings(r.types)
	if err := r.computeWithin(); err != nil {
		return nil, err
	}
	return r, nil
}

// Types lists every resource type that has search parameters, sorted.
func (r *Registry) Types() []string {
	return slices.Clone(r.types)
}

// For returns the supported search parameters of a resource type by code,
// including the Resource-level ones (_id, _lastUpdated, _tag, _profile,
// _security, _source). The map is a copy; nil for an unknown type.
func (r *Registry) For(resourceType string) map[string]fhir.SearchParam {
	p := r.byType[resourceType]
	if p == nil {
		return nil
	}
	out := maps.Clone(p.params)
	for code, sp := range out {
		sp.Targets = slices.Clone(sp.Targets)
		sp.Within = slices.Clone(sp.Within)
		out[code] = sp
	}
	return out
}

// Lookup returns one supported search parameter of a resource type.
func (r *Registry) Lookup(resourceType, code string) (fhir.SearchParam, bool) {
	p := r.byType[resourceType]
	if p == nil {
		return fhir.SearchParam{}, false
	}
	sp, ok := p.params[code]
	return sp, ok
}

// Unsupported lists, sorted, the codes of standard search parameters of a
// resource type that this server does not support (composite and special
// parameters, _text, _content, _query, _list, _has), so that a search using
// one can be answered "not supported" rather than "unknown".
func (r *Registry) Unsupported(resourceType string) []string {
	p := r.byType[resourceType]
	if p == nil {
		return nil
	}
	out := make([]string, 0, len(p.unsupported))
	for code := range p.unsupported {
		if _, ok := p.params[code]; !ok {
			out = append(out, code)
		}
	}
	sort.Strings(out)
	return out
}

// UnsupportedReason says why a standard search parameter of a resource type
// is not supported ("" if it is supported or unknown).
func (r *Registry) UnsupportedReason(resourceType, code string) string {
	if p := r.byType[resourceType]; p != nil {
		if _, ok := p.params[code]; !ok {
			return p.unsupported[code]
		}
	}
	return ""
}
