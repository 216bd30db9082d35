package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/errs"
)

var _ apikey.Store = (*DB)(nil)

const keyColumns = `k.id, k.org_id, k.name, k.env, k.scope, k.prefix, k.last4, k.created_by, k.created_at, k.expires_at, k.revoked_at, k.last_used_at,
	k.resource_types, k.ip_allowlist, k.per_minute, k.disabled_at, k.notes, COALESCE(k.tenant_id, '')`

func scanKey(row interface{ Scan(...any) error }, extra ...any) (apikey.Key, error) {
	var k apikey.Key
	var exp, rev, used, dis sql.NullTime
	var types, ips string
	dest := append([]any{&k.ID, &k.OrgID, &k.Name, &k.Env, &k.Scope, &k.Prefix, &k.Last4, &k.CreatedBy, &k.CreatedAt, &exp, &rev, &used,
		&types, &ips, &k.PerMinute, &dis, &k.Notes, &k.TenantID}, extra...)
	if err := row.Scan(dest...); err != nil {
		return apikey.Key{}, notFound(err, "API key not found.")
	}
	k.ExpiresAt, k.RevokedAt, k.LastUsedAt, k.DisabledAt = exp.Time, rev.Time, used.Time, dis.Time
	k.Grants, k.AllowIPs = parseGrants(types), splitList(ips)
	return k, nil
}

// parseGrants reads the stored form of grants (apikey.FormatGrants).
func parseGrants(s string) []apikey.Grant {
	var out []apikey.Grant
	for _, g := range splitList(s) {
		t, sc, _ := strings.Cut(g, ":")
		out = append(out, apikey.Grant{Type: t, Scope: apikey.Scope(sc)})
	}
	return out
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func nullTime(t time.Time) sql.NullTime {
	if t.IsZero() {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: utc(t), Valid: true}
}

// CreateKey implements apikey.Store.
func (db *DB) CreateKey(ctx context.Context, k apikey.Key, s apikey.Secret) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO api_keys (id, org_id, name, env, scope, prefix, last4, created_by, created_at, expires_at,
			resource_types, ip_allowlist, per_minute, notes, tenant_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
			k.ID, k.OrgID, k.Name, k.Env, k.Scope, k.Prefix, k.Last4, k.CreatedBy, utc(k.CreatedAt), nullTime(k.ExpiresAt),
			apikey.FormatGrants(k.Grants), strings.Join(k.AllowIPs, ","), k.PerMinute, k.Notes, nullString(k.TenantID)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO api_key_secrets (hash, key_id, created_at) VALUES ($1, $2, $3)`, s.Hash, k.ID, utc(s.CreatedAt))
		return err
	})
}

// ListKeys implements apikey.Store.
func (db *DB) ListKeys(ctx context.Context, orgID string) ([]apikey.Key, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT `+keyColumns+` FROM api_keys k WHERE k.org_id = $1 ORDER BY k.created_at DESC, k.id`, orgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []apikey.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Previous secrets still in their grace period after a roll.
	grace, err := db.sql.QueryContext(ctx, `SELECT s.key_id, s.expires_at FROM api_key_secrets s JOIN api_keys k ON k.id = s.key_id
		WHERE k.org_id = $1 AND s.expires_at IS NOT NULL`, orgID)
	if err != nil {
		return nil, err
	}
	defer grace.Close()
	until := map[string]time.Time{}
	for grace.Next() {
		var id string
		var at time.Time
		if err := grace.Scan(&id, &at); err != nil {
			return nil, err
		}
		if at.After(until[id]) {
			until[id] = at
		}
	}
	for i := range out {
		out[i].OldSecretUntil = until[out[i].ID]
	}
	return out, grace.Err()
}

// FindKey implements apikey.Store.
func (db *DB) FindKey(ctx context.Context, orgID, keyID string) (apikey.Key, error) {
	k, err := scanKey(db.sql.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys k WHERE k.org_id = $1 AND k.id = $2`, orgID, keyID))
	if err != nil {
		return k, err
	}
	var until time.Time
	err = db.sql.QueryRowContext(ctx, `SELECT expires_at FROM api_key_secrets WHERE key_id = $1 AND expires_at IS NOT NULL
		ORDER BY expires_at DESC LIMIT 1`, keyID).Scan(&until)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return apikey.Key{}, err
	}
	k.OldSecretUntil = until
	return k, nil
}

// UpdateKey implements apikey.Store.
func (db *DB) UpdateKey(ctx context.Context, k apikey.Key) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_keys SET name = $1, notes = $2, expires_at = $3, scope = $4, resource_types = $5, ip_allowlist = $6,
			per_minute = $7, disabled_at = $8 WHERE org_id = $9 AND id = $10 AND revoked_at IS NULL`,
			k.Name, k.Notes, nullTime(k.ExpiresAt), k.Scope, apikey.FormatGrants(k.Grants), strings.Join(k.AllowIPs, ","), k.PerMinute, nullTime(k.DisabledAt), k.OrgID, k.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.E(errs.NotFound, "API key not found.")
		}
		return db.keysChanged(ctx, tx, `org_id = $2 AND id = $3`, k.OrgID, k.ID)
	})
}

