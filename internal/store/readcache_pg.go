package store

import (
	"context"
	"database/sql"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/random"
)

// CacheSync keeps the read caches of every instance serving one
// PostgreSQL database exact, so that PostgreSQL reads by id are served
// from memory as SQLite's are (see ReadCache), although other instances
// write the same tables. It uses LISTEN/NOTIFY on cacheChannel, nothing
// but the database itself:
//
//   - a write that changes an existing resource (update, delete, a
//     tenant's purge, a moved resource) sends an invalidation in its own
//     transaction (NOTIFY is delivered at commit, in commit order), and
//     before it answers waits until every other live instance has
//     acknowledged it (each acknowledges once it has dropped the
//     resource), or at most cacheLease after its commit;
//   - every instance sends itself a heartbeat every cacheLease/8 and
//     serves cached reads only until cacheLease after sending the last
//     one it received back: notifications arrive in commit order, so
//     having received a heartbeat sent at t it has received every
//     invalidation committed before t. An instance whose channel is down
//     (or slow) stops serving from cache within cacheLease and reads the
//     database; a writer that heard no acknowledgement waits out that
//     lease. Either way, once a write has answered no instance serves
//     what it replaced: read-after-write holds on every instance.
//   - a new resource needs nothing: misses are not cached.
//
// On losing its listening connection an instance forgets its whole cache
// (it may have missed invalidations) and stops serving from it until a
// heartbeat comes back on the new connection.
type CacheSync struct {
	cache *ReadCache
	db    *DB // sends heartbeats and acknowledgements
	dsn   string
	log   *slog.Logger
	self  string // this instance, in notifications
	lease time.Duration

	// healthyUntil is when cached reads stop being served, as time
	// since start (monotonic); every read by id looks at it.
	start        time.Time
	healthyUntil atomic.Int64

	mu      sync.Mutex
	beats   map[uint64]time.Time // heartbeats sent, not yet back: when each was sent
	beat    uint64
	peers   map[string]time.Time // other instances: when each was last heard
	seq     uint64
	waits   map[uint64]*cacheWait
	schemas map[string]uint64 // datastore schema → its number in the cache
	changed chan struct{}     // closed and replaced on every acknowledgement
}

// cacheWait is a write waiting for its invalidation to be acknowledged.
type cacheWait struct {
	seen  bool            // this instance's listener received it back
	peers map[string]bool // the live instances when it was seen; true once acknowledged
}

const (
	cacheChannel = "clinikapi_fhir_cache"
	// cacheLease is how long an instance serves cached reads after its
	// last heartbeat came back, and so the longest a write waits for an
	// instance that does not acknowledge it.
	cacheLease = 2 * time.Second
)

// NewCacheSync makes cache exact across the instances of the PostgreSQL
// database at dsn (db is its control database) and returns the sync,
// which Run must run for cached reads to be served. Datastores opened
// with cache afterwards take part.
func NewCacheSync(db *DB, dsn string, cache *ReadCache, log *slog.Logger) *CacheSync {
	s := &CacheSync{cache: cache, db: db, dsn: dsn, log: log, self: random.Token()[:16], lease: cacheLease, start: time.Now(),
		beats: map[uint64]time.Time{}, peers: map[string]time.Time{}, waits: map[uint64]*cacheWait{},
		schemas: map[string]uint64{}, changed: make(chan struct{})}
	cache.sync = s
	return s
}

// register numbers a datastore's schema in the cache.
func (s *CacheSync) register(schema string) uint64 {
	id := s.cache.register()
	s.mu.Lock()
	s.schemas[schema] = id
	s.mu.Unlock()
	return id
}

func (s *CacheSync) forgetSchema(schema string, id uint64) {
	s.mu.Lock()
	if s.schemas[schema] == id {
		delete(s.schemas, schema)
	}
	s.mu.Unlock()
}

// healthy reports whether cached reads may be served now.
func (s *CacheSync) healthy() bool {
	return int64(time.Since(s.start)) < s.healthyUntil.Load()
}

