package searchparam

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// node is one item of a FHIRPath collection: a decoded JSON value and its
// FHIR type name ("HumanName", "dateTime", "Patient"; "" when unknown).
type node struct {
	v any
	t string
}

// resolvedRef is what resolve() yields: the referenced resource is not
// loaded, only its type (from the reference) is known, which is all that
// "resolve() is Patient" needs.
type resolvedRef struct{ id string }

// funcs are the FHIRPath functions the evaluator implements, with their
// minimum and maximum number of arguments.
var funcs = map[string][2]int{
	"where":     {1, 1},
	"select":    {1, 1},
	"exists":    {0, 1},
	"empty":     {0, 0},
	"not":       {0, 0},
	"first":     {0, 0},
	"last":      {0, 0},
	"tail":      {0, 0},
	"single":    {0, 0},
	"count":     {0, 0},
	"hasValue":  {0, 0},
	"ofType":    {1, 1},
	"as":        {1, 1},
	"is":        {1, 1},
	"resolve":   {0, 0},
	"extension": {1, 1},
	"trace":     {1, 2},
}

// typeArg is the type name an ofType/as/is argument spells ("Quantity",
// "FHIR.Quantity"), or "".
func typeArg(e *expr) string {
	switch e.kind {
	case nIdent:
		return e.name
	case nMember:
		if p := typeArg(e.target); p != "" {
			return p + "." + e.name
		}
	}
	return ""
}

// check verifies that the evaluator supports everything in e, so that
// evaluation itself never fails.
func (m *model) check(e *expr) error {
	if e == nil {
		return nil
	}
	switch e.kind {
	case nFunc:
		arity, ok := funcs[e.name]
		if !ok {
			return fmt.Errorf("function %s() is not supported", e.name)
		}
		if len(e.args) < arity[0] || len(e.args) > arity[1] {
			return fmt.Errorf("%s() takes %d to %d arguments", e.name, arity[0], arity[1])
		}
		switch e.name {
		case "ofType", "as", "is":
			if err := m.checkType(typeArg(e.args[0])); err != nil {
				return err
			}
			return m.check(e.target)
		case "extension":
			if e.args[0].kind != nString {
				return fmt.Errorf("extension() needs a string literal")
			}
		}
		for _, a := range e.args {
			if err := m.check(a); err != nil {
				return err
			}
		}
		return m.check(e.target)
	case nTypeOp:
		if err := m.checkType(e.typ); err != nil {
			return err
		}
		return m.check(e.target)
	case nBinary:
		switch e.name {
		case "|", "=", "!=", "~", "!~", "<", ">", "<=", ">=", "and", "or", "xor", "implies", "in", "contains":
		default:
			return fmt.Errorf("operator %s is not supported", e.name)
		}
		if err := m.check(e.left); err != nil {
			return err
		}
		return m.check(e.right)
	case nUnary:
		if e.target.kind != nNumber {
			return fmt.Errorf("unary %s is only supported on number literals", e.name)
		}
	case nIndex:
		if err := m.check(e.args[0]); err != nil {
			return err
		}
		return m.check(e.target)
	case nMember, nParen:
		return m.check(e.target)
	}
	return nil
}

func (m *model) checkType(name string) error {
	n := strings.TrimPrefix(name, "FHIR.")
	switch {
	case n == "":
		return fmt.Errorf("expected a type name")
	case m.types[n] != nil, m.primitives[n], n == "Resource", n == "DomainResource":
		return nil
	}
	switch n {
	case "System.String", "System.Boolean", "System.Integer", "System.Decimal", "System.DateTime", "System.Date", "System.Time":
		return nil
	}
	return fmt.Errorf("unknown type %s", name)
}

// evaluator evaluates checked expressions against one resource.
type evaluator struct {
	m    *model
	root []node
}

