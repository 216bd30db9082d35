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
	return db.endpoints(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE org_id = $1 ORDER BY created_at, id`, orgID)
}

func (db *DB) endpoints(ctx context.Context, query string, args ...any) ([]webhook.Endpoint, error) {
	rows, err := db.sql.QueryContext(ctx, query, args...)
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

// deliveryRows is how many deliveries (or attempts) one multi-row
// statement writes: a relay step of 500 events to three endpoints is 15
// statements, not 1,500.
const deliveryRows = 100

// args numbers bind parameters from $1, in the order they are written.
type args struct {
	db   *DB
	vals []any
}

// add binds v and returns its parameter, cast to the PostgreSQL type
// pg when it is not "" (the columns of a VALUES list have no type there).
func (a *args) add(v any, pg string) string {
	a.vals = append(a.vals, v)
	p := "$" + itoa(len(a.vals))
	if pg != "" && a.db.dialect == Postgres {
		p += "::" + pg
	}
	return p
}

// InsertWebhookDeliveries implements webhook.Store in one transaction of
// multi-row INSERTs.
func (db *DB) InsertWebhookDeliveries(ctx context.Context, ds []webhook.Delivery) (int, error) {
	n := 0
	err := db.tx(ctx, func(tx *sql.Tx) error {
		for len(ds) > 0 {
			chunk := ds[:min(len(ds), deliveryRows)]
			ds = ds[len(chunk):]
			a := args{db: db}
			var q strings.Builder
			q.WriteString(`INSERT INTO webhook_deliveries (id, endpoint_id, org_id, event_id, event, payload, status, attempts,
				next_attempt_at, created_at, updated_at) VALUES `)
			for i, d := range chunk {
				if i > 0 {
					q.WriteByte(',')
				}
				created := a.add(utc(d.CreatedAt), "")
				q.WriteString(`(` + a.add(d.ID, "") + `,` + a.add(d.EndpointID, "") + `,` + a.add(d.OrgID, "") + `,` + a.add(d.EventID, "") + `,` +
					a.add(d.Event, "") + `,` + a.add(string(d.Payload), "") + `,` + a.add(string(d.Status), "") + `, 0,` +
					a.add(utc(d.NextAttemptAt), "") + `,` + created + `,` + created + `)`)
			}
			q.WriteString(` ON CONFLICT (endpoint_id, event_id) DO NOTHING`)
			res, err := tx.ExecContext(ctx, q.String(), a.vals...)
			if err != nil {
				return err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += int(k)
		}
		return nil
	})
	return n, err
}

// claimable selects deliveries a dispatcher may claim at $1.
const claimable = `d.status = 'pending' AND d.next_attempt_at <= $1 AND (d.lease_until IS NULL OR d.lease_until < $1)`

const deliveryColumns = `id, endpoint_id, org_id, event_id, event, payload, status, attempts, next_attempt_at, created_at`

func scanDelivery(row interface{ Scan(...any) error }) (webhook.Delivery, error) {
	var d webhook.Delivery
	var payload, status string
	err := row.Scan(&d.ID, &d.EndpointID, &d.OrgID, &d.EventID, &d.Event, &payload, &status, &d.Attempts, &d.NextAttemptAt, &d.CreatedAt)
	d.Payload, d.Status = []byte(payload), webhook.Status(status)
	return d, err
}

// ClaimWebhookDeliveries implements webhook.Store in one statement. The
// candidates are the oldest due deliveries of enabled endpoints (a few
// times what can be claimed, so that one endpoint's backlog leaves room
// for the others); of them the endpoints due longest get up to
// c.PerEndpoint each. The claim conditions are checked again on each row
// being updated: on PostgreSQL an instance whose candidate another has
// just claimed waits for that claim's commit and then skips the row (one
// endpoint's claim, the worker's, locks its few candidates with SKIP
// LOCKED instead, so that instances do not wait on each other; the
// claim of every endpoint leaves its many candidates unlocked, as
// locking a row writes it); on SQLite the statement holds the one writer.
// One endpoint's claim takes its oldest due deliveries without ranking.
func (db *DB) ClaimWebhookDeliveries(ctx context.Context, c webhook.Claim) ([]webhook.Delivery, error) {
	a := args{db: db}
	a.add(utc(c.Now), "") // $1, claimable's
	set := `lease_holder = ` + a.add(c.Holder, "") + `, lease_until = ` + a.add(utc(c.Until), "")
	per, eps := max(1, c.PerEndpoint), max(1, c.Endpoints)
	candidates := min(4*per*eps, 4096)
	where, lock := "", ""
	if c.Endpoint != "" {
		where += ` AND d.endpoint_id = ` + a.add(c.Endpoint, "")
		if db.dialect == Postgres {
			lock = ` FOR UPDATE OF d SKIP LOCKED`
		}
	}
	if len(c.Skip) > 0 {
		ps := make([]string, len(c.Skip))
		for i, id := range c.Skip {
			ps[i] = a.add(id, "")
		}
		where += ` AND d.endpoint_id NOT IN (` + strings.Join(ps, ", ") + `)`
	}
	// The rows to lease are picked once (MATERIALIZED) and the UPDATE
	// joins them: with "WHERE id IN (subquery)" PostgreSQL may run the
	// subquery again for each row a concurrent claim or finish changed
	// (its recheck of an updated row), each time sorting the due
	// deliveries anew and, with SKIP LOCKED, picking others.
	var pick string
	if c.Endpoint != "" {
		// One endpoint's: its oldest due, no ranking.
		pick = `SELECT d.id AS pick FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
			WHERE ` + claimable + ` AND NOT e.disabled` + where + `
			ORDER BY d.next_attempt_at, d.id LIMIT ` + a.add(per, "") + lock
	} else {
		pick = `SELECT r.id AS pick FROM (
			SELECT w.id, w.n, DENSE_RANK() OVER (ORDER BY w.first, w.endpoint_id) AS k FROM (
				SELECT c.id, c.endpoint_id, ROW_NUMBER() OVER (PARTITION BY c.endpoint_id ORDER BY c.next_attempt_at, c.id) AS n,
					MIN(c.next_attempt_at) OVER (PARTITION BY c.endpoint_id) AS first
				FROM (SELECT d.id, d.endpoint_id, d.next_attempt_at FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
					WHERE ` + claimable + ` AND NOT e.disabled` + where + `
					ORDER BY d.next_attempt_at, d.id LIMIT ` + a.add(candidates, "") + `) c) w) r
			WHERE r.n <= ` + a.add(per, "") + ` AND r.k <= ` + a.add(eps, "")
	}
	q := `WITH picked AS MATERIALIZED (` + pick + `)
		UPDATE webhook_deliveries AS d SET ` + set + ` FROM picked WHERE d.id = picked.pick AND ` + claimable + `
		RETURNING ` + deliveryColumns
	return db.claim(ctx, q, a.vals)
}

// claim runs a claim statement and returns the deliveries it leased.
func (db *DB) claim(ctx context.Context, q string, vals []any) ([]webhook.Delivery, error) {
	var out []webhook.Delivery
	err := db.writing(func() error {
		rows, err := db.sql.QueryContext(ctx, q, vals...)
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

// WebhookEndpointsByID implements webhook.Store.
func (db *DB) WebhookEndpointsByID(ctx context.Context, ids []string) ([]webhook.Endpoint, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	a := args{db: db}
	ps := make([]string, len(ids))
	for i, id := range ids {
		ps[i] = a.add(id, "")
	}
	return db.endpoints(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id IN (`+strings.Join(ps, ", ")+`)`, a.vals...)
}

