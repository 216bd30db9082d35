package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/fhir"
	"github.com/clinikapi/clinikapi/internal/store"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
	"github.com/clinikapi/clinikapi/internal/usage"
)

// TestAuditBatchesDoNotScanTheTrail (PostgreSQL): appending a batch of
// audit events looks its ids up by primary key even when the table's
// statistics were taken while it was nearly empty and never again (no
// autovacuum): PostgreSQL then estimates a few rows however large the
// trail has grown, and its existence check scanned all of it on every
// batch.
func TestAuditBatchesDoNotScanTheTrail(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, "postgres")
	// Two connections (a batch prepares its INSERT on a second one while
	// its transaction holds the first): the batches below run on them
	// over and over, where a cached plan would live.
	db.SQL().SetMaxOpenConns(2)
	now := time.Now().UTC()
	n := 0
	batch := func(size int) {
		t.Helper()
		es := make([]audit.Event, size)
		for i := range es {
			es[i] = chainEvent(fmt.Sprintf("org_%d", n%3), n, now)
			n++
		}
		if err := db.InsertAuditEvents(ctx, es); err != nil {
			t.Fatal(err)
		}
	}
	stats := func() (inserted, seqRead int64) {
		t.Helper()
		// Pending statistics of a connection are published at its next
		// transaction's end; poll until they show every insert.
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := db.SQL().ExecContext(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
				t.Fatal(err)
			}
			err := db.SQL().QueryRowContext(ctx, `SELECT n_tup_ins, seq_tup_read FROM pg_stat_user_tables
				WHERE schemaname = current_schema() AND relname = 'audit_events'`).Scan(&inserted, &seqRead)
			if err != nil {
				t.Fatal(err)
			}
			if inserted == int64(n) || time.Now().After(deadline) {
				return inserted, seqRead
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// Statistics taken while the trail was nearly empty (as a fresh
	// database's are, or after a bulk load analyzed it early on).
	batch(4)
	if _, err := db.SQL().ExecContext(ctx, `ANALYZE audit_events`); err != nil {
		t.Fatal(err)
	}
	_, before := stats()
	n0 := n
	// Grow it to 24,000 events in full batches.
	for range 120 {
		batch(audit.BatchSize)
	}
	inserted, after := stats()
	if inserted != int64(n) {
		t.Fatalf("statistics show %d inserts, want %d", inserted, n)
	}
	// A sequential scan per batch reads about 1.4 million rows here.
	if read := after - before; read > int64(n-n0) {
		t.Fatalf("appending %d batches read %d rows of audit_events sequentially: the existence check scans the trail", 120, read)
	}
	if r := verify(t, db); len(r.Problems) > 0 || r.Events != int64(n) {
		t.Fatalf("chains: %d events, problems %v; want %d events, none", r.Events, r.Problems, n)
	}
}

// TestAnalyzeCoversTheDatastoreOnly (PostgreSQL): analyzing a datastore
// after a bulk load leaves the control plane's tables, in the same
// database, to be analyzed when they have grown: statistics of a nearly
// empty audit trail taken in passing would stand for it from then on.
func TestAnalyzeCoversTheDatastoreOnly(t *testing.T) {
	ctx := context.Background()
	dsn := storetest.DatabaseURL(t, "postgres")
	dir := t.TempDir()
	control, err := store.Open(ctx, dsn, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer control.Close()
	if err := control.Migrate(ctx, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	d, err := store.OpenDatastore(ctx, dsn, dir, "test", nil, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rec := datastore.Record{Type: "Patient", ID: "p1", Version: 1, LastUpdated: time.Now().UTC(), Content: []byte(`{"resourceType":"Patient","id":"p1"}`)}
	if err := d.Insert(ctx, "org_a", rec, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.Analyze(ctx); err != nil {
		t.Fatal(err)
	}
	// reltuples is -1 until a table is first analyzed or vacuumed.
	reltuples := func(db *sql.DB, table string) float64 {
		t.Helper()
		var n float64
		if err := db.QueryRowContext(ctx, `SELECT reltuples FROM pg_class WHERE oid = to_regclass(current_schema() || '.' || $1)`, table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := reltuples(d.SQL(), "resources"); n != 1 {
		t.Fatalf("datastore resources: reltuples %v after Analyze, want 1", n)
	}
	for _, table := range []string{"audit_events", "usage_records", "disclosures"} {
		if n := reltuples(control.SQL(), table); n != -1 {
			t.Fatalf("control plane %s: reltuples %v after a datastore's Analyze, want -1 (never analyzed)", table, n)
		}
	}
}

// TestUsageSinceReadsTheNewRecordsOnly (PostgreSQL): the rollup's look-up
// of the oldest record past its watermark reads those records only. With
// the records' times in their own index and the planner unaware that ids
// and times rise together, it used to walk that index from the oldest
// record of the table, through every record already rolled up (600 ms a
// run on a benchmark's table of 400,000 records).
func TestUsageSinceReadsTheNewRecordsOnly(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, "postgres")
	db.SQL().SetMaxOpenConns(1)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	records := func(n int, from time.Time) {
		t.Helper()
		rs := make([]usage.Record, n)
		for i := range rs {
			rs[i] = usage.Record{Time: from.Add(time.Duration(i) * time.Second), OrgID: "org_1", KeyID: "key_1", Env: "test",
				Method: "GET", Route: "/v1/fhir/:type/:id", Status: 200, Latency: time.Millisecond}
		}
		if err := db.InsertUsage(ctx, rs); err != nil {
			t.Fatal(err)
		}
	}
	records(30000, at)
	watermark, _, _, err := db.UsageSince(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	newest := at.Add(30000 * time.Second)
	records(5000, newest)
	if _, err := db.SQL().ExecContext(ctx, `ANALYZE usage_records`); err != nil {
		t.Fatal(err)
	}
	timeIndexReads := func() int64 {
		t.Helper()
		// The connection's pending statistics are published at its next
		// transaction's end: one connection, flushed and read in turn.
		var n int64
		if _, err := db.SQL().ExecContext(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
			t.Fatal(err)
		}
		if err := db.SQL().QueryRowContext(ctx, `SELECT idx_tup_read FROM pg_stat_user_indexes
			WHERE schemaname = current_schema() AND indexrelname = 'usage_records_time'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := timeIndexReads()
	maxID, oldest, ok, err := db.UsageSince(ctx, watermark)
	if err != nil || !ok || maxID != watermark+5000 || !oldest.Equal(newest) {
		t.Fatalf("UsageSince: %d %v %v %v; want %d, %v", maxID, oldest, ok, err, watermark+5000, newest)
	}
	if read := timeIndexReads() - before; read > 5000 {
		t.Fatalf("the look-up read %d entries of the records' time index for 5,000 new records", read)
	}
}

// TestNameSearchFirstPageReadsThePageOnly (PostgreSQL): the first page of
// a three-letter name search reads its rows from the index ordered newest
// first within a prefix and stops at the page's end, instead of reading
// every match (here 1,500 patients named Smith): before statistics are
// taken and after.
func TestNameSearchFirstPageReadsThePageOnly(t *testing.T) {
	ctx := context.Background()
	// One connection: its pending statistics are flushed and read in turn.
	d := oneConnectionDatastore(t)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 1500
	for i := range n {
		id := fmt.Sprintf("p%04d", i)
		r := datastore.Record{Type: "Patient", ID: id, Version: 1, LastUpdated: at.Add(time.Duration(i) * time.Second), Content: []byte(`{"resourceType":"Patient","id":"` + id + `"}`)}
		if err := d.Insert(ctx, "org_a", r, []fhir.Value{{Param: "family", Type: fhir.String, Text: "smith", Exact: "Smith"}, {Param: "given", Type: fhir.String, Text: "ann", Exact: "Ann"}}); err != nil {
			t.Fatal(err)
		}
	}
	reads := func() (search, recent, scanned int64) {
		t.Helper()
		if _, err := d.SQL().ExecContext(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
			t.Fatal(err)
		}
		if err := d.SQL().QueryRowContext(ctx, `SELECT
			COALESCE(SUM(idx_tup_read) FILTER (WHERE indexrelname = 'idx_string_search'), 0),
			COALESCE(SUM(idx_tup_read) FILTER (WHERE indexrelname = 'idx_string_recent'), 0),
			(SELECT COALESCE(seq_tup_read, 0) FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = 'idx_string')
			FROM pg_stat_user_indexes WHERE schemaname = current_schema()`).Scan(&search, &recent, &scanned); err != nil {
			t.Fatal(err)
		}
		return search, recent, scanned
	}
	for _, analyzed := range []bool{false, true} {
		if analyzed {
			if err := d.Analyze(ctx); err != nil {
				t.Fatal(err)
			}
		}
		search0, recent0, scanned0 := reads()
		recs, _, err := d.Search(ctx, "org_a", datastore.Query{Type: "Patient", Limit: 20,
			Conditions: []datastore.Condition{{Param: "name", Type: fhir.String, Within: []string{"family", "given"}, Values: []datastore.Match{{Text: "smi"}}}}})
		if err != nil || len(recs) != 20 || recs[0].ID != fmt.Sprintf("p%04d", n-1) {
			t.Fatalf("analyzed %v: %d records (%v), want 20 from p%04d", analyzed, len(recs), err, n-1)
		}
		search, recent, scanned := reads()
		// Three streams (name, family, given) of at most 60 rows each, the
		// page's 20 among them; no other index, no scan of the table.
		if search-search0 != 0 || scanned-scanned0 != 0 || recent-recent0 < 20 || recent-recent0 > 3*60 {
			t.Fatalf("analyzed %v: the first page read %d rows of idx_string_search, %d of idx_string_recent and scanned %d of idx_string",
				analyzed, search-search0, recent-recent0, scanned-scanned0)
		}
	}
}

// TestReadsByIDArePlannedOnce (PostgreSQL): the statement that answers
// reads by id is planned once per connection and its plan reused, not
// planned afresh for every batch of reads (which PostgreSQL otherwise
// does: a plan for the batch's own arrays always looks cheaper than the
// generic one), and the setting that makes it so does not outlive the
// read, not even a failed one: the connection's other statements are
// planned as before.
func TestReadsByIDArePlannedOnce(t *testing.T) {
	ctx := context.Background()
	// One connection: the reads' prepared statement lives on it.
	d := oneConnectionDatastore(t)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		id := fmt.Sprintf("p%d", i)
		r := datastore.Record{Type: "Patient", ID: id, Version: 1, LastUpdated: at, Content: []byte(`{"resourceType":"Patient","id":"` + id + `"}`)}
		if err := d.Insert(ctx, "org_a", r, nil); err != nil {
			t.Fatal(err)
		}
	}
	const reads = 12
	for i := range reads {
		id := fmt.Sprintf("p%d", i%3)
		r, err := d.Get(ctx, "org_a", "Patient", id)
		if err != nil || r.ID != id {
			t.Fatalf("read %d: %+v, %v", i, r, err)
		}
	}
	var generic, custom int64
	var mode string
	if err := d.SQL().QueryRowContext(ctx, `SELECT generic_plans, custom_plans, current_setting('plan_cache_mode')
		FROM pg_prepared_statements WHERE statement LIKE 'SELECT k.n, r.type, r.id,%'`).Scan(&generic, &custom, &mode); err != nil {
		t.Fatal(err)
	}
	if custom != 0 || generic != reads || mode != "auto" {
		t.Fatalf("reads by id: %d generic plans, %d custom plans, plan_cache_mode %q afterwards; want %d, 0, auto", generic, custom, mode, reads)
	}
	// A read that fails inside PostgreSQL (an id with a NUL byte, which
	// text refuses) ends its setting too.
	if _, err := d.Get(ctx, "org_a", "Patient", "p\x00"); err == nil {
		t.Fatal("a read of an id with a NUL byte succeeded")
	}
	if err := d.SQL().QueryRowContext(ctx, `SELECT current_setting('plan_cache_mode')`).Scan(&mode); err != nil || mode != "auto" {
		t.Fatalf("after a failed read: plan_cache_mode %q (%v), want auto", mode, err)
	}
}

// oneConnectionDatastore opens a PostgreSQL datastore (no read cache) whose
// statements all run on one connection.
func oneConnectionDatastore(t *testing.T) *store.Datastore {
	t.Helper()
	d, err := store.OpenDatastore(context.Background(), storetest.DatabaseURL(t, "postgres"), t.TempDir(), "test", storetest.DatastoreKey("postgres"), nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	d.SQL().SetMaxOpenConns(1)
	return d
}
