package resource

import (
	"encoding/base64"
	"encoding/json"
	"html"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/fhir"
)

// Issue is one problem with a simplified body: the field, as a simplified
// path such as "contact[1].email", and the rule it breaks. It never holds
// the value.
type Issue struct {
	Field      string
	Constraint string
	// FHIRPath names the FHIR element, for issues found by FHIR validation.
	FHIRPath string
}

func (i Issue) String() string {
	if i.Field == "" {
		return i.Constraint
	}
	return i.Field + ": " + i.Constraint
}

// UCUM is the system of Quantity units.
const UCUM = "http://unitsofmeasure.org"

// typeOfPrefix maps server-assigned id prefixes (pt-…) to resource types.
var typeOfPrefix = func() map[string]string {
	m := map[string]string{}
	for t, p := range datastore.IDPrefix {
		m[p] = t
	}
	return m
}()

// conv collects the issues of one conversion.
type conv struct {
	now    time.Time
	issues []Issue
}

func (c *conv) fail(field, constraint string) {
	c.issues = append(c.issues, Issue{Field: field, Constraint: constraint})
}

func join(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// ToFHIR builds a new FHIR resource from a create body. Absent fields get
// their defaults; the issues name fields the mapping refuses (unknown
// fields, references that are not ids, values of the wrong shape).
func (d *Def) ToFHIR(body map[string]any, now time.Time) (fhir.Resource, []Issue) {
	c := &conv{now: now.UTC()}
	body = d.withoutImplied(body)
	res := map[string]any{"resourceType": d.Type}
	for _, f := range d.Fixed {
		set(res, mustPath(f.Path), deepCopy(f.Value))
	}
	c.unknown("", body, d.Fields)
	c.exclusive(d, body)
	for i := range d.Fields {
		f := &d.Fields[i]
		v, ok := body[f.Name]
		if !ok || isEmpty(v) {
			if f.Default == nil {
				continue
			}
			v = f.Default
			if v == Now {
				v = c.now.Format(time.RFC3339)
			}
		}
		c.write(res, f, v, f.Name, d.Fields)
	}
	return res, c.issues
}

// Merge computes, for each field a PATCH body names, its new simplified
// value: the current one (read back from res) merge-patched with the
// body's (RFC 7396: objects merge, null removes, anything else replaces).
// A nil value means the field is to be removed.
func (d *Def) Merge(res fhir.Resource, patch map[string]any) (map[string]any, []Issue) {
	c := &conv{}
	patch = d.withoutImplied(patch)
	c.unknown("", patch, d.Fields)
	c.exclusive(d, patch)
	out := map[string]any{}
	for i := range d.Fields {
		f := &d.Fields[i]
		pv, ok := patch[f.Name]
		if !ok {
			continue
		}
		var cur any
		if !f.WriteOnly {
			cur = c.read(res, f, d.Fields)
		}
		nv := mergePatch(cur, pv)
		if isEmpty(nv) {
			nv = nil
		}
		out[f.Name] = nv
	}
	return out, c.issues
}

// Apply writes changed fields (from Merge) into res: a nil value removes
// the field's elements; a value replaces them, and removes the other
// fields of its exclusive group.
func (d *Def) Apply(res fhir.Resource, changes map[string]any, now time.Time) []Issue {
	c := &conv{now: now.UTC()}
	for i := range d.Fields {
		f := &d.Fields[i]
		v, ok := changes[f.Name]
		if !ok {
			continue
		}
		if v == nil {
			c.remove(res, f)
			continue
		}
		for _, g := range d.Exclusive {
			if slices.Contains(g, f.Name) {
				for _, other := range g {
					if o := d.field(other); o != nil && other != f.Name {
						c.remove(res, o)
					}
				}
			}
		}
		if f.Wrap != nil {
			c.remove(res, f) // the element is replaced as a whole
		}
		c.write(res, f, v, f.Name, d.Fields)
	}
	return c.issues
}

// ToSimple reads a FHIR resource back into the simplified shape: what a
// create body with the same content would hold.
func (d *Def) ToSimple(res fhir.Resource) map[string]any {
	c := &conv{}
	out := map[string]any{}
	for i := range d.Fields {
		f := &d.Fields[i]
		if f.WriteOnly {
			continue
		}
		if v := c.read(res, f, d.Fields); !isEmpty(v) {
			out[f.Name] = v
		}
	}
	return out
}

// unknown reports keys of obj that no field declares.
func (c *conv) unknown(path string, obj map[string]any, fields []Field) {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.ContainsFunc(fields, func(f Field) bool { return f.Name == k }) {
			c.fail(join(path, k), "is not a known field")
		}
	}
}

