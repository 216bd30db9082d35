package store

import (
	"context"
	"database/sql"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/clinikapi/clinikapi/internal/quota"
	"github.com/clinikapi/clinikapi/internal/usage"
)

var (
	_ usage.Store = (*DB)(nil)
	_ quota.Store = (*DB)(nil)
)

var usageColumnNames = []string{"created_at", "org_id", "key_id", "env", "method", "route", "status", "latency_us", "bytes_in", "bytes_out", "request_id", "code", "resource_type", "client_ip", "ua_family"}

// usageInsertRows is the most records one multi-row INSERT writes on
// SQLite (15 parameters each, well inside its limit of 32,766).
const usageInsertRows = 500

// usageRow writes r's values in the order of usageColumnNames.
func usageRow(w rowWriter, r usage.Record) {
	w.time(utc(r.Time))
	w.text(r.OrgID)
	w.text(r.KeyID)
	w.text(r.Env)
	w.text(r.Method)
	w.text(r.Route)
	w.int4(int32(r.Status))
	w.int8(r.Latency.Microseconds())
	w.int8(r.BytesIn)
	w.int8(r.BytesOut)
	w.text(r.RequestID)
	w.text(r.Code)
	w.text(r.ResourceType)
	w.text(r.ClientIP)
	w.text(r.UAFamily)
}

// InsertUsage implements usage.Store: all of rs or none. On PostgreSQL
// the records go in one COPY (one statement, one commit, no statement
// text or parameters to parse); on SQLite in multi-row INSERTs of
// usageInsertRows within one transaction.
func (db *DB) InsertUsage(ctx context.Context, rs []usage.Record) error {
	return db.insertRows(ctx, "usage_records", usageColumnNames, len(rs), usageInsertRows, func(i int, w rowWriter) { usageRow(w, rs[i]) })
}

// insertRows writes n rows into table, all or none: one COPY on
// PostgreSQL (copyRows), multi-row INSERTs of at most per rows within one
// transaction on SQLite. row(i, w) writes the values of row i, in the
// order of cols.
func (db *DB) insertRows(ctx context.Context, table string, cols []string, n, per int, row func(i int, w rowWriter)) error {
	if n == 0 {
		return nil
	}
	if db.dialect == Postgres {
		return db.copyRows(ctx, table, cols, n, row)
	}
	head := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ")"
	return db.tx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < n; start += per {
			k := min(n-start, per)
			w := &argsWriter{args: make([]any, 0, k*len(cols))}
			for i := start; i < start+k; i++ {
				row(i, w)
			}
			if err := db.insertValuesTx(ctx, tx, head, "", k, len(cols), per, w.args); err != nil {
				return err
			}
		}
		return nil
	})
}

// copyRows writes n rows into table with one binary COPY (PostgreSQL,
// copyBinary): row(i, w) writes the values of row i, in the order of
// cols.
func (db *DB) copyRows(ctx context.Context, table string, cols []string, n int, row func(i int, w rowWriter)) error {
	return db.raw(ctx, func(c *pgx.Conn) error { return copyBinary(ctx, c, table, cols, n, row) })
}

// AddQuota implements quota.Store.
func (db *DB) AddQuota(ctx context.Context, orgID, period, pool string, delta int64) (int64, error) {
	var total int64
	err := db.writing(func() error {
		return db.sql.QueryRowContext(ctx, `INSERT INTO quota_counters (org_id, period, pool, used) VALUES ($1, $2, $3, $4)
		ON CONFLICT (org_id, period, pool) DO UPDATE SET used = quota_counters.used + excluded.used
		RETURNING used`, orgID, period, pool, delta).Scan(&total)
	})
	return total, err
}
