package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/fhir"
	"github.com/clinikapi/clinikapi/internal/store"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
)

func openDatastore(t *testing.T, engine string) *store.Datastore {
	t.Helper()
	d, err := store.OpenDatastore(context.Background(), storetest.DatabaseURL(t, engine), t.TempDir(), "test", storetest.DatastoreKey(engine), store.NewReadCache(64<<20), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestConcurrentWrites: many writers at once (batched into shared commits
// on SQLite) all land; of racing updates to one version exactly one wins
// and the others get Conflict, without undoing anyone else's write.
func TestConcurrentWrites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		d := openDatastore(t, engine)
		now := time.Now().UTC()
		rec := func(id string, v int) datastore.Record {
			return datastore.Record{Type: "Patient", ID: id, Version: v, LastUpdated: now, Content: []byte(`{"resourceType":"Patient","id":"` + id + `"}`)}
		}
		if err := d.Insert(ctx, "org_a", rec("shared", 1), nil); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, conflicts := 0, 0
		for i := 0; i < 40; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i%2 == 0 {
					if err := d.Insert(ctx, "org_a", rec(fmt.Sprintf("p%d", i), 1), nil); err != nil {
						t.Errorf("insert %d: %v", i, err)
					}
					return
				}
				err := d.Replace(ctx, "org_a", rec("shared", 2), 1, nil)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errs.Is(err, errs.Conflict):
					conflicts++
				default:
					t.Errorf("replace: %v", err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 || conflicts != 19 {
			t.Fatalf("racing updates: %d won, %d conflicted; want 1 and 19", wins, conflicts)
		}
		for i := 0; i < 40; i += 2 {
			if _, err := d.Get(ctx, "org_a", "Patient", fmt.Sprintf("p%d", i)); err != nil {
				t.Fatalf("insert %d lost: %v", i, err)
			}
		}
		h, err := d.History(ctx, "org_a", "Patient", "shared")
		if err != nil || len(h) != 2 {
			t.Fatalf("history of the raced resource: %d versions, %v", len(h), err)
		}
		if _, err := d.Get(ctx, "org_b", "Patient", "shared"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("another tenant read it: %v", err)
		}
	})
}

// TestSearchManyMatches: a condition matching more resources than the walk
// threshold returns the same pages, in the same order, as a selective one.
func TestSearchManyMatches(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		d := openDatastore(t, engine)
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := 0; i < 1300; i++ {
			fam := "walker"
			if i%100 == 0 {
				fam = "rare"
			}
			id := fmt.Sprintf("p%04d", i)
			r := datastore.Record{Type: "Patient", ID: id, Version: 1, LastUpdated: base.Add(time.Duration(i) * time.Second), Content: []byte(`{"resourceType":"Patient","id":"` + id + `"}`)}
			idx := []fhir.Value{{Param: "name", Type: fhir.String, Text: fam, Exact: fam}}
			if err := d.Insert(ctx, "org_a", r, idx); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.Insert(ctx, "org_b", datastore.Record{Type: "Patient", ID: "intruder", Version: 1, LastUpdated: base.Add(time.Hour), Content: []byte(`{}`)},
			[]fhir.Value{{Param: "name", Type: fhir.String, Text: "walker", Exact: "walker"}}); err != nil {
			t.Fatal(err)
		}
		q := func(text string, offset int) []string {
			recs, _, err := d.Search(ctx, "org_a", datastore.Query{Type: "Patient", Limit: 20, Offset: offset,
				Conditions: []datastore.Condition{{Param: "name", Type: fhir.String, Values: []datastore.Match{{Text: text}}}}})
			if err != nil {
				t.Fatal(err)
			}
			ids := make([]string, len(recs))
			for i, r := range recs {
				ids[i] = r.ID
			}
			return ids
		}
		first, second := q("walk", 0), q("walk", 20)
		if len(first) != 20 || first[0] != "p1299" || first[19] != "p1280" || second[0] != "p1279" {
			t.Fatalf("newest walkers: %v then %v", first, second)
		}
		for _, id := range append(first, second...) {
			if id == "intruder" || id[len(id)-2:] == "00" {
				t.Fatalf("wrong resource %s in the walker pages", id)
			}
		}
		rare := q("rare", 0)
		if len(rare) != 13 || rare[0] != "p1200" || rare[12] != "p0000" {
			t.Fatalf("rare ones: %v", rare)
		}
	})
}