func (ev *evaluator) eval(e *expr, focus []node) []node {
	switch e.kind {
	case nIdent:
		if c := e.name[0]; c >= 'A' && c <= 'Z' { // lex: names are not empty
			// A type name filters the focus: "Patient.name" at the root.
			var out []node
			for _, n := range focus {
				if ev.m.isType(n.t, e.name) {
					out = append(out, n)
				}
			}
			return out
		}
		var out []node
		for _, n := range focus {
			out = ev.member(e, n, out)
		}
		return out
	case nMember:
		in := ev.eval(e.target, focus)
		var out []node
		for _, n := range in {
			out = ev.member(e, n, out)
		}
		return out
	case nParen:
		return ev.eval(e.target, focus)
	case nVar:
		if e.name == "$this" {
			return focus
		}
		return ev.root
	case nString:
		return []node{{e.name, "string"}}
	case nNumber:
		if e.num == math.Trunc(e.num) && !strings.Contains(e.name, ".") {
			return []node{{e.num, "integer"}}
		}
		return []node{{e.num, "decimal"}}
	case nBool:
		return []node{{e.bool, "boolean"}}
	case nEmpty:
		return nil
	case nUnary:
		v := ev.eval(e.target, focus)
		if e.name == "-" && len(v) == 1 {
			if f, ok := v[0].v.(float64); ok {
				return []node{{-f, v[0].t}}
			}
		}
		return v
	case nIndex:
		in := ev.eval(e.target, focus)
		idx := ev.eval(e.args[0], focus)
		if len(idx) != 1 {
			return nil
		}
		f, ok := number(idx[0].v)
		if !ok || f < 0 || f >= float64(len(in)) || f != math.Trunc(f) {
			return nil
		}
		return in[int(f) : int(f)+1]
	case nTypeOp:
		in := ev.eval(e.target, focus)
		if e.name == "is" {
			if len(in) != 1 {
				return nil
			}
			return boolean(ev.m.isType(in[0].t, e.typ))
		}
		return ev.ofType(in, e.typ)
	case nBinary:
		return ev.binary(e, focus)
	case nFunc:
		return ev.call(e, focus)
	}
	return nil
}

func boolean(b bool) []node { return []node{{b, "boolean"}} }

// member is child with the element resolved ahead by annotate when n has
// the expected type.
func (ev *evaluator) member(e *expr, n node, out []node) []node {
	if e.inType == "" || n.t != e.inType {
		return ev.child(n, e.name, out)
	}
	obj, ok := n.v.(map[string]any)
	if !ok {
		return out
	}
	if e.choice != nil {
		for _, vr := range e.choice {
			if v, ok := obj[vr.key]; ok {
				out = ev.appendValue(out, v, vr.typ)
			}
		}
		return out
	}
	if v, ok := obj[e.name]; ok {
		out = ev.appendValue(out, v, e.elemType)
	}
	return out
}

// child appends the element name of n to out, flattening arrays and
// skipping nulls. Choice elements ("value") collect every variant present
// ("valueQuantity", "valueString" …) with its type.
func (ev *evaluator) child(n node, name string, out []node) []node {
	obj, ok := n.v.(map[string]any)
	if !ok {
		return out
	}
	t, variants, known := ev.m.element(n.t, name)
	if known {
		if variants == nil {
			if v, ok := obj[name]; ok {
				out = ev.appendValue(out, v, t)
			}
			return out
		}
		for _, vr := range variants {
			if v, ok := obj[vr.key]; ok {
				out = ev.appendValue(out, v, vr.typ)
			}
		}
		return out
	}
	// Unknown type or element: plain JSON navigation, choice keys by
	// their type suffix.
	if v, ok := obj[name]; ok {
		return ev.appendValue(out, v, "")
	}
	for k, v := range obj {
		if len(k) > len(name) && strings.HasPrefix(k, name) && k[len(name)] >= 'A' && k[len(name)] <= 'Z' {
			if st := ev.m.suffixType(k[len(name):]); st != "" {
				out = ev.appendValue(out, v, st)
			}
		}
	}
	return out
}

func (ev *evaluator) appendValue(out []node, v any, t string) []node {
	switch x := v.(type) {
	case nil:
		return out
	case []any:
		for _, item := range x {
			switch item.(type) {
			case []any, []map[string]any, []string:
				// JSON FHIR has no arrays of arrays.
			default:
				out = ev.appendValue(out, item, t)
			}
		}
		return out
	case []map[string]any:
		for _, item := range x {
			out = ev.appendValue(out, item, t)
		}
		return out
	case []string:
		for _, item := range x {
			out = append(out, node{item, t})
		}
		return out
	case map[string]any:
		if x == nil {
			return out
		}
		if t == "ResourceList" || t == "" || t == "Resource" {
			if rt, ok := x["resourceType"].(string); ok && ev.m.resources[rt] {
				t = rt
			} else if t == "ResourceList" {
				t = ""
			}
		}
	}
	return append(out, node{v, t})
}

func (ev *evaluator) ofType(in []node, typ string) []node {
	var out []node
	for _, n := range in {
		if ev.m.isType(n.t, typ) {
			out = append(out, n)
		}
	}
	return out
}

// truth is FHIRPath's singleton evaluation of a collection as a boolean:
// empty → unknown (ok false); one boolean → it; one other item → true.
func truth(c []node) (val, ok bool) {
	if len(c) != 1 {
		return false, false
	}
	if b, isBool := c[0].v.(bool); isBool {
		return b, true
	}
	return true, true
}

