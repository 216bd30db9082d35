package datastore

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/fhir"
	"github.com/clinikapi/clinikapi/internal/fhir/searchparam"
)

// Query is a parsed search: conditions (AND of ORs), sort, page and the
// resources to include.
type Query struct {
	Type         string
	Conditions   []Condition
	Sort         []Sort
	Offset       int
	Limit        int
	CountTotal   bool
	SummaryCount bool // _summary=count: only the total
	Include      []Include
	RevInclude   []Include
}

// Condition is one search parameter: any of Values matches.
type Condition struct {
	Param    string // the code; "_id" and "_lastUpdated" are resource columns
	Type     fhir.ParamType
	Modifier string // "", "exact", "contains", "missing", "not", or a type for references
	Values   []Match
	// Within are the parameters within Param (SearchParam.Within),
	// whose index rows hold some of Param's values.
	Within []string
}

// Match is one value of a condition, parsed by parameter type.
type Match struct {
	Prefix string // eq, ne, gt, lt, ge, le, sa, eb, ap (dates, numbers, quantities)

	Text string // string: normalised (or exact with :exact)

	System    string // token system / quantity system
	HasSystem bool   // token: the value named a system ("|code" names the empty one)
	Code      string // token code / quantity code

	RefType string // reference
	RefID   string
	URL     string // reference URL or uri value

	Start, End time.Time // date range of the value, [Start, End)

	Number     float64 // number / quantity
	Tolerance  float64 // number eq: half a unit of the last given digit
	MissingArg bool    // :missing=true
}

// Sort is one sort key.
type Sort struct {
	Param string // "_id", "_lastUpdated" or a search parameter code
	Type  fhir.ParamType
	Desc  bool
	// Within are the parameters within Param (SearchParam.Within),
	// whose index rows hold some of Param's values.
	Within []string
}

// Include is an _include or _revinclude: resources of Source whose Param
// references (or is referenced by) the matches; Target narrows the type.
type Include struct {
	Source string
	Param  string
	Target string
}

// Page sizes.
const (
	DefaultCount = 20
	MaxCount     = 100
)

// Limits bound what one search may ask for, so that no query string can
// make the datastore do unbounded work. A search past one of them is
// refused (INVALID_SEARCH) with a message naming the limit; the README
// (FHIR R4 data) and the CapabilityStatement list them.
type Limits struct {
	Params     int // search parameters, each repetition counted (result parameters such as _count aside)
	OrValues   int // comma-separated values of one parameter (an OR list)
	SortKeys   int // keys of _sort
	Includes   int // _include and _revinclude values together
	QueryBytes int // the parameters' names and values, decoded, together
}

// DefaultLimits are the limits of every search a client sends. Includes
// are resolved one level deep (no :iterate) and chained parameters are
// not supported, so neither has a depth to bound.
var DefaultLimits = Limits{Params: 30, OrValues: 100, SortKeys: 5, Includes: 10, QueryBytes: 8 << 10}

// controls are the result parameters the search understands.
var controls = map[string]bool{"_count": true, "_sort": true, "_total": true, "_summary": true, "_include": true, "_revinclude": true, "_cursor": true, "_format": true, "_pretty": true}

// ParseQuery turns URL query parameters into a Query for resource type typ,
// within DefaultLimits. Unknown parameters, modifiers, malformed values and
// searches past a limit are errs.Invalid with a message naming the
// parameter or the limit (never echoing the value).
func ParseQuery(ix Indexer, normalize func(string) string, typ string, params url.Values) (Query, error) {
	return ParseQueryLimits(ix, normalize, typ, params, DefaultLimits)
}

