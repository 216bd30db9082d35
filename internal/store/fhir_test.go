package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
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
			return searchIDs(t, d, datastore.Query{Type: "Patient", Limit: 20, Offset: offset,
				Conditions: []datastore.Condition{{Param: "name", Type: fhir.String, Values: []datastore.Match{{Text: text}}}}})
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

// searchIDs runs q as org_a and returns the ids found, in order.
func searchIDs(t *testing.T, d *store.Datastore, q datastore.Query) []string {
	t.Helper()
	recs, _, err := d.Search(context.Background(), "org_a", q)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	return ids
}

// TestNameSearchPagesWithRepeats: a resource that matches a string search
// by more than one of its strings (a family name and given names starting
// so) comes once, in its place, on whichever page it falls — the first
// page included, which PostgreSQL takes from the first matching rows when
// they hold it.
func TestNameSearchPagesWithRepeats(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		d := openDatastore(t, engine)
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var want []string // newest first
		for i := range 42 {
			id := fmt.Sprintf("p%02d", i)
			r := datastore.Record{Type: "Patient", ID: id, Version: 1, LastUpdated: base.Add(time.Duration(i) * time.Second), Content: []byte(`{"resourceType":"Patient","id":"` + id + `"}`)}
			family, givens := "smith", []string{"ann"}
			switch {
			case i >= 40:
				givens = []string{"smia", "smib", "smic", "smid", "smie"} // six matches each
			case i%7 == 3:
				family = "jones" // no match
			case i%5 == 1:
				givens = []string{"smithy"} // a second match
			}
			idx := []fhir.Value{{Param: "family", Type: fhir.String, Text: family, Exact: family}}
			for _, g := range givens {
				idx = append(idx, fhir.Value{Param: "given", Type: fhir.String, Text: g, Exact: g})
			}
			if err := d.Insert(ctx, "org_a", r, idx); err != nil {
				t.Fatal(err)
			}
			if family == "smith" {
				want = append([]string{id}, want...)
			}
		}
		search := func(limit, offset int) []string {
			t.Helper()
			return searchIDs(t, d, datastore.Query{Type: "Patient", Limit: limit, Offset: offset,
				Conditions: []datastore.Condition{{Param: "name", Type: fhir.String, Within: []string{"family", "given"}, Values: []datastore.Match{{Text: "smi"}}}}})
		}
		// p41 and p40, the newest, match six times each; p36 twice
		// (36%5 == 1), as one in five does.
		for _, limit := range []int{1, 2, 4, 7, 50} {
			var got []string
			for offset := 0; offset < len(want); offset += limit {
				page := search(limit, offset)
				if wantPage := want[offset:min(offset+limit, len(want))]; fmt.Sprint(page) != fmt.Sprint(wantPage) {
					t.Fatalf("limit %d offset %d: %v, want %v", limit, offset, page, wantPage)
				}
				got = append(got, page...)
			}
			if len(got) != len(want) {
				t.Fatalf("limit %d: %d matches over the pages, want %d", limit, len(got), len(want))
			}
		}
		if page := search(3, 3); fmt.Sprint(page) != fmt.Sprint(want[3:6]) {
			t.Fatalf("fourth to sixth: %v, want %v", page, want[3:6])
		}
	})
}

