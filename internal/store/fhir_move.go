package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/fhir"
)

var _ datastore.MoveBackend = (*Datastore)(nil)

// fenced reports whether tenant's writes are refused (datastore.ErrFenced)
// as the first statement of a write's transaction. On PostgreSQL the
// check holds a shared advisory lock on the tenant until the write
// commits, so SetFence waits for the writes already past it (see the
// tenant_fenced function); SQLite runs one write transaction at a time.
func (d *Datastore) fenced(ctx context.Context, tx *sql.Tx, tenant datastore.Tenant) error {
	q := `SELECT EXISTS (SELECT 1 FROM tenant_fences WHERE tenant = $1)`
	if d.db.dialect == Postgres {
		q = `SELECT tenant_fenced($1)`
	}
	var on bool
	var err error
	if d.writes != nil {
		st, perr := d.db.prepared(ctx, q, func() string { return q })
		if perr != nil {
			return perr
		}
		err = tx.StmtContext(ctx, st).QueryRowContext(ctx, string(tenant)).Scan(&on)
	} else {
		err = tx.QueryRowContext(ctx, q, string(tenant)).Scan(&on)
	}
	if err != nil {
		return err
	}
	if on {
		return datastore.ErrFenced
	}
	return nil
}

// SetFence implements datastore.MoveBackend.
func (d *Datastore) SetFence(ctx context.Context, tenant datastore.Tenant, on bool) error {
	return d.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if !on {
			_, err := tx.ExecContext(ctx, `DELETE FROM tenant_fences WHERE tenant = $1`, string(tenant))
			return err
		}
		if d.db.dialect == Postgres {
			// Waits for the writes holding the shared lock (tenant_fenced).
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('clinikapi.fence'), hashtext($1))`, string(tenant)); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO tenant_fences (tenant, since) VALUES ($1, $2) ON CONFLICT (tenant) DO NOTHING`,
			string(tenant), time.Now().UnixMicro())
		return err
	}, nil)
}

// Versions implements datastore.MoveBackend: keyset paging over the
// primary key (tenant, type, id).
func (d *Datastore) Versions(ctx context.Context, tenant datastore.Tenant, after, through datastore.Ref, limit int) ([]datastore.Version, error) {
	q := `SELECT type, id, version, deleted FROM resources WHERE tenant = $1 AND (type > $2 OR (type = $2 AND id > $3))`
	args := []any{string(tenant), after.Type, after.ID}
	if through != (datastore.Ref{}) {
		q += ` AND (type < $4 OR (type = $4 AND id <= $5))`
		args = append(args, through.Type, through.ID)
	}
	q += ` ORDER BY type, id`
	if limit > 0 {
		q += ` LIMIT ` + itoa(limit)
	}
	rows, err := d.db.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []datastore.Version
	for rows.Next() {
		var v datastore.Version
		if err := rows.Scan(&v.Type, &v.ID, &v.Version, &v.Deleted); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// PutResource implements datastore.MoveBackend.
func (d *Datastore) PutResource(ctx context.Context, tenant datastore.Tenant, ref datastore.Ref, versions []datastore.Record, idx []fhir.Value) error {
	cur := datastore.Record{Type: ref.Type, ID: ref.ID}
	fn, finish := d.invalidating(tenant, ref.Type, ref.ID, func(ctx context.Context, tx *sql.Tx) error {
		if err := d.deleteIndex(ctx, tx, tenant, cur); err != nil {
			return err
		}
		for _, t := range []string{"resource_history", "resources"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE tenant = $1 AND type = $2 AND id = $3`, string(tenant), ref.Type, ref.ID); err != nil {
				return err
			}
		}
		if len(versions) == 0 {
			return nil
		}
		for _, v := range versions {
			if err := d.insertHistory(ctx, tx, tenant, v); err != nil {
				return err
			}
		}
		last := versions[len(versions)-1]
		if _, err := d.exec(ctx, tx, true, `INSERT INTO resources (tenant, `+recordColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			string(tenant), last.Type, last.ID, last.Version, last.LastUpdated.UnixMicro(), last.Deleted, string(last.Content)); err != nil {
			return err
		}
		if last.Deleted {
			return nil
		}
		return d.insertIndex(ctx, tx, tenant, last, idx)
	})
	err := d.write(ctx, fn, d.hold(tenant, cur))
	finish(ctx, err)
	return err
}

// Rows implements datastore.MoveBackend.
func (d *Datastore) Rows(ctx context.Context, tenant datastore.Tenant) (resources, versions int64, err error) {
	err = d.db.sql.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM resources WHERE tenant = $1), (SELECT COUNT(*) FROM resource_history WHERE tenant = $1)`,
		string(tenant)).Scan(&resources, &versions)
	return resources, versions, err
}
