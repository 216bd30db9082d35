package datastore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/clinikapi/clinikapi/internal/fhir"
)

// BulkBackend is what bulk export and organization deletion need of a
// backend, on top of Backend. Every method is scoped to the tenant.
type BulkBackend interface {
	// ResourceTypes lists the types tenant has current resources of.
	ResourceTypes(ctx context.Context, tenant Tenant) ([]string, error)
	// ScanResources returns up to limit current resources of typ with ids
	// after after, in id order, updated at or after since (when set).
	ScanResources(ctx context.Context, tenant Tenant, typ string, since time.Time, after string, limit int) ([]Record, error)
	// CountResources counts the current resources ScanResources would return.
	CountResources(ctx context.Context, tenant Tenant, typ string, since time.Time) (int, error)
	// PurgeTenant deletes every resource, version and index row of tenant.
	PurgeTenant(ctx context.Context, tenant Tenant) (int64, error)
	// TenantRows counts tenant's rows in every table.
	TenantRows(ctx context.Context, tenant Tenant) (int64, error)
	// Tenants lists every tenant with resources in the datastore (for
	// maintenance that spans them, such as Reindex).
	Tenants(ctx context.Context) ([]Tenant, error)
	// Reindex replaces the search-index rows of rec with idx if rec is
	// still tenant's current version; false (and nothing written) if it
	// changed meanwhile, in which case that change indexed it.
	Reindex(ctx context.Context, tenant Tenant, rec Record, idx []fhir.Value) (bool, error)
}

var errNoBulk = errors.New("datastore: the backend does not support bulk operations")

func (s *Store) bulk() (BulkBackend, error) {
	b, ok := s.backend.(BulkBackend)
	if !ok {
		return nil, errNoBulk
	}
	return b, nil
}

// ScanPage is how many resources one page of a scan reads.
const ScanPage = 500

// ResourceTypes lists the types tenant has current resources of.
func (s *Store) ResourceTypes(ctx context.Context, tenant Tenant) ([]string, error) {
	b, err := s.bulk()
	if err != nil {
		return nil, err
	}
	return b.ResourceTypes(ctx, tenant)
}

// Each calls fn with every current resource of typ in tenant updated at or
// after since (zero: all), page by page, so memory stays flat whatever the
// number of resources. fn's error stops the scan and is returned.
func (s *Store) Each(ctx context.Context, tenant Tenant, typ string, since time.Time, fn func(Record) error) error {
	if tenant == "" {
		return errNoTenant
	}
	b, err := s.bulk()
	if err != nil {
		return err
	}
	after := ""
	for {
		page, err := b.ScanResources(ctx, tenant, typ, since, after, ScanPage)
		if err != nil {
			return err
		}
		for _, r := range page {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(page) < ScanPage {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

// Count counts the current resources of typ in tenant updated at or after
// since (zero: all).
func (s *Store) Count(ctx context.Context, tenant Tenant, typ string, since time.Time) (int, error) {
	if tenant == "" {
		return 0, errNoTenant
	}
	b, err := s.bulk()
	if err != nil {
		return 0, err
	}
	return b.CountResources(ctx, tenant, typ, since)
}

var errNoTenant = errors.New("datastore: no tenant")

// Purge permanently deletes everything tenant has in this datastore:
// resources, history and search-index rows. It returns the number of
// resources removed.
func (s *Store) Purge(ctx context.Context, tenant Tenant) (int64, error) {
	if tenant == "" {
		return 0, errNoTenant
	}
	b, err := s.bulk()
	if err != nil {
		return 0, err
	}
	return b.PurgeTenant(ctx, tenant)
}

// TenantRows counts tenant's rows in every table of this datastore.
func (s *Store) TenantRows(ctx context.Context, tenant Tenant) (int64, error) {
	b, err := s.bulk()
	if err != nil {
		return 0, err
	}
	return b.TenantRows(ctx, tenant)
}

// ReindexStats counts what Reindex did.
type ReindexStats struct {
	Resources int // current resources whose index rows were rewritten
	Rows      int // index rows written for them
	Skipped   int // changed while the reindex ran (the change indexed them)
}

// Reindex rewrites the search-index rows of every current resource of
// every tenant from its stored content, with this server's rules:
// after a change of the index rules, and to roll back to a server version
// that indexes each value under every parameter (everyParameter: no
// Compact; see fhir.SearchParam.Within). It runs beside a serving server:
// a resource written meanwhile is skipped, its write having indexed it.
func (s *Store) Reindex(ctx context.Context, everyParameter bool) (ReindexStats, error) {
	var st ReindexStats
	b, err := s.bulk()
	if err != nil {
		return st, err
	}
	tenants, err := b.Tenants(ctx)
	if err != nil {
		return st, err
	}
	for _, tenant := range tenants {
		types, err := b.ResourceTypes(ctx, tenant)
		if err != nil {
			return st, err
		}
		for _, typ := range types {
			err := s.Each(ctx, tenant, typ, time.Time{}, func(rec Record) error {
				var res fhir.Resource
				if err := json.Unmarshal(rec.Content, &res); err != nil {
					return fmt.Errorf("reindex %s/%s: %w", rec.Type, rec.ID, err)
				}
				idx, err := s.index.Extract(res)
				if err != nil {
					return fmt.Errorf("reindex %s/%s: %w", rec.Type, rec.ID, err)
				}
				if !everyParameter {
					idx = s.index.Compact(rec.Type, idx)
				}
				done, err := b.Reindex(ctx, tenant, rec, idx)
				switch {
				case err != nil:
					return fmt.Errorf("reindex %s/%s: %w", rec.Type, rec.ID, err)
				case done:
					st.Resources++
					st.Rows += len(idx)
				default:
					st.Skipped++
				}
				return nil
			})
			if err != nil {
				return st, err
			}
		}
	}
	return st, nil
}
