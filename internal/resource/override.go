package resource

import (
	"fmt"
	"slices"
	"strings"
)

// Generated lists the declarations of every simplified resource of the
// contract, in its order: the generated base (base_gen.go) with the
// overrides of defs.go applied. All, the routed ones, is a subset; a
// resource joins it once its declaration maps every contract field
// (Unmapped is empty) and its round trip is tested.
var Generated = baseList

var (
	baseList = baseDefs()
	bases    = func() map[string]*Def {
		m := make(map[string]*Def, len(baseList))
		for _, d := range baseList {
			m[d.Path] = d
		}
		return m
	}()
)

// override applies edit to the generated base declaration of a route
// segment and returns it. Each segment has at most one override; edit
// changes the Def in place with set, add, edit, setParam and addParam (or
// plain assignments for Fixed, Exclusive, Conflicts and Sorts), which
// panic on a name the contract does not have, so that an override cannot
// silently outlive the field it was written for.
func override(path string, edit func(d *Def)) *Def {
	d := bases[path]
	if d == nil {
		panic("resource: override of " + path + ", which the contract does not have")
	}
	edit(d)
	return d
}

func fieldIndex(fields []Field, name string) int {
	return slices.IndexFunc(fields, func(f Field) bool { return f.Name == name })
}

// replaceFields puts each of fs in the place of the field of its name.
func replaceFields(where string, fields []Field, fs []Field) {
	for _, f := range fs {
		i := fieldIndex(fields, f.Name)
		if i < 0 {
			panic(fmt.Sprintf("resource: %s has no field %s to set", where, f.Name))
		}
		fields[i] = f
	}
}

// set replaces the generated fields of the same names (in their places,
// which follow the contract's order) by the given declarations.
func (d *Def) set(fs ...Field) { replaceFields(d.Path, d.Fields, fs) }

// set replaces nested fields of an Object or List, as Def.set does.
func (f *Field) set(fs ...Field) { replaceFields(f.Name, f.Fields, fs) }

// add appends fields that the contract does not list (what the official
// SDK sends besides).
func (d *Def) add(fs ...Field) {
	for _, f := range fs {
		if fieldIndex(d.Fields, f.Name) >= 0 {
			panic(fmt.Sprintf("resource: %s already has a field %s", d.Path, f.Name))
		}
		d.Fields = append(d.Fields, f)
	}
}

// edit returns the field called name ("dosage.route" for a nested one),
// to change in place.
func (d *Def) edit(name string) *Field { return editField(d.Path, d.Fields, name) }

// edit returns a nested field of an Object or List, as Def.edit does.
func (f *Field) edit(name string) *Field { return editField(f.Name, f.Fields, name) }

func editField(where string, fields []Field, name string) *Field {
	var f *Field
	for part := range strings.SplitSeq(name, ".") {
		i := fieldIndex(fields, part)
		if i < 0 {
			panic(fmt.Sprintf("resource: %s has no field %s", where, name))
		}
		f = &fields[i]
		fields = f.Fields
	}
	return f
}

// insert puts nested fields the contract does not list before the field
// called before ("" appends them).
func (f *Field) insert(before string, fs ...Field) {
	for _, nf := range fs {
		if fieldIndex(f.Fields, nf.Name) >= 0 {
			panic(fmt.Sprintf("resource: %s already has a field %s", f.Name, nf.Name))
		}
	}
	i := len(f.Fields)
	if before != "" {
		if i = fieldIndex(f.Fields, before); i < 0 {
			panic(fmt.Sprintf("resource: %s has no field %s", f.Name, before))
		}
	}
	f.Fields = slices.Insert(f.Fields, i, fs...)
}

// setParam replaces the generated query parameters of the same names
// (ps are Params or []Params, as params takes).
func (d *Def) setParam(ps ...any) {
	for _, p := range params(ps...) {
		i := slices.IndexFunc(d.Params, func(q Param) bool { return q.Name == p.Name })
		if i < 0 {
			panic(fmt.Sprintf("resource: %s has no query parameter %s to set", d.Path, p.Name))
		}
		d.Params[i] = p
	}
}

// addParam appends query parameters that the contract does not list.
func (d *Def) addParam(ps ...any) {
	for _, p := range params(ps...) {
		if slices.ContainsFunc(d.Params, func(q Param) bool { return q.Name == p.Name }) {
			panic(fmt.Sprintf("resource: %s already has a query parameter %s", d.Path, p.Name))
		}
		d.Params = append(d.Params, p)
	}
}

// Unmapped lists what a declaration leaves unmapped: fields (dotted
// when nested) without a Path, and query parameters without a Code. A
// resource is routed only when it is empty.
func (d *Def) Unmapped() []string {
	var out []string
	var walk func(fields []Field, prefix string)
	walk = func(fields []Field, prefix string) {
		for _, f := range fields {
			if f.Path == "" {
				out = append(out, prefix+f.Name)
				continue
			}
			walk(f.Fields, prefix+f.Name+".")
		}
	}
	walk(d.Fields, "")
	for _, p := range d.Params {
		if p.Code == "" {
			out = append(out, "?"+p.Name)
		}
	}
	return out
}
