package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/clinikapi/clinikapi/internal/idempotency"
)

var _ idempotency.Store = (*DB)(nil)

// ClaimIdempotencyKey implements idempotency.Store: an insert that wins
// when there is no entry (one statement: the common case), else a takeover
// of an expired or stale entry, else the current entry.
func (db *DB) ClaimIdempotencyKey(ctx context.Context, e idempotency.Entry, expiredBefore, staleBefore time.Time) (idempotency.Entry, bool, error) {
	res, err := db.execWrite(ctx, `INSERT INTO idempotency_keys (org_id, env, key, fingerprint, state, created_at)
	VALUES ($1, $2, $3, $4, 'pending', $5) ON CONFLICT (org_id, env, key) DO NOTHING`,
		e.OrgID, e.Env, e.Key, e.Fingerprint, utc(e.CreatedAt))
	if err != nil {
		return idempotency.Entry{}, false, err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return idempotency.Entry{}, true, nil
	}
	res, err = db.execWrite(ctx, `UPDATE idempotency_keys SET fingerprint = $4, state = 'pending', status = 0, headers = '{}', body = '', created_at = $5
	WHERE org_id = $1 AND env = $2 AND key = $3 AND (created_at < $6 OR (state = 'pending' AND created_at < $7))`,
		e.OrgID, e.Env, e.Key, e.Fingerprint, utc(e.CreatedAt), utc(expiredBefore), utc(staleBefore))
	if err != nil {
		return idempotency.Entry{}, false, err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return idempotency.Entry{}, true, nil
	}
	cur := idempotency.Entry{Scope: e.Scope}
	var state, headers, body string
	err = db.sql.QueryRowContext(ctx, `SELECT fingerprint, state, status, headers, body, resource, created_at FROM idempotency_keys
	WHERE org_id = $1 AND env = $2 AND key = $3`, e.OrgID, e.Env, e.Key).
		Scan(&cur.Fingerprint, &state, &cur.Answer.Status, &headers, &body, &cur.Answer.Resource, &cur.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		// Released between the statements: try again.
		return db.ClaimIdempotencyKey(ctx, e, expiredBefore, staleBefore)
	}
	if err != nil {
		return cur, false, err
	}
	cur.Done, cur.Answer.Body = state == "done", []byte(body)
	return cur, false, json.Unmarshal([]byte(headers), &cur.Answer.Headers)
}

// FindIdempotencyKey implements idempotency.Store.
func (db *DB) FindIdempotencyKey(ctx context.Context, s idempotency.Scope, expiredBefore time.Time) (idempotency.Entry, bool, error) {
	cur := idempotency.Entry{Scope: s}
	var state, headers, body string
	err := db.sql.QueryRowContext(ctx, `SELECT fingerprint, state, status, headers, body, resource, created_at FROM idempotency_keys
	WHERE org_id = $1 AND env = $2 AND key = $3 AND created_at >= $4`, s.OrgID, s.Env, s.Key, utc(expiredBefore)).
		Scan(&cur.Fingerprint, &state, &cur.Answer.Status, &headers, &body, &cur.Answer.Resource, &cur.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return cur, false, nil
	}
	if err != nil {
		return cur, false, err
	}
	cur.Done, cur.Answer.Body = state == "done", []byte(body)
	return cur, true, json.Unmarshal([]byte(headers), &cur.Answer.Headers)
}

// CompleteIdempotencyKeys implements idempotency.Store: the pending row of
// the same fingerprint becomes done, or the answer is written as a new row
// (replacing one that expired) when its claim was kept in memory.
func (db *DB) CompleteIdempotencyKeys(ctx context.Context, done []idempotency.Entry, expiredBefore time.Time) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		for _, e := range done {
			h, err := json.Marshal(e.Answer.Headers)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (org_id, env, key, fingerprint, state, status, headers, body, resource, created_at)
			VALUES ($1, $2, $3, $4, 'done', $5, $6, $7, $8, $9)
			ON CONFLICT (org_id, env, key) DO UPDATE SET fingerprint = excluded.fingerprint, state = 'done', status = excluded.status,
				headers = excluded.headers, body = excluded.body, resource = excluded.resource, created_at = excluded.created_at
			WHERE (idempotency_keys.state = 'pending' AND idempotency_keys.fingerprint = excluded.fingerprint) OR idempotency_keys.created_at < $10`,
				e.OrgID, e.Env, e.Key, e.Fingerprint, e.Answer.Status, string(h), string(e.Answer.Body), e.Answer.Resource, utc(e.CreatedAt), utc(expiredBefore)); err != nil {
				return err
			}
		}
		return nil
	})
}

// ReleaseIdempotencyKey implements idempotency.Store.
func (db *DB) ReleaseIdempotencyKey(ctx context.Context, s idempotency.Scope) error {
	_, err := db.execWrite(ctx, `DELETE FROM idempotency_keys WHERE org_id = $1 AND env = $2 AND key = $3 AND state = 'pending'`, s.OrgID, s.Env, s.Key)
	return err
}

// IdempotencyKeys implements idempotency.Store.
func (db *DB) IdempotencyKeys(ctx context.Context, since time.Time, limit int) ([]idempotency.Scope, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT org_id, env, key FROM idempotency_keys WHERE created_at >= $1 LIMIT $2`, utc(since), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []idempotency.Scope
	for rows.Next() {
		var sc idempotency.Scope
		if err := rows.Scan(&sc.OrgID, &sc.Env, &sc.Key); err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, rows.Err()
}

// PurgeIdempotencyKeys implements idempotency.Store.
func (db *DB) PurgeIdempotencyKeys(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.execWrite(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, utc(before))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
