package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/webhook"
)

var _ webhook.Store = (*DB)(nil)

const endpointColumns = `id, org_id, url, description, events, environment, COALESCE(tenant_id, ''), secret, old_secret, old_secret_until,
	disabled, created_by, created_at, updated_at`

func scanEndpoint(row interface{ Scan(...any) error }) (webhook.Endpoint, error) {
	var e webhook.Endpoint
	var events string
	var until sql.NullTime
	if err := row.Scan(&e.ID, &e.OrgID, &e.URL, &e.Description, &events, &e.Env, &e.TenantID, &e.Secret, &e.OldSecret, &until,
		&e.Disabled, &e.CreatedBy, &e.CreatedAt, &e.UpdatedAt); err != nil {
		return e, err
	}
	e.Events = strings.Fields(events)
	e.OldSecretUntil = until.Time
	return e, nil
}

// InsertWebhookEndpoint implements webhook.Store.
func (db *DB) InsertWebhookEndpoint(ctx context.Context, e webhook.Endpoint) error {
	_, err := db.execWrite(ctx, `INSERT INTO webhook_endpoints (id, org_id, url, description, events, environment, tenant_id, secret,
		disabled, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		e.ID, e.OrgID, e.URL, e.Description, strings.Join(e.Events, " "), e.Env, nullString(e.TenantID), e.Secret,
		e.Disabled, e.CreatedBy, utc(e.CreatedAt), utc(e.UpdatedAt))
	return err
}

// WebhookEndpoints implements webhook.Store.
func (db *DB) WebhookEndpoints(ctx context.Context, orgID string) ([]webhook.Endpoint, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE org_id = $1 ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []webhook.Endpoint
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// WebhookEndpoint implements webhook.Store.
func (db *DB) WebhookEndpoint(ctx context.Context, orgID, id string) (webhook.Endpoint, error) {
	e, err := scanEndpoint(db.sql.QueryRowContext(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE org_id = $1 AND id = $2`, orgID, id))
	return e, notFound(err, "Webhook not found.")
}

// affected maps "no row changed" to NotFound.
func affected(res sql.Result, err error, msg string) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err != nil {
			return err
		}
		return errs.E(errs.NotFound, "%s", msg)
	}
	return nil
}

// SetWebhookEndpointDisabled implements webhook.Store.
func (db *DB) SetWebhookEndpointDisabled(ctx context.Context, orgID, id string, disabled bool, now time.Time) error {
	res, err := db.execWrite(ctx, `UPDATE webhook_endpoints SET disabled = $1, updated_at = $2 WHERE org_id = $3 AND id = $4`, disabled, utc(now), orgID, id)
	return affected(res, err, "Webhook not found.")
}

// SetWebhookSecrets implements webhook.Store.
func (db *DB) SetWebhookSecrets(ctx context.Context, orgID, id, secret, old string, oldUntil, now time.Time) error {
	res, err := db.execWrite(ctx, `UPDATE webhook_endpoints SET secret = $1, old_secret = $2, old_secret_until = $3, updated_at = $4
		WHERE org_id = $5 AND id = $6`, secret, old, nullTime(oldUntil), utc(now), orgID, id)
	return affected(res, err, "Webhook not found.")
}

// DeleteWebhookEndpoint implements webhook.Store: the endpoint, its
// deliveries and their attempts.
func (db *DB) DeleteWebhookEndpoint(ctx context.Context, orgID, id string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_attempts WHERE endpoint_id = $1 AND org_id = $2`, id, orgID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE endpoint_id = $1 AND org_id = $2`, id, orgID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE org_id = $1 AND id = $2`, orgID, id)
		return affected(res, err, "Webhook not found.")
	})
}

// isForeignKey reports whether err is a foreign-key violation.
func isForeignKey(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23503"
	}
	var lite sqlite3.Error
	return errors.As(err, &lite) && lite.ExtendedCode == sqlite3.ErrConstraintForeignKey
}

// InsertWebhookDeliveries implements webhook.Store.
func (db *DB) InsertWebhookDeliveries(ctx context.Context, ds []webhook.Delivery) (int, error) {
	n := 0
	err := db.tx(ctx, func(tx *sql.Tx) error {
		for _, d := range ds {
			res, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (id, endpoint_id, org_id, event_id, event, payload, status, attempts,
				next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $9)
				ON CONFLICT (endpoint_id, event_id) DO NOTHING`,
				d.ID, d.EndpointID, d.OrgID, d.EventID, d.Event, string(d.Payload), string(d.Status), utc(d.NextAttemptAt), utc(d.CreatedAt))
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k > 0 {
				n++
			}
		}
		return nil
	})
	return n, err
}

// claimable selects deliveries a dispatcher may claim at $now.
const claimable = `d.status = 'pending' AND d.next_attempt_at <= $1 AND (d.lease_until IS NULL OR d.lease_until < $1)`

