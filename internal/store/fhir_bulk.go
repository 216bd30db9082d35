package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/fhir"
)

// fhirTables lists every table of a datastore that holds a tenant's rows.
var fhirTables = []string{"idx_string", "idx_token", "idx_reference", "idx_date", "idx_number", "idx_uri", "resource_history", "resources"}

// ResourceTypes implements datastore.BulkBackend: the types the tenant has
// current resources of, in name order.
func (d *Datastore) ResourceTypes(ctx context.Context, tenant datastore.Tenant) ([]string, error) {
	release, err := d.slot(ctx, tenant)
	if err != nil {
		return nil, err
	}
	defer release()
	rows, err := d.db.sql.QueryContext(ctx, `SELECT DISTINCT type FROM resources WHERE tenant = $1 AND deleted = FALSE ORDER BY type`, string(tenant))
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

// ScanResources implements datastore.BulkBackend: a page of the tenant's
// current resources of typ with ids after after, in id order (keyset
// paging over the primary key, so every page costs the same), updated at
// or after since when it is set.
func (d *Datastore) ScanResources(ctx context.Context, tenant datastore.Tenant, typ string, since time.Time, after string, limit int) ([]datastore.Record, error) {
	release, err := d.slot(ctx, tenant)
	if err != nil {
		return nil, err
	}
	defer release()
	q := `SELECT ` + recordColumns + ` FROM resources WHERE tenant = $1 AND type = $2 AND id > $3 AND deleted = FALSE`
	args := []any{string(tenant), typ, after}
	if !since.IsZero() {
		q += ` AND last_updated >= $4`
		args = append(args, micros(since))
	}
	q += ` ORDER BY id LIMIT ` + itoa(limit)
	rows, err := d.db.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return scanRecords(rows)
}

// CountResources implements datastore.BulkBackend.
func (d *Datastore) CountResources(ctx context.Context, tenant datastore.Tenant, typ string, since time.Time) (int, error) {
	release, err := d.slot(ctx, tenant)
	if err != nil {
		return 0, err
	}
	defer release()
	q := `SELECT COUNT(*) FROM resources WHERE tenant = $1 AND type = $2 AND deleted = FALSE`
	args := []any{string(tenant), typ}
	if !since.IsZero() {
		q += ` AND last_updated >= $3`
		args = append(args, micros(since))
	}
	var n int
	err = d.db.sql.QueryRowContext(ctx, q, args...).Scan(&n)
	return n, err
}

// PurgeTenant implements datastore.BulkBackend: it deletes every resource,
// every stored version and every search-index row of tenant, in one
// transaction, and returns how many resources there were.
func (d *Datastore) PurgeTenant(ctx context.Context, tenant datastore.Tenant) (int64, error) {
	var n int64
	var release func()
	if d.cache != nil {
		d.cache.holdTenant(d.cacheID, tenant)
		release = func() { d.cache.releaseTenant(d.cacheID, tenant) }
	}
	fn, finish := d.invalidating(tenant, "", "", func(ctx context.Context, tx *sql.Tx) error {
		// n is read below only once the transaction has answered: a caller
		// that stopped waiting must not race the committer writing it.
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM resources WHERE tenant = $1`, string(tenant)).Scan(&n); err != nil {
			return err
		}
		for _, t := range fhirTables {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE tenant = $1`, string(tenant)); err != nil {
				return err
			}
		}
		return nil
	})
	err := d.write(ctx, fn, release)
	finish(ctx, err)
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Tenants implements datastore.BulkBackend.
func (d *Datastore) Tenants(ctx context.Context) ([]datastore.Tenant, error) {
	rows, err := d.db.sql.QueryContext(ctx, `SELECT DISTINCT tenant FROM resources ORDER BY tenant`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []datastore.Tenant
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out = append(out, datastore.Tenant(t))
	}
	return out, rows.Err()
}

// Reindex implements datastore.BulkBackend. The version check and the
// rewrite are one transaction, the row locked on PostgreSQL, so an update
// racing the reindex either comes after it (and rewrites the rows again)
// or before (and the reindex leaves its rows alone).
func (d *Datastore) Reindex(ctx context.Context, tenant datastore.Tenant, rec datastore.Record, idx []fhir.Value) (bool, error) {
	var done bool
	err := d.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		done = false // a batch that failed may run this again
		q := `SELECT version, deleted FROM resources WHERE tenant = $1 AND type = $2 AND id = $3`
		if d.db.dialect == Postgres {
			q += ` FOR UPDATE`
		}
		var version int
		var deleted bool
		switch err := tx.QueryRowContext(ctx, q, string(tenant), rec.Type, rec.ID).Scan(&version, &deleted); {
		case errors.Is(err, sql.ErrNoRows):
			return nil
		case err != nil:
			return err
		case version != rec.Version || deleted:
			return nil
		}
		if err := d.deleteIndex(ctx, tx, tenant, rec); err != nil {
			return err
		}
		if err := d.insertIndex(ctx, tx, tenant, rec, idx); err != nil {
			return err
		}
		done = true
		return nil
	}, nil)
	if err != nil {
		return false, err // done is read only once the transaction answered
	}
	return done, nil
}

var _ datastore.BulkBackend = (*Datastore)(nil)

// TenantRows counts every row of tenant in every table of the datastore
// (tests and operators check a purge with it).
func (d *Datastore) TenantRows(ctx context.Context, tenant datastore.Tenant) (int64, error) {
	var total int64
	for _, t := range fhirTables {
		var n int64
		if err := d.db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t+` WHERE tenant = $1`, string(tenant)).Scan(&n); err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}
