package store

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/memory"
)

// ReadCache keeps the current version of recently read resources in
// memory, so a read by id skips SQLite (whose lookup, read transaction and
// locks cost several times more than the rest of the read) or the round
// trip to PostgreSQL. One ReadCache serves every datastore of the process, within one
// budget (a share of CLINIKAPI_CACHE_MEMORY): opening more datastores
// divides it, by use, instead of adding to it. Each shard evicts its
// least recently used entries first.
//
// It is exact, not eventually consistent: this process is the only one
// that changes the datastores' existing resources, and every write that
// changes one (Replace, PurgeTenant) holds it in the cache from before its
// transaction starts until that transaction has ended (hold, holdTenant):
// meanwhile reads of it miss the cache and read SQLite, and nothing they
// read is cached. `clinikapi serve` holds the data directory's lock
// (LockDataDir), so no second server writes the same files. Another
// process may only add resources with new ids (`clinikapi admin seed`),
// which a cache of found resources never hides: misses are not cached.
// On PostgreSQL, where other instances do change them, a CacheSync
// extends this to every instance on the database: a write's invalidation
// reaches each before the write answers, and an instance that may have
// missed one serves nothing from its cache.
//
// Entries are keyed by datastore (a number given to each datastore as it
// opens, so that one closed and opened again starts empty), tenant, type
// and id, so a lookup can only ever find the asking tenant's resources of
// the asking datastore.
type ReadCache struct {
	seed   maphash.Seed
	limit  int64 // bytes per shard
	shards [cacheShards]cacheShard
	next   atomic.Uint64 // the last datastore number given

	// Tenants being purged: nothing of theirs is cached meanwhile.
	// tenantHolds counts them so that put looks at the map only while
	// a purge runs.
	tenantHolds atomic.Int64
	tenantMu    sync.Mutex
	tenants     map[tenantKey]int

	hits, misses, evictions atomic.Uint64

	// sync, on PostgreSQL, keeps the cache exact across instances; a
	// PostgreSQL datastore caches nothing without it.
	sync *CacheSync
}

const cacheShards = 16

type cacheKey struct {
	ds              uint64
	tenant, typ, id string
}

type tenantKey struct {
	ds     uint64
	tenant string
}

// cacheEntry is one cached record, in its shard's recency list.
type cacheEntry struct {
	key        cacheKey
	rec        datastore.Record
	size       int64
	prev, next *cacheEntry
}

type cacheShard struct {
	mu    sync.Mutex
	m     map[cacheKey]*cacheEntry
	lru   cacheEntry // sentinel: lru.next is the most recently used
	bytes int64
	held  map[cacheKey]int // resources with a write in flight
	// gen counts the holds and releases of the shard's resources. A
	// read notes it before querying SQLite and caches its row only if
	// no hold or release happened meanwhile: a row read before a commit
	// can then never outlive it.
	gen atomic.Uint64
}

// cacheEntryOverhead approximates the memory of an entry beside its
// content and key strings (map slot, entry, record fields).
const cacheEntryOverhead = 176

// NewReadCache returns a cache of about maxBytes, or nil (no cache) for
// maxBytes ≤ 0.
func NewReadCache(maxBytes int64) *ReadCache {
	if maxBytes <= 0 {
		return nil
	}
	c := &ReadCache{seed: maphash.MakeSeed(), limit: max(maxBytes/cacheShards, 1), tenants: map[tenantKey]int{}}
	for i := range c.shards {
		s := &c.shards[i]
		s.m = map[cacheKey]*cacheEntry{}
		s.held = map[cacheKey]int{}
		s.lru.next, s.lru.prev = &s.lru, &s.lru
	}
	return c
}

// register numbers a datastore that opens.
func (c *ReadCache) register() uint64 { return c.next.Add(1) }

func (c *ReadCache) shard(k cacheKey) *cacheShard {
	return &c.shards[maphash.String(c.seed, k.id)%cacheShards]
}

func entrySize(k cacheKey, r datastore.Record) int64 {
	return int64(len(k.tenant) + len(k.typ) + len(k.id) + len(r.Content) + cacheEntryOverhead)
}