// FindSecret implements apikey.Store.
func (db *DB) FindSecret(ctx context.Context, hash string) (apikey.Secret, apikey.Key, error) {
	s := apikey.Secret{Hash: hash}
	var exp sql.NullTime
	k, err := scanKey(db.sql.QueryRowContext(ctx, `SELECT `+keyColumns+`, s.created_at, s.expires_at
		FROM api_key_secrets s JOIN api_keys k ON k.id = s.key_id WHERE s.hash = $1`, hash), &s.CreatedAt, &exp)
	if err != nil {
		return apikey.Secret{}, apikey.Key{}, err
	}
	s.KeyID, s.ExpiresAt = k.ID, exp.Time
	return s, k, nil
}

// RotateKey implements apikey.Store.
func (db *DB) RotateKey(ctx context.Context, orgID, keyID string, s apikey.Secret, prefix, last4 string, graceUntil time.Time) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_key_secrets SET expires_at = $1
			WHERE key_id = $2 AND (expires_at IS NULL OR expires_at > $1)
			AND key_id IN (SELECT id FROM api_keys WHERE org_id = $3 AND revoked_at IS NULL)`, utc(graceUntil), keyID, orgID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.E(errs.NotFound, "API key not found.")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET prefix = $1, last4 = $2 WHERE id = $3`, prefix, last4, keyID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO api_key_secrets (hash, key_id, created_at) VALUES ($1, $2, $3)`, s.Hash, keyID, utc(s.CreatedAt)); err != nil {
			return err
		}
		return db.keysChanged(ctx, tx, `org_id = $2 AND id = $3`, orgID, keyID)
	})
}

// RevokeKey implements apikey.Store.
func (db *DB) RevokeKey(ctx context.Context, orgID, keyID string, at time.Time) (apikey.Key, error) {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = $1 WHERE org_id = $2 AND id = $3 AND revoked_at IS NULL`, utc(at), orgID, keyID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // not the organization's, or revoked already
		}
		return db.keysChanged(ctx, tx, `org_id = $2 AND id = $3`, orgID, keyID)
	})
	if err != nil {
		return apikey.Key{}, err
	}
	return db.FindKey(ctx, orgID, keyID)
}

// keysChanged records, in the transaction of a change, that the keys of
// api_keys matching where (its parameters from $2) changed, so that every
// other process on this SQLite database drops them from its cache at its
// next poll (KeyChanges). On PostgreSQL the instances hear of changes by
// NOTIFY or Redis, which the key service publishes.
func (db *DB) keysChanged(ctx context.Context, tx *sql.Tx, where string, args ...any) error {
	if db.dialect != SQLite {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO api_key_changes (key_id, created_at) SELECT id, $1 FROM api_keys WHERE `+where,
		append([]any{utc(time.Now())}, args...)...)
	return err
}

// TouchKeys implements apikey.Store.
func (db *DB) TouchKeys(ctx context.Context, lastUsed map[string]time.Time) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		for id, at := range lastUsed {
			if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)`, utc(at), id); err != nil {
				return err
			}
		}
		return nil
	})
}

// KeyUses implements apikey.UseStore from the usage records (kept 90
// days): requests its restrictions refused are left out.
func (db *DB) KeyUses(ctx context.Context, orgID, keyID string, since time.Time) ([]apikey.Use, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT resource_type, method, COUNT(*) FROM usage_records
		WHERE org_id = $1 AND key_id = $2 AND created_at >= $3 AND resource_type <> '' AND code NOT IN ('INSUFFICIENT_SCOPE', 'IP_NOT_ALLOWED')
		GROUP BY resource_type, method`, orgID, keyID, utc(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []apikey.Use
	for rows.Next() {
		var u apikey.Use
		if err := rows.Scan(&u.Type, &u.Method, &u.Count); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}
