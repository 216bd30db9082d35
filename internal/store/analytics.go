package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/clinikapi/clinikapi/internal/analytics"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/usage"
)

var _ analytics.Store = (*DB)(nil)

const rollupState = "usage"

// UsageRollupState implements analytics.Store.
func (db *DB) UsageRollupState(ctx context.Context) (time.Time, int64, error) {
	var t time.Time
	var id int64
	err := db.sql.QueryRowContext(ctx, `SELECT rolled_to, last_id FROM usage_rollup_state WHERE name = $1`, rollupState).Scan(&t, &id)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, 0, nil
	}
	return t.UTC(), id, err
}

// SetUsageRollupState implements analytics.Store.
func (db *DB) SetUsageRollupState(ctx context.Context, rolledTo time.Time, lastID int64) error {
	_, err := db.execWrite(ctx, `INSERT INTO usage_rollup_state (name, rolled_to, last_id) VALUES ($1, $2, $3)
	ON CONFLICT (name) DO UPDATE SET rolled_to = excluded.rolled_to, last_id = excluded.last_id`, rollupState, utc(rolledTo), lastID)
	return err
}

// UsageSince implements analytics.Store. Every record with an id up to
// the one it returns has committed, so none can appear below it later: on
// PostgreSQL, where several instances (and their flushes) insert at once
// and a record can commit after one with a higher id, it first waits for
// every transaction writing records to end (a SHARE lock on the table,
// held only for the MAX(id) look-up; inserts that start meanwhile wait
// and take higher ids, the sequence never handing out a lower one). On
// SQLite one transaction writes at a time, so ids commit in order.
func (db *DB) UsageSince(ctx context.Context, afterID int64) (int64, time.Time, bool, error) {
	var maxID sql.NullInt64
	var err error
	if db.dialect == Postgres {
		err = db.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `SET LOCAL lock_timeout = '10s'`); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `LOCK TABLE usage_records IN SHARE MODE`); err != nil {
				return err
			}
			return tx.QueryRowContext(ctx, `SELECT MAX(id) FROM usage_records WHERE id > $1`, afterID).Scan(&maxID)
		})
	} else {
		err = db.sql.QueryRowContext(ctx, `SELECT MAX(id) FROM usage_records WHERE id > $1`, afterID).Scan(&maxID)
	}
	if err != nil || !maxID.Valid {
		return 0, time.Time{}, false, err
	}
	// The records past the watermark are taken first, on their own (the
	// OFFSET keeps the subquery from being merged into the outer query):
	// otherwise the planner, unaware that ids and times rise together,
	// walks the time index from the table's oldest record through every
	// one rolled up already. ORDER BY rather than MIN(): SQLite hands
	// aggregates back untyped.
	offset := "OFFSET 0"
	if db.dialect == SQLite {
		offset = "LIMIT -1 OFFSET 0"
	}
	var oldest time.Time
	err = db.sql.QueryRowContext(ctx, `SELECT created_at FROM (SELECT created_at FROM usage_records WHERE id > $1 AND id <= $2 `+offset+`) AS r
		ORDER BY created_at LIMIT 1`, afterID, maxID.Int64).Scan(&oldest)
	if err != nil {
		return 0, time.Time{}, false, err
	}
	return maxID.Int64, oldest.UTC(), true, nil
}

const usageSelect = `SELECT id, created_at, org_id, key_id, env, method, route, status, latency_us, bytes_in, bytes_out, request_id, code, resource_type, client_ip, ua_family FROM usage_records`

func scanUsage(rows interface{ Scan(...any) error }) (usage.Record, error) {
	var r usage.Record
	var lat int64
	err := rows.Scan(&r.ID, &r.Time, &r.OrgID, &r.KeyID, &r.Env, &r.Method, &r.Route, &r.Status, &lat, &r.BytesIn, &r.BytesOut, &r.RequestID, &r.Code, &r.ResourceType, &r.ClientIP, &r.UAFamily)
	r.Latency = time.Duration(lat) * time.Microsecond
	r.Time = r.Time.UTC()
	return r, err
}