// DueWebhookEndpoints implements webhook.Store.
func (db *DB) DueWebhookEndpoints(ctx context.Context, now time.Time, limit int) ([]string, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT d.endpoint_id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
		WHERE `+claimable+` AND NOT e.disabled GROUP BY d.endpoint_id ORDER BY MIN(d.next_attempt_at) LIMIT $2`, utc(now), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

const deliveryColumns = `id, endpoint_id, org_id, event_id, event, payload, status, attempts, next_attempt_at, created_at`

func scanDelivery(row interface{ Scan(...any) error }) (webhook.Delivery, error) {
	var d webhook.Delivery
	var payload, status string
	err := row.Scan(&d.ID, &d.EndpointID, &d.OrgID, &d.EventID, &d.Event, &payload, &status, &d.Attempts, &d.NextAttemptAt, &d.CreatedAt)
	d.Payload, d.Status = []byte(payload), webhook.Status(status)
	return d, err
}

// ClaimWebhookDeliveries implements webhook.Store in one statement. On
// PostgreSQL the rows are locked with SKIP LOCKED, so instances claiming
// at once take different rows, and the conditions are checked again on
// the row being updated; on SQLite the statement holds the one writer.
func (db *DB) ClaimWebhookDeliveries(ctx context.Context, endpointID, holder string, now, leaseUntil time.Time, limit int) ([]webhook.Delivery, error) {
	lock := ""
	if db.dialect == Postgres {
		lock = ` FOR UPDATE SKIP LOCKED`
	}
	var out []webhook.Delivery
	err := db.writing(func() error {
		rows, err := db.sql.QueryContext(ctx, `UPDATE webhook_deliveries AS d SET lease_holder = $2, lease_until = $3
			WHERE d.id IN (SELECT d.id FROM webhook_deliveries d WHERE d.endpoint_id = $4 AND `+claimable+`
				ORDER BY d.next_attempt_at, d.id LIMIT $5`+lock+`) AND `+claimable+`
			RETURNING `+deliveryColumns, utc(now), holder, utc(leaseUntil), endpointID, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDelivery(rows)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	return out, err
}

// FinishWebhookAttempts implements webhook.Store. A delivery whose lease
// another holder has taken meanwhile keeps that holder's state; the
// attempt is logged all the same (it was sent).
func (db *DB) FinishWebhookAttempts(ctx context.Context, holder string, as []webhook.Attempt, now time.Time) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		for _, a := range as {
			status, next := a.Outcome, sql.NullTime{}
			if a.Outcome == webhook.Failed && !a.NextAttemptAt.IsZero() {
				status, next = webhook.Pending, nullTime(a.NextAttemptAt)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = $1, attempts = $2,
				next_attempt_at = COALESCE($3, next_attempt_at), lease_holder = '', lease_until = NULL, updated_at = $4
				WHERE id = $5 AND lease_holder = $6`, string(status), a.Attempt, next, utc(now), a.DeliveryID, holder); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_attempts (id, delivery_id, endpoint_id, org_id, event_id, event, attempt, at,
				outcome, status_code, latency_us, response, error, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
				a.ID, a.DeliveryID, a.EndpointID, a.OrgID, a.EventID, a.Event, a.Attempt, utc(a.At), string(a.Outcome), a.StatusCode,
				a.Latency.Microseconds(), a.Response, a.Error, nullTime(a.NextAttemptAt)); err != nil {
				if isForeignKey(err) {
					continue // the endpoint was deleted while it was being sent to
				}
				return err
			}
		}
		return nil
	})
}

// WebhookDelivery implements webhook.Store.
func (db *DB) WebhookDelivery(ctx context.Context, orgID, id string) (webhook.Delivery, error) {
	d, err := scanDelivery(db.sql.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE org_id = $1 AND id = $2`, orgID, id))
	return d, notFound(err, "Delivery not found.")
}

// RequeueWebhookDelivery implements webhook.Store.
func (db *DB) RequeueWebhookDelivery(ctx context.Context, orgID, id string, now time.Time) error {
	res, err := db.execWrite(ctx, `UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1, updated_at = $1
		WHERE org_id = $2 AND id = $3`, utc(now), orgID, id)
	return affected(res, err, "Delivery not found.")
}

// WebhookAttempts implements webhook.Store.
func (db *DB) WebhookAttempts(ctx context.Context, f webhook.AttemptFilter) ([]webhook.Attempt, error) {
	q := `SELECT id, delivery_id, endpoint_id, org_id, event_id, event, attempt, at, outcome, status_code, latency_us, response, error, next_attempt_at
		FROM webhook_attempts WHERE org_id = $1`
	args := []any{f.OrgID}
	add := func(cond string, v any) {
		args = append(args, v)
		q += ` AND ` + cond + ` $` + itoa(len(args))
	}
	if f.EndpointID != "" {
		add(`endpoint_id =`, f.EndpointID)
	}
	if f.Event != "" {
		add(`event =`, f.Event)
	}
	if f.Outcome != "" {
		add(`outcome =`, string(f.Outcome))
	}
	if !f.Before.IsZero() {
		add(`at <`, utc(f.Before))
	}
	args = append(args, f.Limit)
	q += ` ORDER BY at DESC, id DESC LIMIT $` + itoa(len(args))
	rows, err := db.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []webhook.Attempt
	for rows.Next() {
		var a webhook.Attempt
		var outcome string
		var us int64
		var next sql.NullTime
		if err := rows.Scan(&a.ID, &a.DeliveryID, &a.EndpointID, &a.OrgID, &a.EventID, &a.Event, &a.Attempt, &a.At, &outcome,
			&a.StatusCode, &us, &a.Response, &a.Error, &next); err != nil {
			return nil, err
		}
		a.Outcome, a.Latency, a.NextAttemptAt = webhook.Status(outcome), time.Duration(us)*time.Microsecond, next.Time
		out = append(out, a)
	}
	return out, rows.Err()
}

// PurgeWebhookDeliveries implements webhook.Store.
func (db *DB) PurgeWebhookDeliveries(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		const old = `SELECT id FROM webhook_deliveries WHERE status <> 'pending' AND updated_at < $1`
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_attempts WHERE delivery_id IN (`+old+`)`, utc(before)); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE id IN (`+old+`)`, utc(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
