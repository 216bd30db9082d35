package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/billing"
)

var _ billing.Store = (*DB)(nil)

const billingSelect = `SELECT org_id, stripe_customer_id, stripe_subscription_id, status, current_period_end, cancel_at_period_end,
	payment_failed, overage, scheduled_plan, last_event_at, last_event_rank, last_event_id, last_invoice_event_at, synced_ticket, updated_at FROM org_billing`

func scanBilling(row interface{ Scan(...any) error }) (billing.State, error) {
	var s billing.State
	var cus, sub sql.NullString
	var cpe, last, lastInv sql.NullTime
	err := row.Scan(&s.OrgID, &cus, &sub, &s.Status, &cpe, &s.CancelAtPeriodEnd, &s.PaymentFailed, &s.Overage, &s.ScheduledPlan,
		&last, &s.LastEventRank, &s.LastEventID, &lastInv, &s.SyncedTicket, &s.UpdatedAt)
	s.CustomerID, s.SubscriptionID = cus.String, sub.String
	s.CurrentPeriodEnd, s.LastEventAt, s.LastInvoiceEventAt = cpe.Time, last.Time, lastInv.Time
	return s, err
}

// BillingState implements billing.Store.
func (db *DB) BillingState(ctx context.Context, orgID string) (billing.State, error) {
	s, err := scanBilling(db.sql.QueryRowContext(ctx, billingSelect+` WHERE org_id = $1`, orgID))
	if errors.Is(err, sql.ErrNoRows) {
		return billing.State{OrgID: orgID}, nil
	}
	return s, err
}

// SaveBillingState implements billing.Store. It leaves the event ordering
// (rank, id, synced ticket) to the webhook transaction (eventTx).
func (db *DB) SaveBillingState(ctx context.Context, s billing.State) error {
	if s.UpdatedAt.IsZero() {
		s.UpdatedAt = time.Now()
	}
	_, err := db.execWrite(ctx, `INSERT INTO org_billing (org_id, stripe_customer_id, stripe_subscription_id, status, current_period_end,
		cancel_at_period_end, payment_failed, overage, scheduled_plan, last_event_at, last_invoice_event_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (org_id) DO UPDATE SET stripe_customer_id = excluded.stripe_customer_id,
		stripe_subscription_id = excluded.stripe_subscription_id, status = excluded.status,
		current_period_end = excluded.current_period_end, cancel_at_period_end = excluded.cancel_at_period_end,
		payment_failed = excluded.payment_failed, overage = excluded.overage, scheduled_plan = excluded.scheduled_plan, last_event_at = excluded.last_event_at,
		last_invoice_event_at = excluded.last_invoice_event_at, updated_at = excluded.updated_at`,
		s.OrgID, nullString(s.CustomerID), nullString(s.SubscriptionID), s.Status, nullTime(s.CurrentPeriodEnd),
		s.CancelAtPeriodEnd, s.PaymentFailed, s.Overage, s.ScheduledPlan, nullTime(s.LastEventAt), nullTime(s.LastInvoiceEventAt), utc(s.UpdatedAt))
	return err
}

// OrgByCustomer implements billing.Store.
func (db *DB) OrgByCustomer(ctx context.Context, customerID string) (string, error) {
	var id string
	err := db.sql.QueryRowContext(ctx, `SELECT org_id FROM org_billing WHERE stripe_customer_id = $1`, customerID).Scan(&id)
	return id, notFound(err, "No organization has this Stripe customer.")
}

// OrgBySubscription implements billing.Store.
func (db *DB) OrgBySubscription(ctx context.Context, subscriptionID string) (string, error) {
	var id string
	err := db.sql.QueryRowContext(ctx, `SELECT org_id FROM org_billing WHERE stripe_subscription_id = $1 ORDER BY updated_at DESC LIMIT 1`, subscriptionID).Scan(&id)
	return id, notFound(err, "No organization has this Stripe subscription.")
}

// SetOrgPlan implements billing.Store.
func (db *DB) SetOrgPlan(ctx context.Context, orgID, planID string, now time.Time) error {
	res, err := db.execWrite(ctx, `UPDATE organizations SET plan = $1, updated_at = $2 WHERE id = $3`, planID, utc(now), orgID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound(sql.ErrNoRows, "Organization not found.")
	}
	return nil
}

