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

// pgInstance is one app instance's view of a PostgreSQL datastore: its
// own pools, read cache and cache sync.
type pgInstance struct {
	d    *store.Datastore
	sync *store.CacheSync
	db   *store.DB
}

func openPGInstance(t *testing.T, ctx context.Context, dsn string) *pgInstance {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	db, err := store.OpenPostgres(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cache := store.NewReadCache(1 << 20)
	s := store.NewCacheSync(db, dsn, cache, log)
	d, err := store.OpenDatastore(ctx, dsn, "", "cx", nil, cache, log)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { s.Run(runCtx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		d.Close()
		db.Close()
	})
	return &pgInstance{d: d, sync: s, db: db}
}

// waitHealthy waits until the instance serves cached reads.
func (in *pgInstance) waitHealthy(t *testing.T) {
	t.Helper()
	for start := time.Now(); !in.sync.Healthy(); time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatal("the read cache never became healthy")
		}
	}
}

// cutListener terminates the instance's listening connection.
func (in *pgInstance) cutListener(t *testing.T, ctx context.Context) {
	t.Helper()
	var n int
	if err := in.db.SQL().QueryRowContext(ctx, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`,
		in.sync.ListenerName()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("terminated %d listening connections, want 1", n)
	}
}

func pgPatient(id string, v int) datastore.Record {
	return datastore.Record{Type: "Patient", ID: id, Version: v, LastUpdated: time.Unix(int64(v), 0).UTC(),
		Content: []byte(fmt.Sprintf(`{"resourceType":"Patient","id":%q,"meta":{"versionId":"%d"}}`, id, v))}
}

// TestReadCacheExactAcrossPostgresInstances: two instances on one
// PostgreSQL database, each with its read cache. A write on A is read back
// on B by the very next read, while B keeps reading the resource from its
// cache under concurrent load — with both channels up, with B's
// listening connection cut, and with A's cut (A then waits out B's lease).
// B does serve from its cache (hits), and a purge on A empties B's.
func TestReadCacheExactAcrossPostgresInstances(t *testing.T) {
	dsn := storetest.DatabaseURL(t, "postgres")
	ctx := context.Background()
	a, b := openPGInstance(t, ctx, dsn), openPGInstance(t, ctx, dsn)
	a.waitHealthy(t)
	b.waitHealthy(t)
	const tenant = datastore.Tenant("org_x")
	if err := a.d.Insert(ctx, tenant, pgPatient("p1", 1), nil); err != nil {
		t.Fatal(err)
	}
	// Load on B: readers keep the resource in B's cache.
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for loadCtx.Err() == nil {
				_, _ = b.d.Get(loadCtx, tenant, "Patient", "p1")
			}
		}()
	}
	version := 1
	write := func(step string) {
		t.Helper()
		hits := b.d.CacheHits()
		for b.d.CacheHits() == hits && step == "channels up" { // B serves from its cache before the write
			time.Sleep(time.Millisecond)
		}
		version++
		start := time.Now()
		if err := a.d.Replace(ctx, tenant, pgPatient("p1", version), version-1, nil); err != nil {
			t.Fatalf("%s: update: %v", step, err)
		}
		if took := time.Since(start); took > store.CacheLease+time.Second {
			t.Errorf("%s: the update took %v", step, took)
		}
		r, err := b.d.Get(ctx, tenant, "Patient", "p1")
		if err != nil {
			t.Fatalf("%s: read on B: %v", step, err)
		}
		if r.Version != version {
			t.Fatalf("%s: B read version %d right after A wrote %d", step, r.Version, version)
		}
	}
	for range 20 {
		write("channels up")
	}
	if b.d.CacheHits() == 0 {
		t.Fatal("B never served a read from its cache")
	}

	b.cutListener(t, ctx)
	for range 5 {
		write("B's channel cut")
	}
	b.waitHealthy(t)
	write("B's channel back")

	a.cutListener(t, ctx)
	write("A's channel cut")
	a.waitHealthy(t)
	write("A's channel back")

	stopLoad()
	wg.Wait()
	if _, err := b.d.Get(ctx, tenant, "Patient", "p1"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.d.PurgeTenant(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	if r, err := b.d.Get(ctx, tenant, "Patient", "p1"); err == nil {
		t.Fatalf("B read version %d after A purged the tenant", r.Version)
	}
}

// TestPostgresCreateOfManyIndexRows: a create whose index rows need more
// bind arguments than its one statement takes writes them all (the rest
// in statements of their own, in the same pipeline), and a create of an
// id that exists conflicts and writes nothing.
func TestPostgresCreateOfManyIndexRows(t *testing.T) {
	dsn := storetest.DatabaseURL(t, "postgres")
	ctx := context.Background()
	d, err := store.OpenDatastore(ctx, dsn, "", "big", nil, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var idx []fhir.Value
	const tokens, names = 2000, 30 // 2,000 token rows: 16,000 arguments
	for i := range tokens {
		idx = append(idx, fhir.Value{Param: "identifier", Type: fhir.Token, System: "urn:x", Code: fmt.Sprint("c", i)})
	}
	for i := range names {
		idx = append(idx, fhir.Value{Param: "family", Type: fhir.String, Text: fmt.Sprint("n", i), Exact: fmt.Sprint("N", i)})
	}
	if err := d.Insert(ctx, "org_big", pgPatient("big", 1), idx); err != nil {
		t.Fatal(err)
	}
	count := func(table string) int {
		var n int
		if err := d.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table+` WHERE tenant = 'org_big' AND id = 'big'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := count("idx_token"); got != tokens {
		t.Fatalf("%d token rows, want %d", got, tokens)
	}
	if got := count("idx_string"); got != names {
		t.Fatalf("%d string rows, want %d", got, names)
	}
	if got := count("resource_history"); got != 1 {
		t.Fatalf("%d versions, want 1", got)
	}
	if err := d.Insert(ctx, "org_big", pgPatient("big", 1), idx[:1]); !errs.Is(err, errs.Conflict) {
		t.Fatalf("second create of the id: %v, want a conflict", err)
	}
	if got := count("idx_token"); got != tokens {
		t.Fatalf("after the refused create: %d token rows, want %d", got, tokens)
	}
}