func (ev *evaluator) binary(e *expr, focus []node) []node {
	switch e.name {
	case "|":
		l := ev.eval(e.left, focus)
		r := ev.eval(e.right, focus)
		if len(l) == 0 {
			return r
		}
		out := make([]node, 0, len(l)+len(r))
		return append(append(out, l...), r...)
	case "and", "or", "xor", "implies":
		l, lok := truth(ev.eval(e.left, focus))
		// Short cuts that do not need the right side.
		switch {
		case e.name == "and" && lok && !l:
			return boolean(false)
		case e.name == "or" && lok && l:
			return boolean(true)
		case e.name == "implies" && lok && !l:
			return boolean(true)
		}
		r, rok := truth(ev.eval(e.right, focus))
		switch e.name {
		case "and":
			if rok && !r {
				return boolean(false)
			}
			if lok && rok {
				return boolean(true)
			}
		case "or":
			if rok && r {
				return boolean(true)
			}
			if lok && rok {
				return boolean(false)
			}
		case "xor":
			if lok && rok {
				return boolean(l != r)
			}
		case "implies":
			if rok && r {
				return boolean(true)
			}
			if lok && rok {
				return boolean(false)
			}
		}
		return nil
	case "in", "contains":
		l := ev.eval(e.left, focus)
		r := ev.eval(e.right, focus)
		if e.name == "contains" {
			l, r = r, l
		}
		if len(l) == 0 {
			return nil
		}
		if len(l) != 1 {
			return nil
		}
		for _, x := range r {
			if equal(l[0], x, false) {
				return boolean(true)
			}
		}
		return boolean(false)
	}
	l := ev.eval(e.left, focus)
	r := ev.eval(e.right, focus)
	switch e.name {
	case "=", "!=", "~", "!~":
		equiv := e.name == "~" || e.name == "!~"
		if len(l) == 0 || len(r) == 0 {
			if equiv {
				return boolean((len(l) == 0 && len(r) == 0) == (e.name == "~"))
			}
			return nil
		}
		eq := len(l) == len(r)
		for i := 0; eq && i < len(l); i++ {
			eq = equal(l[i], r[i], equiv)
		}
		if e.name == "!=" || e.name == "!~" {
			eq = !eq
		}
		return boolean(eq)
	case "<", ">", "<=", ">=":
		if len(l) != 1 || len(r) != 1 {
			return nil
		}
		c, ok := compare(l[0].v, r[0].v)
		if !ok {
			return nil
		}
		switch e.name {
		case "<":
			return boolean(c < 0)
		case ">":
			return boolean(c > 0)
		case "<=":
			return boolean(c <= 0)
		}
		return boolean(c >= 0)
	}
	return nil
}

// number is a JSON number as float64 (from encoding/json's float64 or
// json.Number).
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case json.Number:
		f, err := x.Float64()
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	}
	return 0, false
}

func equal(a, b node, equiv bool) bool {
	switch x := a.v.(type) {
	case string:
		y, ok := b.v.(string)
		if !ok {
			return false
		}
		if equiv {
			return strings.EqualFold(strings.Join(strings.Fields(x), " "), strings.Join(strings.Fields(y), " "))
		}
		return x == y
	case bool:
		y, ok := b.v.(bool)
		return ok && x == y
	}
	if x, ok := number(a.v); ok {
		y, ok := number(b.v)
		return ok && x == y
	}
	return false
}

func compare(a, b any) (int, bool) {
	if x, ok := a.(string); ok {
		y, ok := b.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(x, y), true
	}
	x, ok1 := number(a)
	y, ok2 := number(b)
	if !ok1 || !ok2 {
		return 0, false
	}
	switch {
	case x < y:
		return -1, true
	case x > y:
		return 1, true
	}
	return 0, true
}

