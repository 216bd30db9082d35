package validate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaURL names the embedded schema inside the compiler. It is never
// fetched: the compiler has no loader for anything else.
const schemaURL = "https://clinikapi.invalid/fhir/r4/fhir.schema.json"

// resourceKeyword marks the schema of "any resource" (the schema's
// ResourceList): contained resources, Bundle.entry.resource,
// Parameters.parameter.resource. It is implemented by resourceDispatch.
const resourceKeyword = "x-clinikapi-resource"

// requiredKeyword marks a definition with elements R4 requires that the
// schema cannot say are required (requiredElements); its value is the
// definition's name. It is implemented by requiredCheck.
const requiredKeyword = "x-clinikapi-required"

// calendarFormat, followed by "date", "dateTime" or "instant", names the
// format added to those types; the schema's patterns accept 2021-02-30, the
// spec says dates SHALL be valid. (The library checks "format" before
// "pattern" and stops at the first failure, so the format first checks the
// pattern itself and leaves a mismatch to "pattern", which says more.)
const calendarFormat = "x-clinikapi-calendar-"

// prepareSchema decodes the embedded R4 JSON schema and rewrites it for
// validation:
//
//   - ResourceList, a oneOf over all 203 of the schema's resource and
//     Medplum-specific types, becomes {"type": "object", resourceKeyword:
//     true}: one map lookup on resourceType instead of trying every
//     branch (a oneOf failure also gives useless errors), and only R4 types;
//   - definitions that no R4 resource reaches (Medplum's Project, User, Bot,
//     …, some of which $ref definitions that do not exist) are dropped, and
//     so are the top-level oneOf and discriminator, which we do not use;
//   - descriptions are dropped (a third of the document, never used);
//   - integer, positiveInt and unsignedInt are "type": "number" in the
//     schema, so 1.5 passed; they become "integer" with the spec's ranges
//     (32-bit signed; positiveInt ≥ 1, unsignedInt ≥ 0), wherever they
//     occur (the schema inlines primitives in many elements);
//   - date, dateTime and instant get calendarFormat (a real calendar date);
//
// It also returns which primitive type each primitive pattern belongs to,
// for readable constraints ("must be a date: …" rather than the regex).
//   - arrays get "minItems": 1 and element objects "minProperties": 1: the
//     spec forbids empty arrays and empty objects in FHIR JSON;
//   - complex types, backbone elements and resources have no "type", so a
//     string where an object belongs ("subject": "Patient/1") passed; they
//     get "type": "object", and xhtml (Narrative.div, empty in the schema)
//     becomes a string whose root element is a div;
//   - arrays of primitives and their "_name" extension twins may hold null
//     as placeholders ("given": ["Ann", null], "_given": [null, {…}]), as
//     FHIR JSON allows; their items accept null (the pairing is not checked);
//   - definitions with required primitive or choice elements (the schema's
//     "required" lists only the others: Observation.status is missing
//     there) get requiredKeyword, checked against requiredElements.
func prepareSchema(raw []byte) (doc map[string]any, prims map[string]string, err error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, fmt.Errorf("decode schema: %w", err)
	}
	defs, ok := doc["definitions"].(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("schema has no definitions")
	}
	for _, t := range resourceTypes {
		if _, ok := defs[t].(map[string]any); !ok {
			return nil, nil, fmt.Errorf("schema has no definition for %s", t)
		}
	}
	if _, ok := defs["ResourceList"]; !ok {
		return nil, nil, fmt.Errorf("schema has no ResourceList definition")
	}
	defs["ResourceList"] = map[string]any{"type": "object", resourceKeyword: true}
	delete(doc, "oneOf")
	delete(doc, "discriminator")
	delete(doc, "id")

	// The primitive types' patterns, also written inline in many element
	// definitions (Patient.multipleBirthInteger is {"type": "number",
	// "pattern": <integer's>}), identify which primitive a schema is.
	prims = map[string]string{base64Pattern: "base64Binary"}
	for _, name := range []string{
		"boolean", "canonical", "url", "uri", "code", "date", "dateTime", "decimal", "id",
		"instant", "integer", "markdown", "string", "oid", "positiveInt", "time",
		"unsignedInt", "uuid",
	} {
		d, ok := defs[name].(map[string]any)
		if !ok {
			return nil, nil, fmt.Errorf("schema has no definition for %s", name)
		}
		p, ok := d["pattern"].(string)
		if !ok {
			return nil, nil, fmt.Errorf("schema has no pattern for %s", name)
		}
		prims[p] = name // uri after canonical, url; string after markdown
	}
	// Keep what the R4 resource types reach.
	reach := map[string]bool{}
	var missing []string
	var mark func(name string)
	var walk func(x any)
	mark = func(name string) {
		if reach[name] {
			return
		}
		reach[name] = true
		d, ok := defs[name]
		if !ok {
			missing = append(missing, name)
			return
		}
		walk(d)
	}
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			for k, v := range x {
				if s, ok := v.(string); ok && k == "$ref" {
					name, ok := strings.CutPrefix(s, "#/definitions/")
					if !ok {
						missing = append(missing, s)
						continue
					}
					mark(name)
				} else {
					walk(v)
				}
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	for _, t := range resourceTypes {
		mark(t)
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("schema refers to missing definitions %v", missing)
	}
	for name := range defs {
		if !reach[name] {
			delete(defs, name)
		}
	}

	defs["xhtml"] = map[string]any{"type": "string", "pattern": xhtmlPattern}
	prims[xhtmlPattern] = "xhtml"
	for _, d := range defs {
		tidySchema(d, prims)
	}
	for _, d := range defs {
		if err := nullablePrimitiveArrays(d, defs); err != nil {
			return nil, nil, err
		}
	}
	for name, els := range requiredElements {
		d, ok := defs[name].(map[string]any)
		if !ok {
			continue // not reached from an R4 resource type
		}
		props, _ := d["properties"].(map[string]any)
		for _, el := range els {
			for _, p := range el.props {
				if _, ok := props[p]; !ok {
					return nil, nil, fmt.Errorf("required element %s.%s: no property %s", name, el.name, p)
				}
			}
		}
		d[requiredKeyword] = name
	}
	return doc, prims, nil
}

