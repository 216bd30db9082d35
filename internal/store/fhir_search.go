package store

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/fhir"
)

// sqlBuilder collects a statement's bind arguments.
type sqlBuilder struct {
	args []any
	// tenant and type are the placeholders of the searched tenant and type,
	// reused by every index sub-select so each one stands alone.
	tenant, typ string
}

func (b *sqlBuilder) arg(v any) string {
	b.args = append(b.args, v)
	return fmt.Sprintf("$%d", len(b.args))
}

// maxRune bounds a prefix range: every string starting with p sorts before
// p + U+10FFFF in byte order.
const maxRune = "\U0010FFFF"

// Search implements datastore.Backend. Each condition becomes an IN
// sub-select on its index table, so the index drives the search.
func (d *Datastore) Search(ctx context.Context, tenant datastore.Tenant, q datastore.Query) ([]datastore.Record, int, error) {
	release, err := d.slot(ctx, tenant)
	if err != nil {
		return nil, 0, err
	}
	defer release()
	b := &sqlBuilder{}
	b.tenant, b.typ = b.arg(string(tenant)), b.arg(q.Type)
	if d.db.dialect == Postgres && !q.CountTotal && q.Limit > 0 && stringPaged(q) {
		if q.Offset == 0 {
			if recs, whole, err := d.stringPage(ctx, tenant, q, false); err != nil || whole {
				return recs, -1, err
			}
		}
		recs, _, err := d.stringPage(ctx, tenant, q, true)
		return recs, -1, err
	}
	where := []string{"r.tenant = " + b.tenant, "r.type = " + b.typ, "r.deleted = FALSE"}
	walk, err := d.walkOrdered(ctx, tenant, q)
	if err != nil {
		return nil, 0, err
	}
	for _, c := range q.Conditions {
		cond := b.condition(c)
		if walk {
			// Unary + keeps SQLite from driving the search by the matches:
			// it walks the resources in page order and probes them instead.
			cond = "+" + cond
		}
		where = append(where, cond)
	}
	from := " FROM resources r WHERE " + strings.Join(where, " AND ")
	total := -1
	if q.CountTotal {
		if err := d.db.sql.QueryRowContext(ctx, "SELECT COUNT(*)"+from, b.args...).Scan(&total); err != nil {
			return nil, 0, err
		}
	}
	if q.Limit == 0 {
		return nil, total, nil
	}
	// Two steps: the page's ids from the indexes alone (sorting and
	// skipping never read resource bodies), then the bodies of that page.
	order := b.order(q.Sort)
	if d.db.dialect == Postgres {
		// One round trip: the page's ids (numbered in page order) from
		// the indexes, joined to their rows.
		sel := "SELECT p.n, " + prefixed("r", recordColumns) + " FROM (SELECT r.id, row_number() OVER (ORDER BY " + order + ") AS n" + from +
			" ORDER BY " + order + " LIMIT " + b.arg(q.Limit) + " OFFSET " + b.arg(q.Offset) + ") p JOIN resources r ON r.tenant = " + b.tenant +
			" AND r.type = " + b.typ + " AND r.id = p.id ORDER BY p.n"
		recs, err := d.queryNumbered(ctx, sel, b.args)
		return recs, total, err
	}
	sel := "SELECT r.id" + from + " ORDER BY " + order + " LIMIT " + b.arg(q.Limit) + " OFFSET " + b.arg(q.Offset)
	rows, err := d.db.sql.QueryContext(ctx, sel, b.args...)
	if err != nil {
		return nil, 0, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	recs, err := d.byIDs(ctx, tenant, q.Type, ids)
	return recs, total, err
}

// stringPaged reports whether a search is one stringPage serves: one
// string parameter in the default order (newest first) — a name search.
func stringPaged(q datastore.Query) bool {
	if len(q.Sort) != 0 || len(q.Conditions) != 1 {
		return false
	}
	c := q.Conditions[0]
	return c.Type == fhir.String && c.Param != "_id" && c.Param != "_lastUpdated" && c.Modifier != "missing" && c.Modifier != "not"
}

// stringPage runs, on PostgreSQL, a search stringPaged serves from the
// string index alone: its rows carry their resource's last_updated (every
// write replaces a resource's index rows, and a deleted resource has
// none), so the matches are sorted without looking up each one's
// resource row, and only the page's resource rows are read. A resource
// may match by more than one of its strings, so rows are grouped by
// resource. Grouped, every matching row is; otherwise (a first page) only
// the first rows in order, three for each place on the page, and
// PostgreSQL keeps no more than those while it sorts — about half the
// work. Rows sort by (last_updated, id), so a resource's first row is its
// newest: every resource among those rows has its true place, and every
// resource placed before one of them is among them too. So when those
// rows hold a whole page of resources, it is the page (whole); when they
// do not (fewer matches than the page, resources matching many times
// over, a match deleted meanwhile), the caller runs it grouped. Those
// first rows come from idx_string_recent in page order when every value
// is a prefix of recentHead characters (recentRows), and from
// sorting every matching row otherwise.
func (d *Datastore) stringPage(ctx context.Context, tenant datastore.Tenant, q datastore.Query, grouped bool) (recs []datastore.Record, whole bool, err error) {
	b := &sqlBuilder{}
	b.tenant, b.typ = b.arg(string(tenant)), b.arg(q.Type)
	c := q.Conditions[0]
	var ids string
	if !grouped && recent(c) {
		ids = "SELECT id, MAX(lu) AS lu FROM (" + b.recentRows(c, 3*q.Limit) + ") t GROUP BY id"
	} else {
		var ors []string
		for _, m := range c.Values {
			ors = append(ors, b.match(c, m))
		}
		where := "x.tenant = " + b.tenant + " AND x.type = " + b.typ + " AND " + b.param(c.Param, c.Within) + " AND (" + strings.Join(ors, " OR ") + ")"
		ids = "SELECT x.id, MAX(x.last_updated) AS lu FROM idx_string x WHERE " + where + " GROUP BY x.id"
		if !grouped {
			ids = "SELECT id, MAX(lu) AS lu FROM (SELECT x.id, x.last_updated AS lu FROM idx_string x WHERE " + where +
				" ORDER BY lu DESC, x.id LIMIT " + b.arg(3*q.Limit) + ") t GROUP BY id"
		}
	}
	// Numbered outside the page's subquery, so that PostgreSQL passes the
	// LIMIT down to its sort (a window function there would not let it).
	sel := "SELECT row_number() OVER (ORDER BY p.lu DESC, p.id), " + prefixed("r", recordColumns) +
		" FROM (" + ids + " ORDER BY lu DESC, id LIMIT " + b.arg(q.Limit) + " OFFSET " + b.arg(q.Offset) + ") p" +
		" JOIN resources r ON r.tenant = " + b.tenant + " AND r.type = " + b.typ + " AND r.id = p.id AND r.deleted = FALSE ORDER BY 1"
	recs, err = d.queryNumbered(ctx, sel, b.args)
	return recs, grouped || len(recs) == q.Limit, err
}

// recentHead is the length, in characters, of the value prefix by which
// idx_string_recent orders a parameter's rows newest first (the 3 in its
// migration, 00011_string_index_recent.sql).
const recentHead = 3

// recent reports whether every value of a string condition is a prefix
// (no modifier) of exactly recentHead characters, so that every row of
// idx_string_recent under that head matches and its first rows come in
// page order at the cost of the page. A longer prefix would also read
// the rows of its head that do not match it — all of them for a rare
// name under a common head — where idx_string_search reads its matches
// alone, and a longer prefix matches fewer rows.
func recent(c datastore.Condition) bool {
	if c.Modifier != "" || len(c.Values) == 0 {
		return false
	}
	for _, m := range c.Values {
		if utf8.RuneCountInString(m.Text) != recentHead {
			return false
		}
	}
	return true
}

// recentRows selects the first n string index rows, newest first, that
// match c (recent(c)): one stream per parameter and value, each read from
// idx_string_recent in that order and cut at n, merged by PostgreSQL in
// order and cut again. Each stream reads its parameter's rows whose value
// begins with the prefix's characters (left() on both sides, whatever the
// database's encoding counts as a character; the range on the value
// keeps the match exact where it counts fewer). A row matching two values
// comes twice, which stringPage's grouping absorbs.
func (b *sqlBuilder) recentRows(c datastore.Condition, n int) string {
	limit := b.arg(n)
	var streams []string
	for _, p := range append([]string{c.Param}, c.Within...) {
		param := b.arg(p)
		for _, m := range c.Values {
			prefix := b.arg(m.Text)
			streams = append(streams, "SELECT x.id, x.last_updated AS lu FROM idx_string x WHERE x.tenant = "+b.tenant+" AND x.type = "+b.typ+
				" AND x.param = "+param+" AND left(x.text, "+itoa(recentHead)+") = left("+prefix+", "+itoa(recentHead)+") AND x.text >= "+prefix+
				" AND x.text < "+b.arg(m.Text+maxRune)+" ORDER BY x.last_updated DESC, x.id LIMIT "+limit)
		}
	}
	if len(streams) == 1 {
		return streams[0]
	}
	return "(" + strings.Join(streams, ") UNION ALL (") + ") ORDER BY lu DESC, id LIMIT " + limit
}

// walkThreshold is the number of matches from which walking the resources
// in page order (and probing each against the matches) beats collecting
// and sorting every match.
const walkThreshold = 1000

// walkOrdered decides, on SQLite, how to run a one-condition search in the
// default order: sorting all matches costs time in proportion to their
// number, so when a condition matches many resources (a short name prefix
// over a large datastore) it is cheaper to walk the resources newest first
// and stop at the page's end. An index-only count, capped, decides.
func (d *Datastore) walkOrdered(ctx context.Context, tenant datastore.Tenant, q datastore.Query) (bool, error) {
	if d.db.dialect != SQLite || len(q.Conditions) != 1 || len(q.Sort) != 0 || q.Limit == 0 {
		return false, nil
	}
	c := q.Conditions[0]
	if c.Param == "_id" || c.Param == "_lastUpdated" || c.Modifier == "missing" || c.Modifier == "not" {
		return false, nil
	}
	b := &sqlBuilder{}
	b.tenant, b.typ = b.arg(string(tenant)), b.arg(q.Type)
	var ors []string
	for _, m := range c.Values {
		ors = append(ors, b.match(c, m))
	}
	sub := b.sub(tableOf(c.Type), c.Param, c.Within, strings.Join(ors, " OR "))
	var n int
	err := d.db.sql.QueryRowContext(ctx, "SELECT COUNT(*) FROM ("+sub+" LIMIT "+b.arg(walkThreshold)+") m", b.args...).Scan(&n)
	return n >= walkThreshold, err
}

// byIDs returns the current records of typ with ids, in the order of ids.
func (d *Datastore) byIDs(ctx context.Context, tenant datastore.Tenant, typ string, ids []string) ([]datastore.Record, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	b := &sqlBuilder{}
	ph := make([]string, len(ids))
	t, ty := b.arg(string(tenant)), b.arg(typ)
	for i, id := range ids {
		ph[i] = b.arg(id)
	}
	rows, err := d.db.sql.QueryContext(ctx, "SELECT "+recordColumns+" FROM resources WHERE tenant = "+t+" AND type = "+ty+" AND id IN ("+strings.Join(ph, ", ")+")", b.args...)
	if err != nil {
		return nil, err
	}
	got, err := scanRecords(rows)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]datastore.Record, len(got))
	for _, r := range got {
		byID[r.ID] = r
	}
	out := make([]datastore.Record, 0, len(ids))
	for _, id := range ids {
		if r, ok := byID[id]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// sub selects the ids of resources with an index row of param, or of a
// parameter within it, that satisfies cond (any row when cond is empty).
func (b *sqlBuilder) sub(table, param string, within []string, cond string) string {
	s := "SELECT x.id FROM " + table + " x WHERE x.tenant = " + b.tenant + " AND x.type = " + b.typ + " AND " + b.param(param, within)
	if cond != "" {
		s += " AND (" + cond + ")"
	}
	return s
}

// param matches the index rows of param and of the parameters within it
// (see fhir.SearchParam.Within).
func (b *sqlBuilder) param(param string, within []string) string {
	if len(within) == 0 {
		return "x.param = " + b.arg(param)
	}
	ph := make([]string, 0, 1+len(within))
	ph = append(ph, b.arg(param))
	for _, w := range within {
		ph = append(ph, b.arg(w))
	}
	return "x.param IN (" + strings.Join(ph, ", ") + ")"
}

func tableOf(t fhir.ParamType) string {
	switch t {
	case fhir.String:
		return "idx_string"
	case fhir.Token:
		return "idx_token"
	case fhir.Reference:
		return "idx_reference"
	case fhir.Date:
		return "idx_date"
	case fhir.Number, fhir.Quantity:
		return "idx_number"
	case fhir.URI:
		return "idx_uri"
	}
	return ""
}

func (b *sqlBuilder) condition(c datastore.Condition) string {
	switch c.Param {
	case "_id":
		ph := make([]string, len(c.Values))
		for i, m := range c.Values {
			ph[i] = b.arg(m.Code)
		}
		return "r.id IN (" + strings.Join(ph, ", ") + ")"
	case "_lastUpdated":
		var ors []string
		for _, m := range c.Values {
			ors = append(ors, b.dateCond("r.last_updated", "r.last_updated + 1", m))
		}
		return "(" + strings.Join(ors, " OR ") + ")"
	}
	table := tableOf(c.Type)
	if c.Modifier == "missing" {
		in := "r.id IN (" + b.sub(table, c.Param, c.Within, "") + ")"
		if c.Values[0].MissingArg {
			return "NOT " + in
		}
		return in
	}
	var ors []string
	for _, m := range c.Values {
		ors = append(ors, b.match(c, m))
	}
	cond := strings.Join(ors, " OR ")
	if c.Modifier == "not" {
		return "r.id NOT IN (" + b.sub(table, c.Param, c.Within, cond) + ")"
	}
	return "r.id IN (" + b.sub(table, c.Param, c.Within, cond) + ")"
}

func (b *sqlBuilder) match(c datastore.Condition, m datastore.Match) string {
	switch c.Type {
	case fhir.String:
		switch c.Modifier {
		case "exact":
			return "x.exact = " + b.arg(m.Text)
		case "contains":
			return "x.text LIKE " + b.arg("%"+escapeLike(m.Text)+"%") + " ESCAPE '\\'"
		}
		return "(x.text >= " + b.arg(m.Text) + " AND x.text < " + b.arg(m.Text+maxRune) + ")"
	case fhir.Token:
		switch {
		case m.HasSystem && m.Code == "":
			return "x.system = " + b.arg(m.System)
		case m.HasSystem:
			return "(x.code = " + b.arg(m.Code) + " AND x.system = " + b.arg(m.System) + ")"
		}
		return "x.code = " + b.arg(m.Code)
	case fhir.Reference:
		var parts []string
		if m.RefID != "" {
			p := "x.ref_id = " + b.arg(m.RefID)
			if m.RefType != "" {
				p = "(" + p + " AND x.ref_type = " + b.arg(m.RefType) + ")"
			}
			parts = append(parts, p)
		}
		if m.URL != "" {
			parts = append(parts, "x.url = "+b.arg(m.URL))
		}
		return "(" + strings.Join(parts, " OR ") + ")"
	case fhir.URI:
		return "x.url = " + b.arg(m.URL)
	case fhir.Date:
		return b.dateCond("x.start_at", "x.end_at", m)
	case fhir.Number, fhir.Quantity:
		cond := b.numberCond(m)
		if m.HasSystem {
			if m.System != "" {
				cond += " AND x.system = " + b.arg(m.System)
			}
			cond += " AND x.code = " + b.arg(m.Code)
		}
		return "(" + cond + ")"
	}
	return "1 = 0"
}

// dateCond compares the stored range [start, end) with the value's range
// [ps, pe) by the FHIR prefix.
func (b *sqlBuilder) dateCond(start, end string, m datastore.Match) string {
	ps, pe := micros(m.Start), micros(m.End)
	switch m.Prefix {
	case "ne":
		return "NOT (" + start + " >= " + b.arg(ps) + " AND " + end + " <= " + b.arg(pe) + ")"
	case "gt":
		return end + " > " + b.arg(pe)
	case "lt":
		return start + " < " + b.arg(ps)
	case "ge":
		return end + " > " + b.arg(ps)
	case "le":
		return start + " < " + b.arg(pe)
	case "sa":
		return start + " >= " + b.arg(pe)
	case "eb":
		return end + " <= " + b.arg(ps)
	case "ap":
		return "(" + start + " < " + b.arg(pe) + " AND " + end + " > " + b.arg(ps) + ")"
	}
	return "(" + start + " >= " + b.arg(ps) + " AND " + end + " <= " + b.arg(pe) + ")"
}

func (b *sqlBuilder) numberCond(m datastore.Match) string {
	v := m.Number
	switch m.Prefix {
	case "ne":
		return "NOT (x.value >= " + b.arg(v-m.Tolerance) + " AND x.value < " + b.arg(v+m.Tolerance) + ")"
	case "gt", "sa":
		return "x.value > " + b.arg(v)
	case "lt", "eb":
		return "x.value < " + b.arg(v)
	case "ge":
		return "x.value >= " + b.arg(v)
	case "le":
		return "x.value <= " + b.arg(v)
	case "ap":
		lo, hi := v*0.9, v*1.1
		if lo > hi {
			lo, hi = hi, lo
		}
		return "(x.value >= " + b.arg(lo) + " AND x.value <= " + b.arg(hi) + ")"
	}
	return "(x.value >= " + b.arg(v-m.Tolerance) + " AND x.value < " + b.arg(v+m.Tolerance) + ")"
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// order builds ORDER BY: each key, missing values last, then the id so
// pages are stable. Without keys: newest first.
func (b *sqlBuilder) order(keys []datastore.Sort) string {
	if len(keys) == 0 {
		return "r.last_updated DESC, r.id"
	}
	var parts []string
	for _, k := range keys {
		dir := ""
		agg := "MIN"
		if k.Desc {
			dir, agg = " DESC", "MAX"
		}
		switch k.Param {
		case "_id":
			parts = append(parts, "r.id"+dir)
			continue
		case "_lastUpdated":
			parts = append(parts, "r.last_updated"+dir)
			continue
		}
		col := map[fhir.ParamType]string{
			fhir.String: "x.text", fhir.Token: "x.code", fhir.Reference: "x.ref_id", fhir.Date: "x.start_at",
			fhir.Number: "x.value", fhir.Quantity: "x.value", fhir.URI: "x.url",
		}[k.Type]
		if k.Type == fhir.Date && k.Desc {
			col = "x.end_at"
		}
		sub := "(SELECT " + agg + "(" + col + ") FROM " + tableOf(k.Type) + " x WHERE x.tenant = r.tenant AND x.type = r.type AND x.id = r.id AND " + b.param(k.Param, k.Within) + ")"
		parts = append(parts, sub+" IS NULL", sub+dir)
	}
	return strings.Join(append(parts, "r.id"), ", ")
}
