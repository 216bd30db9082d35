package resource

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/clinikapi/clinikapi/internal/contract"
)

// Contract validates simplified requests against the published API
// contract (internal/contract/openapi.yaml), with kin-openapi.
//
// The document is OpenAPI 3.1; kin-openapi (≥ v0.130) loads 3.1 documents
// as they are, and the contract's schemas use nothing beyond what its
// built-in validator checks (type, enum, required, maxLength, maxItems,
// oneOf, formats). That validator is used rather than its JSON Schema
// 2020-12 mode (EnableJSONSchema2020), whose error messages quote the
// submitted values: issues here are built from the failing keyword and the
// schema's own limits only, so they never carry a value (PHI).
type Contract struct {
	doc *openapi3.T
}

var loadDefault = sync.OnceValues(func() (*Contract, error) { return LoadContract(contract.OpenAPI) })

// LoadDefaultContract loads the embedded contract (once).
func LoadDefaultContract() (*Contract, error) { return loadDefault() }

// DefaultContract is the embedded contract, loaded once. It panics if the
// embedded document cannot be loaded, which the package's tests rule out.
func DefaultContract() *Contract {
	c, err := loadDefault()
	if err != nil {
		panic(err)
	}
	return c
}

// LoadContract loads and checks an OpenAPI document.
func LoadContract(data []byte) (*Contract, error) {
	l := openapi3.NewLoader()
	l.IsExternalRefsAllowed = false
	doc, err := l.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("resource: contract: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("resource: contract: %w", err)
	}
	return &Contract{doc: doc}, nil
}

// Doc is the loaded document.
func (c *Contract) Doc() *openapi3.T { return c.doc }

// Schema returns a component schema by name.
func (c *Contract) Schema(name string) (*openapi3.Schema, bool) {
	ref := c.doc.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		return nil, false
	}
	return ref.Value, true
}

var emailFormat = openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForEmail)

func visitOptions() []openapi3.SchemaValidationOption {
	return []openapi3.SchemaValidationOption{
		openapi3.MultiErrors(), openapi3.VisitAsRequest(),
		openapi3.WithStringFormatValidator("email", emailFormat),
	}
}

// Validate checks v against a component schema.
func (c *Contract) Validate(schema string, v any) []Issue {
	s, ok := c.Schema(schema)
	if !ok {
		return []Issue{{Constraint: "the contract has no schema " + schema}}
	}
	return issuesOf(s.VisitJSON(v, visitOptions()...))
}

// ValidatePartial checks a partial object (a PATCH body) against a
// component schema whose top-level properties are all optional; nested
// objects keep their required properties.
func (c *Contract) ValidatePartial(schema string, v map[string]any) []Issue {
	s, ok := c.Schema(schema)
	if !ok {
		return []Issue{{Constraint: "the contract has no schema " + schema}}
	}
	partial := *s
	partial.Required = nil
	return issuesOf(partial.VisitJSON(v, visitOptions()...))
}

// Required lists the required top-level properties of a component schema.
func (c *Contract) Required(schema string) []string {
	s, ok := c.Schema(schema)
	if !ok {
		return nil
	}
	return slices.Clone(s.Required)
}

// Allows reports whether the contract declares an operation of method
// (GET, PATCH, DELETE, …) on /v1/<path> ("audit-events/{id}"): a route
// the contract does not list is not served.
func (c *Contract) Allows(method, path string) bool {
	item := c.doc.Paths.Find("/v1/" + path)
	return item != nil && item.GetOperation(strings.ToUpper(method)) != nil
}

// QueryParams returns the query parameters the contract declares for
// GET /v1/<path>, by name.
func (c *Contract) QueryParams(path string) map[string]*openapi3.Parameter {
	item := c.doc.Paths.Find("/v1/" + path)
	if item == nil || item.Get == nil {
		return nil
	}
	out := map[string]*openapi3.Parameter{}
	for _, p := range item.Get.Parameters {
		if p.Value != nil && p.Value.In == openapi3.ParameterInQuery {
			out[p.Value.Name] = p.Value
		}
	}
	return out
}

// ValidateQuery checks the values of the query parameters the contract
// declares for GET /v1/<path> (others are the caller's business).
func (c *Contract) ValidateQuery(path string, q url.Values, skip ...string) []Issue {
	params := c.QueryParams(path)
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	slices.Sort(names)
	var out []Issue
	for _, name := range names {
		p := params[name]
		if p == nil || slices.Contains(skip, name) || p.Schema == nil || p.Schema.Value == nil {
			continue
		}
		s := p.Schema.Value
		for _, raw := range q[name] {
			v, ok := typed(s, raw)
			if !ok {
				out = append(out, Issue{Field: name, Constraint: "must be " + article(typeName(s))})
				continue
			}
			for _, is := range issuesOf(s.VisitJSON(v, visitOptions()...)) {
				is.Field = name
				out = append(out, is)
			}
		}
	}
	return out
}