func (ev *evaluator) call(e *expr, focus []node) []node {
	in := focus
	if e.target != nil {
		in = ev.eval(e.target, focus)
	}
	switch e.name {
	case "where":
		var out []node
		for i := range in {
			if b, ok := truth(ev.eval(e.args[0], in[i:i+1])); ok && b {
				out = append(out, in[i])
			}
		}
		return out
	case "select":
		var out []node
		for i := range in {
			out = append(out, ev.eval(e.args[0], in[i:i+1])...)
		}
		return out
	case "exists":
		if len(e.args) == 1 {
			for i := range in {
				if b, ok := truth(ev.eval(e.args[0], in[i:i+1])); ok && b {
					return boolean(true)
				}
			}
			return boolean(false)
		}
		return boolean(len(in) > 0)
	case "empty":
		return boolean(len(in) == 0)
	case "not":
		if b, ok := truth(in); ok {
			return boolean(!b)
		}
		return nil
	case "first":
		if len(in) == 0 {
			return nil
		}
		return in[:1]
	case "last":
		if len(in) == 0 {
			return nil
		}
		return in[len(in)-1:]
	case "tail":
		if len(in) <= 1 {
			return nil
		}
		return in[1:]
	case "single":
		if len(in) != 1 {
			return nil
		}
		return in
	case "count":
		return []node{{float64(len(in)), "integer"}}
	case "hasValue":
		if len(in) != 1 {
			return boolean(false)
		}
		switch in[0].v.(type) {
		case string, bool, float64, json.Number:
			return boolean(true)
		}
		return boolean(false)
	case "ofType", "as":
		return ev.ofType(in, typeArg(e.args[0]))
	case "is":
		if len(in) != 1 {
			return nil
		}
		return boolean(ev.m.isType(in[0].t, typeArg(e.args[0])))
	case "resolve":
		var out []node
		for _, n := range in {
			if r, ok := ev.resolve(n); ok {
				out = append(out, r)
			}
		}
		return out
	case "extension":
		url := e.args[0].name
		var exts []node
		for _, n := range in {
			exts = ev.child(n, "extension", exts)
		}
		var out []node
		for _, x := range exts {
			if obj, ok := x.v.(map[string]any); ok {
				if u, _ := obj["url"].(string); u == url {
					out = append(out, x)
				}
			}
		}
		return out
	case "trace":
		return in
	}
	return nil
}

// resolve stands in for the referenced resource: its type, from the
// reference (or Reference.type); contained and unresolvable references
// yield nothing. Embedded resources resolve to themselves.
func (ev *evaluator) resolve(n node) (node, bool) {
	switch x := n.v.(type) {
	case string:
		if r := ev.m.parseReference(x); r.typ != "" {
			return node{resolvedRef{r.id}, r.typ}, true
		}
	case map[string]any:
		if ev.m.resources[n.t] {
			return n, true
		}
		if s, ok := x["reference"].(string); ok {
			if r := ev.m.parseReference(s); r.typ != "" {
				return node{resolvedRef{r.id}, r.typ}, true
			}
			return node{}, false
		}
		if t, ok := x["type"].(string); ok {
			t = strings.TrimPrefix(t, "http://hl7.org/fhir/StructureDefinition/")
			if ev.m.resources[t] {
				return node{resolvedRef{}, t}, true
			}
		}
	}
	return node{}, false
}

type reference struct {
	typ, id string
	url     string
}

// parseReference splits a literal reference: "Patient/1" and
// "Patient/1/_history/2" give the type and id; an absolute URL ending in
// Type/id (Type an R4 resource type, id a valid id) gives them too, plus
// the URL; anything else ("urn:uuid:…", "#contained", a canonical without
// Type/id) only the URL.
func (m *model) parseReference(s string) reference {
	s = strings.TrimSpace(s)
	if s == "" {
		return reference{}
	}
	absolute := strings.Contains(s, "://") || strings.HasPrefix(s, "urn:")
	r := reference{}
	if absolute {
		r.url = s
	}
	if strings.HasPrefix(s, "urn:") || strings.HasPrefix(s, "#") {
		r.url = s
		return r
	}
	path := s
	if q := strings.IndexAny(path, "?#"); q >= 0 {
		path = path[:q]
	}
	path = strings.TrimRight(path, "/")
	if i := strings.Index(path, "/_history/"); i >= 0 {
		path = path[:i]
	}
	j := strings.LastIndexByte(path, '/')
	if j <= 0 {
		if !absolute {
			r.url = s
		}
		return r
	}
	id := path[j+1:]
	typ := path[:j]
	if k := strings.LastIndexByte(typ, '/'); k >= 0 {
		if !absolute {
			// "a/b/c" is not a local reference.
			r.url = s
			return r
		}
		typ = typ[k+1:]
	}
	// Absolute URLs must end in a resource type and a valid id; relative
	// references split like the search side splits "Type/id".
	if absolute && (!validID(id) || !m.resources[typ]) ||
		!absolute && (id == "" || !isTypeName(typ)) {
		if !absolute {
			r.url = s
		}
		return r
	}
	r.typ, r.id = typ, id
	return r
}

// isTypeName is the shape of a resource type name: a capital letter, then
// letters.
func isTypeName(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// validID is the FHIR id rule: 1–64 of A-Z a-z 0-9 - .
func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
