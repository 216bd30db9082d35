package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/stdlib"

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
	return db.tx(ctx, func(tx *sql.Tx) error { return db.appendAudit(ctx, tx, []audit.Event{e}, nil, true) })
}

// InsertAuditEvents implements audit.BatchStore: the events are appended
// to their chains in one transaction, with one COPY on PostgreSQL (the
// queue of API reads' events, 200 at a time: no statement of 3,000
// parameters to bind) and one multi-row INSERT on SQLite.
//
// On PostgreSQL a batch is first written without looking for its events
// among those already written: that look-up (an index probe per event)
// was a fifth of PostgreSQL's CPU per event, and it finds something only
// for a batch written again after an uncertain failure. Such a batch
// fails on the primary key, rolls back whole, and is written again with
// the look-up, which leaves out the events already there.
func (db *DB) InsertAuditEvents(ctx context.Context, es []audit.Event) error {
	if db.dialect != Postgres {
		return db.tx(ctx, func(tx *sql.Tx) error { return db.appendAudit(ctx, tx, es, nil, true) })
	}
	err := db.copyAudit(ctx, es, false)
	if isUnique(err) {
		err = db.copyAudit(ctx, es, true)
	}
	return err
}

// copyAudit appends es in one transaction with one COPY (PostgreSQL),
// looking for those already written first if lookup.
func (db *DB) copyAudit(ctx context.Context, es []audit.Event, lookup bool) error {
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	// The COPY goes over the transaction's own connection, inside it.
	copyRows := func(rows []auditRow) error {
		return conn.Raw(func(dc any) error {
			return copyBinary(ctx, dc.(*stdlib.Conn).Conn(), "audit_events", auditColumnNames, len(rows), func(i int, w rowWriter) { rows[i].write(w) })
		})
	}
	if err := db.appendAudit(ctx, tx, es, copyRows, lookup); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// auditColumnNames are the columns every audit write fills, in order.
var auditColumnNames = []string{"id", "org_id", "actor_type", "actor_id", "action", "target_type", "target_id", "ip", "user_agent", "outcome", "detail", "created_at", "chain_seq", "prev_hash", "hash"}

// auditRow is a chained event as it is stored.
type auditRow struct {
	e      audit.Event
	detail string
}

// write writes the row's values in the order of auditColumnNames.
func (r *auditRow) write(w rowWriter) {
	e := &r.e
	w.text(e.ID)
	w.nullText(e.OrgID)
	w.text(string(e.ActorType))
	w.text(e.ActorID)
	w.text(e.Action)
	w.text(e.TargetType)
	w.text(e.TargetID)
	w.text(e.IP)
	w.text(e.UserAgent)
	w.text(string(e.Outcome))
	w.text(r.detail)
	w.time(e.CreatedAt)
	w.int8(e.Seq)
	w.text(e.PrevHash)
	w.text(e.Hash)
}

// auditColumns starts every audit INSERT.
var auditColumns = `INSERT INTO audit_events (` + strings.Join(auditColumnNames, ", ") + `)`

// appendAudit appends es (at most audit.BatchSize) to their organizations'
// hash chains inside tx: it locks each chain's head (in chain order, so
// two writers never wait for each other in a circle; on SQLite the write
// lock already serialises them), leaves out events already written if
// lookup (events carry their ids from the start, so a batch retried after
// an uncertain failure is written once; without the look-up such a batch
// fails on the primary key) and those given twice, numbers and hashes the
// rest, inserts them (with copyRows when given) and moves the heads.
func (db *DB) appendAudit(ctx context.Context, tx *sql.Tx, es []audit.Event, copyRows func([]auditRow) error, lookup bool) error {
	if len(es) == 0 {
		return nil
	}
	heads := map[string]*audit.Head{}
	var chains []string
	for _, e := range es {
		if _, ok := heads[e.ChainID()]; !ok {
			heads[e.ChainID()] = nil
			chains = append(chains, e.ChainID())
		}
	}
	slices.Sort(chains)
	for _, c := range chains {
		h, err := db.lockChainHead(ctx, tx, c)
		if err != nil {
			return err
		}
		heads[c] = h
	}
	written := map[string]bool{}
	var err error
	if lookup {
		if written, err = db.existingAuditIDs(ctx, tx, es); err != nil {
			return err
		}
	}
	rows := make([]auditRow, 0, len(es))
	for _, e := range es {
		if written[e.ID] {
			continue
		}
		written[e.ID] = true
		detail, err := detailJSON(e.Detail)
		if err != nil {
			return err
		}
		h := heads[e.ChainID()]
		e.CreatedAt = utc(e.CreatedAt)
		e.Seq, e.PrevHash = h.Seq+1, h.Hash
		e.Hash = audit.ChainHash(e.PrevHash, e)
		h.Seq, h.Hash = e.Seq, e.Hash
		rows = append(rows, auditRow{e: e, detail: detail})
	}
	if len(rows) == 0 {
		return nil
	}
	if copyRows != nil {
		err = copyRows(rows)
	} else {
		w := &argsWriter{args: make([]any, 0, len(rows)*len(auditColumnNames))}
		for i := range rows {
			rows[i].write(w)
		}
		err = db.insertValuesTx(ctx, tx, auditColumns, "", len(rows), len(auditColumnNames), audit.BatchSize, w.args)
	}
	if err != nil {
		return err
	}
	for _, c := range chains {
		h := heads[c]
		if _, err := tx.ExecContext(ctx, `UPDATE audit_chain_heads SET seq = $2, hash = $3 WHERE chain_id = $1`, c, h.Seq, h.Hash); err != nil {
			return err
		}
	}
	return nil
}

// lockChainHead reads a chain's head, creating it, and on PostgreSQL locks
// its row until tx ends: appends to one chain from several instances take
// turns.
func (db *DB) lockChainHead(ctx context.Context, tx *sql.Tx, chain string) (*audit.Head, error) {
	q := `SELECT seq, hash FROM audit_chain_heads WHERE chain_id = $1`
	if db.dialect == Postgres {
		q += ` FOR UPDATE`
	}
	h := &audit.Head{ChainID: chain}
	err := tx.QueryRowContext(ctx, q, chain).Scan(&h.Seq, &h.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_chain_heads (chain_id, seq, hash) VALUES ($1, 0, '') ON CONFLICT (chain_id) DO NOTHING`, chain); err != nil {
			return nil, err
		}
		err = tx.QueryRowContext(ctx, q, chain).Scan(&h.Seq, &h.Hash)
	}
	return h, err
}

// existingAuditIDs returns which of es's ids are already written.
//
// On PostgreSQL the ids go as one array and the lookup is planned with
// sequential scans disabled, so it is an index lookup per id whatever the
// statistics say. A batch's check otherwise read the whole trail: with
// audit_events analyzed while nearly empty (a fresh database, or an
// ANALYZE of the whole database early on) and no autovacuum to analyze it
// again, PostgreSQL went on estimating a few rows and scanned, comparing
// every row with each of up to 200 ids — most of its CPU under API load,
// growing with the trail.
func (db *DB) existingAuditIDs(ctx context.Context, tx *sql.Tx, es []audit.Event) (map[string]bool, error) {
	if db.dialect == Postgres {
		ids := make([]string, len(es))
		for i, e := range es {
			ids[i] = e.ID
		}
		if _, err := tx.ExecContext(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
			return nil, err
		}
		rows, err := tx.QueryContext(ctx, `SELECT id FROM audit_events WHERE id = ANY($1::text[])`, ids)
		if err != nil {
			return nil, err
		}
		out, err := scanIDs(rows, len(es))
		if err != nil {
			return nil, err
		}
		// Back on for the rest of the caller's transaction.
		_, err = tx.ExecContext(ctx, `SET LOCAL enable_seqscan = on`)
		return out, err
	}
	var b strings.Builder
	args := make([]any, len(es))
	for i, e := range es {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("$" + itoa(i+1))
		args[i] = e.ID
	}
	rows, err := tx.QueryContext(ctx, `SELECT id FROM audit_events WHERE id IN (`+b.String()+`)`, args...)
	if err != nil {
		return nil, err
	}
	return scanIDs(rows, len(es))
}

// scanIDs reads rows of one id each into a set and closes them.
func scanIDs(rows *sql.Rows, n int) (map[string]bool, error) {
	defer rows.Close()
	out := make(map[string]bool, n)
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

// ChainAuditBacklog chains the events written before the trail was a
// chain (in time order, after whatever each chain already holds), 500 at
// a time, and returns how many it chained.
func (db *DB) ChainAuditBacklog(ctx context.Context) (int64, error) {
	var total int64
	for {
		var n int64
		err := db.tx(ctx, func(tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, `SELECT `+auditSelect+` FROM audit_events WHERE chain_seq IS NULL ORDER BY created_at, id LIMIT 500`)
			if err != nil {
				return err
			}
			es, err := scanAuditEvents(rows)
			if err != nil {
				return err
			}
			n = int64(len(es))
			if n == 0 {
				return nil
			}
			heads := map[string]*audit.Head{}
			for _, e := range es {
				h := heads[e.ChainID()]
				if h == nil {
					if h, err = db.lockChainHead(ctx, tx, e.ChainID()); err != nil {
						return err
					}
					heads[e.ChainID()] = h
				}
				e.Seq, e.PrevHash = h.Seq+1, h.Hash
				e.Hash = audit.ChainHash(e.PrevHash, e)
				h.Seq, h.Hash = e.Seq, e.Hash
				if _, err := tx.ExecContext(ctx, `UPDATE audit_events SET chain_seq = $2, prev_hash = $3, hash = $4 WHERE id = $1`, e.ID, e.Seq, e.PrevHash, e.Hash); err != nil {
					return err
				}
			}
			for c, h := range heads {
				if _, err := tx.ExecContext(ctx, `UPDATE audit_chain_heads SET seq = $2, hash = $3 WHERE chain_id = $1`, c, h.Seq, h.Hash); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil || n == 0 {
			return total, err
		}
		total += n
	}
}

var _ audit.ChainStore = (*DB)(nil)

// AuditChainHeads implements audit.ChainStore.
func (db *DB) AuditChainHeads(ctx context.Context) ([]audit.Head, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT chain_id, seq, hash FROM audit_chain_heads ORDER BY chain_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []audit.Head
	for rows.Next() {
		var h audit.Head
		if err := rows.Scan(&h.ChainID, &h.Seq, &h.Hash); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// AuditChain implements audit.ChainStore.
func (db *DB) AuditChain(ctx context.Context, chainID string, after int64, limit int) ([]audit.Event, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT `+auditSelect+` FROM audit_events
		WHERE COALESCE(org_id, '') = $1 AND chain_seq > $2 ORDER BY COALESCE(org_id, ''), chain_seq LIMIT $3`, chainID, after, limit)
	if err != nil {
		return nil, err
	}
	return scanAuditEvents(rows)
}

// UnchainedAuditEvents implements audit.ChainStore.
func (db *DB) UnchainedAuditEvents(ctx context.Context) (int64, error) {
	var n int64
	err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_events WHERE chain_seq IS NULL`).Scan(&n)
	return n, err
}

// auditSelect are the columns scanAuditEvents reads.
const auditSelect = `id, COALESCE(org_id, ''), actor_type, actor_id, action, target_type, target_id, ip, user_agent, outcome, detail, created_at, COALESCE(chain_seq, 0), prev_hash, hash`

// scanAuditEvents reads rows of auditSelect and closes them.
func scanAuditEvents(rows *sql.Rows) ([]audit.Event, error) {
	defer rows.Close()
	var out []audit.Event
	for rows.Next() {
		var e audit.Event
		var detail string
		if err := rows.Scan(&e.ID, &e.OrgID, &e.ActorType, &e.ActorID, &e.Action, &e.TargetType, &e.TargetID, &e.IP, &e.UserAgent, &e.Outcome, &detail, &e.CreatedAt, &e.Seq, &e.PrevHash, &e.Hash); err != nil {
			return nil, err
		}
		if detail != "{}" && detail != "" {
			_ = json.Unmarshal([]byte(detail), &e.Detail)
		}
		out = append(out, e)
	}
	return out, rows.Err()
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
	if f.Tenant != "" {
		add(`(target_id = ? OR actor_id IN (SELECT id FROM api_keys WHERE tenant_id = ?)
			OR (target_type = 'api_key' AND target_id IN (SELECT id FROM api_keys WHERE tenant_id = ?)))`, f.Tenant)
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
	q := `SELECT ` + auditSelect + ` FROM audit_events`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit)
	q += " ORDER BY created_at DESC, id DESC LIMIT $" + itoa(len(args))
	rows, err := db.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return scanAuditEvents(rows)
}

// likePrefix is a LIKE pattern matching the strings that begin with p.
func likePrefix(p string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(p) + "%"
}
