package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/clinikapi/clinikapi/internal/jobs"
)

var _ jobs.Store = (*DB)(nil)

// AcquireJobLease implements jobs.Store in one statement, so two instances
// racing for the same kind cannot both win.
func (db *DB) AcquireJobLease(ctx context.Context, kind, holder string, now, leaseUntil, dueBefore time.Time) (bool, error) {
	res, err := db.execWrite(ctx, `INSERT INTO job_state (kind, holder, lease_until, started_at) VALUES ($1, $2, $3, $4)
	ON CONFLICT (kind) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until, started_at = excluded.started_at
	WHERE job_state.lease_until < $4 AND (job_state.finished_at IS NULL OR job_state.finished_at <= $5)`,
		kind, holder, utc(leaseUntil), utc(now), utc(dueBefore))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// FinishJob implements jobs.Store: it stores the outcome and ends the lease.
func (db *DB) FinishJob(ctx context.Context, r jobs.Run) error {
	_, err := db.execWrite(ctx, `UPDATE job_state SET lease_until = $3, finished_at = $4, ok = $5, summary = $6, error = $7
	WHERE kind = $1 AND holder = $2`, r.Kind, r.Holder, utc(time.Unix(0, 0)), utc(r.FinishedAt), r.OK, r.Summary, r.Error)
	return err
}

// JobRuns implements jobs.Store.
func (db *DB) JobRuns(ctx context.Context) ([]jobs.Run, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT kind, holder, started_at, finished_at, ok, summary, error FROM job_state ORDER BY kind`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []jobs.Run
	for rows.Next() {
		var r jobs.Run
		var finished sql.NullTime
		if err := rows.Scan(&r.Kind, &r.Holder, &r.StartedAt, &finished, &r.OK, &r.Summary, &r.Error); err != nil {
			return nil, err
		}
		r.FinishedAt = finished.Time
		out = append(out, r)
	}
	return out, rows.Err()
}
