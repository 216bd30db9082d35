package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/clinikapi/clinikapi/internal/bulk"
)

var _ bulk.Store = (*DB)(nil)

const bulkColumns = `id, org_id, env, kind, status, resource_types, since, total_records, processed_records,
	errors, files, actor_type, actor_id, attempts, created_at, started_at, finished_at, expires_at, files_removed, COALESCE(tenant_id, '')`

func scanBulkJob(row interface{ Scan(...any) error }) (bulk.Job, error) {
	var j bulk.Job
	var types, errList, files string
	var since, started, finished, expires sql.NullTime
	if err := row.Scan(&j.ID, &j.OrgID, &j.Env, &j.Kind, &j.Status, &types, &since, &j.Total, &j.Processed,
		&errList, &files, &j.ActorType, &j.ActorID, &j.Attempts, &j.CreatedAt, &started, &finished, &expires, &j.FilesRemoved, &j.TenantID); err != nil {
		return bulk.Job{}, err
	}
	if types != "" {
		j.ResourceTypes = strings.Split(types, ",")
	}
	j.Since, j.StartedAt, j.FinishedAt, j.ExpiresAt = since.Time, started.Time, finished.Time, expires.Time
	if err := json.Unmarshal([]byte(errList), &j.Errors); err != nil {
		return bulk.Job{}, err
	}
	if err := json.Unmarshal([]byte(files), &j.Files); err != nil {
		return bulk.Job{}, err
	}
	return j, nil
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	if string(b) == "null" {
		return "[]"
	}
	return string(b)
}

