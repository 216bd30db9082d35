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
// that changes the datastore's existing resources. Every write (Insert,
// Replace, PurgeTenant) invalidates what it touched on the committing
// goroutine, before its change and again right after its transaction ends
// (see Datastore.invalidate), and `clinikapi serve` holds the data
// directory's lock (LockDataDir), so no second server writes the same
// files. Another process may only add resources with new ids
// (`clinikapi admin seed`), which a cache of found resources never hides:
// misses are not cached.
//
// Entries are keyed by tenant, type and id, so a lookup can only ever find
// the asking tenant's resources.
type readCache struct {
	// gen counts invalidations. A read notes it before querying SQLite
	// and caches its row only if no invalidation happened meanwhile: a
	// row read just before a commit can then never outlive the commit.
	gen    atomic.Uint64
	seed   maphash.Seed
	limit  int64 // bytes per shard
	shards [cacheShards]cacheShard
}

const cacheShards = 16

type cacheKey struct{ tenant, typ, id string }

type cacheShard struct {
	mu    sync.Mutex
	m     map[cacheKey]datastore.Record
	bytes int64
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
	c := &readCache{seed: maphash.MakeSeed(), limit: max(maxBytes/cacheShards, 1)}
	for i := range c.shards {
		c.shards[i].m = map[cacheKey]datastore.Record{}
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
func (c *readCache) begin() uint64 { return c.gen.Load() }

// put caches r, read from SQLite after begin returned gen, unless an
// invalidation happened since. It keeps its own copy of the content.
func (c *readCache) put(k cacheKey, r datastore.Record, gen uint64) {
	size := entrySize(k, r)
	if size > c.limit {
		return
	}
	r.Content = append([]byte(nil), r.Content...)
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	// Checked under the shard lock, which invalidate takes after
	// advancing gen: either this put comes first and invalidate removes
	// it, or it sees the new generation and stores nothing.
	if c.gen.Load() != gen {
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

// invalidate forgets one resource; writers call it after their commit.
func (c *readCache) invalidate(k cacheKey) {
	c.gen.Add(1)
	s := c.shard(k)
	s.mu.Lock()
	if old, ok := s.m[k]; ok {
		delete(s.m, k)
		s.bytes -= entrySize(k, old)
	}
	s.mu.Unlock()
}

// invalidateTenant forgets every resource of tenant.
func (c *readCache) invalidateTenant(tenant datastore.Tenant) {
	c.gen.Add(1)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k, r := range s.m {
			if k.tenant == string(tenant) {
				delete(s.m, k)
				s.bytes -= entrySize(k, r)
			}
		}
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