func (s *cacheShard) unlink(e *cacheEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (s *cacheShard) pushFront(e *cacheEntry) {
	e.prev, e.next = &s.lru, s.lru.next
	s.lru.next.prev = e
	s.lru.next = e
}

// get returns a copy of the cached record (callers own their Content).
func (c *ReadCache) get(k cacheKey) (datastore.Record, bool) {
	s := c.shard(k)
	s.mu.Lock()
	e, ok := s.m[k]
	var r datastore.Record
	if ok {
		s.unlink(e)
		s.pushFront(e)
		r = e.rec
	}
	s.mu.Unlock()
	if !ok {
		c.misses.Add(1)
		return r, false
	}
	c.hits.Add(1)
	r.Content = append([]byte(nil), r.Content...)
	return r, true
}

// begin returns the generation to hand to put after reading SQLite.
func (c *ReadCache) begin(k cacheKey) uint64 { return c.shard(k).gen.Load() }

// put caches r, read from SQLite after begin returned gen, unless a hold
// or release happened since or a write of it is in flight. It keeps its
// own copy of the content.
func (c *ReadCache) put(k cacheKey, r datastore.Record, gen uint64) {
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
	if s.gen.Load() != gen || s.held[k] > 0 || c.tenantHeld(k.ds, k.tenant) {
		return
	}
	s.forget(k)
	// Evict the least recently used entries until the new one fits.
	for s.bytes+size > c.limit && s.lru.prev != &s.lru {
		s.forget(s.lru.prev.key)
		c.evictions.Add(1)
	}
	e := &cacheEntry{key: k, rec: r, size: size}
	s.m[k] = e
	s.pushFront(e)
	s.bytes += size
}

// hold marks a resource as being written and forgets it; until release,
// reads of it miss and are not cached. Holds nest (one per write).
func (c *ReadCache) hold(k cacheKey) {
	s := c.shard(k)
	s.mu.Lock()
	s.held[k]++
	s.forget(k)
	s.gen.Add(1)
	s.mu.Unlock()
}

// release ends a hold once the write's transaction has ended.
func (c *ReadCache) release(k cacheKey) {
	s := c.shard(k)
	s.mu.Lock()
	if s.held[k]--; s.held[k] <= 0 {
		delete(s.held, k)
	}
	s.forget(k)
	s.gen.Add(1)
	s.mu.Unlock()
}

// touch forgets a resource another instance wrote, and makes reads of it
// that started before cache nothing.
func (c *ReadCache) touch(k cacheKey) {
	s := c.shard(k)
	s.mu.Lock()
	s.forget(k)
	s.gen.Add(1)
	s.mu.Unlock()
}

func (s *cacheShard) forget(k cacheKey) {
	if e, ok := s.m[k]; ok {
		delete(s.m, k)
		s.unlink(e)
		s.bytes -= e.size
	}
}

// holdTenant is hold for every resource of tenant in datastore ds (a
// purge).
func (c *ReadCache) holdTenant(ds uint64, tenant datastore.Tenant) {
	tk := tenantKey{ds, string(tenant)}
	c.tenantMu.Lock()
	c.tenants[tk]++
	c.tenantMu.Unlock()
	c.tenantHolds.Add(1)
	c.forgetWhere(func(k cacheKey) bool { return k.ds == ds && k.tenant == string(tenant) })
}

// releaseTenant ends a holdTenant.
func (c *ReadCache) releaseTenant(ds uint64, tenant datastore.Tenant) {
	tk := tenantKey{ds, string(tenant)}
	c.forgetWhere(func(k cacheKey) bool { return k.ds == ds && k.tenant == string(tenant) })
	c.tenantHolds.Add(-1)
	c.tenantMu.Lock()
	if c.tenants[tk]--; c.tenants[tk] <= 0 {
		delete(c.tenants, tk)
	}
	c.tenantMu.Unlock()
}

func (c *ReadCache) tenantHeld(ds uint64, tenant string) bool {
	if c.tenantHolds.Load() == 0 {
		return false
	}
	c.tenantMu.Lock()
	defer c.tenantMu.Unlock()
	return c.tenants[tenantKey{ds, tenant}] > 0
}

// forgetDatastore drops the entries of a datastore that closes, so its
// budget goes to the others.
func (c *ReadCache) forgetDatastore(ds uint64) {
	c.forgetWhere(func(k cacheKey) bool { return k.ds == ds })
}

// forgetWhere drops the entries whose key matches and advances every
// shard's gen.
func (c *ReadCache) forgetWhere(match func(cacheKey) bool) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k := range s.m {
			if match(k) {
				s.forget(k)
			}
		}
		s.gen.Add(1)
		s.mu.Unlock()
	}
}

// size reports the entries and bytes held.
func (c *ReadCache) size() (entries int, bytes int64) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		entries += len(s.m)
		bytes += s.bytes
		s.mu.Unlock()
	}
	return entries, bytes
}

// Stats reports the cache's figures (zero for a nil cache, which is off).
func (c *ReadCache) Stats() memory.Stats {
	st := memory.Stats{Kind: "read_cache"}
	if c == nil {
		return st
	}
	n, b := c.size()
	st.Entries, st.Bytes, st.Budget = int64(n), b, c.limit*cacheShards
	st.Hits, st.Misses, st.Evictions = c.hits.Load(), c.misses.Load(), c.evictions.Load()
	return st
}
