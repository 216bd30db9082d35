package searchparam

import (
	"fmt"
	"slices"
	"strings"

	"github.com/clinikapi/clinikapi/internal/fhir"
)

// Parameters within parameters.
//
// Many parameters of a type index values another one indexes too: a
// Patient's name gives its family and given names (and its prefix, suffix
// and text), which family and given index again; phonetic indexes exactly
// what name does; address gives what address-city, address-state,
// address-postalcode and address-country give; telecom gives what email
// and phone give. Written out, a typical Patient has 24 index rows of which
// 10 repeat another row's value, and nearly every index row is a write to
// a different page.
//
// So the registry works out, from the expressions, which parameters lie
// within which (SearchParam.Within), the index keeps a value once, under
// the innermost parameter that has it (Compact), and a search on a
// parameter reads its own rows and those of the parameters within it. For
// every resource the values of P are then exactly the union of the rows
// kept for P and for the parameters within it: a value of P also found
// under some Q within P is kept under Q (or, in turn, under a parameter
// within Q, which is within P too), and every parameter within P has only
// values of P. Rows written before this rule (a value repeated under P)
// change no answer.
//
// Q lies within P, for one resource type, when both are string or both
// token parameters and every part of Q's expression (the "|" alternatives)
// is a part of P's, or a part of P's narrowed by .where(…), or, for
// strings, a part of P's whose type is HumanName or Address followed by one
// of the components the string extraction of that type gives (.family,
// .city, …). Each of these selects elements, or components, that the
// extraction of P already turns into the same values. Two parameters with
// the same expression (name, phonetic) lie within each other; the one with
// the smaller code keeps the values.

// computeWithin fills the Within lists of every type's parameters. A cycle
// (which the rules above cannot make) would drop a value from every
// parameter on it: it fails the load instead.
func (r *Registry) computeWithin() error {
	for t, tp := range r.byType {
		within := map[string][]string{}
		for pc, p := range tp.params {
			if p.Type != fhir.String && p.Type != fhir.Token {
				continue
			}
			for qc, q := range tp.params {
				if qc == pc || q.Type != p.Type || !r.covers(t, tp.parts[pc], tp.parts[qc], p.Type) {
					continue
				}
				if r.covers(t, tp.parts[qc], tp.parts[pc], p.Type) && pc < qc {
					continue // the same values: the smaller code keeps them
				}
				within[pc] = append(within[pc], qc)
			}
		}
		// Within is transitive: close it (a chain is short).
		for changed := true; changed; {
			changed = false
			for pc, qs := range within {
				for _, qc := range qs {
					for _, rc := range within[qc] {
						if rc == pc {
							return fmt.Errorf("searchparam: %s.%s lies within itself through %s", t, pc, qc)
						}
						if !slices.Contains(within[pc], rc) {
							within[pc] = append(within[pc], rc)
							changed = true
						}
					}
				}
			}
		}
		for pc, qs := range within {
			slices.Sort(qs)
			sp := tp.params[pc]
			sp.Within = qs
			tp.params[pc] = sp
			tp.within = true
		}
	}
	return nil
}

// covers reports whether every part of q's expression lies within a part
// of p's, for resource type t and parameter type typ.
func (r *Registry) covers(t string, p, q []string, typ fhir.ParamType) bool {
	for _, qp := range q {
		if !slices.ContainsFunc(p, func(pp string) bool { return r.partCovers(t, pp, qp, typ) }) {
			return false
		}
	}
	return true
}

func (r *Registry) partCovers(t, p, q string, typ fhir.ParamType) bool {
	if q == p {
		return true
	}
	if cond, ok := strings.CutPrefix(q, p+".where("); ok && strings.HasSuffix(cond, ")") && balanced(cond[:len(cond)-1]) {
		return true
	}
	if child, ok := strings.CutPrefix(q, p+"."); ok && typ == fhir.String && isName(child) {
		switch r.pathType(t, p) {
		case "HumanName":
			return slices.Contains(humanNameParts[:], child)
		case "Address":
			return slices.Contains(addressParts[:], child)
		}
	}
	return false
}

// pathType is the type of the elements a plain path (Patient.name) selects
// on resource type t, or "" for anything else.
func (r *Registry) pathType(t, path string) string {
	segs := strings.Split(path, ".")
	if root := segs[0]; root != t && root != "Resource" && root != "DomainResource" {
		return ""
	}
	cur := t
	for _, s := range segs[1:] {
		if !isName(s) {
			return ""
		}
		typ, _, ok := r.m.element(cur, s)
		if !ok || typ == "" {
			return ""
		}
		cur = typ
	}
	return cur
}

func isName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' && i > 0) {
			return false
		}
	}
	return true
}

// balanced reports whether s closes every parenthesis it opens and none
// before: a .where( argument that does not end the expression early.
func balanced(s string) bool {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			if depth--; depth < 0 {
				return false
			}
		case '\'':
			// A string literal: skip it (\' escapes a quote).
			for i++; i < len(s) && s[i] != '\''; i++ {
				if s[i] == '\\' {
					i++
				}
			}
			if i >= len(s) {
				return false
			}
		}
	}
	return depth == 0
}

// Compact drops from vals, the values extracted from one resource of type
// resourceType, each string or token value of a parameter that a parameter
// within it has too (see Within). It filters vals in place.
func (r *Registry) Compact(resourceType string, vals []fhir.Value) []fhir.Value {
	tp := r.byType[resourceType]
	if tp == nil || !tp.within {
		return vals
	}
	type key struct{ param, a, b string }
	keyOf := func(param string, v *fhir.Value) key {
		if v.Type == fhir.String {
			return key{param, v.Text, v.Exact}
		}
		return key{param, v.System, v.Code}
	}
	have := make(map[key]struct{}, len(vals))
	for i := range vals {
		if v := &vals[i]; v.Type == fhir.String || v.Type == fhir.Token {
			have[keyOf(v.Param, v)] = struct{}{}
		}
	}
	out := vals[:0]
	for i := range vals {
		v := &vals[i]
		if within := tp.params[v.Param].Within; len(within) > 0 && (v.Type == fhir.String || v.Type == fhir.Token) {
			if slices.ContainsFunc(within, func(q string) bool { _, ok := have[keyOf(q, v)]; return ok }) {
				continue
			}
		}
		out = append(out, *v)
	}
	return out
}
