package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/memory"
)

func cachedDatastore(t *testing.T, cacheBytes int64) *Datastore {
	t.Helper()
	d, err := OpenDatastore(context.Background(), "", t.TempDir(), "test", nil, NewReadCache(cacheBytes), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if d.cache == nil {
		t.Fatal("SQLite datastore without a read cache")
	}
	return d
}

func patientRec(id string, v int, deleted bool) datastore.Record {
	return datastore.Record{Type: "Patient", ID: id, Version: v, Deleted: deleted, LastUpdated: time.Unix(int64(v), 0).UTC(),
		Content: []byte(fmt.Sprintf(`{"resourceType":"Patient","id":%q,"meta":{"versionId":"%d"}}`, id, v))}
}

// stored reads the row from SQLite itself, past the cache.
func stored(t *testing.T, d *Datastore, tenant, id string) datastore.Record {
	t.Helper()
	r, err := scanRecord(d.get.QueryRowContext(context.Background(), tenant, "Patient", id))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestReadCacheFollowsWrites: a read by id comes from the cache after the
// first one, and every write (update, delete, tenant purge) is visible to
// the next read; tenants never see each other's entries.
func TestReadCacheFollowsWrites(t *testing.T) {
	ctx := context.Background()
	d := cachedDatastore(t, 1<<20)
	if err := d.Insert(ctx, "org_a", patientRec("p1", 1, false), nil); err != nil {
		t.Fatal(err)
	}
	if err := d.Insert(ctx, "org_b", patientRec("p1", 1, false), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Get(ctx, "org_a", "Patient", "missing"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("missing: %v", err)
	}
	if n, _ := d.cache.size(); n != 0 {
		t.Fatalf("a miss was cached (%d entries)", n)
	}
	r, err := d.Get(ctx, "org_a", "Patient", "p1")
	if err != nil || r.Version != 1 {
		t.Fatalf("first read: %+v %v", r, err)
	}
	if n, _ := d.cache.size(); n != 1 {
		t.Fatalf("after one read: %d entries", n)
	}
	// The caller owns what it gets: changing it changes nothing cached.
	r.Content[0] = 'X'
	if again, _ := d.Get(ctx, "org_a", "Patient", "p1"); again.Content[0] != '{' {
		t.Fatalf("cached content was changed through a returned record: %s", again.Content)
	}
	if _, err := d.Get(ctx, "org_c", "Patient", "p1"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("another tenant read org_a's cached resource: %v", err)
	}

	if err := d.Replace(ctx, "org_a", patientRec("p1", 2, false), 1, nil); err != nil {
		t.Fatal(err)
	}
	if r, _ := d.Get(ctx, "org_a", "Patient", "p1"); r.Version != 2 || !strings.Contains(string(r.Content), `"2"`) {
		t.Fatalf("after the update: version %d %s", r.Version, r.Content)
	}
	if err := d.Replace(ctx, "org_a", patientRec("p1", 3, true), 2, nil); err != nil {
		t.Fatal(err)
	}
	if r, _ := d.Get(ctx, "org_a", "Patient", "p1"); r.Version != 3 || !r.Deleted {
		t.Fatalf("after the delete: version %d deleted %v", r.Version, r.Deleted)
	}
	// A failed write (stale version) leaves the cache right too.
	if err := d.Replace(ctx, "org_a", patientRec("p1", 2, false), 1, nil); !errs.Is(err, errs.Conflict) {
		t.Fatalf("stale update: %v", err)
	}
	if r, _ := d.Get(ctx, "org_a", "Patient", "p1"); r.Version != 3 {
		t.Fatalf("after a conflict: version %d", r.Version)
	}

	if _, err := d.Get(ctx, "org_b", "Patient", "p1"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.PurgeTenant(ctx, "org_a"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Get(ctx, "org_a", "Patient", "p1"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("purged resource still read: %v", err)
	}
	if r, err := d.Get(ctx, "org_b", "Patient", "p1"); err != nil || r.Version != 1 {
		t.Fatalf("org_b's resource after org_a's purge: %+v %v", r, err)
	}
}

// TestReadCacheReadRacingWrite: nothing read while a write of the
// resource is in flight, or before it, is cached; what is read after is.
func TestReadCacheReadRacingWrite(t *testing.T) {
	c := NewReadCache(1 << 20)
	k := cacheKey{0, "org_a", "Patient", "p1"}
	c.put(k, patientRec("p1", 1, false), c.begin(k))
	before := c.begin(k) // a read in SQLite when the write starts
	c.hold(k)
	if _, ok := c.get(k); ok {
		t.Fatal("a resource being written was answered from the cache")
	}
	during := c.begin(k)
	c.put(k, patientRec("p1", 1, false), during) // read while in flight
	if _, ok := c.get(k); ok {
		t.Fatal("a row read while a write was in flight was cached")
	}
	c.release(k) // the write's transaction has ended
	c.put(k, patientRec("p1", 1, false), before)
	c.put(k, patientRec("p1", 1, false), during)
	if _, ok := c.get(k); ok {
		t.Fatal("a row read before the write ended was cached after it")
	}
	c.put(k, patientRec("p1", 2, false), c.begin(k))
	if r, ok := c.get(k); !ok || r.Version != 2 {
		t.Fatalf("a row read after the write: %+v %v", r, ok)
	}

	// The same for a tenant purge, which leaves other tenants alone.
	other := cacheKey{0, "org_b", "Patient", "p1"}
	c.put(other, patientRec("p1", 1, false), c.begin(other))
	before = c.begin(k)
	c.holdTenant(0, "org_a")
	if _, ok := c.get(k); ok {
		t.Fatal("a resource of a tenant being purged was answered from the cache")
	}
	c.put(k, patientRec("p1", 2, false), c.begin(k))
	if _, ok := c.get(k); ok {
		t.Fatal("a row read during a purge of its tenant was cached")
	}
	c.put(other, patientRec("p1", 1, false), c.begin(other))
	if _, ok := c.get(other); !ok {
		t.Fatal("a purge of org_a kept org_b's resource out of the cache")
	}
	c.releaseTenant(0, "org_a")
	c.put(k, patientRec("p1", 2, false), before)
	if _, ok := c.get(k); ok {
		t.Fatal("a row read before a purge was cached after it")
	}
	c.put(k, patientRec("p1", 3, false), c.begin(k))
	if r, ok := c.get(k); !ok || r.Version != 3 {
		t.Fatalf("a row read after the purge: %+v %v", r, ok)
	}
}

// TestReadCacheWriteInFlight: while an update waits for its commit, reads
// answer what SQLite holds and cache none of it; after it, the new version.
func TestReadCacheWriteInFlight(t *testing.T) {
	ctx := context.Background()
	d := cachedDatastore(t, 1<<20)
	if err := d.Insert(ctx, "org_a", patientRec("p1", 1, false), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Get(ctx, "org_a", "Patient", "p1"); err != nil {
		t.Fatal(err)
	}
	d.db.writeMu.Lock()
	replaced := make(chan error, 1)
	go func() { replaced <- d.Replace(ctx, "org_a", patientRec("p1", 2, false), 1, nil) }()
	k := d.key("org_a", "Patient", "p1")
	for held := false; !held; {
		s := d.cache.shard(k)
		s.mu.Lock()
		held = s.held[k] > 0
		s.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	for range 3 {
		if r, err := d.Get(ctx, "org_a", "Patient", "p1"); err != nil || r.Version != 1 {
			d.db.writeMu.Unlock()
			t.Fatalf("read while the update waits: %+v %v", r, err)
		}
	}
	if n, _ := d.cache.size(); n != 0 {
		d.db.writeMu.Unlock()
		t.Fatalf("%d entries cached while the update was in flight", n)
	}
	d.db.writeMu.Unlock()
	if err := <-replaced; err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if r, err := d.Get(ctx, "org_a", "Patient", "p1"); err != nil || r.Version != 2 {
			t.Fatalf("read after the update: %+v %v", r, err)
		}
	}
	if n, _ := d.cache.size(); n != 1 {
		t.Fatalf("after the update and a read: %d entries", n)
	}
}

// TestReadCacheBounded: the cache stays within its budget and reads stay
// right as entries are evicted.
func TestReadCacheBounded(t *testing.T) {
	ctx := context.Background()
	const budget = 64 << 10
	d := cachedDatastore(t, budget)
	for i := range 2000 {
		id := fmt.Sprintf("p%04d", i)
		if err := d.Insert(ctx, "org_a", patientRec(id, 1, false), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Get(ctx, "org_a", "Patient", id); err != nil {
			t.Fatal(err)
		}
	}
	n, bytes := d.cache.size()
	if bytes > budget || n == 0 || n >= 2000 {
		t.Fatalf("cache holds %d entries, %d bytes; budget %d", n, bytes, budget)
	}
	for i := range 2000 {
		id := fmt.Sprintf("p%04d", i)
		if r, err := d.Get(ctx, "org_a", "Patient", id); err != nil || r.ID != id {
			t.Fatalf("read %s: %+v %v", id, r, err)
		}
	}
}

// TestReadCacheConcurrentUpdates: readers racing a stream of updates end
// up reading exactly what SQLite holds.
func TestReadCacheConcurrentUpdates(t *testing.T) {
	ctx := context.Background()
	d := cachedDatastore(t, 1<<20)
	const ids, versions = 4, 30
	for i := range ids {
		if err := d.Insert(ctx, "org_a", patientRec(fmt.Sprint("p", i), 1, false), nil); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := d.Get(ctx, "org_a", "Patient", fmt.Sprint("p", (r+n)%ids)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var writers sync.WaitGroup
	for i := range ids {
		writers.Add(1)
		go func() {
			defer writers.Done()
			id := fmt.Sprint("p", i)
			for v := 2; v <= versions; v++ {
				if err := d.Replace(ctx, "org_a", patientRec(id, v, v == versions), v-1, nil); err != nil {
					t.Error(err)
					return
				}
				if r, err := d.Get(ctx, "org_a", "Patient", id); err != nil || r.Version != v {
					t.Errorf("%s read after writing version %d: version %d, %v", id, v, r.Version, err)
					return
				}
			}
		}()
	}
	writers.Wait()
	close(stop)
	wg.Wait()
	for i := range ids {
		id := fmt.Sprint("p", i)
		got, err := d.Get(ctx, "org_a", "Patient", id)
		want := stored(t, d, "org_a", id)
		if err != nil || got.Version != want.Version || got.Deleted != want.Deleted || string(got.Content) != string(want.Content) {
			t.Fatalf("%s: cache says version %d (deleted %v), SQLite %d (deleted %v); %v", id, got.Version, got.Deleted, want.Version, want.Deleted, err)
		}
	}
}

// TestReadCacheCancelledWrite: a write whose caller stops waiting before
// it commits still leaves the cache answering what SQLite holds once it
// commits.
func TestReadCacheCancelledWrite(t *testing.T) {
	ctx := context.Background()
	d := cachedDatastore(t, 1<<20)
	if err := d.Insert(ctx, "org_a", patientRec("p1", 1, false), nil); err != nil {
		t.Fatal(err)
	}
	if r, err := d.Get(ctx, "org_a", "Patient", "p1"); err != nil || r.Version != 1 {
		t.Fatalf("first read: %+v %v", r, err)
	}
	// Hold the write lock: the update is taken into a batch and waits.
	d.db.writeMu.Lock()
	released := false
	release := func() {
		if !released {
			released = true
			d.db.writeMu.Unlock()
		}
	}
	defer release()
	wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := d.Replace(wctx, "org_a", patientRec("p1", 2, false), 1, nil); err == nil {
		t.Fatal("the update returned before its commit could run")
	}
	// Not committed yet: the read answers version 1, as SQLite does.
	if r, err := d.Get(ctx, "org_a", "Patient", "p1"); err != nil || r.Version != 1 {
		t.Fatalf("read before the commit: %+v %v", r, err)
	}
	release()
	// The committer runs batches one after another: once a later write
	// returns, the update has committed.
	if err := d.Insert(ctx, "org_a", patientRec("p2", 1, false), nil); err != nil {
		t.Fatal(err)
	}
	if s := stored(t, d, "org_a", "p1"); s.Version != 2 {
		t.Fatalf("the update did not commit: version %d", s.Version)
	}
	if r, err := d.Get(ctx, "org_a", "Patient", "p1"); err != nil || r.Version != 2 {
		t.Fatalf("read after the commit: version %d, %v; SQLite holds 2", r.Version, err)
	}
}

// TestReadCacheAccounting: replacing entries of a full shard keeps the
// byte count equal to what the entries take.
func TestReadCacheAccounting(t *testing.T) {
	c := NewReadCache(16 * 4 << 10) // 4 KiB a shard
	for round := range 20 {
		for i := range 200 {
			k := cacheKey{0, "org_a", "Patient", fmt.Sprint("p", i)}
			r := patientRec(k.id, round+1, false)
			r.Content = append(r.Content, strings.Repeat(" ", (round*37+i*11)%300)...)
			c.put(k, r, c.begin(k))
		}
	}
	for i := range c.shards {
		s := &c.shards[i]
		var want int64
		n := 0
		for k, e := range s.m {
			want += entrySize(k, e.rec)
		}
		for e := s.lru.next; e != &s.lru; e = e.next {
			n++
		}
		if n != len(s.m) {
			t.Fatalf("shard %d lists %d entries by recency, maps %d", i, n, len(s.m))
		}
		if s.bytes != want || s.bytes > c.limit {
			t.Fatalf("shard %d counts %d bytes; its entries take %d (limit %d)", i, s.bytes, want, c.limit)
		}
	}
}

// TestReadCacheStress: writers (a third of them giving up after a few
// microseconds), readers and, every other round, tenant purges race on a
// few resources; a committed write is visible to its writer's next read,
// and once all is done every read equals SQLite and no hold is left
// behind.
func TestReadCacheStress(t *testing.T) {
	ctx := context.Background()
	d := cachedDatastore(t, 1<<20)
	const tenant = "org_s"
	ids := []string{"a", "b", "c"}
	current := func(id string) int {
		r, err := scanRecord(d.get.QueryRowContext(ctx, tenant, "Patient", id))
		if err != nil {
			return 0 // purged
		}
		return r.Version
	}
	for round := range 8 {
		for _, id := range ids {
			if current(id) == 0 {
				if err := d.Insert(ctx, tenant, patientRec(id, 1, false), nil); err != nil {
					t.Fatal(err)
				}
			}
		}
		stop := make(chan struct{})
		var readers, writers sync.WaitGroup
		for r := range 8 {
			readers.Add(1)
			go func() {
				defer readers.Done()
				for n := r; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					_, _ = d.Get(ctx, tenant, "Patient", ids[n%len(ids)])
				}
			}()
		}
		for w := range 16 {
			writers.Add(1)
			go func() {
				defer writers.Done()
				for i := range 30 {
					wctx, cancel := ctx, context.CancelFunc(func() {})
					if (w+i)%3 == 0 {
						wctx, cancel = context.WithTimeout(ctx, time.Duration((w*i)%300)*time.Microsecond)
					}
					purges := round%2 == 1
					if purges && w == 0 && i%10 == 9 {
						_, _ = d.PurgeTenant(wctx, tenant)
						cancel()
						continue
					}
					id := ids[(w+i)%len(ids)]
					prev := current(id)
					err := d.Replace(wctx, tenant, patientRec(id, prev+1, (w+i)%5 == 0), prev, nil)
					cancel()
					if err != nil {
						continue // a conflict or a deadline
					}
					// (After a purge, versions start over.)
					if r, err := d.Get(ctx, tenant, "Patient", id); !purges && (err != nil || r.Version < prev+1) {
						t.Errorf("%s: read version %d after committing %d", id, r.Version, prev+1)
					}
				}
			}()
		}
		writers.Wait()
		// The committer runs batches in order: once this returns, every
		// write queued before it is done.
		if err := d.Insert(ctx, tenant, patientRec(fmt.Sprint("barrier", round), 1, false), nil); err != nil {
			t.Fatal(err)
		}
		close(stop)
		readers.Wait()
		for _, id := range ids {
			want, werr := scanRecord(d.get.QueryRowContext(ctx, tenant, "Patient", id))
			got, gerr := d.Get(ctx, tenant, "Patient", id)
			if (werr == nil) != (gerr == nil) || werr == nil && (got.Version != want.Version || string(got.Content) != string(want.Content)) {
				t.Fatalf("round %d, %s: read version %d (%v); SQLite holds %d (%v)", round, id, got.Version, gerr, want.Version, werr)
			}
		}
		for i := range d.cache.shards {
			if s := &d.cache.shards[i]; len(s.held) != 0 {
				t.Fatalf("round %d: holds left behind: %v", round, s.held)
			}
		}
		if len(d.cache.tenants) != 0 || d.cache.tenantHolds.Load() != 0 {
			t.Fatalf("round %d: tenant holds left behind: %v", round, d.cache.tenants)
		}
	}
}

// TestCacheBudgetAcrossDatastores: however many SQLite datastores open,
// the one read cache stays within its budget, and the page caches of all
// their connections together within theirs; a datastore that closes gives
// its share back.
func TestCacheBudgetAcrossDatastores(t *testing.T) {
	ctx := context.Background()
	const readBudget, pageBudget = 128 << 10, 48 << 20
	SetSQLitePageBudget(pageBudget)
	t.Cleanup(func() { SetSQLitePageBudget(memory.Budget(memory.DefaultBudget).SQLitePages()) })
	cache := NewReadCache(readBudget)
	dir := t.TempDir()
	pageTotal := func() int64 {
		sqlitePages.mu.Lock()
		defer sqlitePages.mu.Unlock()
		r, w := SQLitePageCacheKiB()
		return (r*(sqliteMaxConns-1) + w) << 10 * sqlitePages.dbs
	}
	var open []*Datastore
	closed := map[*Datastore]bool{}
	t.Cleanup(func() {
		for _, d := range open {
			if !closed[d] {
				d.Close()
			}
		}
	})
	for n := range 6 {
		d, err := OpenDatastore(ctx, "", dir, fmt.Sprint("budget", n), nil, cache, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, d)
		for i := range 300 {
			id := fmt.Sprintf("p%04d", i)
			if err := d.Insert(ctx, "org_a", patientRec(id, 1, false), nil); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Get(ctx, "org_a", "Patient", id); err != nil {
				t.Fatal(err)
			}
		}
		if _, bytes := cache.size(); bytes > readBudget {
			t.Fatalf("%d datastores open: the read cache holds %d bytes, budget %d", n+1, bytes, readBudget)
		}
		if got := pageTotal(); got > pageBudget {
			t.Fatalf("%d datastores open: page caches may take %d bytes, budget %d", n+1, got, pageBudget)
		}
		// Every datastore's connections run the current share: the
		// reading ones here, the writing one in the committer.
		reader, writer := SQLitePageCacheKiB()
		for _, o := range open {
			var size int64
			if err := o.db.sql.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&size); err != nil || size != -reader {
				t.Fatalf("a reading connection's cache_size is %d (%v), the share is -%d KiB", size, err, reader)
			}
			if err := o.writes.tx(func(tx *sql.Tx) error { return tx.QueryRow(`PRAGMA cache_size`).Scan(&size) }); err != nil || size != -writer {
				t.Fatalf("the writing connection's cache_size is %d (%v), the share is -%d KiB", size, err, writer)
			}
		}
	}
	st := cache.Stats()
	if st.Evictions == 0 || st.Hits != 0 || st.Misses != 6*300 || st.Budget != readBudget {
		t.Fatalf("read cache figures: %+v", st)
	}
	share, _ := SQLitePageCacheKiB()
	for _, d := range open[:3] {
		id := d.cacheID
		d.Close()
		closed[d] = true
		for i := range cache.shards {
			for k := range cache.shards[i].m {
				if k.ds == id {
					t.Fatalf("a closed datastore's entry is still cached: %+v", k)
				}
			}
		}
	}
	if now, _ := SQLitePageCacheKiB(); now <= share {
		t.Fatalf("closing half the datastores left each connection's page cache at %d KiB (was %d)", now, share)
	}
	if got := pageTotal(); got > pageBudget {
		t.Fatalf("after closing: page caches may take %d bytes, budget %d", got, pageBudget)
	}
	if used := SQLitePageStats(); used.Budget != pageBudget || used.Bytes <= 0 {
		t.Fatalf("SQLite page figures: %+v", used)
	}
}
