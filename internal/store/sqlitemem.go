package store

/*
// From SQLite itself, which github.com/mattn/go-sqlite3 links in.
extern long long sqlite3_memory_used(void);
extern long long sqlite3_soft_heap_limit64(long long);
*/
import "C"

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/clinikapi/clinikapi/internal/memory"
)

// sqliteMaxConns is the size of each SQLite database's connection pool.
const sqliteMaxConns = 8

// minPageCacheKiB is the least page cache a connection gets however many
// databases share the budget: a B-tree lookup's pages and a few more.
const minPageCacheKiB = 256

// sqlitePages divides one budget between the page caches of every
// connection of every SQLite database the process has open: each
// connection's cache_size is the budget over (databases × pool size), so
// the total stays within it as datastores open and close. A connection
// picks the current size up at its next statement; SQLite's soft heap
// limit, set to the same budget process-wide, bounds what idle
// connections still hold meanwhile (past it, a connection reuses its own
// least recently used pages instead of allocating more).
var sqlitePages struct {
	mu     sync.Mutex
	budget int64
	dbs    int64
	kib    atomic.Int64  // cache_size of each connection, in KiB
	gen    atomic.Uint64 // advances whenever kib changes
}

func init() { SetSQLitePageBudget(memory.Budget(memory.DefaultBudget).SQLitePages()) }

// SetSQLitePageBudget sets the memory that SQLite's page caches share
// (the process's CLINIKAPI_CACHE_MEMORY share, memory.Budget.SQLitePages).
func SetSQLitePageBudget(bytes int64) {
	sqlitePages.mu.Lock()
	defer sqlitePages.mu.Unlock()
	sqlitePages.budget = bytes
	C.sqlite3_soft_heap_limit64(C.longlong(bytes))
	resizePagesLocked()
}

// sqliteOpened and sqliteClosed count the open SQLite databases.
func sqliteOpened() { sqliteCount(1) }
func sqliteClosed() { sqliteCount(-1) }

func sqliteCount(delta int64) {
	sqlitePages.mu.Lock()
	defer sqlitePages.mu.Unlock()
	sqlitePages.dbs += delta
	resizePagesLocked()
}

func resizePagesLocked() {
	kib := sqlitePages.budget / (max(sqlitePages.dbs, 1) * sqliteMaxConns) >> 10
	kib = max(kib, minPageCacheKiB)
	if sqlitePages.kib.Swap(kib) != kib {
		sqlitePages.gen.Add(1)
	}
}

// pageCachePragma is the cache_size statement a connection runs to adopt
// the current share, with the generation it stands for.
func pageCachePragma() (string, uint64) {
	gen := sqlitePages.gen.Load()
	return "PRAGMA cache_size = -" + strconv.FormatInt(sqlitePages.kib.Load(), 10), gen
}

// SQLitePageStats reports SQLite's memory in use (its page caches, and
// the little its connections and statements take beside them) against
// the page caches' budget.
func SQLitePageStats() memory.Stats {
	sqlitePages.mu.Lock()
	budget := sqlitePages.budget
	sqlitePages.mu.Unlock()
	return memory.Stats{Kind: "sqlite_page_cache", Bytes: int64(C.sqlite3_memory_used()), Budget: budget}
}

// SQLitePageCacheKiB is the cache_size each connection gets now (tests).
func SQLitePageCacheKiB() int64 { return sqlitePages.kib.Load() }