// FinishWebhookAttempts implements webhook.Store in one transaction of
// multi-row statements, whatever the mix of outcomes: the deliveries'
// new states in one UPDATE … FROM (VALUES …), the attempts in one INSERT
// per 100. A delivery whose lease another holder has taken meanwhile
// keeps that holder's state; the attempt is logged all the same (it was
// sent). The attempt of a delivery deleted meanwhile (with its endpoint)
// is not logged: its INSERT checks that each delivery exists.
func (db *DB) FinishWebhookAttempts(ctx context.Context, holder string, as []webhook.Attempt, now time.Time) error {
	if len(as) == 0 {
		return nil
	}
	for try := 1; ; try++ {
		err := db.tx(ctx, func(tx *sql.Tx) error {
			for rest := as; len(rest) > 0; {
				chunk := rest[:min(len(rest), deliveryRows)]
				rest = rest[len(chunk):]
				if err := db.finishChunk(ctx, tx, holder, chunk, now); err != nil {
					return err
				}
			}
			return nil
		})
		// On PostgreSQL an endpoint deleted between the look-up and the
		// insert: look again.
		if !isForeignKey(err) || try == 3 {
			return err
		}
	}
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

func (db *DB) finishChunk(ctx context.Context, tx *sql.Tx, holder string, as []webhook.Attempt, now time.Time) error {
	// The deliveries' new states (a delivery deleted meanwhile matches no
	// row).
	a := args{db: db}
	var q strings.Builder
	q.WriteString(`WITH v (id, status, attempts, next_attempt_at) AS (VALUES `)
	for i, at := range as {
		status, next := at.Outcome, sql.NullTime{}
		if at.Outcome == webhook.Failed && !at.NextAttemptAt.IsZero() {
			status, next = webhook.Pending, nullTime(at.NextAttemptAt)
		}
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString(`(` + a.add(at.DeliveryID, "text") + `,` + a.add(string(status), "text") + `,` + a.add(at.Attempt, "integer") + `,` +
			a.add(next, "timestamp") + `)`)
	}
	q.WriteString(`) UPDATE webhook_deliveries SET status = v.status, attempts = v.attempts,
		next_attempt_at = COALESCE(v.next_attempt_at, webhook_deliveries.next_attempt_at), lease_holder = '', lease_until = NULL,
		updated_at = ` + a.add(utc(now), "timestamp") + ` FROM v WHERE webhook_deliveries.id = v.id AND webhook_deliveries.lease_holder = ` + a.add(holder, "text"))
	if _, err := tx.ExecContext(ctx, q.String(), a.vals...); err != nil {
		return err
	}

	// The attempts, for the log, of the deliveries that still exist, in
	// the same statement as that check.
	a = args{db: db}
	q.Reset()
	const cols = `id, delivery_id, endpoint_id, org_id, event_id, event, attempt, at, outcome, status_code, latency_us, response, error, next_attempt_at`
	q.WriteString(`WITH v (` + cols + `) AS (VALUES `)
	for i, at := range as {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString(`(` + a.add(at.ID, "text") + `,` + a.add(at.DeliveryID, "text") + `,` + a.add(at.EndpointID, "text") + `,` +
			a.add(at.OrgID, "text") + `,` + a.add(at.EventID, "text") + `,` + a.add(at.Event, "text") + `,` + a.add(at.Attempt, "integer") + `,` +
			a.add(utc(at.At), "timestamp") + `,` + a.add(string(at.Outcome), "text") + `,` + a.add(at.StatusCode, "integer") + `,` +
			a.add(at.Latency.Microseconds(), "bigint") + `,` + a.add(at.Response, "text") + `,` + a.add(at.Error, "text") + `,` +
			a.add(nullTime(at.NextAttemptAt), "timestamp") + `)`)
	}
	q.WriteString(`) INSERT INTO webhook_attempts (` + cols + `) SELECT ` + cols + ` FROM v
		WHERE EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.id = v.delivery_id)`)
	_, err := tx.ExecContext(ctx, q.String(), a.vals...)
	return err
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
