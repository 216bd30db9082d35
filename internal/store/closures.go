package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/privacy"
)

var _ privacy.Store = (*DB)(nil)

const closureColumns = `org_id, closed_by, closed_at, delete_after, deleted_at`

func scanClosure(row interface{ Scan(...any) error }) (privacy.Closure, error) {
	var c privacy.Closure
	var deleted sql.NullTime
	err := row.Scan(&c.OrgID, &c.ClosedBy, &c.ClosedAt, &c.DeleteAfter, &deleted)
	c.DeletedAt = deleted.Time
	return c, err
}

// CreateClosure implements privacy.Store.
func (db *DB) CreateClosure(ctx context.Context, c privacy.Closure) error {
	_, err := db.execWrite(ctx, `INSERT INTO org_closures (org_id, closed_by, closed_at, delete_after) VALUES ($1, $2, $3, $4)`,
		c.OrgID, c.ClosedBy, utc(c.ClosedAt), utc(c.DeleteAfter))
	if isUnique(err) {
		return errs.E(errs.Conflict, "This organization is already closed.")
	}
	return err
}

// FindClosure implements privacy.Store.
func (db *DB) FindClosure(ctx context.Context, orgID string) (privacy.Closure, error) {
	c, err := scanClosure(db.sql.QueryRowContext(ctx, `SELECT `+closureColumns+` FROM org_closures WHERE org_id = $1`, orgID))
	return c, notFound(err, "The organization is not closed.")
}

// CancelClosure implements privacy.Store.
func (db *DB) CancelClosure(ctx context.Context, orgID string) error {
	res, err := db.execWrite(ctx, `DELETE FROM org_closures WHERE org_id = $1 AND deleted_at IS NULL`, orgID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.Conflict, "This organization is not closed, or its data was already deleted.")
	}
	return nil
}

// DueClosures implements privacy.Store.
func (db *DB) DueClosures(ctx context.Context, now time.Time) ([]privacy.Closure, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT `+closureColumns+` FROM org_closures WHERE deleted_at IS NULL AND delete_after <= $1 ORDER BY delete_after`, utc(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []privacy.Closure
	for rows.Next() {
		c, err := scanClosure(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// DeleteOrgAccountData implements privacy.Store. What is kept: the
// organization's id, plan and dates (the billing records refer to them),
// and the audit trail, which holds ids, never PHI.
func (db *DB) DeleteOrgAccountData(ctx context.Context, orgID string, now time.Time) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.keysChanged(ctx, tx, `org_id = $2`, orgID); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM memberships WHERE org_id = $1`,
			`DELETE FROM invites WHERE org_id = $1`,
			`DELETE FROM api_keys WHERE org_id = $1`,
			`DELETE FROM idempotency_keys WHERE org_id = $1`,                                           // kept answers hold PHI
			`DELETE FROM idempotency_keys WHERE org_id IN (SELECT id FROM sub_orgs WHERE org_id = $1)`, // its sub-organizations' tenants
		} {
			if _, err := tx.ExecContext(ctx, q, orgID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE organizations SET name = 'Deleted organization', updated_at = $2 WHERE id = $1`, orgID, utc(now)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sub_orgs SET name = 'Deleted sub-organization', deleted_at = $2, updated_at = $2 WHERE org_id = $1 AND deleted_at IS NULL`, orgID, utc(now)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE org_closures SET deleted_at = $2 WHERE org_id = $1`, orgID, utc(now))
		return err
	})
}

// LastOwnerOf implements privacy.Store.
func (db *DB) LastOwnerOf(ctx context.Context, userID string) ([]org.Organization, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT o.id, o.name FROM memberships m JOIN organizations o ON o.id = m.org_id
	WHERE m.user_id = $1 AND m.role = 'owner'
	AND (SELECT COUNT(*) FROM memberships x WHERE x.org_id = m.org_id AND x.role = 'owner') = 1 ORDER BY o.name`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []org.Organization
	for rows.Next() {
		var o org.Organization
		if err := rows.Scan(&o.ID, &o.Name); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// DeleteUser implements privacy.Store: memberships, sessions and password
// resets go with the user row.
func (db *DB) DeleteUser(ctx context.Context, userID string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM memberships WHERE user_id = $1`,
			`DELETE FROM sessions WHERE user_id = $1`,
			`DELETE FROM password_resets WHERE user_id = $1`,
			`DELETE FROM users WHERE id = $1`,
		} {
			if _, err := tx.ExecContext(ctx, q, userID); err != nil {
				return err
			}
		}
		return nil
	})
}
