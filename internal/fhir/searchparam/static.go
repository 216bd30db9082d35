package searchparam

import (
	"slices"
	"sort"
)

// annotate infers the types an expression yields for a focus of the given
// types, mirroring evaluator.eval over types instead of values, and
// returns a copy of e in which element names are resolved ahead (see
// expr.inType), so that evaluation does one map lookup per element and
// probes only the variants of a choice element that a following
// ofType(T) or "as T" keeps. Unknown elements yield "?Type.name" types
// (evaluation then finds nothing there).
func (m *model) annotate(e *expr, focus []string) (*expr, []string) {
	if e == nil {
		return nil, nil
	}
	c := *e
	uniq := func(ts []string) []string {
		sort.Strings(ts)
		return slices.Compact(ts)
	}
	children := func(in []string) []string {
		var out []string
		for _, t := range in {
			ct, vs, ok := m.element(t, c.name)
			switch {
			case !ok:
				out = append(out, "?"+t+"."+c.name)
			case vs != nil:
				for _, v := range vs {
					out = append(out, v.typ)
				}
			case ct == "ResourceList":
				out = append(out, "Resource")
			default:
				out = append(out, ct)
			}
		}
		if len(in) == 1 {
			if ct, vs, ok := m.element(in[0], c.name); ok && ct != "ResourceList" {
				c.inType, c.elemType, c.choice = in[0], ct, vs
			}
		}
		return uniq(out)
	}
	filter := func(in []string, typ string) []string {
		var out []string
		for _, t := range in {
			if m.isType(t, typ) || t == "Resource" && m.isType(typ, "Resource") {
				out = append(out, t)
			}
		}
		return out
	}
	// narrow keeps, in an annotated choice element, the variants of type t.
	narrow := func(target *expr, t string) {
		if target != nil && (target.kind == nMember || target.kind == nIdent) && target.choice != nil {
			var vs []variant
			for _, v := range target.choice {
				if m.isType(v.typ, t) {
					vs = append(vs, v)
				}
			}
			if vs == nil {
				vs = []variant{} // none: still resolved, finds nothing
			}
			target.choice = vs
		}
	}
	var out []string
	switch e.kind {
	case nIdent:
		if ch := e.name[0]; ch >= 'A' && ch <= 'Z' {
			out = filter(focus, e.name)
		} else {
			out = children(focus)
		}
	case nMember:
		var in []string
		c.target, in = m.annotate(e.target, focus)
		out = children(in)
	case nParen, nIndex, nUnary:
		c.target, out = m.annotate(e.target, focus)
		if e.kind == nIndex {
			c.args = []*expr{nil}
			c.args[0], _ = m.annotate(e.args[0], focus)
		}
	case nString:
		out = []string{"string"}
	case nNumber:
		out = []string{"decimal"}
	case nBool:
		out = []string{"boolean"}
	case nVar:
		out = focus
	case nTypeOp:
		var in []string
		c.target, in = m.annotate(e.target, focus)
		if e.name == "is" {
			out = []string{"boolean"}
		} else {
			narrow(c.target, e.typ)
			out = filter(in, e.typ)
		}
	case nBinary:
		var l, r []string
		c.left, l = m.annotate(e.left, focus)
		c.right, r = m.annotate(e.right, focus)
		if e.name == "|" {
			out = uniq(append(slices.Clone(l), r...))
		} else {
			out = []string{"boolean"}
		}
	case nFunc:
		in := focus
		if e.target != nil {
			c.target, in = m.annotate(e.target, focus)
		}
		c.args = make([]*expr, len(e.args))
		for i, a := range e.args {
			switch e.name {
			case "where", "select", "exists":
				// Evaluated per item: annotate for each input type alone
				// only when there is one.
				if len(in) == 1 {
					c.args[i], _ = m.annotate(a, in)
				} else {
					c.args[i] = a
				}
			case "ofType", "as", "is", "extension":
				c.args[i] = a
			default:
				c.args[i], _ = m.annotate(a, focus)
			}
		}
		switch e.name {
		case "where", "first", "last", "tail", "single", "trace":
			out = in
		case "ofType", "as":
			t := typeArg(e.args[0])
			narrow(c.target, t)
			out = filter(in, t)
		case "resolve":
			out = []string{"Resource"}
		case "extension":
			out = []string{"Extension"}
		case "count":
			out = []string{"integer"}
		case "select":
			var ts []string
			for _, t := range in {
				_, st := m.annotate(e.args[0], []string{t})
				ts = append(ts, st...)
			}
			out = uniq(ts)
		default:
			out = []string{"boolean"}
		}
	}
	return &c, out
}
