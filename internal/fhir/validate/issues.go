package validate

import (
	"cmp"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// rawIssue is an issue before its path is rendered: loc is the JSON pointer
// tokens of the element (from the validator, so only names the schema knows
// and array indexes), name an optional last element name (a missing or
// unknown element).
type rawIssue struct {
	loc        []string
	name       string
	constraint string
	code       string
}

// issuesFrom turns a validation error tree into sorted, de-duplicated,
// capped issues. It reads the error kinds' fields that are schema facts
// (wanted types, enum values, patterns, limits) and never the fields that
// hold the instance's value (Got) nor the library's messages, which quote it.
func issuesFrom(rt string, root map[string]any, verr *jsonschema.ValidationError, prims map[string]string) []Issue {
	var raw []rawIssue
	collect(verr, prims, &raw)
	if len(raw) == 0 {
		raw = append(raw, rawIssue{constraint: "is invalid", code: "invalid"})
	}
	slices.SortFunc(raw, compareRaw)
	out := make([]Issue, 0, min(len(raw), MaxIssues+1))
	var last Issue
	n := 0
	for _, r := range raw {
		is := Issue{Path: renderPath(rt, root, r.loc, r.name), Constraint: r.constraint, Code: r.code}
		if n > 0 && is == last {
			continue
		}
		last = is
		n++
		if n <= MaxIssues {
			out = append(out, is)
		}
	}
	if n > MaxIssues {
		out = append(out, Issue{
			Path:       rt,
			Constraint: fmt.Sprintf("has %d more issues not listed", n-MaxIssues),
			Code:       "informational",
		})
	}
	return out
}

func collect(e *jsonschema.ValidationError, prims map[string]string, out *[]rawIssue) {
	add := func(name, constraint, code string) {
		*out = append(*out, rawIssue{loc: e.InstanceLocation, name: name, constraint: constraint, code: code})
	}
	switch k := e.ErrorKind.(type) {
	case *kind.Schema, *kind.Reference, *kind.Group, *kind.AllOf:
		for _, c := range e.Causes {
			collect(c, prims, out)
		}
	case *kind.AnyOf, *kind.OneOf:
		// Not in the prepared schema (ResourceList is dispatched instead);
		// the causes of a failed choice are noise, so say it once.
		add("", "does not match any of the allowed shapes", "structure")
	case *kind.Type:
		add("", "must be "+typeNames(k.Want), "structure")
	case *kind.Required:
		for _, m := range k.Missing {
			add(m, "is required", "required")
		}
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			if elementName.MatchString(p) {
				add(p, "is not allowed", "structure")
			} else {
				add("", "has an element that is not allowed and whose name is not a valid FHIR element name", "structure")
			}
		}
	case *kind.Enum:
		add("", enumConstraint(k.Want), "value")
	case *kind.Const:
		if s, ok := k.Want.(string); ok {
			add("", "must be "+s, "value")
		} else {
			add("", "must be the fixed value the schema defines", "value")
		}
	case *kind.Pattern:
		add("", patternConstraint(prims[k.Want], k.Want), "value")
	case *kind.Format:
		add("", formatConstraint(k.Want), "value")
	case *kind.Minimum:
		add("", "must be at least "+ratString(k.Want), "value")
	case *kind.Maximum:
		add("", "must be at most "+ratString(k.Want), "value")
	case *kind.ExclusiveMinimum:
		add("", "must be greater than "+ratString(k.Want), "value")
	case *kind.ExclusiveMaximum:
		add("", "must be less than "+ratString(k.Want), "value")
	case *kind.MinItems:
		if k.Want == 1 {
			add("", "must not be an empty array (leave the element out instead)", "value")
		} else {
			add("", fmt.Sprintf("must have at least %d items", k.Want), "value")
		}
	case *kind.MaxItems:
		add("", fmt.Sprintf("must have at most %d items", k.Want), "value")
	case *kind.MinProperties:
		if k.Want == 1 {
			add("", "must not be an empty object (leave the element out instead)", "value")
		} else {
			add("", fmt.Sprintf("must have at least %d elements", k.Want), "value")
		}
	case *kind.MinLength:
		add("", fmt.Sprintf("must be at least %d characters long", k.Want), "value")
	case *kind.MaxLength:
		add("", fmt.Sprintf("must be at most %d characters long", k.Want), "value")
	case *kind.FalseSchema:
		add("", "is not allowed", "structure")
	case *kind.InvalidJsonValue:
		add("", "is not a valid JSON value", "structure")
	case *kindNoResourceType:
		add("resourceType", "is required", "required")
	case *kindUnknownResourceType:
		add("resourceType", "must be a FHIR R4 resource type", "not-supported")
	case *kindRequiredElement:
		if strings.HasSuffix(k.el.name, "[x]") {
			add(k.el.name, "is required (as one of: "+strings.Join(choiceVariants(k.el.props), ", ")+")", "required")
		} else {
			add(k.el.name, "is required", "required")
		}
	case *kindNoSchema:
		add("", "cannot be validated: the server's schema for this type failed to compile", "exception")
	default:
		add("", "is invalid", "invalid")
	}
}