// ParseQueryLimits is ParseQuery within lim.
func ParseQueryLimits(ix Indexer, normalize func(string) string, typ string, params url.Values, lim Limits) (Query, error) {
	if err := checkLimits(params, lim); err != nil {
		return Query{}, err
	}
	q := Query{Type: typ, Limit: DefaultCount}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		vals := params[key]
		if controls[key] {
			if err := q.control(ix, key, vals, lim); err != nil {
				return Query{}, err
			}
			continue
		}
		code, mod, hasMod := strings.Cut(key, ":")
		switch {
		case code == "_include" || code == "_revinclude":
			return Query{}, invalid("%s:%s is not supported: includes are resolved one level deep.", code, mod)
		case strings.Contains(key, "."):
			return Query{}, invalid("Chained parameters such as %s are not supported: search the referenced type, then by reference.", key)
		case hasMod && mod == "":
			return Query{}, invalid("The parameter %s has an empty modifier.", key)
		}
		for _, raw := range vals {
			if n := countValues(raw); n > lim.OrValues {
				return Query{}, invalid("%s has %d values in one comma-separated list: the limit is %d values per parameter.", code, n, lim.OrValues)
			}
			c, err := parseCondition(ix, normalize, typ, code, mod, raw)
			if err != nil {
				return Query{}, err
			}
			q.Conditions = append(q.Conditions, c)
		}
	}
	return q, nil
}

// checkLimits refuses a search past lim's size limits: its length, the
// number of its parameters and of its includes.
func checkLimits(params url.Values, lim Limits) error {
	size, n, inc := 0, 0, 0
	for k, vs := range params {
		for _, v := range vs {
			size += len(k) + len(v) + 2
		}
		switch {
		case k == "_include" || k == "_revinclude":
			inc += len(vs)
		case !controls[k]:
			n += len(vs)
		}
	}
	switch {
	case size > lim.QueryBytes:
		return invalid("The search is %d bytes long: the limit is %d bytes of parameter names and values.", size, lim.QueryBytes)
	case n > lim.Params:
		return invalid("The search has %d parameters: the limit is %d (each repetition counts).", n, lim.Params)
	case inc > lim.Includes:
		return invalid("The search has %d _include and _revinclude values: the limit is %d together.", inc, lim.Includes)
	}
	return nil
}

// countValues counts the values of a comma-separated list (as splitValues
// splits it) without splitting it.
func countValues(raw string) int {
	n := 1
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '\\':
			i++
		case ',':
			n++
		}
	}
	return n
}

func invalid(format string, args ...any) error {
	return &errs.Error{Code: errs.Invalid, Message: fmt.Sprintf(format, args...), Reason: errs.ReasonInvalidSearch}
}

func (q *Query) control(ix Indexer, key string, vals []string, lim Limits) error {
	v := vals[len(vals)-1]
	switch key {
	case "_count":
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return invalid("_count must be a whole number from 0 to %d.", MaxCount)
		}
		q.Limit = min(max(n, 0), MaxCount)
		if n == 0 {
			q.SummaryCount, q.CountTotal = true, true
		}
	case "_total":
		switch v {
		case "none":
		case "accurate", "estimate":
			q.CountTotal = true
		default:
			return invalid("_total must be none, estimate or accurate.")
		}
	case "_summary":
		switch v {
		case "count":
			q.SummaryCount, q.CountTotal = true, true
		case "false":
		default:
			return invalid("_summary supports count and false.")
		}
	case "_sort":
		keys := strings.Split(v, ",")
		if len(keys) > lim.SortKeys {
			return invalid("_sort has %d keys: the limit is %d.", len(keys), lim.SortKeys)
		}
		for _, f := range keys {
			s := Sort{Param: strings.TrimSpace(f)}
			if strings.HasPrefix(s.Param, "-") {
				s.Desc, s.Param = true, s.Param[1:]
			}
			switch s.Param {
			case "_id":
				s.Type = fhir.Token
			case "_lastUpdated":
				s.Type = fhir.Date
			default:
				sp, ok := ix.Lookup(q.Type, s.Param)
				if !ok || !sortable(sp.Type) {
					return invalid("_sort: %s is not a sortable search parameter of %s.", s.Param, q.Type)
				}
				s.Type, s.Within = sp.Type, sp.Within
			}
			q.Sort = append(q.Sort, s)
		}
	case "_include", "_revinclude":
		for _, v := range vals {
			parts := strings.Split(v, ":")
			if len(parts) < 2 || len(parts) > 3 {
				return invalid("%s must look like Type:param or Type:param:TargetType.", key)
			}
			inc := Include{Source: parts[0], Param: parts[1]}
			if len(parts) == 3 {
				inc.Target = parts[2]
			}
			sp, ok := ix.Lookup(inc.Source, inc.Param)
			if !ok || sp.Type != fhir.Reference {
				return invalid("%s: %s is not a reference search parameter of %s.", key, inc.Param, inc.Source)
			}
			if key == "_include" {
				if inc.Source != q.Type {
					return invalid("_include must name the searched type %s.", q.Type)
				}
				q.Include = append(q.Include, inc)
			} else {
				q.RevInclude = append(q.RevInclude, inc)
			}
		}
	}
	return nil
}