func (c *conv) exclusive(d *Def, body map[string]any) {
	for _, g := range slices.Concat(d.Exclusive, d.Conflicts) {
		var given []string
		for _, name := range g {
			if v, ok := body[name]; ok && !isEmpty(v) {
				given = append(given, name)
			}
		}
		if len(given) > 1 {
			c.fail(given[1], "cannot be combined with "+given[0])
		}
	}
}

// withoutImplied drops from a body that gives several variants of one
// choice element a boolean variant that is true, which the others imply
// (deceasedDate implies deceased, multipleBirthInteger a multiple birth):
// the other variant is kept.
func (d *Def) withoutImplied(body map[string]any) map[string]any {
	var drop []string
	for _, g := range d.Exclusive {
		given := 0
		var trues []string
		for _, name := range g {
			v, ok := body[name]
			if !ok || isEmpty(v) {
				continue
			}
			given++
			if b, ok := v.(bool); ok && b {
				trues = append(trues, name)
			}
		}
		if len(trues) > 0 && given > len(trues) {
			drop = append(drop, trues...)
		}
	}
	if len(drop) == 0 {
		return body
	}
	out := maps.Clone(body)
	for _, name := range drop {
		delete(out, name)
	}
	return out
}

func mergePatch(cur, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	cm, _ := cur.(map[string]any)
	out := map[string]any{}
	for k, v := range cm {
		out[k] = v
	}
	for k, v := range pm {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = mergePatch(out[k], v)
	}
	return out
}

func subPath(f *Field, sf *Field) []segment {
	return append(slices.Clone(mustPath(f.Path)), mustPath(sf.Path)...)
}

// write converts v and stores it in target (the resource or an element).
// siblings are the fields of the enclosing level, for Self lists.
func (c *conv) write(target map[string]any, f *Field, v any, path string, siblings []Field) {
	segs := mustPath(f.Path)
	switch f.Kind {
	case Object:
		obj, ok := v.(map[string]any)
		if !ok {
			c.fail(path, "must be an object")
			return
		}
		c.unknown(path, obj, f.Fields)
		for i := range f.Fields {
			sf := &f.Fields[i]
			sv, ok := obj[sf.Name]
			if !ok || isEmpty(sv) {
				removePath(target, subPath(f, sf))
				continue
			}
			// An Object's fields are written relative to its path.
			inner := *sf
			inner.Path = f.Path + "." + sf.Path
			c.write(target, &inner, sv, join(path, sf.Name), f.Fields)
		}
		return
	case List:
		items, ok := v.([]any)
		if !ok {
			c.fail(path, "must be an array")
			return
		}
		fields := f.Fields
		if f.Self {
			fields = siblings
		}
		var elems []any
		for i, it := range items {
			ip := path + "[" + strconv.Itoa(i) + "]"
			obj, ok := it.(map[string]any)
			if !ok {
				c.fail(ip, "must be an object")
				continue
			}
			c.unknown(ip, obj, fields)
			elem, _ := deepCopy(f.Wrap).(map[string]any)
			if elem == nil {
				elem = map[string]any{}
			}
			for j := range fields {
				sf := &fields[j]
				sv, ok := obj[sf.Name]
				if !ok || isEmpty(sv) {
					continue
				}
				c.write(elem, sf, sv, join(ip, sf.Name), fields)
			}
			if len(elem) > 0 {
				elems = append(elems, elem)
			}
		}
		setAll(target, segs, elems)
		return
	}
	out, ok := c.convert(f, v, path)
	if !ok {
		return
	}
	if f.Wrap != nil {
		out = substitute(f.Wrap, out)
	}
	set(target, segs, out)
}

// remove deletes what a field wrote.
func (c *conv) remove(target map[string]any, f *Field) {
	if f.Kind == Object {
		for i := range f.Fields {
			removePath(target, subPath(f, &f.Fields[i]))
		}
		return
	}
	removePath(target, mustPath(f.Path))
}