// TestNamePrefixFirstPages: every page of a name search is the page that
// sorting every match gives, for prefixes of two to five characters
// (three-character ones on PostgreSQL read their first rows per parameter
// in page order: name's own rows, family's and given's), several values at
// once, values whose first characters take more than one byte, values that
// overlap (both match one row), and resources matching by several names.
func TestNamePrefixFirstPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		d := openDatastore(t, engine)
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		families := []string{"smith", "smithers", "smit", "smyth", "jones", "núñez", "nuñez", "ñúñez", "ñúño"}
		givens := []string{"ann", "smitty", "jon", "ñúñi", "sam"}
		names, at := map[string][]string{}, map[string]int{}
		var ids []string
		for i := range 90 {
			id := fmt.Sprintf("p%02d", i)
			r := datastore.Record{Type: "Patient", ID: id, Version: 1, LastUpdated: base.Add(time.Duration(i/2) * time.Second), // ties, broken by id
				Content: []byte(`{"resourceType":"Patient","id":"` + id + `"}`)}
			family, given := families[i%len(families)], givens[(i/3)%len(givens)]
			idx := []fhir.Value{{Param: "family", Type: fhir.String, Text: family, Exact: family}, {Param: "given", Type: fhir.String, Text: given, Exact: given}}
			if i%5 == 0 { // a name's other parts are rows of name itself
				idx = append(idx, fhir.Value{Param: "name", Type: fhir.String, Text: "smitten", Exact: "Smitten"})
			}
			if err := d.Insert(ctx, "org_a", r, idx); err != nil {
				t.Fatal(err)
			}
			names[id], at[id] = []string{family, given}, i/2
			if i%5 == 0 {
				names[id] = append(names[id], "smitten")
			}
			ids = append(ids, id)
		}
		// Newest first; two resources share each time, the lower id first.
		sort.Slice(ids, func(i, j int) bool {
			a, b := at[ids[i]], at[ids[j]]
			return a > b || a == b && ids[i] < ids[j]
		})
		// name reads family and given; family alone is one stream a value.
		for _, cond := range []datastore.Condition{{Param: "name", Type: fhir.String, Within: []string{"family", "given"}}, {Param: "family", Type: fhir.String}} {
			for _, prefixes := range [][]string{{"smi"}, {"smit"}, {"smith"}, {"sm"}, {"smi", "smit"}, {"jon", "sam"}, {"ñúñ"}, {"núñ"}, {"ñú"}, {"smi", "ñúñe"}, {"zzz"}} {
				var want []string
				for _, id := range ids {
					searched := names[id]
					if cond.Param == "family" {
						searched = searched[:1]
					}
					for _, n := range searched {
						if slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(n, p) }) {
							want = append(want, id)
							break
						}
					}
				}
				c := cond
				for _, p := range prefixes {
					c.Values = append(c.Values, datastore.Match{Text: p})
				}
				for _, limit := range []int{1, 3, 10, 100} {
					for offset := 0; offset < max(len(want), 1); offset += limit {
						page := searchIDs(t, d, datastore.Query{Type: "Patient", Limit: limit, Offset: offset, Conditions: []datastore.Condition{c}})
						if wantPage := want[min(offset, len(want)):min(offset+limit, len(want))]; fmt.Sprint(page) != fmt.Sprint(wantPage) {
							t.Fatalf("%s=%s, limit %d offset %d: %v, want %v", c.Param, strings.Join(prefixes, ","), limit, offset, page, wantPage)
						}
					}
				}
			}
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