// sumUsageSQL is the text of SumUsage for dialect d: the records of a
// time range grouped into minute aggregates in the database, counted as
// analytics.Stats.AddRecord counts one record (status classes, the
// rejection codes, the latency buckets of analytics.Bounds), so the
// records themselves never leave it.
func sumUsageSQL(d Dialect) string {
	bucket := `strftime('%Y-%m-%d %H:%M:00', created_at)` // SQLite keeps times as text with their offset; this is UTC
	if d == Postgres {
		bucket = `date_trunc('minute', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`
	}
	var q strings.Builder
	q.WriteString(`SELECT 'm', ` + bucket + ` AS minute, org_id, env, key_id, method, route, COUNT(*),
	SUM(CASE WHEN status < 400 THEN 1 ELSE 0 END), SUM(CASE WHEN status >= 400 AND status < 500 THEN 1 ELSE 0 END), SUM(CASE WHEN status >= 500 THEN 1 ELSE 0 END),
	SUM(CASE WHEN code = '` + analytics.CodeRateLimited + `' THEN 1 ELSE 0 END), SUM(CASE WHEN code IN ('` + analytics.CodeMonthlyQuota + `', '` + analytics.CodeSandboxQuota + `') THEN 1 ELSE 0 END),
	CAST(SUM(bytes_in) AS BIGINT), CAST(SUM(bytes_out) AS BIGINT), CAST(SUM(latency_us) AS BIGINT)`)
	for i := range analytics.NumBuckets {
		q.WriteString(", SUM(CASE WHEN ")
		switch i {
		case 0:
			q.WriteString("latency_us <= " + strconv.FormatInt(analytics.Bounds[0], 10))
		case analytics.NumBuckets - 1:
			q.WriteString("latency_us > " + strconv.FormatInt(analytics.Bounds[i-1], 10))
		default:
			q.WriteString("latency_us > " + strconv.FormatInt(analytics.Bounds[i-1], 10) + " AND latency_us <= " + strconv.FormatInt(analytics.Bounds[i], 10))
		}
		q.WriteString(" THEN 1 ELSE 0 END)")
	}
	q.WriteString(` FROM usage_records WHERE created_at >= $1 AND created_at < $2 GROUP BY minute, org_id, env, key_id, method, route`)
	return q.String()
}

