package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/clinikapi/clinikapi/internal/idempotency"
)

var _ idempotency.Store = (*DB)(nil)

// ClaimIdempotencyKey implements idempotency.Store: an insert that wins
// when there is no entry, or a takeover of an expired or stale one, in one
// transaction; otherwise the current entry.
func (db *DB) ClaimIdempotencyKey(ctx context.Context, e idempotency.Entry, expiredBefore, staleBefore time.Time) (idempotency.Entry, bool, error) {
	var cur idempotency.Entry
	claimed := false
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (org_id, env, key, fingerprint, state, created_at)
		VALUES ($1, $2, $3, $4, 'pending', $5) ON CONFLICT (org_id, env, key) DO NOTHING`,
			e.OrgID, e.Env, e.Key, e.Fingerprint, utc(e.CreatedAt))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			claimed = true
			return nil
		}
		res, err = tx.ExecContext(ctx, `UPDATE idempotency_keys SET fingerprint = $4, state = 'pending', status = 0, headers = '{}', body = '', created_at = $5
		WHERE org_id = $1 AND env = $2 AND key = $3 AND (created_at < $6 OR (state = 'pending' AND created_at < $7))`,
			e.OrgID, e.Env, e.Key, e.Fingerprint, utc(e.CreatedAt), utc(expiredBefore), utc(staleBefore))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			claimed = true
			return nil
		}
		var state, headers, body string
		err = tx.QueryRowContext(ctx, `SELECT fingerprint, state, status, headers, body, created_at FROM idempotency_keys
		WHERE org_id = $1 AND env = $2 AND key = $3`, e.OrgID, e.Env, e.Key).
			Scan(&cur.Fingerprint, &state, &cur.Answer.Status, &headers, &body, &cur.CreatedAt)
		if err != nil {
			return err
		}
		cur.Scope, cur.Done, cur.Answer.Body = e.Scope, state == "done", []byte(body)
		return json.Unmarshal([]byte(headers), &cur.Answer.Headers)
	})
	return cur, claimed, err
}

// CompleteIdempotencyKey implements idempotency.Store.
func (db *DB) CompleteIdempotencyKey(ctx context.Context, s idempotency.Scope, a idempotency.Answer) error {
	h, err := json.Marshal(a.Headers)
	if err != nil {
		return err
	}
	_, err = db.execWrite(ctx, `UPDATE idempotency_keys SET state = 'done', status = $4, headers = $5, body = $6
	WHERE org_id = $1 AND env = $2 AND key = $3 AND state = 'pending'`, s.OrgID, s.Env, s.Key, a.Status, string(h), string(a.Body))
	return err
}

// ReleaseIdempotencyKey implements idempotency.Store.
func (db *DB) ReleaseIdempotencyKey(ctx context.Context, s idempotency.Scope) error {
	_, err := db.execWrite(ctx, `DELETE FROM idempotency_keys WHERE org_id = $1 AND env = $2 AND key = $3 AND state = 'pending'`, s.OrgID, s.Env, s.Key)
	return err
}

// PurgeIdempotencyKeys implements idempotency.Store.
func (db *DB) PurgeIdempotencyKeys(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.execWrite(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, utc(before))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
