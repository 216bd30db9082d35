package store

/*
// From SQLite itself, which github.com/mattn/go-sqlite3 links in.
extern long long sqlite3_memory_used(void);
extern long long sqlite3_soft_heap_limit64(long long);
*/
import "C"

import (
	"database/sql"
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
// connection of every SQLite database the process has open: each database
// gets the budget over the number of databases, half of it for its
// writing connection (whose index pages every create walks) and the other
// half for its reading connections together, so the total stays within
// the budget as datastores open and close. A connection
// picks the current size up at its next statement; SQLite's soft heap
// limit, set to the same budget process-wide, bounds what idle
// connections still hold meanwhile (past it, a connection reuses its own
// least recently used pages instead of allocating more).
var sqlitePages struct {
	mu     sync.Mutex
	budget int64
	dbs    int64
	kib    atomic.Int64  // cache_size of each reading connection, in KiB
	wkib   atomic.Int64  // of each database's writing connection
	gen    atomic.Uint64 // advances whenever kib or wkib changes
}

func init() { SetSQLitePageBudget(memory.Default().SQLitePages()) }

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
	perDB := sqlitePages.budget / max(sqlitePages.dbs, 1)
	kib := max(perDB/2/(sqliteMaxConns-1)>>10, minPageCacheKiB)
	wkib := max(perDB/2>>10, minPageCacheKiB)
	oldR, oldW := sqlitePages.kib.Swap(kib), sqlitePages.wkib.Swap(wkib)
	if oldR != kib || oldW != wkib {
		sqlitePages.gen.Add(1)
	}
}

// pageCachePragma is the cache_size statement a connection runs to adopt
// the current share, with the generation it stands for.
func pageCachePragma(writer bool) (string, uint64) {
	gen := sqlitePages.gen.Load()
	kib := sqlitePages.kib.Load()
	if writer {
		kib = sqlitePages.wkib.Load()
	}
	return "PRAGMA cache_size = -" + strconv.FormatInt(kib, 10), gen
}

// markWriter gives conn, a database's writing connection, the writer's
// share of the page cache from its next statement on.
func markWriter(conn *sql.Conn) {
	_ = conn.Raw(func(dc any) error {
		if nc, ok := dc.(*numberedConn); ok {
			nc.writer, nc.sized = true, false
		}
		return nil
	})
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

// SQLitePageCacheKiB is the cache_size each reading and each writing
// connection gets now (tests).
func SQLitePageCacheKiB() (reader, writer int64) {
	return sqlitePages.kib.Load(), sqlitePages.wkib.Load()
}