func sortable(t fhir.ParamType) bool {
	switch t {
	case fhir.String, fhir.Date, fhir.Number, fhir.Quantity, fhir.Token, fhir.Reference, fhir.URI:
		return true
	}
	return false
}

func parseCondition(ix Indexer, normalize func(string) string, typ, code, mod, raw string) (Condition, error) {
	c := Condition{Param: code, Modifier: mod}
	switch code {
	case "_id":
		c.Type = fhir.Token
	case "_lastUpdated":
		c.Type = fhir.Date
	default:
		sp, ok := ix.Lookup(typ, code)
		if !ok {
			return Condition{}, invalid("Unknown search parameter %s for %s. See /v1/metadata for the supported ones.", code, typ)
		}
		c.Type, c.Within = sp.Type, sp.Within
		if sp.Type == fhir.Reference && mod != "" && mod != "missing" {
			// subject:Patient=123 narrows the target type.
			if _, known := slices.BinarySearch(ix.Types(), mod); !known {
				return Condition{}, invalid("The modifier :%s is not supported on %s: a reference parameter takes a resource type or :missing.", mod, code)
			}
			c.Modifier = ""
			c.Values = nil
			ms, err := parseValues(c, normalize, raw)
			if err != nil {
				return Condition{}, err
			}
			for i := range ms {
				if ms[i].RefType == "" {
					ms[i].RefType = mod
				}
			}
			c.Values = ms
			return c, nil
		}
	}
	if err := checkModifier(c); err != nil {
		return Condition{}, err
	}
	if c.Modifier == "missing" {
		switch raw {
		case "true":
			c.Values = []Match{{MissingArg: true}}
		case "false":
			c.Values = []Match{{MissingArg: false}}
		default:
			return Condition{}, invalid("%s:missing must be true or false.", code)
		}
		return c, nil
	}
	ms, err := parseValues(c, normalize, raw)
	if err != nil {
		return Condition{}, err
	}
	c.Values = ms
	return c, nil
}

func checkModifier(c Condition) error {
	if c.Modifier == "" || c.Modifier == "missing" {
		if c.Modifier == "missing" && (c.Param == "_id" || c.Param == "_lastUpdated") {
			return invalid("%s does not support :missing.", c.Param)
		}
		return nil
	}
	ok := false
	switch c.Type {
	case fhir.String:
		ok = c.Modifier == "exact" || c.Modifier == "contains"
	case fhir.Token:
		ok = c.Modifier == "not" && c.Param != "_id"
	}
	if !ok {
		return invalid("The modifier :%s is not supported on %s (a %s parameter).", c.Modifier, c.Param, c.Type)
	}
	return nil
}

