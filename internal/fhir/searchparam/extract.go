package searchparam

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clinikapi/clinikapi/internal/fhir"
)

// Extract evaluates every supported search parameter of the resource's
// type and returns the index values, grouped by parameter (sorted by code)
// and in document order within one; identical values of one parameter are
// listed once. By parameter type (R4 search semantics):
//
//   - string: each string/markdown; HumanName family, given, prefix, suffix,
//     text; Address line, city, district, state, postalCode, country, text.
//     Text = Normalize(s), Exact = s.
//   - token: System/Code from Coding, each coding of a CodeableConcept,
//     Identifier system/value, ContactPoint value (no system), code, id,
//     string and uri values, booleans as "true"/"false".
//   - reference: "Type/id" → RefType/RefID; an absolute URL ending in an R4
//     Type/id → RefType/RefID and URL; urn:, #contained, canonical and uri
//     → URL only; Reference.identifier → System/Code (for :identifier); an
//     embedded resource (Bundle.entry[0].resource) → its type/id if among
//     the parameter's targets. where(resolve() is X) filters are honoured.
//   - date: [Start, End) in UTC per ParseDate; a Period from its start to
//     the end of its end (OpenStart/OpenEnd when open); a Timing from its
//     earliest event (or repeat.boundsPeriod) to its latest.
//   - number: decimal/integer; a Range gives low and high.
//   - quantity: Number = value, System = system, Code = code or else unit;
//     Money → System "urn:iso:std:iso:4217", Code = currency; a Range gives
//     low and high; SampledData and quantities without a value nothing.
//   - uri: URL.
//
// Elements of unexpected JSON types are skipped, never an error; the error
// is for a resource without a known resourceType. res is only read.
//
// res is decoded JSON (map[string]any, []any, string, float64 or
// json.Number, bool); []map[string]any and []string are accepted too.
// Extract after setting id and meta.lastUpdated: _id and _lastUpdated are
// extracted from them like any other parameter.
func (r *Registry) Extract(res fhir.Resource) ([]fhir.Value, error) {
	if res == nil {
		return nil, errors.New("searchparam: no resource")
	}
	rt, _ := res["resourceType"].(string)
	if rt == "" {
		return nil, errors.New("searchparam: the resource has no resourceType")
	}
	p := r.byType[rt]
	if p == nil {
		return nil, fmt.Errorf("searchparam: unknown resource type %q", rt)
	}
	ev := evaluator{m: r.m, root: []node{{map[string]any(res), rt}}}
	x := extractor{m: r.m, out: make([]fhir.Value, 0, max(16, int(p.sizeHint.Load())))}
	for i := range p.compiled {
		c := &p.compiled[i]
		nodes := ev.eval(c.e, ev.root)
		if len(nodes) == 0 {
			continue
		}
		start := len(x.out)
		x.sp = &c.sp
		x.base = fhir.Value{Param: c.sp.Code, Type: c.sp.Type}
		for _, n := range nodes {
			x.convert(n)
		}
		x.out = dedupe(x.out, start)
	}
	if n := int32(min(len(x.out), 1024)); n != p.sizeHint.Load() {
		p.sizeHint.Store(n)
	}
	return x.out, nil
}

// extractor turns the nodes of one parameter (sp) into values appended to
// out, each starting as base.
type extractor struct {
	m    *model
	sp   *fhir.SearchParam
	base fhir.Value
	out  []fhir.Value
}

// kind is the FHIR type of n, guessed from its shape when the model did not
// say (elements of unknown types).
func (x *extractor) kind(n node) string {
	if n.t != "" {
		return n.t
	}
	switch v := n.v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case map[string]any:
		if rt, ok := v["resourceType"].(string); ok && x.m.resources[rt] {
			return rt
		}
		switch {
		case has(v, "coding"):
			return "CodeableConcept"
		case has(v, "reference"):
			return "Reference"
		case has(v, "family") || has(v, "given"):
			return "HumanName"
		case has(v, "line") || has(v, "city") || has(v, "postalCode"):
			return "Address"
		case has(v, "start") || has(v, "end"):
			return "Period"
		case has(v, "low") || has(v, "high"):
			return "Range"
		case has(v, "currency"):
			return "Money"
		case has(v, "value") && (has(v, "unit") || has(v, "code") && has(v, "system")):
			return "Quantity"
		case has(v, "code"):
			return "Coding"
		case has(v, "value"):
			return "Identifier"
		}
	}
	if _, ok := number(n.v); ok {
		return "decimal"
	}
	return ""
}

func has(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}

// str is m[k] if it is a non-empty string.
func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// items returns the items of a JSON array, or v itself as the only item;
// arrays of arrays are not FHIR JSON and give nothing. one is scratch
// space for the single-item case.
func items(v any, one *[1]any) []any {
	switch a := v.(type) {
	case nil:
		return nil
	case []any:
		return a
	case []string:
		out := make([]any, len(a))
		for i, s := range a {
			out[i] = s
		}
		return out
	case []map[string]any:
		out := make([]any, len(a))
		for i, m := range a {
			out[i] = m
		}
		return out
	}
	one[0] = v
	return one[:]
}