// elementName is what an element name (or its "_name" extension twin) looks
// like in FHIR JSON. Unknown keys that look otherwise are not echoed: a key
// is client data too, and could be anything.
var elementName = regexp.MustCompile(`^_?[A-Za-z][A-Za-z0-9]{0,63}$`)

// choiceVariants lists the value properties of a choice element, without
// their "_" extension twins.
func choiceVariants(props []string) []string {
	var out []string
	for _, p := range props {
		if !strings.HasPrefix(p, "_") {
			out = append(out, p)
		}
	}
	return out
}

// typeNames says which JSON types are wanted. Null, allowed as a placeholder
// in primitive arrays, is not worth suggesting.
func typeNames(want []string) string {
	names := make([]string, 0, len(want))
	for _, w := range want {
		switch w {
		case "null":
			if len(want) > 1 {
				continue
			}
			names = append(names, "null")
		case "object":
			names = append(names, "an object")
		case "array":
			names = append(names, "an array")
		case "integer":
			names = append(names, "an integer")
		default:
			names = append(names, "a "+w) // string, number, boolean
		}
	}
	return strings.Join(names, " or ")
}

// maxEnumListed is the most enum values an issue lists.
const maxEnumListed = 12

func enumConstraint(want []any) string {
	vals := make([]string, 0, len(want))
	for _, w := range want {
		switch w := w.(type) {
		case nil: // a placeholder in a primitive array, not worth suggesting
		case string:
			vals = append(vals, w)
		default:
			vals = append(vals, fmt.Sprint(w))
		}
	}
	if len(vals) > maxEnumListed {
		return fmt.Sprintf("must be one of the %d codes of its value set (e.g. %s)", len(vals), strings.Join(vals[:3], ", "))
	}
	return "must be one of: " + strings.Join(vals, ", ")
}

// patternConstraint describes a primitive's pattern in words; other
// patterns are quoted (a pattern is a schema fact, not client data).
func patternConstraint(prim, pattern string) string {
	switch prim {
	case "date":
		return "must be a date: YYYY, YYYY-MM or YYYY-MM-DD"
	case "dateTime":
		return "must be a dateTime: YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss(.sss) with a time zone (Z or ±hh:mm)"
	case "instant":
		return "must be an instant: YYYY-MM-DDThh:mm:ss(.sss) with a time zone (Z or ±hh:mm)"
	case "time":
		return "must be a time: hh:mm:ss(.sss)"
	case "id":
		return "must be an id: 1 to 64 characters, each A-Z, a-z, 0-9, '-' or '.'"
	case "code":
		return "must be a code: not empty, no leading or trailing whitespace, no runs of whitespace"
	case "uri", "url", "canonical":
		return "must be a URI without whitespace"
	case "string", "markdown":
		return "must be a non-empty string without control characters other than tab, CR and LF"
	case "xhtml":
		return "must be XHTML whose root element is a div"
	case "base64Binary":
		return "must be base64-encoded"
	case "oid":
		return "must be an OID: urn:oid:1.2.3…"
	case "uuid":
		return "must be a UUID: urn:uuid: followed by a lower-case UUID"
	}
	return "does not match the pattern " + pattern
}

func formatConstraint(format string) string {
	if strings.HasPrefix(format, calendarFormat) {
		return "must be a real calendar date (that month has no such day)"
	}
	return "is not in the required format"
}

func ratString(r *big.Rat) string {
	if r == nil {
		return "the limit"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	return r.FloatString(6)
}

// renderPath writes a FHIRPath-like path: the resource type, then .name for
// object members and [i] for array items, deciding which by walking the
// instance (a token "0" may be a member name or an index).
func renderPath(rt string, root any, loc []string, name string) string {
	var b strings.Builder
	b.WriteString(rt)
	cur := root
	for _, tok := range loc {
		switch c := cur.(type) {
		case []any:
			i, err := strconv.Atoi(tok)
			b.WriteByte('[')
			b.WriteString(tok)
			b.WriteByte(']')
			if err == nil && i >= 0 && i < len(c) {
				cur = c[i]
			} else {
				cur = nil
			}
		case map[string]any:
			b.WriteByte('.')
			b.WriteString(tok)
			cur = c[tok]
		default:
			b.WriteByte('.')
			b.WriteString(tok)
			cur = nil
		}
	}
	if name != "" {
		b.WriteByte('.')
		b.WriteString(name)
	}
	return b.String()
}

// compareRaw orders issues by path (array indexes numerically), then
// constraint, so the same resource always gives the same list.
func compareRaw(a, b rawIssue) int {
	at, bt := a.tokens(), b.tokens()
	for i := 0; i < len(at) && i < len(bt); i++ {
		if c := compareToken(at[i], bt[i]); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(len(at), len(bt)); c != 0 {
		return c
	}
	return strings.Compare(a.constraint, b.constraint)
}

func (r rawIssue) tokens() []string {
	if r.name == "" {
		return r.loc
	}
	return append(r.loc[:len(r.loc):len(r.loc)], r.name)
}

func compareToken(a, b string) int {
	ai, aerr := strconv.Atoi(a)
	bi, berr := strconv.Atoi(b)
	switch {
	case aerr == nil && berr == nil:
		return cmp.Compare(ai, bi)
	case aerr == nil:
		return -1
	case berr == nil:
		return 1
	}
	return strings.Compare(a, b)
}