// splitValues splits a comma-separated list (OR), honouring \, escapes.
func splitValues(raw string) []string {
	var out []string
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		switch {
		case raw[i] == '\\' && i+1 < len(raw):
			i++
			b.WriteByte(raw[i])
		case raw[i] == ',':
			out = append(out, b.String())
			b.Reset()
		default:
			b.WriteByte(raw[i])
		}
	}
	return append(out, b.String())
}

func parseValues(c Condition, normalize func(string) string, raw string) ([]Match, error) {
	var out []Match
	for _, v := range splitValues(raw) {
		if v == "" {
			return nil, invalid("%s has an empty value.", c.Param)
		}
		if len(v) > 512 {
			return nil, invalid("%s: a value is longer than 512 characters.", c.Param)
		}
		var m Match
		var err error
		switch c.Type {
		case fhir.String:
			if c.Modifier == "exact" {
				m.Text = v
			} else {
				m.Text = normalize(v)
			}
		case fhir.Token:
			if sys, code, ok := strings.Cut(v, "|"); ok {
				m.System, m.Code, m.HasSystem = sys, code, true
			} else {
				m.Code = v
			}
		case fhir.Reference:
			m = parseReference(v)
			if m.RefID == "" && m.URL == "" {
				return nil, invalid("%s: a reference is an id, Type/id or an absolute URL.", c.Param)
			}
		case fhir.URI:
			m.URL = v
		case fhir.Date:
			m.Prefix, v = prefix(v)
			m.Start, m.End, err = searchparam.ParseDate(v)
			if err != nil {
				return nil, invalid("%s must be a FHIR date such as 2024, 2024-05, 2024-05-17 or 2024-05-17T10:30:00Z, with an optional prefix (eq, ne, gt, lt, ge, le, sa, eb, ap).", c.Param)
			}
		case fhir.Number, fhir.Quantity:
			m.Prefix, v = prefix(v)
			num := v
			if c.Type == fhir.Quantity {
				parts := strings.SplitN(v, "|", 3)
				num = parts[0]
				if len(parts) == 3 {
					m.System, m.Code, m.HasSystem = parts[1], parts[2], true
				} else if len(parts) == 2 {
					return nil, invalid("%s: a quantity is number, number|system|code or number||code.", c.Param)
				}
			}
			m.Number, err = strconv.ParseFloat(num, 64)
			if err != nil || math.IsNaN(m.Number) || math.IsInf(m.Number, 0) {
				return nil, invalid("%s must be a number, with an optional prefix (eq, ne, gt, lt, ge, le, ap).", c.Param)
			}
			m.Tolerance = 0.5
			if i := strings.IndexByte(num, '.'); i >= 0 {
				m.Tolerance = 0.5 * math.Pow10(-(len(num) - i - 1))
			}
		default:
			return nil, invalid("Searching by %s (a %s parameter) is not supported.", c.Param, c.Type)
		}
		out = append(out, m)
	}
	return out, nil
}

var prefixes = []string{"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"}

func prefix(v string) (string, string) {
	if len(v) > 2 {
		for _, p := range prefixes {
			if v[:2] == p && (v[2] >= '0' && v[2] <= '9' || v[2] == '-' || v[2] == '.') {
				return p, v[2:]
			}
		}
	}
	return "eq", v
}

func parseReference(v string) Match {
	if strings.Contains(v, "://") || strings.HasPrefix(v, "urn:") {
		m := Match{URL: v}
		// An absolute URL ending in Type/id also matches the local reference.
		parts := strings.Split(strings.TrimRight(v, "/"), "/")
		if len(parts) >= 2 && ValidID(parts[len(parts)-1]) && isTypeName(parts[len(parts)-2]) {
			m.RefType, m.RefID = parts[len(parts)-2], parts[len(parts)-1]
		}
		return m
	}
	if t, id, ok := strings.Cut(v, "/"); ok {
		return Match{RefType: t, RefID: id}
	}
	return Match{RefID: v}
}

func isTypeName(s string) bool {
	return s != "" && s[0] >= 'A' && s[0] <= 'Z'
}