func (x *extractor) convert(n node) {
	switch x.sp.Type {
	case fhir.String:
		x.strings(n)
	case fhir.Token:
		x.tokens(n)
	case fhir.Reference:
		x.references(n)
	case fhir.Date:
		x.dates(n)
	case fhir.Number:
		x.numbers(n)
	case fhir.Quantity:
		x.quantities(n)
	case fhir.URI:
		if s, ok := n.v.(string); ok && s != "" {
			v := x.base
			v.URL = s
			x.out = append(x.out, v)
		}
	}
}

var (
	humanNameParts = [...]string{"family", "given", "prefix", "suffix", "text"}
	addressParts   = [...]string{"line", "city", "district", "state", "postalCode", "country", "text"}
)

// strings: a string-like primitive (string, markdown, code …) is one
// value; HumanName gives family, given, prefix, suffix and text; Address
// gives line, city, district, state, postalCode, country and text. Text is
// Normalize(d), Exact as written.
func (x *extractor) strings(n node) {
	var parts []string
	switch x.kind(n) {
	case "HumanName":
		parts = humanNameParts[:]
	case "Address":
		parts = addressParts[:]
	default:
		x.addString(n.v)
		return
	}
	m, ok := n.v.(map[string]any)
	if !ok {
		return
	}
	var one [1]any
	for _, k := range parts {
		for _, item := range items(m[k], &one) {
			x.addString(item)
		}
	}
}

func (x *extractor) addString(v any) {
	s, ok := v.(string)
	if !ok || strings.TrimSpace(s) == "" {
		return
	}
	val := x.base
	val.Text, val.Exact = Normalize(s), s
	x.out = append(x.out, val)
}

// tokens: code-like primitives give Code; boolean "true"/"false"; Coding
// system|code; CodeableConcept each of its codings (its text is not a
// token); Identifier system|value; ContactPoint its value (no system).
func (x *extractor) tokens(n node) {
	switch v := n.v.(type) {
	case string:
		x.addToken("", v)
	case bool:
		if v {
			x.addToken("", "true")
		} else {
			x.addToken("", "false")
		}
	case map[string]any:
		switch x.kind(n) {
		case "Coding":
			x.addToken(str(v, "system"), str(v, "code"))
		case "CodeableConcept":
			var one [1]any
			for _, c := range items(v["coding"], &one) {
				if m, ok := c.(map[string]any); ok {
					x.addToken(str(m, "system"), str(m, "code"))
				}
			}
		case "Identifier":
			x.addToken(str(v, "system"), str(v, "value"))
		case "ContactPoint":
			x.addToken("", str(v, "value"))
		}
	}
}

func (x *extractor) addToken(system, code string) {
	if code == "" {
		return
	}
	v := x.base
	v.System, v.Code = system, code
	x.out = append(x.out, v)
}

// references: a Reference gives RefType/RefID for "Type/id" (also from an
// absolute URL ending in Type/id, with URL set too), URL alone for
// "urn:…", "#contained" and other forms, and its logical identifier, if
// any, as System/Code. canonical and uri elements give URL. An embedded
// resource (Bundle.entry[0].resource) gives its type and id when the type
// is one of the parameter's targets.
func (x *extractor) references(n node) {
	val := x.base
	switch v := n.v.(type) {
	case string:
		if v != "" {
			val.URL = v
			x.out = append(x.out, val)
		}
	case map[string]any:
		k := x.kind(n)
		if x.m.resources[k] {
			id := str(v, "id")
			if id != "" && (len(x.sp.Targets) == 0 || slices.Contains(x.sp.Targets, k)) {
				val.RefType, val.RefID = k, id
				x.out = append(x.out, val)
			}
			return
		}
		if k != "Reference" {
			return
		}
		if s := str(v, "reference"); s != "" {
			ref := x.m.parseReference(s)
			val.RefType, val.RefID, val.URL = ref.typ, ref.id, ref.url
		}
		if id, ok := v["identifier"].(map[string]any); ok {
			val.System, val.Code = str(id, "system"), str(id, "value")
		}
		if val.RefID != "" || val.URL != "" || val.Code != "" {
			x.out = append(x.out, val)
		}
	}
}