// read returns a field's simplified value from target.
func (c *conv) read(target map[string]any, f *Field, siblings []Field) any {
	segs := mustPath(f.Path)
	switch f.Kind {
	case Object:
		out := map[string]any{}
		for i := range f.Fields {
			sf := f.Fields[i]
			if sf.WriteOnly {
				continue
			}
			sf.Path = f.Path + "." + sf.Path
			if v := c.read(target, &sf, f.Fields); !isEmpty(v) {
				out[f.Fields[i].Name] = v
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case List:
		fields := f.Fields
		if f.Self {
			fields = siblings
		}
		var out []any
		for _, e := range getAll(target, segs) {
			elem, ok := e.(map[string]any)
			if !ok {
				continue
			}
			item := map[string]any{}
			for j := range fields {
				sf := &fields[j]
				if sf.WriteOnly {
					continue
				}
				if v := c.read(elem, sf, fields); !isEmpty(v) {
					item[sf.Name] = v
				}
			}
			if len(item) > 0 {
				out = append(out, item)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case Const:
		return nil
	}
	v := get(target, segs)
	if v == nil {
		return nil
	}
	if f.Wrap != nil {
		v = extract(f.Wrap, v)
		if v == nil {
			return nil
		}
	}
	return c.back(f, v)
}

// convert shapes one simplified value for FHIR.
func (c *conv) convert(f *Field, v any, path string) (any, bool) {
	switch f.Kind {
	case Value, Const:
		return deepCopy(v), true
	case Ref:
		s, ok := v.(string)
		if !ok {
			c.fail(path, "must be a string")
			return nil, false
		}
		return c.ref(f, s, path)
	case Refs:
		items, ok := v.([]any)
		if !ok {
			c.fail(path, "must be an array")
			return nil, false
		}
		var out []any
		for i, it := range items {
			ip := path + "[" + strconv.Itoa(i) + "]"
			s, ok := it.(string)
			if !ok {
				c.fail(ip, "must be a string")
				continue
			}
			if r, ok := c.ref(f, s, ip); ok {
				out = append(out, r)
			}
		}
		return out, len(out) > 0
	case Concept:
		return c.concept(f, v, path)
	case Concepts:
		items, ok := v.([]any)
		if !ok {
			items = []any{v}
		}
		var out []any
		for i, it := range items {
			ip := path
			if ok {
				ip += "[" + strconv.Itoa(i) + "]"
			}
			if cc, ok := c.concept(f, it, ip); ok {
				out = append(out, cc)
			}
		}
		return out, len(out) > 0
	case Coding:
		return c.coding(f, v, path)
	case Codings:
		items, ok := v.([]any)
		if !ok {
			c.fail(path, "must be an array")
			return nil, false
		}
		var out []any
		for i, it := range items {
			if cd, ok := c.coding(f, it, path+"["+strconv.Itoa(i)+"]"); ok {
				out = append(out, cd)
			}
		}
		return out, len(out) > 0
	case Quantity:
		n, ok := v.(float64)
		if !ok {
			c.fail(path, "must be a number")
			return nil, false
		}
		return map[string]any{"value": n, "unit": f.Unit, "system": UCUM, "code": f.Unit}, true
	case Base64:
		s, ok := v.(string)
		if !ok {
			c.fail(path, "must be a string")
			return nil, false
		}
		return base64.StdEncoding.EncodeToString([]byte(s)), true
	case Narrative:
		s, ok := v.(string)
		if !ok {
			c.fail(path, "must be a string")
			return nil, false
		}
		return map[string]any{"status": "additional", "div": xhtmlOpen + html.EscapeString(s) + xhtmlClose}, true
	case Canonical:
		s, ok := v.(string)
		if !ok {
			c.fail(path, "must be a string")
			return nil, false
		}
		if strings.Contains(s, "://") || strings.HasPrefix(s, "urn:") {
			return s, true
		}
		if t, id, ok := strings.Cut(s, "/"); ok && t == f.Targets[0] && datastore.ValidID(id) {
			return s, true
		}
		if !datastore.ValidID(s) {
			c.fail(path, "must be a canonical URL or the id of a "+f.Targets[0])
			return nil, false
		}
		return f.Targets[0] + "/" + s, true
	}
	c.fail(path, "cannot be mapped")
	return nil, false
}

const (
	xhtmlOpen  = `<div xmlns="http://www.w3.org/1999/xhtml">`
	xhtmlClose = `</div>`
)

// ref turns an id (or Type/id) into a Reference.
func (c *conv) ref(f *Field, s, path string) (any, bool) {
	typ, id := "", s
	if t, rest, ok := strings.Cut(s, "/"); ok {
		typ, id = t, rest
	} else if p, _, ok := strings.Cut(s, "-"); ok && slices.Contains(f.Targets, typeOfPrefix[p]) {
		typ = typeOfPrefix[p]
	} else if !f.Loose {
		typ = f.Targets[0]
	}
	if typ != "" && slices.Contains(f.Targets, typ) && datastore.ValidID(id) {
		return map[string]any{"reference": typ + "/" + id}, true
	}
	if f.Loose {
		return map[string]any{"display": s}, true
	}
	if len(f.Targets) == 1 {
		c.fail(path, "must be the id of a "+f.Targets[0])
	} else {
		c.fail(path, "must be the id of a "+f.Targets[0]+", or Type/id with Type one of "+strings.Join(f.Targets, ", "))
	}
	return nil, false
}

// keyOf finds the bare string a coding was translated from: a word
// (the shortest, then the first alphabetically) rather than the code.
func keyOf(codes map[string]Code, sys, code string) string {
	best, codeKey := "", ""
	for k, cd := range codes {
		if code == "" || cd.System != sys || cd.Code != code {
			continue
		}
		if k == code {
			codeKey = k
			continue
		}
		if best == "" || len(k) < len(best) || len(k) == len(best) && k < best {
			best = k
		}
	}
	if best == "" {
		return codeKey
	}
	return best
}

// codeOf looks a bare string up in the field's known codes.
func codeOf(f *Field, s string) (Code, bool) { return lookupCode(f.Codes, s) }

// lookupCode finds a bare string among known codes, ignoring case.
func lookupCode(codes map[string]Code, s string) (Code, bool) {
	if cd, ok := codes[s]; ok {
		return cd, true
	}
	for k, cd := range codes {
		if strings.EqualFold(k, s) {
			return cd, true
		}
	}
	return Code{}, false
}

func (cd Code) coding() map[string]any {
	m := map[string]any{}
	if cd.System != "" {
		m["system"] = cd.System
	}
	if cd.Code != "" {
		m["code"] = cd.Code
	}
	if cd.Display != "" {
		m["display"] = cd.Display
	}
	return m
}

// codeObject reads {system, code, display} (text too, for concepts).
func (c *conv) codeObject(v map[string]any, path string, text bool) (Code, string, bool) {
	var cd Code
	var txt string
	ok := true
	for k, x := range v {
		s, isStr := x.(string)
		if !isStr {
			c.fail(join(path, k), "must be a string")
			ok = false
			continue
		}
		switch k {
		case "system":
			cd.System = s
		case "code":
			cd.Code = s
		case "display":
			cd.Display = s
		case "text":
			if text {
				txt = s
				continue
			}
			fallthrough
		default:
			c.fail(join(path, k), "is not a known field")
			ok = false
		}
	}
	return cd, txt, ok
}

func (c *conv) concept(f *Field, v any, path string) (any, bool) {
	switch x := v.(type) {
	case string:
		if x == "" {
			return nil, false
		}
		if cd, ok := codeOf(f, x); ok {
			return map[string]any{"coding": []any{cd.coding()}}, true
		}
		if f.System != "" && (f.CodeIf == nil || f.CodeIf.MatchString(x)) {
			return map[string]any{"coding": []any{Code{System: f.System, Code: x}.coding()}}, true
		}
		return map[string]any{"text": x}, true
	case map[string]any:
		cd, txt, ok := c.codeObject(x, path, true)
		if !ok {
			return nil, false
		}
		out := map[string]any{}
		if cd.Code != "" || cd.System != "" {
			out["coding"] = []any{cd.coding()}
		} else if cd.Display != "" && txt == "" {
			txt = cd.Display
		}
		if txt != "" {
			out["text"] = txt
		}
		if len(out) == 0 {
			c.fail(path, "must have a code or a display")
			return nil, false
		}
		return out, true
	}
	c.fail(path, "must be a string or a code object")
	return nil, false
}

func (c *conv) coding(f *Field, v any, path string) (any, bool) {
	switch x := v.(type) {
	case string:
		if cd, ok := codeOf(f, x); ok {
			return cd.coding(), true
		}
		if f.System != "" {
			return Code{System: f.System, Code: x}.coding(), true
		}
		return map[string]any{"display": x}, true
	case map[string]any:
		cd, _, ok := c.codeObject(x, path, false)
		if !ok {
			return nil, false
		}
		if cd.Code == "" && cd.Display == "" {
			c.fail(path, "must have a code or a display")
			return nil, false
		}
		return cd.coding(), true
	}
	c.fail(path, "must be a string or a code object")
	return nil, false
}

// back turns a FHIR value into the simplified one.
func (c *conv) back(f *Field, v any) any {
	switch f.Kind {
	case Ref:
		return backRef(f, v)
	case Refs:
		items, _ := v.([]any)
		var out []any
		for _, it := range items {
			if r := backRef(f, it); r != nil {
				out = append(out, r)
			}
		}
		return out
	case Concept:
		return backConcept(f, v)
	case Concepts:
		items, _ := v.([]any)
		var out []any
		for _, it := range items {
			if cc := backConcept(f, it); cc != nil {
				out = append(out, cc)
			}
		}
		return out
	case Coding:
		return backCoding(f, v)
	case Codings:
		items, _ := v.([]any)
		var out []any
		for _, it := range items {
			if cd := backCoding(f, it); cd != nil {
				out = append(out, cd)
			}
		}
		return out
	case Quantity:
		m, _ := v.(map[string]any)
		return m["value"]
	case Base64:
		s, _ := v.(string)
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil
		}
		return string(b)
	case Narrative:
		m, _ := v.(map[string]any)
		div, _ := m["div"].(string)
		if strings.HasPrefix(div, xhtmlOpen) && strings.HasSuffix(div, xhtmlClose) && !strings.Contains(div[len(xhtmlOpen):len(div)-len(xhtmlClose)], "<") {
			return html.UnescapeString(div[len(xhtmlOpen) : len(div)-len(xhtmlClose)])
		}
		return strings.TrimSpace(html.UnescapeString(tags.ReplaceAllString(div, " ")))
	case Canonical:
		s, _ := v.(string)
		if t, id, ok := strings.Cut(s, "/"); ok && t == f.Targets[0] && datastore.ValidID(id) {
			return id
		}
		return s
	}
	return deepCopy(v)
}

var tags = regexp.MustCompile(`<[^>]*>`)

func backRef(f *Field, v any) any {
	m, _ := v.(map[string]any)
	ref, _ := m["reference"].(string)
	if ref == "" {
		if d, ok := m["display"].(string); ok && d != "" {
			return d
		}
		return nil
	}
	t, id, ok := strings.Cut(ref, "/")
	if !ok {
		return ref
	}
	// A bare id where it converts back to the same reference: its prefix
	// names its type, or (unless names are kept as displays) the type is
	// the first target.
	p, _, _ := strings.Cut(id, "-")
	if t == f.Targets[0] && !f.Loose || typeOfPrefix[p] == t && slices.Contains(f.Targets, t) {
		return id
	}
	return ref
}

func backCoding(f *Field, v any) any {
	m, _ := v.(map[string]any)
	if m == nil {
		return nil
	}
	sys, _ := m["system"].(string)
	code, _ := m["code"].(string)
	display, _ := m["display"].(string)
	if k := keyOf(f.Codes, sys, code); k != "" {
		return k
	}
	if f.System != "" && sys == f.System && code != "" && display == "" {
		return code
	}
	if sys == "" && code == "" {
		if display == "" {
			return nil
		}
		return display
	}
	out := map[string]any{}
	for k, s := range map[string]string{"system": sys, "code": code, "display": display} {
		if s != "" {
			out[k] = s
		}
	}
	return out
}

func backConcept(f *Field, v any) any {
	m, _ := v.(map[string]any)
	if m == nil {
		return nil
	}
	text, _ := m["text"].(string)
	codings, _ := m["coding"].([]any)
	if len(codings) == 0 {
		if text == "" {
			return nil
		}
		return text
	}
	cd := backCoding(f, codings[0])
	if obj, ok := cd.(map[string]any); ok && text != "" {
		if _, has := obj["display"]; !has {
			obj["display"] = text
		}
	}
	return cd
}

// substitute copies a Wrap template with "$" replaced by v.
func substitute(tmpl, v any) any {
	switch t := tmpl.(type) {
	case string:
		if t == "$" {
			return v
		}
		return t
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = substitute(x, v)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = substitute(x, v)
		}
		return out
	}
	return tmpl
}

// extract finds, in a value written through a Wrap template, what stands
// where the template has "$".
func extract(tmpl, v any) any {
	switch t := tmpl.(type) {
	case string:
		if t == "$" {
			return v
		}
	case map[string]any:
		m, _ := v.(map[string]any)
		for k, x := range t {
			if hasPlaceholder(x) {
				return extract(x, m[k])
			}
		}
	case []any:
		arr, _ := v.([]any)
		for i, x := range t {
			if hasPlaceholder(x) && i < len(arr) {
				return extract(x, arr[i])
			}
		}
	}
	return nil
}

func hasPlaceholder(tmpl any) bool {
	switch t := tmpl.(type) {
	case string:
		return t == "$"
	case map[string]any:
		for _, x := range t {
			if hasPlaceholder(x) {
				return true
			}
		}
	case []any:
		for _, x := range t {
			if hasPlaceholder(x) {
				return true
			}
		}
	}
	return false
}

// deepCopy copies decoded JSON, so that stored templates and request
// values are never shared between resources.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	case int:
		return float64(x)
	case json.Number:
		f, _ := x.Float64()
		return f
	}
	return v
}
