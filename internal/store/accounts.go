package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/clinikapi/clinikapi/internal/account"
	"github.com/clinikapi/clinikapi/internal/account/builtin"
	"github.com/clinikapi/clinikapi/internal/errs"
)

var (
	_ account.Store = (*DB)(nil)
	_ builtin.Store = (*DB)(nil)
)

const userColumns = `id, email, name, COALESCE(external_id, ''), created_at`

func scanUser(row interface{ Scan(...any) error }) (account.User, error) {
	var u account.User
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.ExternalID, &u.CreatedAt)
	return u, notFound(err, "user not found")
}

// FindUserByID implements account.Store.
func (db *DB) FindUserByID(ctx context.Context, id string) (account.User, error) {
	return scanUser(db.sql.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
}

// FindUserByEmail implements account.Store.
func (db *DB) FindUserByEmail(ctx context.Context, email string) (account.User, error) {
	return scanUser(db.sql.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, email))
}

// UpsertExternalUser implements account.Store.
func (db *DB) UpsertExternalUser(ctx context.Context, newID, externalID, email string, now time.Time) (account.User, error) {
	now = utc(now)
	var u account.User
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE external_id = $1`, externalID))
		switch {
		case err == nil:
			if u.Email != email && email != "" {
				if _, err := tx.ExecContext(ctx, `UPDATE users SET email = $1, updated_at = $2 WHERE id = $3`, email, now, u.ID); err != nil {
					if isUnique(err) {
						return errs.E(errs.Conflict, "Another account already uses this e-mail address.")
					}
					return err
				}
				u.Email = email
			}
			return nil
		case !errs.Is(err, errs.NotFound):
			return err
		}
		// An account that signed up before Supabase was configured keeps its
		// id and data: link it by e-mail.
		res, err := tx.ExecContext(ctx, `UPDATE users SET external_id = $1, updated_at = $2 WHERE email = $3 AND external_id IS NULL`, externalID, now, email)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, email, name, external_id, created_at, updated_at) VALUES ($1, $2, '', $3, $4, $4)`,
				newID, email, externalID, now); err != nil {
				if isUnique(err) {
					return errs.E(errs.Conflict, "Another account already uses this e-mail address.")
				}
				return err
			}
		}
		u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE external_id = $1`, externalID))
		return err
	})
	return u, err
}

// UpdateUserName implements account.Store.
func (db *DB) UpdateUserName(ctx context.Context, id, name string, now time.Time) error {
	_, err := db.execWrite(ctx, `UPDATE users SET name = $1, updated_at = $2 WHERE id = $3`, name, utc(now), id)
	return err
}

// CreateUser implements builtin.Store.
func (db *DB) CreateUser(ctx context.Context, u account.User, passwordHash string) error {
	now := utc(u.CreatedAt)
	_, err := db.execWrite(ctx, `INSERT INTO users (id, email, name, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)`,
		u.ID, u.Email, u.Name, passwordHash, now)
	if isUnique(err) {
		return errs.E(errs.Conflict, "An account with this e-mail already exists.")
	}
	return err
}

// FindPasswordHash implements builtin.Store.
func (db *DB) FindPasswordHash(ctx context.Context, email string) (string, string, error) {
	var id string
	var hash sql.NullString
	err := db.sql.QueryRowContext(ctx, `SELECT id, password_hash FROM users WHERE email = $1`, email).Scan(&id, &hash)
	return id, hash.String, notFound(err, "user not found")
}

// SetPasswordHash implements builtin.Store.
func (db *DB) SetPasswordHash(ctx context.Context, userID, hash string, now time.Time) error {
	_, err := db.execWrite(ctx, `UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3`, hash, utc(now), userID)
	return err
}

// CreateSession implements builtin.Store.
func (db *DB) CreateSession(ctx context.Context, s builtin.Session) error {
	_, err := db.execWrite(ctx, `INSERT INTO sessions (hash, user_id, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		s.Hash, s.UserID, utc(s.CreatedAt), utc(s.LastSeenAt), utc(s.ExpiresAt))
	return err
}

// FindSession implements builtin.Store.
func (db *DB) FindSession(ctx context.Context, hash string) (builtin.Session, error) {
	s := builtin.Session{Hash: hash}
	err := db.sql.QueryRowContext(ctx, `SELECT user_id, created_at, last_seen_at, expires_at FROM sessions WHERE hash = $1`, hash).
		Scan(&s.UserID, &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt)
	return s, notFound(err, "session not found")
}

// TouchSession implements builtin.Store.
func (db *DB) TouchSession(ctx context.Context, hash string, at time.Time) error {
	_, err := db.execWrite(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE hash = $2`, utc(at), hash)
	return err
}

// DeleteSession implements builtin.Store.
func (db *DB) DeleteSession(ctx context.Context, hash string) error {
	_, err := db.execWrite(ctx, `DELETE FROM sessions WHERE hash = $1`, hash)
	return err
}

// DeleteUserSessions implements builtin.Store.
func (db *DB) DeleteUserSessions(ctx context.Context, userID string) error {
	_, err := db.execWrite(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
	return err
}

// CreatePasswordReset implements builtin.Store.
func (db *DB) CreatePasswordReset(ctx context.Context, hash, userID string, expiresAt time.Time) error {
	_, err := db.execWrite(ctx, `INSERT INTO password_resets (hash, user_id, expires_at) VALUES ($1, $2, $3)`, hash, userID, utc(expiresAt))
	return err
}

// ConsumePasswordReset implements builtin.Store: the token is deleted whether
// or not it was still valid, so it can never be used twice.
func (db *DB) ConsumePasswordReset(ctx context.Context, hash string, now time.Time) (string, error) {
	var userID string
	var exp time.Time
	err := db.queryWrite(ctx, func(r *sql.Row) error { return r.Scan(&userID, &exp) },
		`DELETE FROM password_resets WHERE hash = $1 RETURNING user_id, expires_at`, hash)
	if err != nil {
		return "", notFound(err, "reset token not found")
	}
	if !now.Before(exp) {
		return "", errs.E(errs.NotFound, "reset token expired")
	}
	return userID, nil
}