// TestCreateBatches: creates that arrive together are written together
// (one transaction per batch on PostgreSQL, one commit on SQLite), and each
// still gets its own answer: every index row of every kind and every
// outbox event of the written ones lands once, with its own values; a
// create whose id exists gets Conflict and a fenced tenant's create gets
// ErrFenced, and neither takes the rest of its batch down with it nor
// leaves anything behind.
func TestCreateBatches(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		d := openDatastore(t, engine)
		at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
		rec := func(id string) datastore.Record {
			return datastore.Record{Type: "Observation", ID: id, Version: 1, LastUpdated: at,
				Content: []byte(`{"resourceType":"Observation","id":"` + id + `"}`),
				Outbox:  []byte(`audit ` + id), Webhook: []byte(`webhook ` + id)}
		}
		idx := func(id string) []fhir.Value {
			return []fhir.Value{
				{Param: "note", Type: fhir.String, Text: "text " + id, Exact: "Text " + id},
				{Param: "code", Type: fhir.Token, System: "http://loinc.org", Code: "code-" + id},
				{Param: "code", Type: fhir.Token, System: "http://snomed.info/sct", Code: "sct-" + id},
				{Param: "subject", Type: fhir.Reference, RefType: "Patient", RefID: "pt-" + id, URL: "Patient/pt-" + id},
				{Param: "date", Type: fhir.Date, Start: at, End: at.Add(time.Hour)},
				{Param: "value-quantity", Type: fhir.Quantity, Number: 7.25, System: "http://unitsofmeasure.org", Code: "mg"},
				{Param: "url", Type: fhir.URI, URL: "http://example.org/" + id},
				{Param: "_id", Type: fhir.Token, Code: id}, // answered by the resources table: no row
			}
		}
		if err := d.Insert(ctx, "org_a", rec("taken"), idx("taken")); err != nil {
			t.Fatal(err)
		}
		if err := d.SetFence(ctx, "org_fenced", true); err != nil {
			t.Fatal(err)
		}
		drainOutboxes(t, d)

		// On PostgreSQL the first batches wait until every create below is
		// queued, so that the rest go in as one batch.
		const writers = 24
		var mu sync.Mutex
		var sizes []int
		release := make(chan struct{})
		batched := d.HoldCreateBatches(func(n int) {
			mu.Lock()
			first := len(sizes) < store.MaxCreateBatches
			sizes = append(sizes, n)
			mu.Unlock()
			if first {
				<-release
			}
		})
		type result struct {
			id  string
			err error
		}
		results := make(chan result, writers)
		var wg sync.WaitGroup
		for i := range writers {
			tenant, id := datastore.Tenant("org_a"), fmt.Sprintf("o%02d", i)
			switch i {
			case 5:
				id = "taken"
			case 9, 10:
				tenant, id = "org_fenced", fmt.Sprintf("f%02d", i)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				results <- result{id, d.Insert(ctx, tenant, rec(id), idx(id))}
			}()
		}
		if batched {
			deadline := time.Now().Add(10 * time.Second)
			for d.QueueStats().Held < writers && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond) // the last holders reach the queue
		}
		close(release)
		wg.Wait()
		close(results)

		written := map[string]bool{}
		for r := range results {
			switch r.id {
			case "taken":
				if !errs.Is(r.err, errs.Conflict) {
					t.Errorf("create of an existing id: %v, want Conflict", r.err)
				}
			case "f09", "f10":
				if r.err != datastore.ErrFenced {
					t.Errorf("create of a fenced tenant: %v, want ErrFenced", r.err)
				}
			default:
				if r.err != nil {
					t.Errorf("create %s: %v", r.id, r.err)
				}
				written[r.id] = true
			}
		}
		if len(written) != writers-3 {
			t.Fatalf("%d creates written, want %d", len(written), writers-3)
		}
		if batched {
			mu.Lock()
			// The held batches took what came first; every create queued
			// behind them goes in one batch.
			held, largest := 0, 0
			for i, n := range sizes {
				if i < store.MaxCreateBatches {
					held += n
				} else {
					largest = max(largest, n)
				}
			}
			mu.Unlock()
			if largest < writers-held {
				t.Errorf("batch sizes %v: the queued creates did not go in one batch", sizes)
			}
		}

		db := d.SQL()
		for id := range written {
			got, err := d.Get(ctx, "org_a", "Observation", id)
			if err != nil || string(got.Content) != string(rec(id).Content) || got.Version != 1 || !got.LastUpdated.Equal(at) {
				t.Fatalf("read %s back: %+v, %v", id, got, err)
			}
			h, err := d.History(ctx, "org_a", "Observation", id)
			if err != nil || len(h) != 1 {
				t.Fatalf("history of %s: %d versions, %v", id, len(h), err)
			}
			checkRows(t, db, id, map[string]string{
				"idx_string":    "note|text " + id + "|Text " + id,
				"idx_token":     "code|http://loinc.org|code-" + id + ";code|http://snomed.info/sct|sct-" + id,
				"idx_reference": "subject|Patient|pt-" + id + "|Patient/pt-" + id,
				"idx_date":      fmt.Sprintf("date|%d|%d", at.UnixMicro(), at.Add(time.Hour).UnixMicro()),
				"idx_number":    "value-quantity|7.25|http://unitsofmeasure.org|mg",
				"idx_uri":       "url|http://example.org/" + id,
			})
		}
		// The refused creates left nothing: the existing one is as it was,
		// the fenced tenant has no resource.
		if h, err := d.History(ctx, "org_a", "Observation", "taken"); err != nil || len(h) != 1 {
			t.Fatalf("history of the existing resource: %d versions, %v", len(h), err)
		}
		checkRows(t, db, "taken", map[string]string{"idx_uri": "url|http://example.org/taken"})
		for _, id := range []string{"f09", "f10"} {
			if _, err := d.Get(ctx, "org_fenced", "Observation", id); !errs.Is(err, errs.NotFound) {
				t.Fatalf("the fenced tenant's create %s was written: %v", id, err)
			}
		}
		var rows int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM idx_token WHERE tenant = 'org_fenced'`).Scan(&rows); err != nil || rows != 0 {
			t.Fatalf("the fenced tenant's index rows: %d, %v", rows, err)
		}

		// Each written create's events, once each; none of the refused ones'.
		var wantAudit, wantWebhook []string
		for id := range written {
			wantAudit, wantWebhook = append(wantAudit, "audit "+id), append(wantWebhook, "webhook "+id)
		}
		audit, webhook := drainOutboxes(t, d)
		for _, c := range []struct {
			name      string
			got, want []string
		}{{"audit", audit, wantAudit}, {"webhook", webhook, wantWebhook}} {
			sort.Strings(c.got)
			sort.Strings(c.want)
			if strings.Join(c.got, ",") != strings.Join(c.want, ",") {
				t.Errorf("%s outbox: %v, want %v", c.name, c.got, c.want)
			}
		}
	})
}

// checkRows compares the index rows of resource id (org_a's Observation)
// in each table with want: param and the table's own columns joined by |,
// rows sorted and joined by ;.
func checkRows(t *testing.T, db *sql.DB, id string, want map[string]string) {
	t.Helper()
	cols := map[string]string{
		"idx_string": "text, exact", "idx_token": "system, code", "idx_reference": "ref_type, ref_id, url",
		"idx_date": "start_at, end_at", "idx_number": "value, system, code", "idx_uri": "url",
	}
	for table, w := range want {
		rows, err := db.QueryContext(context.Background(), `SELECT param, `+cols[table]+` FROM `+table+` WHERE tenant = 'org_a' AND type = 'Observation' AND id = $1`, id)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			vals := make([]any, strings.Count(cols[table], ",")+2)
			ptrs := make([]any, len(vals))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			parts := make([]string, len(vals))
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				parts[i] = fmt.Sprint(v)
			}
			got = append(got, strings.Join(parts, "|"))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		sort.Strings(got)
		if strings.Join(got, ";") != w {
			t.Errorf("%s rows of %s: %q, want %q", table, id, strings.Join(got, ";"), w)
		}
	}
}

// drainOutboxes empties the datastore's audit and webhook outboxes and
// returns their events.
func drainOutboxes(t *testing.T, d *store.Datastore) (audit, webhook []string) {
	t.Helper()
	ctx := context.Background()
	for _, o := range []struct {
		events func(context.Context, int) ([]datastore.OutboxEvent, error)
		del    func(context.Context, []int64) error
		out    *[]string
	}{{d.OutboxEvents, d.DeleteOutbox, &audit}, {d.WebhookEvents, d.DeleteWebhookEvents, &webhook}} {
		for {
			evs, err := o.events(ctx, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) == 0 {
				break
			}
			var seqs []int64
			for _, e := range evs {
				*o.out = append(*o.out, string(e.Event))
				seqs = append(seqs, e.Seq)
			}
			if err := o.del(ctx, seqs); err != nil {
				t.Fatal(err)
			}
		}
	}
	return audit, webhook
}
