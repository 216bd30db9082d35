package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/org"
)

var _ org.Store = (*DB)(nil)

// CreateOrg implements org.Store.
func (db *DB) CreateOrg(ctx context.Context, o org.Organization, ownerID string) error {
	now := utc(o.CreatedAt)
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO organizations (id, name, plan, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)`,
			o.ID, o.Name, o.Plan, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)`, o.ID, ownerID, now)
		return err
	})
}

// FindOrg implements org.Store.
func (db *DB) FindOrg(ctx context.Context, id string) (org.Organization, error) {
	var o org.Organization
	var perMin sql.NullInt64
	err := db.sql.QueryRowContext(ctx, `SELECT id, name, plan, rate_limit_per_min, created_at FROM organizations WHERE id = $1`, id).Scan(&o.ID, &o.Name, &o.Plan, &perMin, &o.CreatedAt)
	o.RateLimitPerMin = int(perMin.Int64)
	return o, notFound(err, "Organization not found.")
}

// RenameOrg implements org.Store.
func (db *DB) RenameOrg(ctx context.Context, id, name string, now time.Time) error {
	_, err := db.execWrite(ctx, `UPDATE organizations SET name = $1, updated_at = $2 WHERE id = $3`, name, utc(now), id)
	return err
}

const membershipSelect = `SELECT o.id, o.name, o.plan, o.created_at, m.role FROM memberships m JOIN organizations o ON o.id = m.org_id`

func scanMembership(row interface{ Scan(...any) error }) (org.Membership, error) {
	var m org.Membership
	err := row.Scan(&m.Org.ID, &m.Org.Name, &m.Org.Plan, &m.Org.CreatedAt, &m.Role)
	return m, err
}

// ListMemberships implements org.Store.
func (db *DB) ListMemberships(ctx context.Context, userID string) ([]org.Membership, error) {
	rows, err := db.sql.QueryContext(ctx, membershipSelect+` WHERE m.user_id = $1 ORDER BY o.name, o.id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []org.Membership
	for rows.Next() {
		m, err := scanMembership(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// FindMembership implements org.Store.
func (db *DB) FindMembership(ctx context.Context, orgID, userID string) (org.Membership, error) {
	m, err := scanMembership(db.sql.QueryRowContext(ctx, membershipSelect+` WHERE m.org_id = $1 AND m.user_id = $2`, orgID, userID))
	return m, notFound(err, "Organization not found.")
}

// ListMembers implements org.Store.
func (db *DB) ListMembers(ctx context.Context, orgID string) ([]org.Member, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT u.id, u.email, u.name, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.org_id = $1 ORDER BY m.created_at, u.email`, orgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []org.Member
	for rows.Next() {
		var m org.Member
		if err := rows.Scan(&m.UserID, &m.Email, &m.Name, &m.Role, &m.JoinedAt); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// AddMember implements org.Store.
func (db *DB) AddMember(ctx context.Context, orgID, userID string, role org.Role, now time.Time) error {
	_, err := db.execWrite(ctx, `INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)`, orgID, userID, role, utc(now))
	if isUnique(err) {
		return errs.E(errs.Conflict, "Already a member.")
	}
	return err
}

// lockOrg serialises membership changes of one organization: the no-op
// update takes a row lock on PostgreSQL; SQLite transactions here are
// IMMEDIATE and so already exclusive.
func lockOrg(ctx context.Context, tx *sql.Tx, orgID string) error {
	_, err := tx.ExecContext(ctx, `UPDATE organizations SET updated_at = updated_at WHERE id = $1`, orgID)
	return err
}

// lastOwner reports whether userID is the only owner of orgID.
func lastOwner(ctx context.Context, tx *sql.Tx, orgID, userID string) (bool, error) {
	var owners, isOwner int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN user_id = $2 THEN 1 ELSE 0 END), 0)
		FROM memberships WHERE org_id = $1 AND role = 'owner'`, orgID, userID).Scan(&owners, &isOwner)
	return isOwner == 1 && owners == 1, err
}

var errLastOwner = errs.E(errs.Conflict, "An organization needs at least one owner. Make someone else an owner first.")

// SetMemberRole implements org.Store.
func (db *DB) SetMemberRole(ctx context.Context, orgID, userID string, role org.Role) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := lockOrg(ctx, tx, orgID); err != nil {
			return err
		}
		if role != org.Owner {
			last, err := lastOwner(ctx, tx, orgID, userID)
			if err != nil {
				return err
			}
			if last {
				return errLastOwner
			}
		}
		res, err := tx.ExecContext(ctx, `UPDATE memberships SET role = $1 WHERE org_id = $2 AND user_id = $3`, role, orgID, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.E(errs.NotFound, "Member not found.")
		}
		return nil
	})
}

// RemoveMember implements org.Store.
func (db *DB) RemoveMember(ctx context.Context, orgID, userID string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := lockOrg(ctx, tx, orgID); err != nil {
			return err
		}
		last, err := lastOwner(ctx, tx, orgID, userID)
		if err != nil {
			return err
		}
		if last {
			return errLastOwner
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM memberships WHERE org_id = $1 AND user_id = $2`, orgID, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.E(errs.NotFound, "Member not found.")
		}
		return nil
	})
}