// typed parses a query string value as the schema's type.
func typed(s *openapi3.Schema, raw string) (any, bool) {
	switch {
	case s.Type.Is(openapi3.TypeInteger):
		n, err := strconv.ParseInt(raw, 10, 64)
		return float64(n), err == nil
	case s.Type.Is(openapi3.TypeNumber):
		n, err := strconv.ParseFloat(raw, 64)
		return n, err == nil
	case s.Type.Is(openapi3.TypeBoolean):
		b, err := strconv.ParseBool(raw)
		return b, err == nil && (raw == "true" || raw == "false")
	case s.Type.Is(openapi3.TypeArray):
		return []any{raw}, true
	}
	return raw, true
}

// issuesOf turns kin-openapi's errors into issues: the field from the JSON
// pointer, the constraint from the failing keyword and the schema's limits.
func issuesOf(err error) []Issue {
	if err == nil {
		return nil
	}
	var out []Issue
	var walk func(error)
	walk = func(err error) {
		// A SchemaError wraps the errors of a oneOf's branches: it is the
		// issue, not they.
		if se, ok := err.(*openapi3.SchemaError); ok {
			out = append(out, Issue{Field: fieldOf(se.JSONPointer()), Constraint: constraintOf(se)})
			return
		}
		var me openapi3.MultiError
		if errors.As(err, &me) {
			for _, e := range me {
				walk(e)
			}
			return
		}
		var se *openapi3.SchemaError
		if errors.As(err, &se) {
			out = append(out, Issue{Field: fieldOf(se.JSONPointer()), Constraint: constraintOf(se)})
			return
		}
		out = append(out, Issue{Constraint: "does not match the contract"})
	}
	walk(err)
	slices.SortStableFunc(out, func(a, b Issue) int { return strings.Compare(a.Field, b.Field) })
	return slices.Compact(out)
}

// fieldOf renders a JSON pointer as contact[0].email.
func fieldOf(ptr []string) string {
	var b strings.Builder
	for _, p := range ptr {
		if _, err := strconv.Atoi(p); err == nil {
			b.WriteString("[" + p + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

func constraintOf(se *openapi3.SchemaError) string {
	s := se.Schema
	if s == nil {
		s = &openapi3.Schema{}
	}
	switch se.SchemaField {
	case "required":
		return "is required"
	case "enum":
		vals := make([]string, len(s.Enum))
		for i, v := range s.Enum {
			vals[i] = fmt.Sprint(v)
		}
		return "must be one of " + strings.Join(vals, ", ")
	case "maxLength":
		if s.MaxLength != nil {
			return fmt.Sprintf("at most %d characters", *s.MaxLength)
		}
	case "minLength":
		return fmt.Sprintf("at least %d characters", s.MinLength)
	case "maxItems":
		if s.MaxItems != nil {
			return fmt.Sprintf("at most %d items", *s.MaxItems)
		}
	case "minItems":
		return fmt.Sprintf("at least %d items", s.MinItems)
	case "maximum":
		if s.Max != nil {
			return "at most " + strconv.FormatFloat(*s.Max, 'f', -1, 64)
		}
	case "minimum":
		if s.Min != nil {
			return "at least " + strconv.FormatFloat(*s.Min, 'f', -1, 64)
		}
	case "type":
		return "must be " + article(typeName(s))
	case "format":
		switch s.Format {
		case "date":
			return "must be a date (YYYY-MM-DD)"
		case "date-time":
			return "must be a date-time (RFC 3339, e.g. 2024-05-17T10:30:00Z)"
		case "email":
			return "must be an email address"
		}
		return "must be a valid " + s.Format
	case "oneOf", "anyOf":
		alts := s.OneOf
		if se.SchemaField == "anyOf" {
			alts = s.AnyOf
		}
		var names []string
		for _, a := range alts {
			if a.Value != nil {
				names = append(names, article(typeName(a.Value)))
			}
		}
		return "must be " + strings.Join(names, " or ")
	case "pattern":
		return "must match the pattern " + s.Pattern
	case "additionalProperties":
		return "is not allowed"
	case "uniqueItems":
		return "must not repeat items"
	}
	return "does not match the contract (" + se.SchemaField + ")"
}

func typeName(s *openapi3.Schema) string {
	if s.Type == nil || len(s.Type.Slice()) == 0 {
		return "value"
	}
	t := strings.Join(s.Type.Slice(), " or ")
	if s.Type.Is(openapi3.TypeArray) && s.Items != nil && s.Items.Value != nil && s.Items.Value.Type != nil {
		return "array of " + typeName(s.Items.Value) + "s"
	}
	return t
}

func article(noun string) string {
	if noun != "" && strings.ContainsRune("aeiou", rune(noun[0])) {
		return "an " + noun
	}
	return "a " + noun
}
