package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/suborg"
)

var _ suborg.Store = (*DB)(nil)

const subOrgColumns = `id, org_id, name, created_by, created_at, updated_at, closed_at, closed_by, with_org, delete_after, deleted_at`

func scanSubOrg(row interface{ Scan(...any) error }) (suborg.SubOrg, error) {
	var s suborg.SubOrg
	var closed, due, deleted sql.NullTime
	err := row.Scan(&s.ID, &s.OrgID, &s.Name, &s.CreatedBy, &s.CreatedAt, &s.UpdatedAt, &closed, &s.ClosedBy, &s.WithOrg, &due, &deleted)
	s.ClosedAt, s.DeleteAfter, s.DeletedAt = closed.Time, due.Time, deleted.Time
	return s, err
}

func (db *DB) subOrgs(ctx context.Context, q string, args ...any) ([]suborg.SubOrg, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT `+subOrgColumns+` FROM sub_orgs `+q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []suborg.SubOrg
	for rows.Next() {
		s, err := scanSubOrg(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// CreateSubOrg implements suborg.Store.
func (db *DB) CreateSubOrg(ctx context.Context, s suborg.SubOrg) error {
	_, err := db.execWrite(ctx, `INSERT INTO sub_orgs (id, org_id, name, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		s.ID, s.OrgID, s.Name, s.CreatedBy, utc(s.CreatedAt), utc(s.UpdatedAt))
	return err
}

// FindSubOrg implements suborg.Store.
func (db *DB) FindSubOrg(ctx context.Context, orgID, id string) (suborg.SubOrg, error) {
	s, err := scanSubOrg(db.sql.QueryRowContext(ctx, `SELECT `+subOrgColumns+` FROM sub_orgs WHERE org_id = $1 AND id = $2`, orgID, id))
	return s, notFound(err, "Sub-organization not found.")
}

// ListSubOrgs implements suborg.Store.
func (db *DB) ListSubOrgs(ctx context.Context, orgID string) ([]suborg.SubOrg, error) {
	return db.subOrgs(ctx, `WHERE org_id = $1 ORDER BY created_at, id`, orgID)
}

// changeSubOrg runs an UPDATE of one sub-organization; none matched is
// NotFound (another organization's, or gone) or, when cond excluded it,
// Conflict with msg.
func (db *DB) changeSubOrg(ctx context.Context, orgID, id, set, cond, msg string, args ...any) error {
	all := append([]any{orgID, id}, args...)
	res, err := db.execWrite(ctx, `UPDATE sub_orgs SET `+set+` WHERE org_id = $1 AND id = $2 AND `+cond, all...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := db.FindSubOrg(ctx, orgID, id); err != nil {
			return err
		}
		return errs.E(errs.Conflict, "%s", msg)
	}
	return nil
}

// RenameSubOrg implements suborg.Store.
func (db *DB) RenameSubOrg(ctx context.Context, orgID, id, name string, now time.Time) error {
	return db.changeSubOrg(ctx, orgID, id, `name = $3, updated_at = $4`, `closed_at IS NULL`,
		"This sub-organization is archived; restore it before renaming it.", name, utc(now))
}

// CloseSubOrg implements suborg.Store.
func (db *DB) CloseSubOrg(ctx context.Context, orgID, id, by string, withOrg bool, now, deleteAfter time.Time) error {
	return db.changeSubOrg(ctx, orgID, id, `closed_at = $3, closed_by = $4, with_org = $5, delete_after = $6, updated_at = $3`, `closed_at IS NULL`,
		"This sub-organization is already archived.", utc(now), by, withOrg, utc(deleteAfter))
}

// ReopenSubOrg implements suborg.Store.
func (db *DB) ReopenSubOrg(ctx context.Context, orgID, id string, now time.Time) error {
	return db.changeSubOrg(ctx, orgID, id, `closed_at = NULL, closed_by = '', with_org = FALSE, delete_after = NULL, updated_at = $3`,
		`closed_at IS NOT NULL AND deleted_at IS NULL`, "This sub-organization is not archived, or its data was already deleted.", utc(now))
}

// DueSubOrgs implements suborg.Store.
func (db *DB) DueSubOrgs(ctx context.Context, now time.Time) ([]suborg.SubOrg, error) {
	return db.subOrgs(ctx, `WHERE deleted_at IS NULL AND delete_after <= $1 ORDER BY delete_after, id`, utc(now))
}

// DeleteSubOrgAccountData implements suborg.Store.
func (db *DB) DeleteSubOrgAccountData(ctx context.Context, orgID, id string, now time.Time) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.keysChanged(ctx, tx, `org_id = $2 AND tenant_id = $3`, orgID, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM api_keys WHERE org_id = $1 AND tenant_id = $2`, orgID, id); err != nil {
			return err
		}
		// A tenant's kept answers (they hold PHI) are scoped by its id.
		if _, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE org_id = $1`, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE sub_orgs SET name = 'Deleted sub-organization', deleted_at = $3, updated_at = $3 WHERE org_id = $1 AND id = $2`, orgID, id, utc(now))
		return err
	})
}
