package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/records"
)

var _ records.MoveStore = (*DB)(nil)

// LiveDatastore returns the name of the datastore the organization's live
// data is in.
func (db *DB) LiveDatastore(ctx context.Context, orgID string) (string, error) {
	var name string
	err := db.sql.QueryRowContext(ctx, `SELECT live_datastore FROM organizations WHERE id = $1`, orgID).Scan(&name)
	return name, notFound(err, "Organization not found.")
}

// MovesDue implements records.MoveStore.
func (db *DB) MovesDue(ctx context.Context, dedicated []string) ([]string, error) {
	wantsOwn := "FALSE"
	args := []any{}
	if len(dedicated) > 0 {
		ph := make([]string, len(dedicated))
		for i, p := range dedicated {
			args = append(args, p)
			ph[i] = "$" + itoa(i+1)
		}
		wantsOwn = `o.plan IN (` + strings.Join(ph, ", ") + `)`
	}
	rows, err := db.sql.QueryContext(ctx, `SELECT o.id FROM organizations o LEFT JOIN datastore_moves m ON m.org_id = o.id
		WHERE NOT EXISTS (SELECT 1 FROM org_closures c WHERE c.org_id = o.id)
		AND (m.phase IN ('copying', 'fenced', 'switched') OR (`+wantsOwn+`) <> (o.live_datastore <> 'live'))
		ORDER BY o.id`, args...)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

// Placement implements records.MoveStore.
func (db *DB) Placement(ctx context.Context, orgID string) (planID, live string, err error) {
	err = db.sql.QueryRowContext(ctx, `SELECT plan, live_datastore FROM organizations WHERE id = $1`, orgID).Scan(&planID, &live)
	return planID, live, notFound(err, "Organization not found.")
}

// SetLiveDatastore implements records.MoveStore.
func (db *DB) SetLiveDatastore(ctx context.Context, orgID, name string, now time.Time) error {
	_, err := db.execWrite(ctx, `UPDATE organizations SET live_datastore = $1, updated_at = $2 WHERE id = $3`, name, utc(now), orgID)
	return err
}

// ClaimMove implements records.MoveStore; the organization's row of
// datastore_moves is made on the first claim.
func (db *DB) ClaimMove(ctx context.Context, orgID, holder string, now, until time.Time) (bool, error) {
	res, err := db.execWrite(ctx, `INSERT INTO datastore_moves (org_id, phase, lease_holder, lease_until, updated_at) VALUES ($1, 'idle', $2, $3, $4)
	ON CONFLICT (org_id) DO UPDATE SET lease_holder = excluded.lease_holder, lease_until = excluded.lease_until
	WHERE datastore_moves.lease_until IS NULL OR datastore_moves.lease_until < $4 OR datastore_moves.lease_holder = excluded.lease_holder`,
		orgID, holder, utc(until), utc(now))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// FindMove implements records.MoveStore.
func (db *DB) FindMove(ctx context.Context, orgID string) (records.Move, error) {
	m := records.Move{OrgID: orgID, Phase: records.MoveIdle}
	var started, switched, finished sql.NullTime
	err := db.sql.QueryRowContext(ctx, `SELECT source, target, phase, pass, cursor_type, cursor_id, total, checked, copied, error,
		started_at, switched_at, finished_at, updated_at FROM datastore_moves WHERE org_id = $1`, orgID).Scan(
		&m.From, &m.To, &m.Phase, &m.Pass, &m.Cursor.Type, &m.Cursor.ID, &m.Total, &m.Done, &m.Copied, &m.Error,
		&started, &switched, &finished, &m.UpdatedAt)
	if err == sql.ErrNoRows {
		return m, nil
	}
	m.StartedAt, m.SwitchedAt, m.FinishedAt = started.Time, switched.Time, finished.Time
	return m, err
}

// SaveMove implements records.MoveStore.
func (db *DB) SaveMove(ctx context.Context, m records.Move, holder string, until time.Time) error {
	res, err := db.execWrite(ctx, `UPDATE datastore_moves SET source = $3, target = $4, phase = $5, pass = $6, cursor_type = $7, cursor_id = $8,
		total = $9, checked = $10, copied = $11, error = $12, started_at = $13, switched_at = $14, finished_at = $15, updated_at = $16, lease_until = $17
		WHERE org_id = $1 AND lease_holder = $2`,
		m.OrgID, holder, m.From, m.To, m.Phase, m.Pass, m.Cursor.Type, m.Cursor.ID, m.Total, m.Done, m.Copied, m.Error,
		nullTime(m.StartedAt), nullTime(m.SwitchedAt), nullTime(m.FinishedAt), utc(m.UpdatedAt), utc(until))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.Conflict, "the move of this organization's data is claimed by another worker")
	}
	return nil
}

// ReleaseMove implements records.MoveStore.
func (db *DB) ReleaseMove(ctx context.Context, orgID, holder string) error {
	_, err := db.execWrite(ctx, `UPDATE datastore_moves SET lease_holder = '', lease_until = NULL WHERE org_id = $1 AND lease_holder = $2`, orgID, holder)
	return err
}