// TestReindex: the rows of the current version are rewritten; a stale or
// deleted version is left alone; every tenant is listed.
func TestReindex(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		d := openDatastore(t, engine)
		rec := func(v int, deleted bool) datastore.Record {
			return datastore.Record{Type: "Patient", ID: "p1", Version: v, Deleted: deleted, LastUpdated: time.Unix(int64(v), 0),
				Content: []byte(`{"resourceType":"Patient","id":"p1"}`)}
		}
		name := func(s string) []fhir.Value {
			return []fhir.Value{{Param: "name", Type: fhir.String, Text: s, Exact: s}}
		}
		search := func(tenant datastore.Tenant, s string) int {
			t.Helper()
			recs, _, err := d.Search(ctx, tenant, datastore.Query{Type: "Patient", Limit: 10,
				Conditions: []datastore.Condition{{Param: "name", Type: fhir.String, Values: []datastore.Match{{Text: s}}}}})
			if err != nil {
				t.Fatal(err)
			}
			return len(recs)
		}
		if err := d.Insert(ctx, "org_a", rec(1, false), name("ada")); err != nil {
			t.Fatal(err)
		}
		if err := d.Insert(ctx, "org_b", rec(1, false), name("bob")); err != nil {
			t.Fatal(err)
		}
		if err := d.Replace(ctx, "org_a", rec(2, false), 1, name("ann")); err != nil {
			t.Fatal(err)
		}
		tenants, err := d.Tenants(ctx)
		if err != nil || fmt.Sprint(tenants) != "[org_a org_b]" {
			t.Fatalf("tenants: %v %v", tenants, err)
		}
		// Version 1 is stale: nothing changes.
		if done, err := d.Reindex(ctx, "org_a", rec(1, false), name("zed")); err != nil || done {
			t.Fatalf("reindex of a stale version: %v %v", done, err)
		}
		if search("org_a", "zed") != 0 || search("org_a", "ann") != 1 {
			t.Fatal("a stale reindex changed the index")
		}
		if done, err := d.Reindex(ctx, "org_a", rec(2, false), name("zed")); err != nil || !done {
			t.Fatalf("reindex of the current version: %v %v", done, err)
		}
		if search("org_a", "zed") != 1 || search("org_a", "ann") != 0 || search("org_b", "bob") != 1 || search("org_b", "zed") != 0 {
			t.Fatal("reindex did not replace exactly org_a's rows")
		}
		if err := d.Replace(ctx, "org_a", rec(3, true), 2, nil); err != nil {
			t.Fatal(err)
		}
		if done, err := d.Reindex(ctx, "org_a", rec(3, true), name("zed")); err != nil || done {
			t.Fatalf("reindex of a deleted resource: %v %v", done, err)
		}
		if n, err := d.TenantRows(ctx, "org_a"); err != nil || n != 4 { // the resource and its 3 versions
			t.Fatalf("org_a rows after reindexing a deleted resource: %d %v", n, err)
		}
	})
}

// TestDatastoreNames lists the datastores that exist, and only those.
func TestDatastoreNames(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		url, dir := storetest.DatabaseURL(t, engine), t.TempDir()
		for _, name := range []string{"test", "org_abc"} {
			d, err := store.OpenDatastore(ctx, url, dir, name, storetest.DatastoreKey(engine), nil, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			d.Close()
		}
		names, err := store.DatastoreNames(ctx, url, dir)
		if err != nil || fmt.Sprint(names) != "[org_abc test]" {
			t.Fatalf("datastores: %v %v", names, err)
		}
	})
}
