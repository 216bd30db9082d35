package resource

import (
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/clinikapi/clinikapi/internal/datastore"
)

// Paging parameters every list has; the caller handles them.
const (
	CountParam  = "count"
	CursorParam = "cursor"
	SortParam   = "sort"
)

// QueryNames lists the query parameters a list accepts.
func (d *Def) QueryNames() []string {
	out := []string{CountParam, CursorParam}
	if d.Sorts != nil {
		out = append(out, SortParam)
	}
	for _, p := range d.Params {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out
}

// Search translates a list's query parameters into FHIR search parameters
// of d.Type. count and cursor are left out; unknown lists the parameters
// the list does not have, issues the values it cannot translate.
func (d *Def) Search(q url.Values) (fq url.Values, unknown []string, issues []Issue) {
	fq = url.Values{}
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		switch name {
		case CountParam, CursorParam:
			continue
		case SortParam:
			if d.Sorts == nil {
				unknown = append(unknown, name)
				continue
			}
			var keys []string
			for _, raw := range q[name] {
				for _, k := range strings.Split(raw, ",") {
					k = strings.TrimSpace(k)
					desc := strings.HasPrefix(k, "-")
					sp, ok := d.Sorts[strings.TrimPrefix(k, "-")]
					if !ok {
						issues = append(issues, Issue{Field: name, Constraint: "must be one of " + strings.Join(d.SortKeys(), ", ") + " (prefix - for descending)"})
						continue
					}
					if desc {
						sp = "-" + sp
					}
					keys = append(keys, sp)
				}
			}
			if len(keys) > 0 {
				fq.Set("_sort", strings.Join(keys, ","))
			}
			continue
		}
		i := slices.IndexFunc(d.Params, func(p Param) bool { return p.Name == name })
		if i < 0 {
			unknown = append(unknown, name)
			continue
		}
		p := &d.Params[i]
		for _, raw := range q[name] {
			v, ok := p.value(raw)
			if !ok {
				issues = append(issues, Issue{Field: name, Constraint: "must be the id of a " + p.Target})
				continue
			}
			fq.Add(p.Code, v)
		}
	}
	return fq, unknown, issues
}

// SortKeys lists the keys of the sort parameter, sorted.
func (d *Def) SortKeys() []string {
	out := make([]string, 0, len(d.Sorts))
	for k := range d.Sorts {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// escape keeps a value whole: in FHIR search, commas separate values.
var escape = strings.NewReplacer(`\`, `\\`, ",", `\,`)

func (p *Param) value(raw string) (string, bool) {
	if v, ok := p.Values[raw]; ok {
		raw = v
	}
	raw = escape.Replace(raw)
	switch p.Kind {
	case RefParam:
		if strings.Contains(raw, "://") || strings.HasPrefix(raw, "urn:") {
			return raw, true // an absolute reference or canonical URL
		}
		if t, id, ok := strings.Cut(raw, "/"); ok {
			return raw, t != "" && datastore.ValidID(id)
		}
		if !datastore.ValidID(raw) {
			return "", false
		}
		return p.Target + "/" + raw, true
	case From:
		return "ge" + raw, true
	case To:
		return "le" + raw, true
	case Token:
		if strings.Contains(raw, "|") {
			return raw, true
		}
		if cd, ok := lookupCode(p.Codes, raw); ok {
			return cd.System + "|" + cd.Code, true
		}
		if p.System != "" {
			return p.System + "|" + raw, true
		}
	}
	return raw, true
}