// SumUsage implements analytics.Store: the minute aggregates of every
// record created in [from, to), any org, summed by the database.
func (db *DB) SumUsage(ctx context.Context, from, to time.Time) ([]analytics.Row, error) {
	rows, err := db.sql.QueryContext(ctx, sumUsageSQL(db.dialect), utc(from), utc(to))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []analytics.Row
	for rows.Next() {
		r, err := scanRollupSums(rows, db.dialect)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

const rollupCols = `grain, bucket, org_id, env, key_id, method, route, requests, s2xx, s4xx, s5xx, rate_limited, quota_rejected, bytes_in, bytes_out, latency_us, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11, h12, h13, h14, h15`

const rollupNumCols = 16 + analytics.NumBuckets

func rollupArgs(r analytics.Row) []any {
	args := []any{string(r.Grain), utc(r.Bucket), r.OrgID, r.Env, r.KeyID, r.Method, r.Route,
		r.Requests, r.S2xx, r.S4xx, r.S5xx, r.RateLimited, r.QuotaRejected, r.BytesIn, r.BytesOut, r.LatencyUS}
	for _, h := range r.Hist {
		args = append(args, h)
	}
	return args
}

func scanRollup(rows interface{ Scan(...any) error }) (analytics.Row, error) {
	var r analytics.Row
	var g string
	dst := []any{&g, &r.Bucket, &r.OrgID, &r.Env, &r.KeyID, &r.Method, &r.Route,
		&r.Requests, &r.S2xx, &r.S4xx, &r.S5xx, &r.RateLimited, &r.QuotaRejected, &r.BytesIn, &r.BytesOut, &r.LatencyUS}
	for i := range r.Hist {
		dst = append(dst, &r.Hist[i])
	}
	err := rows.Scan(dst...)
	r.Grain = analytics.Grain(g)
	r.Bucket = r.Bucket.UTC()
	return r, err
}

// ScanRollups implements analytics.Store.
func (db *DB) ScanRollups(ctx context.Context, g analytics.Grain, from, to time.Time, fn func(analytics.Row) error) error {
	rows, err := db.sql.QueryContext(ctx, `SELECT `+rollupCols+` FROM usage_rollups WHERE grain = $1 AND bucket >= $2 AND bucket < $3`, string(g), utc(from), utc(to))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRollup(rows)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ReplaceRollups implements analytics.Store.
func (db *DB) ReplaceRollups(ctx context.Context, g analytics.Grain, from, to time.Time, rs []analytics.Row) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM usage_rollups WHERE grain = $1 AND bucket >= $2 AND bucket < $3`, string(g), utc(from), utc(to)); err != nil {
			return err
		}
		return insertRollups(ctx, tx, db, rs)
	})
}

// InsertRollups writes aggregates as they are (benchmark seeding).
func (db *DB) InsertRollups(ctx context.Context, rs []analytics.Row) error {
	return db.tx(ctx, func(tx *sql.Tx) error { return insertRollups(ctx, tx, db, rs) })
}

func insertRollups(ctx context.Context, tx *sql.Tx, db *DB, rs []analytics.Row) error {
	const batch = 500 // 500 rows × 32 columns stays under both engines' parameter limits
	for len(rs) > 0 {
		n := min(batch, len(rs))
		var q strings.Builder
		q.WriteString(`INSERT INTO usage_rollups (` + rollupCols + `) VALUES `)
		args := make([]any, 0, n*rollupNumCols)
		for _, r := range rs[:n] {
			args = append(args, rollupArgs(r)...)
		}
		db.values(&q, n, rollupNumCols)
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return err
		}
		rs = rs[n:]
	}
	return nil
}

// rollupSums are the summed figure columns, in scanRollup's order after
// the dimensions.
const rollupSums = `SUM(requests), SUM(s2xx), SUM(s4xx), SUM(s5xx), SUM(rate_limited), SUM(quota_rejected), SUM(bytes_in), SUM(bytes_out), SUM(latency_us),
	SUM(h0), SUM(h1), SUM(h2), SUM(h3), SUM(h4), SUM(h5), SUM(h6), SUM(h7), SUM(h8), SUM(h9), SUM(h10), SUM(h11), SUM(h12), SUM(h13), SUM(h14), SUM(h15)`

// dimensions each grouping of QueryRollups fills (the others are blank).
var rollupGroups = map[analytics.GroupBy]struct{ sel, group string }{
	analytics.ByBucket: {`grain, bucket, '', '', '', '', ''`, `grain, bucket`},
	analytics.ByRoute:  {`grain, MIN(bucket), '', '', '', method, route`, `grain, method, route`},
	analytics.ByKey:    {`grain, MIN(bucket), '', env, key_id, '', ''`, `grain, env, key_id`},
}

// QueryRollups implements analytics.Store: the engine sums the rows, so
// only one row per group crosses to Go.
func (db *DB) QueryRollups(ctx context.Context, q analytics.Query, by analytics.GroupBy) ([]analytics.Row, error) {
	g, ok := rollupGroups[by]
	if !ok {
		return nil, errors.New("store: unknown rollup grouping")
	}
	where, args := envKeyFilter(q, `org_id = $1 AND grain = $2 AND bucket >= $3 AND bucket < $4`, q.OrgID, string(q.Grain), utc(q.From), utc(q.To))
	rows, err := db.sql.QueryContext(ctx, `SELECT `+g.sel+`, `+rollupSums+` FROM usage_rollups WHERE `+where+` GROUP BY `+g.group, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []analytics.Row
	for rows.Next() {
		r, err := scanRollupSums(rows, db.dialect)
		if err != nil {
			return nil, err
		}
		r.OrgID = q.OrgID
		out = append(out, r)
	}
	return out, rows.Err()
}

// scanRollupSums reads a grouped row. SQLite returns MIN(bucket) untyped,
// as text.
func scanRollupSums(rows *sql.Rows, d Dialect) (analytics.Row, error) {
	var r analytics.Row
	var g string
	var bucket any
	dst := []any{&g, &bucket, &r.OrgID, &r.Env, &r.KeyID, &r.Method, &r.Route,
		&r.Requests, &r.S2xx, &r.S4xx, &r.S5xx, &r.RateLimited, &r.QuotaRejected, &r.BytesIn, &r.BytesOut, &r.LatencyUS}
	for i := range r.Hist {
		dst = append(dst, &r.Hist[i])
	}
	if err := rows.Scan(dst...); err != nil {
		return r, err
	}
	r.Grain = analytics.Grain(g)
	switch v := bucket.(type) {
	case time.Time:
		r.Bucket = v.UTC()
	case string:
		t, err := parseSQLiteTime(v)
		if err != nil {
			return r, err
		}
		r.Bucket = t
	}
	return r, nil
}

func parseSQLiteTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano, "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New("store: unreadable timestamp " + s)
}

// deleteBatched deletes the rows query's sub-select names, 10,000 at a
// time, so a large purge never holds the write lock for long.
func (db *DB) deleteBatched(ctx context.Context, table, key, cond string, args ...any) (int64, error) {
	var total int64
	for {
		res, err := db.execWrite(ctx, `DELETE FROM `+table+` WHERE `+key+` IN (SELECT `+key+` FROM `+table+` WHERE `+cond+` LIMIT 10000)`, args...)
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
		if n == 0 {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// DeleteUsageBefore implements analytics.Store.
func (db *DB) DeleteUsageBefore(ctx context.Context, t time.Time) (int64, error) {
	return db.deleteBatched(ctx, "usage_records", "id", "created_at < $1", utc(t))
}

// DeleteRollupsBefore implements analytics.Store.
func (db *DB) DeleteRollupsBefore(ctx context.Context, g analytics.Grain, t time.Time) (int64, error) {
	res, err := db.execWrite(ctx, `DELETE FROM usage_rollups WHERE grain = $1 AND bucket < $2`, string(g), utc(t))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ListUsage implements analytics.Store.
func (db *DB) ListUsage(ctx context.Context, f analytics.LogFilter) ([]usage.Record, error) {
	where := []string{"org_id = $1"}
	args := []any{f.OrgID}
	add := func(cond string, v ...any) {
		for _, x := range v {
			args = append(args, x)
			cond = strings.Replace(cond, "?", "$"+itoa(len(args)), 1)
		}
		where = append(where, cond)
	}
	if f.StatusClass >= 2 && f.StatusClass <= 5 {
		add("status >= ? AND status < ?", f.StatusClass*100, f.StatusClass*100+100)
	}
	if f.Errors {
		add("status >= ?", 400)
	}
	if f.Method != "" {
		add("method = ?", f.Method)
	}
	if f.Route != "" {
		add("route = ?", f.Route)
	}
	if f.KeyID != "" {
		add("key_id = ?", f.KeyID)
	}
	if f.Tenant != "" {
		args = append(args, f.Tenant)
		where = append(where, tenantKeys(len(args)))
	}
	if f.RequestID != "" {
		add("request_id = ?", f.RequestID)
	}
	if f.Env != "" {
		add("env = ?", f.Env)
	}
	if f.Code != "" {
		add("code = ?", f.Code)
	}
	if !f.From.IsZero() {
		add("created_at >= ?", utc(f.From))
	}
	if !f.To.IsZero() {
		add("created_at < ?", utc(f.To))
	}
	if f.BeforeID > 0 {
		add("id < ?", f.BeforeID)
	}
	args = append(args, f.Limit)
	rows, err := db.sql.QueryContext(ctx, usageSelect+` WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT $`+itoa(len(args)), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []usage.Record
	for rows.Next() {
		r, err := scanUsage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// FindUsage implements analytics.Store.
func (db *DB) FindUsage(ctx context.Context, orgID string, id int64) (usage.Record, error) {
	r, err := scanUsage(db.sql.QueryRowContext(ctx, usageSelect+` WHERE org_id = $1 AND id = $2`, orgID, id))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return usage.Record{}, errs.E(errs.NotFound, "No such request in this organization's log.")
		}
		return usage.Record{}, err
	}
	return r, nil
}

// tenantKeys is the condition on key_id of a usage row or rollup (whose
// org_id is $1) that keeps one tenant's keys, the tenant being argument n:
// a sub-organization's id keeps its keys, the organization's own id the
// keys of no sub-organization.
func tenantKeys(n int) string {
	p := "$" + itoa(n)
	return `key_id IN (SELECT id FROM api_keys WHERE org_id = $1 AND (tenant_id = ` + p + ` OR (tenant_id IS NULL AND org_id = ` + p + `)))`
}

// CountUsageCodes implements analytics.Store. It reads the raw records
// that carry an error code (a partial index holds only those), so it costs
// what the range's refused requests number, not all its traffic.
func (db *DB) CountUsageCodes(ctx context.Context, q analytics.Query) ([]analytics.CodeCount, error) {
	where, args := envKeyFilter(q, `org_id = $1 AND code <> '' AND created_at >= $2 AND created_at < $3`, q.OrgID, utc(q.From), utc(q.To))
	rows, err := db.sql.QueryContext(ctx, `SELECT code, MAX(status), COUNT(*) FROM usage_records WHERE `+where+` GROUP BY code`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []analytics.CodeCount
	for rows.Next() {
		var c analytics.CodeCount
		if err := rows.Scan(&c.Code, &c.Status, &c.Requests); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// envKeyFilter adds q's environment, key and tenant conditions to where, whose
// placeholders args fill.
func envKeyFilter(q analytics.Query, where string, args ...any) (string, []any) {
	if q.Env != "" {
		args = append(args, q.Env)
		where += ` AND env = $` + itoa(len(args))
	}
	if q.KeyID != "" {
		args = append(args, q.KeyID)
		where += ` AND key_id = $` + itoa(len(args))
	}
	if q.Tenant != "" {
		args = append(args, q.Tenant)
		where += ` AND ` + tenantKeys(len(args))
	}
	return where, args
}