// CreateBulkJob implements bulk.Store.
func (db *DB) CreateBulkJob(ctx context.Context, j bulk.Job) error {
	_, err := db.execWrite(ctx, `INSERT INTO bulk_jobs (id, org_id, env, kind, status, resource_types, since, total_records, actor_type, actor_id, created_at, tenant_id)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		j.ID, j.OrgID, j.Env, string(j.Kind), string(j.Status), strings.Join(j.ResourceTypes, ","), nullTime(j.Since), j.Total,
		j.ActorType, j.ActorID, utc(j.CreatedAt), nullString(j.TenantID))
	return err
}

// FindBulkJob implements bulk.Store; orgID "" finds any organization's job
// (download links, whose signature names the organization).
func (db *DB) FindBulkJob(ctx context.Context, orgID, id string) (bulk.Job, error) {
	q := `SELECT ` + bulkColumns + ` FROM bulk_jobs WHERE id = $1`
	args := []any{id}
	if orgID != "" {
		q += ` AND org_id = $2`
		args = append(args, orgID)
	}
	j, err := scanBulkJob(db.sql.QueryRowContext(ctx, q, args...))
	return j, notFound(err, "Bulk job not found.")
}

func (db *DB) bulkJobs(ctx context.Context, q string, args ...any) ([]bulk.Job, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT `+bulkColumns+` FROM bulk_jobs `+q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []bulk.Job
	for rows.Next() {
		j, err := scanBulkJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// ListBulkJobs implements bulk.Store.
func (db *DB) ListBulkJobs(ctx context.Context, orgID string, limit int) ([]bulk.Job, error) {
	return db.bulkJobs(ctx, `WHERE org_id = $1 ORDER BY created_at DESC, id DESC LIMIT `+itoa(limit), orgID)
}

// CountBulkJobsSince implements bulk.Store.
func (db *DB) CountBulkJobsSince(ctx context.Context, orgID string, since time.Time) (int, time.Time, error) {
	var n int
	if err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM bulk_jobs WHERE org_id = $1 AND created_at >= $2`, orgID, utc(since)).Scan(&n); err != nil || n == 0 {
		return n, time.Time{}, err
	}
	// The oldest by its own column (SQLite's MIN() loses the column type).
	var oldest time.Time
	err := db.sql.QueryRowContext(ctx, `SELECT created_at FROM bulk_jobs WHERE org_id = $1 AND created_at >= $2 ORDER BY created_at LIMIT 1`, orgID, utc(since)).Scan(&oldest)
	return n, oldest, err
}

// ClaimBulkJob implements bulk.Store in one statement: the row is
// re-checked when two workers race, so only one gets it.
func (db *DB) ClaimBulkJob(ctx context.Context, holder string, now, leaseUntil time.Time) (bulk.Job, bool, error) {
	const claimable = `(status = 'pending' OR (status = 'processing' AND lease_until < $3))`
	var j bulk.Job
	err := db.writing(func() error {
		var err error
		j, err = scanBulkJob(db.sql.QueryRowContext(ctx, `UPDATE bulk_jobs SET status = 'processing', lease_holder = $1, lease_until = $2,
		attempts = attempts + 1, started_at = COALESCE(started_at, $3)
		WHERE id = (SELECT id FROM bulk_jobs WHERE `+claimable+` ORDER BY created_at, id LIMIT 1) AND `+claimable+`
		RETURNING `+bulkColumns, holder, utc(leaseUntil), utc(now)))
		return err
	})
	if err == sql.ErrNoRows {
		return bulk.Job{}, false, nil
	}
	return j, err == nil, err
}

// ProgressBulkJob implements bulk.Store.
func (db *DB) ProgressBulkJob(ctx context.Context, id, holder string, total, processed int, leaseUntil time.Time) (bool, error) {
	res, err := db.execWrite(ctx, `UPDATE bulk_jobs SET total_records = $3, processed_records = $4, lease_until = $5
	WHERE id = $1 AND lease_holder = $2 AND status = 'processing'`, id, holder, total, processed, utc(leaseUntil))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// FinishBulkJob implements bulk.Store.
func (db *DB) FinishBulkJob(ctx context.Context, j bulk.Job, holder string) error {
	_, err := db.execWrite(ctx, `UPDATE bulk_jobs SET status = $3, total_records = $4, processed_records = $5, errors = $6, files = $7,
	finished_at = $8, expires_at = $9, lease_until = NULL WHERE id = $1 AND lease_holder = $2`,
		j.ID, holder, string(j.Status), j.Total, j.Processed, jsonText(j.Errors), jsonText(j.Files), utc(j.FinishedAt), nullTime(j.ExpiresAt))
	return err
}

// ExpiredExports implements bulk.Store.
func (db *DB) ExpiredExports(ctx context.Context, now time.Time) ([]bulk.Job, error) {
	return db.bulkJobs(ctx, `WHERE kind = 'export' AND status = 'completed' AND files_removed = $1 AND expires_at <= $2 ORDER BY expires_at`, false, utc(now))
}

// MarkFilesRemoved implements bulk.Store.
func (db *DB) MarkFilesRemoved(ctx context.Context, id string) error {
	_, err := db.execWrite(ctx, `UPDATE bulk_jobs SET files_removed = $1 WHERE id = $2`, true, id)
	return err
}

// DeleteOrgBulkJobs implements bulk.Store.
func (db *DB) DeleteOrgBulkJobs(ctx context.Context, orgID string) ([]bulk.Job, error) {
	jobs, err := db.bulkJobs(ctx, `WHERE org_id = $1`, orgID)
	if err != nil {
		return nil, err
	}
	_, err = db.execWrite(ctx, `DELETE FROM bulk_jobs WHERE org_id = $1`, orgID)
	return jobs, err
}

// DeleteTenantBulkJobs implements bulk.Store.
func (db *DB) DeleteTenantBulkJobs(ctx context.Context, orgID, tenant string) ([]bulk.Job, error) {
	jobs, err := db.bulkJobs(ctx, `WHERE org_id = $1 AND tenant_id = $2`, orgID, tenant)
	if err != nil {
		return nil, err
	}
	_, err = db.execWrite(ctx, `DELETE FROM bulk_jobs WHERE org_id = $1 AND tenant_id = $2`, orgID, tenant)
	return jobs, err
}
