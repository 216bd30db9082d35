package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"strings"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// sqliteDriver is SQLite (the C library, through github.com/mattn/go-sqlite3)
// speaking the same SQL as the PostgreSQL side of the store: statements
// number their parameters $1, $2, … and SQLite binds "$1" by order of first
// appearance, not by number, so each statement's $N become SQLite's ?N.
// Every new connection also gets the pragmas the store relies on.
const sqliteDriver = "clinikapi-sqlite"

// sqliteBusyTimeout is how long a statement waits for a lock another
// process (or a checkpoint) holds before it fails with "database is busy".
const sqliteBusyTimeout = 10 * time.Second

// sqlitePragmas run on every new connection.
var sqlitePragmas = []string{
	"PRAGMA busy_timeout = " + itoa(int(sqliteBusyTimeout.Milliseconds())),
	"PRAGMA journal_mode = WAL",
	"PRAGMA foreign_keys = ON",
	"PRAGMA synchronous = NORMAL",
	"PRAGMA wal_autocheckpoint = 0",        // checkpoints run in the background (DB.checkpoints)
	"PRAGMA journal_size_limit = 67108864", // the log file shrinks back to 64 MiB after a reset
}

func init() {
	sql.Register(sqliteDriver, &numberedDriver{&sqlite3.SQLiteDriver{
		ConnectHook: func(c *sqlite3.SQLiteConn) error {
			for _, p := range sqlitePragmas {
				if _, err := c.Exec(p, nil); err != nil {
					return err
				}
			}
			return nil
		},
	}})
}

type numberedDriver struct{ d *sqlite3.SQLiteDriver }

func (n *numberedDriver) Open(dsn string) (driver.Conn, error) {
	c, err := n.d.Open(dsn)
	if err != nil {
		return nil, err
	}
	nc := &numberedConn{SQLiteConn: c.(*sqlite3.SQLiteConn)}
	if err := nc.adopt(); err != nil {
		c.Close()
		return nil, err
	}
	return nc, nil
}

// numberedConn rewrites parameter numbers on the way into SQLite, and
// keeps the connection's page cache at its share of the budget (see
// sqlitePages).
type numberedConn struct {
	*sqlite3.SQLiteConn
	pagesGen uint64 // the sqlitePages generation this connection's cache_size is of
	sized    bool
	writer   bool // the database's writing connection (markWriter)
}

// adopt sets the connection's cache_size if the share changed since.
func (c *numberedConn) adopt() error {
	if c.sized && c.pagesGen == sqlitePages.gen.Load() {
		return nil
	}
	stmt, gen := pageCachePragma(c.writer)
	if _, err := c.SQLiteConn.Exec(stmt, nil); err != nil {
		return err
	}
	c.pagesGen, c.sized = gen, true
	return nil
}

func (c *numberedConn) Prepare(query string) (driver.Stmt, error) {
	if err := c.adopt(); err != nil {
		return nil, err
	}
	return c.SQLiteConn.Prepare(numbered(query))
}

func (c *numberedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if err := c.adopt(); err != nil {
		return nil, err
	}
	return c.SQLiteConn.PrepareContext(ctx, numbered(query))
}

func (c *numberedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if err := c.adopt(); err != nil {
		return nil, err
	}
	return c.SQLiteConn.ExecContext(ctx, numbered(query), args)
}

func (c *numberedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if err := c.adopt(); err != nil {
		return nil, err
	}
	return c.SQLiteConn.QueryContext(ctx, numbered(query), args)
}

// numbered turns every $N outside string literals and quoted names into ?N.
func numbered(q string) string {
	if strings.IndexByte(q, '$') < 0 {
		return q
	}
	b := []byte(q)
	var quote byte
	for i := 0; i < len(b); i++ {
		switch ch := b[i]; {
		case quote != 0:
			if ch == quote {
				quote = 0
			}
		case ch == '\'' || ch == '"':
			quote = ch
		case ch == '$' && i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '9':
			b[i] = '?'
		}
	}
	return string(b)
}