const inviteColumns = `id, org_id, email, role, token_hash, invited_by, created_at, expires_at`

func scanInvite(row interface{ Scan(...any) error }) (org.Invite, error) {
	var i org.Invite
	err := row.Scan(&i.ID, &i.OrgID, &i.Email, &i.Role, &i.TokenHash, &i.InvitedBy, &i.CreatedAt, &i.ExpiresAt)
	return i, notFound(err, "Invitation not found.")
}

// CreateInvite implements org.Store.
func (db *DB) CreateInvite(ctx context.Context, i org.Invite) error {
	_, err := db.execWrite(ctx, `INSERT INTO invites (`+inviteColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		i.ID, i.OrgID, i.Email, i.Role, i.TokenHash, i.InvitedBy, utc(i.CreatedAt), utc(i.ExpiresAt))
	return err
}

// ListInvites implements org.Store: pending, unexpired invitations.
func (db *DB) ListInvites(ctx context.Context, orgID string, now time.Time) ([]org.Invite, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT `+inviteColumns+` FROM invites WHERE org_id = $1 AND expires_at > $2 ORDER BY created_at DESC`, orgID, utc(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []org.Invite
	for rows.Next() {
		i, err := scanInvite(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

// FindInviteByToken implements org.Store.
func (db *DB) FindInviteByToken(ctx context.Context, tokenHash string) (org.Invite, error) {
	return scanInvite(db.sql.QueryRowContext(ctx, `SELECT `+inviteColumns+` FROM invites WHERE token_hash = $1`, tokenHash))
}

// DeleteInvite implements org.Store.
func (db *DB) DeleteInvite(ctx context.Context, orgID, id string) (org.Invite, error) {
	var inv org.Invite
	err := db.queryWrite(ctx, func(r *sql.Row) (err error) { inv, err = scanInvite(r); return err },
		`DELETE FROM invites WHERE org_id = $1 AND id = $2 RETURNING `+inviteColumns, orgID, id)
	return inv, err
}

// AcceptInvite implements org.Store.
func (db *DB) AcceptInvite(ctx context.Context, tokenHash, userID string, now time.Time) (org.Invite, error) {
	var inv org.Invite
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		inv, err = scanInvite(tx.QueryRowContext(ctx, `DELETE FROM invites WHERE token_hash = $1 RETURNING `+inviteColumns, tokenHash))
		if err != nil {
			return err
		}
		if !now.Before(inv.ExpiresAt) {
			return errs.E(errs.NotFound, "This invitation has expired. Ask for a new one.")
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)`, inv.OrgID, userID, inv.Role, utc(now))
		if isUnique(err) {
			return errs.E(errs.Conflict, "You are already a member of this organization.")
		}
		return err
	})
	return inv, err
}

// SetOrgLimits sets an organization's plan and rate-limit override
// (perMinute 0 clears it).
func (db *DB) SetOrgLimits(ctx context.Context, orgID, planID string, perMinute int, now time.Time) error {
	res, err := db.execWrite(ctx, `UPDATE organizations SET plan = $1, rate_limit_per_min = $2, updated_at = $3 WHERE id = $4`,
		planID, sql.NullInt64{Int64: int64(perMinute), Valid: perMinute > 0}, utc(now), orgID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.NotFound, "Organization not found.")
	}
	return nil
}