// Run listens on the channel and sends the heartbeats until ctx ends,
// reconnecting after a lost connection.
func (s *CacheSync) Run(ctx context.Context) {
	for {
		err := s.listen(ctx)
		s.down()
		if ctx.Err() != nil {
			// Writers need not wait for this instance any more.
			_ = s.notify(context.WithoutCancel(ctx), "x "+s.self+" 0")
			return
		}
		s.log.Warn("postgres: read cache listener interrupted; reads by id go to the database until it is back", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// down stops serving from the cache and forgets it: invalidations may
// be missed from now on.
func (s *CacheSync) down() {
	s.mu.Lock()
	s.healthyUntil.Store(0)
	clear(s.beats)
	s.mu.Unlock()
	s.cache.forgetWhere(func(k cacheKey) bool { return true })
}

func (s *CacheSync) listen(ctx context.Context) error {
	cfg, err := pgx.ParseConfig(s.dsn)
	if err != nil {
		return err
	}
	cfg.RuntimeParams["application_name"] = s.listenerName()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+cacheChannel); err != nil {
		return err
	}
	// Whatever was cached before LISTEN took effect may have missed an
	// invalidation.
	s.down()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.heartbeats(ctx)
	return notifications(ctx, conn, func(payload string) { s.receive(ctx, payload) })
}

// listenerName is the application_name of the listening connection.
func (s *CacheSync) listenerName() string { return "clinikapi read cache " + s.self }

// heartbeats sends a heartbeat every lease/8 until ctx ends.
func (s *CacheSync) heartbeats(ctx context.Context) {
	t := time.NewTicker(s.lease / 8)
	defer t.Stop()
	for {
		s.mu.Lock()
		s.beat++
		n := s.beat
		now := time.Now()
		s.beats[n] = now
		for p, heard := range s.peers { // gone without a word (killed)
			if now.Sub(heard) > 10*s.lease {
				delete(s.peers, p)
			}
		}
		s.mu.Unlock()
		if err := s.notify(ctx, "h "+s.self+" "+strconv.FormatUint(n, 10)); err != nil && ctx.Err() == nil {
			s.log.Warn("postgres: read cache heartbeat failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *CacheSync) notify(ctx context.Context, payload string) error {
	ctx, cancel := context.WithTimeout(ctx, s.lease)
	defer cancel()
	_, err := s.db.sql.ExecContext(ctx, `SELECT pg_notify($1, $2)`, cacheChannel, payload)
	return err
}

// receive handles one notification:
//
//	h <instance> <n>                              a heartbeat
//	i <instance> <seq> <schema> <tenant> [<type> <id>]  an invalidation (of a tenant, without type and id)
//	a <writer> <seq> <instance>                   an acknowledgement
//	x <instance> 0                                an instance stopping
func (s *CacheSync) receive(ctx context.Context, payload string) {
	f := strings.Split(payload, " ")
	if len(f) < 3 {
		return
	}
	from := f[1]
	n, err := strconv.ParseUint(f[2], 10, 64)
	if err != nil {
		return
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch f[0] {
	case "h":
		if from != s.self {
			s.peers[from] = now
			return
		}
		if sent, ok := s.beats[n]; ok {
			delete(s.beats, n)
			for m := range s.beats { // older ones are not coming back
				if m < n {
					delete(s.beats, m)
				}
			}
			if until := int64(sent.Add(s.lease).Sub(s.start)); until > s.healthyUntil.Load() {
				s.healthyUntil.Store(until) // written under s.mu only
			}
		}
	case "i":
		if len(f) != 5 && len(f) != 7 {
			return
		}
		if id, ok := s.schemas[f[3]]; ok {
			if len(f) == 7 {
				s.cache.touch(cacheKey{id, f[4], f[5], f[6]})
			} else {
				tenant := f[4]
				s.cache.forgetWhere(func(k cacheKey) bool { return k.ds == id && k.tenant == tenant })
			}
		}
		if from == s.self {
			if w, ok := s.waits[n]; ok && !w.seen {
				w.seen = true
				w.peers = map[string]bool{}
				for p, heard := range s.peers {
					if now.Sub(heard) < s.lease {
						w.peers[p] = false
					}
				}
				s.signal()
			}
			return
		}
		s.peers[from] = now
		go func() { // not on the listener: it must keep reading
			if err := s.notify(ctx, "a "+from+" "+f[2]+" "+s.self); err != nil && ctx.Err() == nil {
				s.log.Warn("postgres: read cache acknowledgement failed", "err", err)
			}
		}()
	case "x":
		delete(s.peers, from)
		s.signal()
	case "a":
		if len(f) != 4 || from != s.self {
			return
		}
		s.peers[f[3]] = now
		if w, ok := s.waits[n]; ok && w.seen {
			if _, ok := w.peers[f[3]]; ok {
				w.peers[f[3]] = true
				s.signal()
			}
		}
	}
}

// signal wakes the waiting writers (s.mu held).
func (s *CacheSync) signal() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// invalidate sends, in tx, the invalidation of tenant's resource typ/id
// of the datastore in schema (of all tenant's resources when typ is
// empty), and returns the number to wait for once tx has committed.
func (s *CacheSync) invalidate(ctx context.Context, tx *sql.Tx, schema string, tenant datastore.Tenant, typ, id string) (uint64, error) {
	s.mu.Lock()
	s.seq++
	n := s.seq
	s.waits[n] = &cacheWait{}
	s.mu.Unlock()
	payload := "i " + s.self + " " + strconv.FormatUint(n, 10) + " " + schema + " " + string(tenant)
	if typ != "" {
		payload += " " + typ + " " + id
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, cacheChannel, payload); err != nil {
		s.done(n)
		return 0, err
	}
	return n, nil
}

// done forgets the wait of invalidation n.
func (s *CacheSync) done(n uint64) {
	s.mu.Lock()
	delete(s.waits, n)
	s.mu.Unlock()
}

// await waits, after the transaction that sent invalidation n committed
// (committed: when the commit returned), until every live instance has
// acknowledged it, or until no instance can still serve what it replaced
// (cacheLease after the commit), or ctx ends.
func (s *CacheSync) await(ctx context.Context, n uint64, committed time.Time) {
	defer s.done(n)
	deadline := time.NewTimer(time.Until(committed.Add(s.lease)))
	defer deadline.Stop()
	for {
		s.mu.Lock()
		w := s.waits[n]
		ch := s.changed
		all := w != nil && w.seen
		if all {
			now := time.Now()
			for p, acked := range w.peers {
				// An instance not heard for a lease serves no cached read.
				if !acked && now.Sub(s.peers[p]) < s.lease {
					all = false
				}
			}
		}
		s.mu.Unlock()
		if all {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			return
		case <-ctx.Done():
			return
		case <-time.After(s.lease / 8): // a silent instance's lease runs out
		}
	}
}