// base64Pattern is the pattern of base64Binary elements (the definition
// itself has none).
const base64Pattern = `^(\s*([0-9a-zA-Z\+/=]){4}\s*)+$`

// xhtmlPattern is what Narrative.div must look like at least: XHTML whose
// root element is a div (the spec's rule; the content is not parsed).
const xhtmlPattern = `^\s*<div[\s>/]`

// int32 bounds of FHIR integers.
var integerRanges = map[string][2]string{
	"integer":     {"-2147483648", "2147483647"},
	"positiveInt": {"1", "2147483647"},
	"unsignedInt": {"0", "2147483647"},
}

// tidySchema drops descriptions and applies the rules above to one schema,
// walking schema keywords only (a property may well be named "description").
func tidySchema(x any, prims map[string]string) {
	s, ok := x.(map[string]any)
	if !ok {
		return
	}
	delete(s, "description")
	if s["type"] == "array" {
		s["minItems"] = json.Number("1")
	}
	if s["additionalProperties"] == false {
		s["minProperties"] = json.Number("1")
	}
	if _, ok := s["properties"]; ok && s["type"] == nil {
		s["type"] = "object"
	}
	if p, ok := s["pattern"].(string); ok {
		switch prim := prims[p]; prim {
		case "integer", "positiveInt", "unsignedInt":
			r := integerRanges[prim]
			s["type"] = "integer"
			s["minimum"] = json.Number(r[0])
			s["maximum"] = json.Number(r[1])
			delete(s, "pattern") // applies to strings only, these are numbers
		case "date", "dateTime", "instant":
			s["format"] = calendarFormat + prim
		}
	}
	if props, ok := s["properties"].(map[string]any); ok {
		for _, p := range props {
			tidySchema(p, prims)
		}
	}
	tidySchema(s["items"], prims)
	if arr, ok := s["oneOf"].([]any); ok {
		for _, e := range arr {
			tidySchema(e, prims)
		}
	}
}