// dates: date, dateTime and instant cover their precision; a Period covers
// start to end (open ends are OpenStart / OpenEnd); a Timing covers its
// events and repeat.boundsPeriod, from the earliest to the latest.
func (x *extractor) dates(n node) {
	val := x.base
	switch v := n.v.(type) {
	case string:
		switch n.t {
		case "date", "dateTime", "instant", "":
			if s, e, err := ParseDate(v); err == nil {
				val.Start, val.End = s, e
				x.out = append(x.out, val)
			}
		}
	case map[string]any:
		switch x.kind(n) {
		case "Period":
			if s, e, ok := period(v); ok {
				val.Start, val.End = s, e
				x.out = append(x.out, val)
			}
		case "Timing":
			found := false
			var one [1]any
			for _, ev := range items(v["event"], &one) {
				if s, ok := ev.(string); ok {
					if s, e, err := ParseDate(s); err == nil {
						val.Start, val.End, found = widen(val.Start, val.End, found, s, e)
					}
				}
			}
			if rep, ok := v["repeat"].(map[string]any); ok {
				if bp, ok := rep["boundsPeriod"].(map[string]any); ok {
					if s, e, ok := period(bp); ok {
						val.Start, val.End, found = widen(val.Start, val.End, found, s, e)
					}
				}
			}
			if found {
				x.out = append(x.out, val)
			}
		}
	}
}

// widen extends [start, end) to cover [s, e).
func widen(start, end time.Time, found bool, s, e time.Time) (time.Time, time.Time, bool) {
	if !found || s.Before(start) {
		start = s
	}
	if !found || e.After(end) {
		end = e
	}
	return start, end, true
}

func period(p map[string]any) (time.Time, time.Time, bool) {
	start, end := OpenStart, OpenEnd
	var startEnd time.Time
	ok := false
	if s, isStr := p["start"].(string); isStr {
		if a, b, err := ParseDate(s); err == nil {
			start, startEnd, ok = a, b, true
		}
	}
	if s, isStr := p["end"].(string); isStr {
		if _, b, err := ParseDate(s); err == nil {
			end, ok = b, true
		}
	}
	if ok && end.Before(startEnd) {
		end = startEnd // an end before the start: keep the start's own range
	}
	return start, end, ok
}

// numbers: decimal and integer values; a Range gives its low and high
// values.
func (x *extractor) numbers(n node) {
	v, isMap := n.v.(map[string]any)
	if !isMap {
		x.addNumber(n.v)
		return
	}
	switch k := x.kind(n); {
	case k == "Range":
		for _, end := range [...]string{"low", "high"} {
			if q, ok := v[end].(map[string]any); ok {
				x.addNumber(q["value"])
			}
		}
	case x.m.isType(k, "Quantity"):
		x.addNumber(v["value"])
	}
}

func (x *extractor) addNumber(v any) {
	if f, ok := number(v); ok {
		val := x.base
		val.Number = f
		x.out = append(x.out, val)
	}
}

// quantities: Quantity (and Age, Duration, Count, Distance,
// SimpleQuantity): Number = value, System = system, Code = code or else
// unit. Money: System "urn:iso:std:iso:4217", Code = currency. A Range
// gives its low and high. Quantities without a value are skipped, and so is
// SampledData.
func (x *extractor) quantities(n node) {
	v, ok := n.v.(map[string]any)
	if !ok {
		return
	}
	switch k := x.kind(n); {
	case k == "Money":
		f, ok := number(v["value"])
		if !ok {
			return
		}
		val := x.base
		val.Number = f
		if c := str(v, "currency"); c != "" {
			val.System, val.Code = "urn:iso:std:iso:4217", c
		}
		x.out = append(x.out, val)
	case k == "Range":
		for _, end := range [...]string{"low", "high"} {
			if q, ok := v[end].(map[string]any); ok {
				x.addQuantity(q)
			}
		}
	case x.m.isType(k, "Quantity"):
		x.addQuantity(v)
	}
}

func (x *extractor) addQuantity(q map[string]any) {
	f, ok := number(q["value"])
	if !ok {
		return
	}
	val := x.base
	val.Number = f
	val.System, val.Code = str(q, "system"), str(q, "code")
	if val.Code == "" {
		val.Code = str(q, "unit")
	}
	x.out = append(x.out, val)
}

// dedupe removes repeats among out[start:], keeping the first of each.
func dedupe(out []fhir.Value, start int) []fhir.Value {
	vals := out[start:]
	if len(vals) < 2 {
		return out
	}
	if len(vals) <= 32 {
		n := 0
		for i := range vals {
			dup := false
			for j := 0; j < n; j++ {
				if sameValue(&vals[j], &vals[i]) {
					dup = true
					break
				}
			}
			if !dup {
				vals[n] = vals[i]
				n++
			}
		}
		return out[:start+n]
	}
	seen := make(map[fhir.Value]struct{}, len(vals))
	n := 0
	for i := range vals {
		v := vals[i]
		v.Start, v.End = v.Start.UTC(), v.End.UTC()
		if _, dup := seen[v]; dup {
			continue
		}
		seen[v] = struct{}{}
		vals[n] = vals[i]
		n++
	}
	return out[:start+n]
}

func sameValue(a, b *fhir.Value) bool {
	return a.Text == b.Text && a.Exact == b.Exact && a.System == b.System && a.Code == b.Code &&
		a.RefType == b.RefType && a.RefID == b.RefID && a.URL == b.URL &&
		a.Start.Equal(b.Start) && a.End.Equal(b.End) && a.Number == b.Number
}
