package datastore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/fhir"
)

// Version is where one resource stands: its current version and whether
// that version records its deletion.
type Version struct {
	Ref
	Version int
	Deleted bool
}

// MoveBackend is what moving a tenant's data between datastores needs of
// a backend, on top of Backend. Every method is scoped to the tenant.
type MoveBackend interface {
	// Versions returns the tenant's resources (deleted ones too) with keys
	// (type, id) after after and, when through is set, up to through, in
	// key order; at most limit of them (0: no limit).
	Versions(ctx context.Context, tenant Tenant, after, through Ref, limit int) ([]Version, error)
	// PutResource replaces, in one transaction, everything the datastore
	// keeps of one resource (current row, every version, index rows) with
	// versions (oldest first; the last is the current one) and idx, the
	// index values of the current one. No versions removes the resource.
	PutResource(ctx context.Context, tenant Tenant, ref Ref, versions []Record, idx []fhir.Value) error
	// SetFence refuses (on) or allows again the tenant's writes. Setting
	// it waits for the writes already running.
	SetFence(ctx context.Context, tenant Tenant, on bool) error
	// Rows counts the tenant's current resources and stored versions.
	Rows(ctx context.Context, tenant Tenant) (resources, versions int64, err error)
}

// ErrFenced is the answer to a write of a tenant whose data is in the
// last step of a move to another datastore: a moment later it goes to
// the new one.
var ErrFenced = &errs.Error{Code: errs.Unavailable, RetryAfter: time.Second,
	Message: "This organization's data is being moved to another datastore; writes resume within seconds. Retry shortly."}

func (s *Store) mover() (MoveBackend, error) {
	b, ok := s.backend.(MoveBackend)
	if !ok {
		return nil, errors.New("datastore: the backend cannot move data")
	}
	return b, nil
}

// Versions lists where the tenant's resources stand (see MoveBackend).
func (s *Store) Versions(ctx context.Context, tenant Tenant, after, through Ref, limit int) ([]Version, error) {
	b, err := s.mover()
	if err != nil {
		return nil, err
	}
	return b.Versions(ctx, tenant, after, through, limit)
}

// SetFence refuses or allows again the tenant's writes (ErrFenced).
func (s *Store) SetFence(ctx context.Context, tenant Tenant, on bool) error {
	b, err := s.mover()
	if err != nil {
		return err
	}
	return b.SetFence(ctx, tenant, on)
}

// Rows counts the tenant's current resources and stored versions.
func (s *Store) Rows(ctx context.Context, tenant Tenant) (resources, versions int64, err error) {
	b, err := s.mover()
	if err != nil {
		return 0, 0, err
	}
	return b.Rows(ctx, tenant)
}

// CopyFrom makes this datastore's copy of one resource of tenant the same
// as src's: every version, byte for byte, the current one and its index
// rows (extracted again with this datastore's rules). A resource src no
// longer has is removed.
func (s *Store) CopyFrom(ctx context.Context, tenant Tenant, src *Store, ref Ref) error {
	if tenant == "" {
		return errNoTenant
	}
	dst, err := s.mover()
	if err != nil {
		return err
	}
	hist, err := src.backend.History(ctx, tenant, ref.Type, ref.ID)
	if err != nil {
		return err
	}
	versions := make([]Record, len(hist))
	for i, r := range hist { // newest first → oldest first
		versions[len(hist)-1-i] = r
	}
	var idx []fhir.Value
	if n := len(versions); n > 0 && !versions[n-1].Deleted {
		res, err := Decode(versions[n-1])
		if err != nil {
			return fmt.Errorf("copy %s/%s: %w", ref.Type, ref.ID, err)
		}
		if idx, err = s.index.Extract(res); err != nil {
			return fmt.Errorf("copy %s/%s: %w", ref.Type, ref.ID, err)
		}
		idx = s.index.Compact(ref.Type, idx)
	}
	return dst.PutResource(ctx, tenant, ref, versions, idx)
}

// SyncStats counts what one pass of Sync found.
type SyncStats struct {
	Checked    int64 // resources of src looked at
	Mismatched int64 // resources whose copy differed (and were copied, with copy)
}

// Sync compares, resource by resource in key order from after on, where
// tenant's resources stand in src and in dst (version, deleted), and with
// copy makes dst's copy of each one that differs the same as src's
// (CopyFrom); a resource dst has and src has not is removed. progress is
// called after each page with the last key done and the figures so far,
// so that a pass stopped half-way can resume from there; its error stops
// the pass.
func Sync(ctx context.Context, tenant Tenant, src, dst *Store, after Ref, copy bool, progress func(after Ref, st SyncStats) error) (SyncStats, error) {
	var st SyncStats
	fix := func(ref Ref) error {
		st.Mismatched++
		if !copy {
			return nil
		}
		return dst.CopyFrom(ctx, tenant, src, ref)
	}
	for {
		page, err := src.Versions(ctx, tenant, after, Ref{}, ScanPage)
		if err != nil {
			return st, err
		}
		var through Ref // zero on the last page: dst's keys past src's last are extra
		if len(page) == ScanPage {
			through = page[len(page)-1].Ref
		}
		theirs, err := dst.Versions(ctx, tenant, after, through, 0)
		if err != nil {
			return st, err
		}
		have := make(map[Ref]Version, len(theirs))
		for _, v := range theirs {
			have[v.Ref] = v
		}
		for _, v := range page {
			st.Checked++
			if got, ok := have[v.Ref]; !ok || got != v {
				if err := fix(v.Ref); err != nil {
					return st, err
				}
			}
			delete(have, v.Ref)
		}
		for ref := range have { // in dst only
			if err := fix(ref); err != nil {
				return st, err
			}
		}
		if len(page) > 0 {
			after = page[len(page)-1].Ref
		}
		if progress != nil {
			if err := progress(after, st); err != nil {
				return st, err
			}
		}
		if len(page) < ScanPage {
			return st, nil
		}
	}
}
