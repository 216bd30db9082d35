package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strings"

	"github.com/clinikapi/clinikapi/internal/audit"
)

var _ audit.Store = (*DB)(nil)

// detailJSON encodes an event's detail as a JSON object with sorted keys,
// like encoding/json, without reflection for the usual small, plain maps
// (one is written with every API data operation).
func detailJSON(d map[string]string) (string, error) {
	if len(d) == 0 {
		return "{}", nil
	}
	keys := make([]string, 0, len(d))
	for k, v := range d {
		if !plainJSON(k) || !plainJSON(v) {
			b, err := json.Marshal(d)
			return string(b), err
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := make([]byte, 0, 64)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, `":"`...)
		b = append(b, d[k]...)
		b = append(b, '"')
	}
	return string(append(b, '}')), nil
}

// plainJSON reports whether s needs no escaping in a JSON string (what
// encoding/json escapes: quotes, backslashes, control characters, <, >, &
// and everything outside printable ASCII).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// InsertAuditEvent implements audit.Store.
func (db *DB) InsertAuditEvent(ctx context.Context, e audit.Event) error {
	return db.writing(func() error { return insertAuditEvent(ctx, db.sql, e) })
}

// insertAuditEvent writes one event through x (the database, or a transaction).
func insertAuditEvent(ctx context.Context, x interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, e audit.Event) error {
	detail, err := detailJSON(e.Detail)
	if err != nil {
		return err
	}
	_, err = x.ExecContext(ctx, `INSERT INTO audit_events (id, org_id, actor_type, actor_id, action, target_type, target_id, ip, user_agent, outcome, detail, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		e.ID, nullString(e.OrgID), e.ActorType, e.ActorID, e.Action, e.TargetType, e.TargetID, e.IP, e.UserAgent, e.Outcome, detail, utc(e.CreatedAt))
	return err
}

// InsertAuditEvents implements audit.BatchStore with one multi-row INSERT.
func (db *DB) InsertAuditEvents(ctx context.Context, es []audit.Event) error {
	args := make([]any, 0, len(es)*12)
	for _, e := range es {
		detail, err := detailJSON(e.Detail)
		if err != nil {
			return err
		}
		args = append(args, e.ID, nullString(e.OrgID), e.ActorType, e.ActorID, e.Action, e.TargetType, e.TargetID, e.IP, e.UserAgent, e.Outcome, detail, utc(e.CreatedAt))
	}
	// Events carry their ids from the start, so a batch retried after an
	// uncertain failure is written once.
	return db.insertValues(ctx, `INSERT INTO audit_events (id, org_id, actor_type, actor_id, action, target_type, target_id, ip, user_agent, outcome, detail, created_at)`,
		` ON CONFLICT (id) DO NOTHING`, len(es), 12, audit.BatchSize, args)
}

// ListAuditEvents implements audit.Store.
func (db *DB) ListAuditEvents(ctx context.Context, f audit.Filter) ([]audit.Event, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+itoa(len(args))))
	}
	if f.OrgID != "" && f.WithMembers {
		add(`(org_id = ? OR (org_id IS NULL AND (actor_id IN (SELECT user_id FROM memberships WHERE org_id = ?)
			OR (target_type = 'user' AND target_id IN (SELECT user_id FROM memberships WHERE org_id = ?)))))`, f.OrgID)
	} else if f.OrgID != "" {
		add("org_id = ?", f.OrgID)
	}
	if f.Action != "" {
		add(`action LIKE ? ESCAPE '\'`, likePrefix(f.Action))
	}
	if ps := audit.CategoryPrefixes(f.Category); len(ps) > 0 {
		var or []string
		for _, p := range ps {
			args = append(args, likePrefix(p))
			or = append(or, `action LIKE $`+itoa(len(args))+` ESCAPE '\'`)
		}
		where = append(where, "("+strings.Join(or, " OR ")+")")
	}
	if f.Actor != "" {
		add("actor_id = ?", f.Actor)
	}
	if f.TargetID != "" {
		add("target_id = ?", f.TargetID)
	}
	if !f.Before.IsZero() && f.BeforeID != "" {
		args = append(args, utc(f.Before), f.BeforeID)
		n := len(args)
		where = append(where, "(created_at < $"+itoa(n-1)+" OR (created_at = $"+itoa(n-1)+" AND id < $"+itoa(n)+"))")
	} else if !f.Before.IsZero() {
		add("created_at < ?", utc(f.Before))
	}
	if !f.After.IsZero() {
		add("created_at >= ?", utc(f.After))
	}
	q := `SELECT id, COALESCE(org_id, ''), actor_type, actor_id, action, target_type, target_id, ip, user_agent, outcome, detail, created_at FROM audit_events`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit)
	q += " ORDER BY created_at DESC, id DESC LIMIT $" + itoa(len(args))
	rows, err := db.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []audit.Event
	for rows.Next() {
		var e audit.Event
		var detail string
		if err := rows.Scan(&e.ID, &e.OrgID, &e.ActorType, &e.ActorID, &e.Action, &e.TargetType, &e.TargetID, &e.IP, &e.UserAgent, &e.Outcome, &detail, &e.CreatedAt); err != nil {
			return nil, err
		}
		if detail != "{}" && detail != "" {
			_ = json.Unmarshal([]byte(detail), &e.Detail)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// likePrefix is a LIKE pattern matching the strings that begin with p.
func likePrefix(p string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(p) + "%"
}
