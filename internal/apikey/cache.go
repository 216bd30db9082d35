package apikey

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clinikapi/clinikapi/internal/memory"
)

// Cache lifetimes. Invalidation on revoke and rotate is explicit (locally at
// once, across instances by the Invalidator); the TTL only bounds how long a
// missed cross-instance message could matter.
const (
	hitTTL  = 5 * time.Minute
	missTTL = 30 * time.Second
)

// entry is what the cache knows about one key hash.
type entry struct {
	p             Principal
	keyExpires    time.Time
	secretExpires time.Time
	revoked       bool
	disabled      bool
	missing       bool // no such key: cached so floods of bad keys skip the database
	at            time.Time
	// touched is when a request last noted the key's use (UnixNano),
	// shared by the entry's copies: notes closer than touchEvery are
	// skipped, so most requests take no lock for it.
	touched *atomic.Int64
}

// hashKey is a key string's SHA-256, as the cache keys it.
type hashKey = [sha256.Size]byte

// cache maps key hashes to verification results, bounded in size.
type cache struct {
	mu     sync.RWMutex
	max    int
	byHash map[hashKey]entry
	byKey  map[string][]hashKey // key id → hashes cached for it
	gen    uint64               // bumped by every invalidation

	hits, misses, evictions atomic.Uint64
}

// entryBytes approximates the memory of one cached verification: the
// hash, the map slots of both maps and the principal's strings (a key's
// limits are shared with the store's answer).
const entryBytes = 320

// entriesFor is how many verifications fit in a budget of bytes.
func entriesFor(bytes int64) int { return int(max(bytes/entryBytes, 100)) }

// stats reports the cache's figures.
func (c *cache) stats() memory.Stats {
	c.mu.RLock()
	n, limit := len(c.byHash), c.max
	c.mu.RUnlock()
	return memory.Stats{Kind: "api_key_cache", Entries: int64(n), Bytes: int64(n) * entryBytes, Budget: int64(limit) * entryBytes,
		Hits: c.hits.Load(), Misses: c.misses.Load(), Evictions: c.evictions.Load()}
}

// generation is read before a database lookup; put refuses to cache the
// result if an invalidation happened meanwhile (it might be stale).
func (c *cache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

func newCache(max int) *cache {
	return &cache{max: max, byHash: make(map[hashKey]entry), byKey: make(map[string][]hashKey)}
}

func (c *cache) get(hash hashKey, now time.Time) (entry, bool) {
	c.mu.RLock()
	e, ok := c.byHash[hash]
	c.mu.RUnlock()
	ttl := hitTTL
	if e.missing {
		ttl = missTTL
	}
	if !ok || now.Sub(e.at) >= ttl {
		c.misses.Add(1)
		return entry{}, false
	}
	c.hits.Add(1)
	return e, true
}

func (c *cache) put(hash hashKey, e entry, now time.Time, gen uint64) {
	e.at = now
	if !e.missing {
		e.touched = new(atomic.Int64)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.byHash) >= c.max {
		// Evict about a tenth, in map order (effectively random).
		n := max(c.max/10, 1)
		before := len(c.byHash)
		defer func() { c.evictions.Add(uint64(max(before+1-len(c.byHash), 0))) }()
		for h, old := range c.byHash {
			if old.missing {
				delete(c.byHash, h)
			} else {
				// All of a key's secrets go together, so dropKey never misses one.
				c.dropKeyLocked(old.p.KeyID)
			}
			if n--; n <= 0 {
				break
			}
		}
	}
	c.byHash[hash] = e
	if !e.missing {
		c.byKey[e.p.KeyID] = append(c.byKey[e.p.KeyID], hash)
	}
}

// dropKey forgets every cached secret of a key.
func (c *cache) dropKey(keyID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.dropKeyLocked(keyID)
}

func (c *cache) dropKeyLocked(keyID string) {
	for _, h := range c.byKey[keyID] {
		delete(c.byHash, h)
	}
	delete(c.byKey, keyID)
}

// reset forgets everything (after a lost invalidation connection).
func (c *cache) reset() {
	c.mu.Lock()
	c.byHash = make(map[hashKey]entry)
	c.byKey = make(map[string][]hashKey)
	c.gen++
	c.mu.Unlock()
}
