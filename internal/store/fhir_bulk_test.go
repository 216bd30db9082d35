package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/fhir"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
)

// TestScanAndPurgeTenant: the keyset scan returns each current resource of
// a tenant once, across pages, honouring since; a purge removes every row
// of the tenant (resources, history, index) and nothing of another.
func TestScanAndPurgeTenant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		d := openDatastore(t, engine)
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		const n = datastore.ScanPage*2 + 7
		for i := range n {
			for _, tenant := range []datastore.Tenant{"org_a", "org_b"} {
				id := fmt.Sprintf("p%04d", i)
				rec := datastore.Record{Type: "Patient", ID: id, Version: 1, LastUpdated: t0.Add(time.Duration(i) * time.Second),
					Content: []byte(`{"resourceType":"Patient","id":"` + id + `"}`)}
				idx := []fhir.Value{{Param: "family", Type: fhir.String, Text: "smith", Exact: "Smith"}}
				if err := d.Insert(ctx, tenant, rec, idx); err != nil {
					t.Fatal(err)
				}
			}
		}
		// One deleted resource is not exported.
		gone := datastore.Record{Type: "Patient", ID: "p0000", Version: 2, LastUpdated: t0, Deleted: true, Content: []byte(`{}`)}
		if err := d.Replace(ctx, "org_a", gone, 1, nil); err != nil {
			t.Fatal(err)
		}
		s := datastore.New(d, nil, nil, nil)
		seen := map[string]bool{}
		err := s.Each(ctx, "org_a", "Patient", time.Time{}, func(r datastore.Record) error {
			if seen[r.ID] || r.Deleted {
				t.Fatalf("scan returned %s twice or deleted", r.ID)
			}
			seen[r.ID] = true
			return nil
		})
		if err != nil || len(seen) != n-1 {
			t.Fatalf("scan: %d of %d, %v", len(seen), n-1, err)
		}
		if c, _ := s.Count(ctx, "org_a", "Patient", t0.Add(1000*time.Second)); c != n-1000 {
			t.Fatalf("count since = %d, want %d", c, n-1000)
		}
		if types, _ := s.ResourceTypes(ctx, "org_a"); len(types) != 1 || types[0] != "Patient" {
			t.Fatalf("types %v", types)
		}
		before, _ := s.TenantRows(ctx, "org_b")
		removed, err := s.Purge(ctx, "org_a")
		if err != nil || removed != n {
			t.Fatalf("purge: %d, %v", removed, err)
		}
		if left, _ := s.TenantRows(ctx, "org_a"); left != 0 {
			t.Fatalf("%d rows of the purged tenant left", left)
		}
		if after, _ := s.TenantRows(ctx, "org_b"); after != before || after == 0 {
			t.Fatalf("the other tenant's rows went %d → %d", before, after)
		}
	})
}