// StripeEventSeen implements billing.Store.
func (db *DB) StripeEventSeen(ctx context.Context, id string) (bool, error) {
	var n int
	err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM stripe_events WHERE id = $1`, id).Scan(&n)
	return n > 0, err
}

// MarkStripeEvent records an event id as processed (outside a transaction).
func (db *DB) MarkStripeEvent(ctx context.Context, id, typ string, now time.Time) error {
	_, err := db.execWrite(ctx, `INSERT INTO stripe_events (id, type, processed_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`, id, typ, utc(now))
	return err
}

// SyncTicket implements billing.Store.
func (db *DB) SyncTicket(ctx context.Context, orgID string, now time.Time) (int64, error) {
	var n int64
	err := db.queryWrite(ctx, func(r *sql.Row) error { return r.Scan(&n) },
		`INSERT INTO org_billing (org_id, updated_at, sync_ticket) VALUES ($1, $2, 1)
		ON CONFLICT (org_id) DO UPDATE SET sync_ticket = org_billing.sync_ticket + 1 RETURNING sync_ticket`, orgID, utc(now))
	return n, err
}

// ApplyStripeEvent implements billing.Store. The claim is a plain insert
// under the primary key: on PostgreSQL a concurrent delivery of the same id
// waits for the first transaction and then finds the row (or, if that one
// rolled back, claims it); on SQLite transactions run one at a time.
func (db *DB) ApplyStripeEvent(ctx context.Context, id, typ string, now time.Time, fn func(billing.EventTx) error) (bool, error) {
	claimed := false
	err := db.tx(ctx, func(tx *sql.Tx) error {
		claimed = false
		res, err := tx.ExecContext(ctx, `INSERT INTO stripe_events (id, type, processed_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`, id, typ, utc(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		claimed = true
		return fn(eventTx{db: db, tx: tx, now: now})
	})
	if err != nil {
		return false, err
	}
	return claimed, nil
}

// UpdateBillingState implements billing.Store.
func (db *DB) UpdateBillingState(ctx context.Context, orgID string, now time.Time, fn func(*billing.State) error) (billing.State, error) {
	var st billing.State
	err := db.tx(ctx, func(tx *sql.Tx) error {
		t := eventTx{db: db, tx: tx, now: now}
		var err error
		if st, _, err = t.LockBillingState(ctx, orgID); err != nil {
			return err
		}
		if err := fn(&st); err != nil {
			return err
		}
		st.UpdatedAt = now
		return t.SaveBillingState(ctx, st)
	})
	return st, err
}

// eventTx implements billing.EventTx on one transaction.
type eventTx struct {
	db  *DB
	tx  *sql.Tx
	now time.Time
}

// LockBillingState implements billing.EventTx: FOR UPDATE on PostgreSQL;
// a SQLite transaction already excludes every other writer.
func (t eventTx) LockBillingState(ctx context.Context, orgID string) (billing.State, string, error) {
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO org_billing (org_id, updated_at) VALUES ($1, $2) ON CONFLICT (org_id) DO NOTHING`, orgID, utc(t.now)); err != nil {
		return billing.State{}, "", err
	}
	q := billingSelect + ` WHERE org_id = $1`
	if t.db.dialect == Postgres {
		q += ` FOR UPDATE`
	}
	s, err := scanBilling(t.tx.QueryRowContext(ctx, q, orgID))
	if err != nil {
		return billing.State{}, "", err
	}
	var planID string
	err = t.tx.QueryRowContext(ctx, `SELECT plan FROM organizations WHERE id = $1`, orgID).Scan(&planID)
	return s, planID, notFound(err, "Organization not found.")
}

// SaveBillingState implements billing.EventTx.
func (t eventTx) SaveBillingState(ctx context.Context, s billing.State) error {
	_, err := t.tx.ExecContext(ctx, `UPDATE org_billing SET stripe_customer_id = $2, stripe_subscription_id = $3, status = $4,
		current_period_end = $5, cancel_at_period_end = $6, payment_failed = $7, overage = $8, scheduled_plan = $9,
		last_event_at = $10, last_event_rank = $11, last_event_id = $12, last_invoice_event_at = $13, synced_ticket = $14, updated_at = $15
		WHERE org_id = $1`,
		s.OrgID, nullString(s.CustomerID), nullString(s.SubscriptionID), s.Status, nullTime(s.CurrentPeriodEnd), s.CancelAtPeriodEnd,
		s.PaymentFailed, s.Overage, s.ScheduledPlan, nullTime(s.LastEventAt), s.LastEventRank, s.LastEventID, nullTime(s.LastInvoiceEventAt),
		s.SyncedTicket, utc(s.UpdatedAt))
	return err
}

// SetOrgPlan implements billing.EventTx.
func (t eventTx) SetOrgPlan(ctx context.Context, orgID, planID string, now time.Time) error {
	_, err := t.tx.ExecContext(ctx, `UPDATE organizations SET plan = $1, updated_at = $2 WHERE id = $3`, planID, utc(now), orgID)
	return err
}

// InsertAuditEvent implements billing.EventTx.
func (t eventTx) InsertAuditEvent(ctx context.Context, e audit.Event) error {
	return t.db.appendAudit(ctx, t.tx, []audit.Event{e}, nil, true)
}

// OverageOrgs implements billing.Store.
func (db *DB) OverageOrgs(ctx context.Context) ([]billing.State, error) {
	rows, err := db.sql.QueryContext(ctx, billingSelect+` WHERE overage = TRUE OR org_id IN (SELECT org_id FROM billing_overage WHERE pending > 0) ORDER BY org_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []billing.State
	for rows.Next() {
		s, err := scanBilling(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// OverageState implements billing.Store.
func (db *DB) OverageState(ctx context.Context, orgID, period string) (billing.Overage, error) {
	o := billing.Overage{OrgID: orgID, Period: period}
	err := db.sql.QueryRowContext(ctx, `SELECT reported, seq, pending FROM billing_overage WHERE org_id = $1 AND period = $2`, orgID, period).
		Scan(&o.Reported, &o.Seq, &o.Pending)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	return o, err
}

// SaveOverage implements billing.Store.
func (db *DB) SaveOverage(ctx context.Context, o billing.Overage) error {
	_, err := db.execWrite(ctx, `INSERT INTO billing_overage (org_id, period, reported, seq, pending) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (org_id, period) DO UPDATE SET reported = excluded.reported, seq = excluded.seq, pending = excluded.pending`,
		o.OrgID, o.Period, o.Reported, o.Seq, o.Pending)
	return err
}

// InsertBAASignature implements billing.Store.
func (db *DB) InsertBAASignature(ctx context.Context, s billing.Signature) error {
	_, err := db.execWrite(ctx, `INSERT INTO baa_signatures (id, org_id, user_id, signer_name, signer_title, ip, document_version, signed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, s.ID, s.OrgID, s.UserID, s.Name, s.Title, s.IP, s.DocumentVersion, utc(s.SignedAt))
	return err
}

// LatestBAASignature implements billing.Store.
func (db *DB) LatestBAASignature(ctx context.Context, orgID string) (billing.Signature, error) {
	var s billing.Signature
	err := db.sql.QueryRowContext(ctx, `SELECT id, org_id, user_id, signer_name, signer_title, ip, document_version, signed_at
		FROM baa_signatures WHERE org_id = $1 ORDER BY signed_at DESC, id DESC LIMIT 1`, orgID).
		Scan(&s.ID, &s.OrgID, &s.UserID, &s.Name, &s.Title, &s.IP, &s.DocumentVersion, &s.SignedAt)
	return s, notFound(err, "No BAA has been signed.")
}

// InsertEnterpriseRequest implements billing.Store.
func (db *DB) InsertEnterpriseRequest(ctx context.Context, r billing.EnterpriseRequest) error {
	_, err := db.execWrite(ctx, `INSERT INTO enterprise_requests (id, org_id, user_id, message, created_at) VALUES ($1, $2, $3, $4, $5)`,
		r.ID, r.OrgID, r.UserID, r.Message, utc(r.CreatedAt))
	return err
}