// nullablePrimitiveArrays lets the items of a definition's primitive arrays
// and of their "_name" twins be null. An item schema that is a $ref is
// replaced by a copy of the definition it names, whose type also allows
// null (a $ref's sibling keywords are ignored in draft-06).
func nullablePrimitiveArrays(def any, defs map[string]any) error {
	d, ok := def.(map[string]any)
	if !ok {
		return nil
	}
	props, ok := d["properties"].(map[string]any)
	if !ok {
		return nil
	}
	for name, p := range props {
		twin := "_" + name
		if base, ok := strings.CutPrefix(name, "_"); ok {
			twin = base
		}
		prop, ok := p.(map[string]any)
		if !ok || prop["type"] != "array" {
			continue
		}
		other, ok := props[twin].(map[string]any)
		if !ok || other["type"] != "array" {
			continue
		}
		items, ok := prop["items"].(map[string]any)
		if !ok {
			continue
		}
		if ref, ok := items["$ref"].(string); ok {
			target, ok := defs[strings.TrimPrefix(ref, "#/definitions/")].(map[string]any)
			if !ok {
				return fmt.Errorf("%s: no definition %s", name, ref)
			}
			items = maps.Clone(target)
		} else {
			items = maps.Clone(items)
		}
		switch t := items["type"].(type) {
		case string:
			items["type"] = []any{t, "null"}
		case nil: // a code with its value set's codes
			enum, ok := items["enum"].([]any)
			if !ok {
				return fmt.Errorf("array %s: items without type or enum", name)
			}
			items["enum"] = append(slices.Clone(enum), nil)
		default:
			return fmt.Errorf("array %s: items of several types", name)
		}
		prop["items"] = items
	}
	return nil
}

// calendarDate checks that a date, dateTime or instant that matched its
// pattern names a real day: the pattern allows any day 01–31 in any month.
func calendarDate(v any) error {
	s, ok := v.(string)
	if !ok || len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return nil // year or year-month only, or not even the pattern
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 || month < 1 || month > 12 || day < 1 || day > 31 {
		return nil // the pattern reports it
	}
	if day > daysIn(year, month) {
		return fmt.Errorf("no such day")
	}
	return nil
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// newCompiler returns a compiler that knows the prepared schema, the
// resource dispatch keyword, the calendar format and the ECMAScript
// regexp engine, and loads nothing from anywhere.
func newCompiler(doc map[string]any, prims map[string]string, vocab func(*jsonschema.CompilerContext, map[string]any) (jsonschema.SchemaExt, error)) (*jsonschema.Compiler, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft6)
	c.UseLoader(noLoader{})
	c.UseRegexpEngine(compileECMA)
	for pattern, prim := range prims {
		switch prim {
		case "date", "dateTime", "instant":
			re, err := compileECMA(pattern)
			if err != nil {
				return nil, err
			}
			c.RegisterFormat(&jsonschema.Format{Name: calendarFormat + prim, Validate: func(v any) error {
				if s, ok := v.(string); !ok || !re.MatchString(s) {
					return nil // not a date at all: "pattern" reports it
				}
				return calendarDate(v)
			}})
		}
	}
	c.AssertFormat()
	c.RegisterVocabulary(&jsonschema.Vocabulary{
		URL:     "https://clinikapi.invalid/vocab/resource",
		Compile: vocab,
	})
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, err
	}
	return c, nil
}

type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("validate: schema %s is not available (nothing is fetched)", url)
}
