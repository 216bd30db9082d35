package store

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/clinikapi/clinikapi/internal/datastore"
)

// readCache keeps the current version of recently read resources of one
// SQLite datastore in memory, so a read by id skips SQLite (whose lookup,
// read transaction and locks cost several times more than the rest of the
// read).
//
// It is exact, not eventually consistent: this process is the only one
// that changes the datastore's existing resources, and every write that
// changes one (Replace, PurgeTenant) holds it in the cache from before its
// transaction starts until that transaction has ended (hold, holdTenant):
// meanwhile reads of it miss the cache and read SQLite, and nothing they
// read is cached. `clinikapi serve` holds the data directory's lock
// (LockDataDir), so no second server writes the same files. Another
// process may only add resources with new ids (`clinikapi admin seed`),
// which a cache of found resources never hides: misses are not cached.
//
// Entries are keyed by tenant, type and id, so a lookup can only ever find
// the asking tenant's resources.
type readCache struct {
	seed   maphash.Seed
	limit  int64 // bytes per shard
	shards [cacheShards]cacheShard

	// Tenants being purged: nothing of theirs is cached meanwhile.
	// tenantHolds counts them so that put looks at the map only while
	// a purge runs.
	tenantHolds atomic.Int64
	tenantMu    sync.Mutex
	tenants     map[string]int
}

const cacheShards = 16

type cacheKey struct{ tenant, typ, id string }

type cacheShard struct {
	mu    sync.Mutex
	m     map[cacheKey]datastore.Record
	bytes int64
	held  map[cacheKey]int // resources with a write in flight
	// gen counts the holds and releases of the shard's resources. A
	// read notes it before querying SQLite and caches its row only if
	// no hold or release happened meanwhile: a row read before a commit
	// can then never outlive it.
	gen atomic.Uint64
}

// cacheEntryOverhead approximates the memory of an entry beside its
// content and key strings (map slot, record fields).
const cacheEntryOverhead = 128

// newReadCache returns a cache of about maxBytes, or nil (no cache) for
// maxBytes ≤ 0.
func newReadCache(maxBytes int64) *readCache {
	if maxBytes <= 0 {
		return nil
	}
	c := &readCache{seed: maphash.MakeSeed(), limit: max(maxBytes/cacheShards, 1), tenants: map[string]int{}}
	for i := range c.shards {
		c.shards[i].m = map[cacheKey]datastore.Record{}
		c.shards[i].held = map[cacheKey]int{}
	}
	return c
}

func (c *readCache) shard(k cacheKey) *cacheShard {
	return &c.shards[maphash.String(c.seed, k.id)%cacheShards]
}

func entrySize(k cacheKey, r datastore.Record) int64 {
	return int64(len(k.tenant) + len(k.typ) + len(k.id) + len(r.Content) + cacheEntryOverhead)
}

// get returns a copy of the cached record (callers own their Content).
func (c *readCache) get(k cacheKey) (datastore.Record, bool) {
	s := c.shard(k)
	s.mu.Lock()
	r, ok := s.m[k]
	s.mu.Unlock()
	if ok {
		r.Content = append([]byte(nil), r.Content...)
	}
	return r, ok
}

// begin returns the generation to hand to put after reading SQLite.
func (c *readCache) begin(k cacheKey) uint64 { return c.shard(k).gen.Load() }

// put caches r, read from SQLite after begin returned gen, unless a hold
// or release happened since or a write of it is in flight. It keeps its
// own copy of the content.
func (c *readCache) put(k cacheKey, r datastore.Record, gen uint64) {
	size := entrySize(k, r)
	if size > c.limit {
		return
	}
	r.Content = append([]byte(nil), r.Content...)
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	// Checked under the shard lock, which hold and release take to
	// advance gen: either this put comes first and hold removes it, or
	// it sees the new generation and stores nothing. (holdTenant marks
	// the tenant before it advances each shard's gen.)
	if s.gen.Load() != gen || s.held[k] > 0 || c.tenantHeld(k.tenant) {
		return
	}
	if old, ok := s.m[k]; ok {
		delete(s.m, k)
		s.bytes -= entrySize(k, old)
	}
	// Evict arbitrary entries (map order) until the new one fits.
	for ek, ev := range s.m {
		if s.bytes+size <= c.limit {
			break
		}
		delete(s.m, ek)
		s.bytes -= entrySize(ek, ev)
	}
	s.m[k] = r
	s.bytes += size
}

// hold marks a resource as being written and forgets it; until release,
// reads of it miss and are not cached. Holds nest (one per write).
func (c *readCache) hold(k cacheKey) {
	s := c.shard(k)
	s.mu.Lock()
	s.held[k]++
	s.forget(k)
	s.gen.Add(1)
	s.mu.Unlock()
}

// release ends a hold once the write's transaction has ended.
func (c *readCache) release(k cacheKey) {
	s := c.shard(k)
	s.mu.Lock()
	if s.held[k]--; s.held[k] <= 0 {
		delete(s.held, k)
	}
	s.forget(k)
	s.gen.Add(1)
	s.mu.Unlock()
}

func (s *cacheShard) forget(k cacheKey) {
	if old, ok := s.m[k]; ok {
		delete(s.m, k)
		s.bytes -= entrySize(k, old)
	}
}

// holdTenant is hold for every resource of tenant (a purge).
func (c *readCache) holdTenant(tenant datastore.Tenant) {
	c.tenantMu.Lock()
	c.tenants[string(tenant)]++
	c.tenantMu.Unlock()
	c.tenantHolds.Add(1)
	c.forgetTenant(tenant)
}

// releaseTenant ends a holdTenant.
func (c *readCache) releaseTenant(tenant datastore.Tenant) {
	c.forgetTenant(tenant)
	c.tenantHolds.Add(-1)
	c.tenantMu.Lock()
	if c.tenants[string(tenant)]--; c.tenants[string(tenant)] <= 0 {
		delete(c.tenants, string(tenant))
	}
	c.tenantMu.Unlock()
}

func (c *readCache) tenantHeld(tenant string) bool {
	if c.tenantHolds.Load() == 0 {
		return false
	}
	c.tenantMu.Lock()
	defer c.tenantMu.Unlock()
	return c.tenants[tenant] > 0
}

// forgetTenant drops tenant's entries and advances every shard's gen.
func (c *readCache) forgetTenant(tenant datastore.Tenant) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k := range s.m {
			if k.tenant == string(tenant) {
				s.forget(k)
			}
		}
		s.gen.Add(1)
		s.mu.Unlock()
	}
}

// size reports the entries and bytes held (tests).
func (c *readCache) size() (entries int, bytes int64) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		entries += len(s.m)
		bytes += s.bytes
		s.mu.Unlock()
	}
	return entries, bytes
}
