package store

import (
	"context"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// sqliteDrv is SQLite (the C library, through github.com/mattn/go-sqlite3)
// speaking the same SQL as the PostgreSQL side of the store: statements
// number their parameters $1, $2, … and SQLite binds "$1" by order of first
// appearance, not by number, so each statement's $N become SQLite's ?N.
// Every new connection (sqliteConnector) also gets the pragmas the store
// relies on.
var sqliteDrv = &numberedDriver{&sqlite3.SQLiteDriver{}}

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
	// Sorts and temporary tables too large for the cache stay in memory:
	// SQLite3 Multiple Ciphers encrypts the database, its log and
	// journals, not the transient files a spill would write.
	"PRAGMA temp_store = MEMORY",
}

// sqliteConnector opens connections to one SQLite file: with encrypted
// set (the DSN carries the file's data key, see sqliteKeyParams) its pages
// are encrypted, without it they are plain (the control database).
type sqliteConnector struct {
	dsn       string // never part of an error or a log line
	encrypted bool
	d         *numberedDriver
}

// sqliteCipher is the page cipher of SQLite3 Multiple Ciphers
// (internal/third_party/go-sqlite3): SQLCipher version 4's scheme,
// AES-256-CBC with a random IV per page write and an HMAC per page (a
// changed page fails to read), 4096-byte pages, with SQLCipher's
// HMAC-SHA256 setting (cipher_hmac_algorithm) instead of its default
// HMAC-SHA512: SHA-256 runs on the processor's SHA extensions where it has
// them, about four times cheaper than SHA-512 in portable C, and the HMAC
// is most of what encryption costs. The key is given raw ("raw:" and 64
// hex digits), so no key derivation runs on each connection: it is a
// random 256-bit data key already.
var sqliteCipher = [][2]string{{"cipher", "sqlcipher"}, {"legacy", "4"}, {"hmac_algorithm", "1"}}

// sqliteCipherSHA512 is the scheme files were encrypted with before
// (SQLCipher 4's defaults, HMAC-SHA512): such a file keeps opening with it.
var sqliteCipherSHA512 = [][2]string{{"cipher", "sqlcipher"}, {"legacy", "4"}}

// sqliteKeyParams adds to q the URI parameters that open a file encrypted
// with key under scheme. SQLite3 Multiple Ciphers reads them as it opens
// the file, before the driver's first statement.
func sqliteKeyParams(q url.Values, scheme [][2]string, key []byte) {
	for _, p := range scheme {
		q.Set(p[0], p[1])
	}
	q.Set("key", rawKey(key))
}

// sqliteScheme is the scheme the encrypted file at path opens with under
// key: sqliteCipher, or sqliteCipherSHA512 for a file written before
// (ErrWrongDatastoreKey when neither does). A new file gets sqliteCipher.
func sqliteScheme(ctx context.Context, path string, key []byte) ([][2]string, error) {
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		return sqliteCipher, nil
	}
	var err error
	for _, scheme := range [][][2]string{sqliteCipher, sqliteCipherSHA512} {
		q := url.Values{}
		sqliteKeyParams(q, scheme, key)
		c := &sqliteConnector{dsn: "file:" + path + "?" + q.Encode(), encrypted: true, d: sqliteDrv}
		var conn driver.Conn
		if conn, err = c.Connect(ctx); err == nil {
			conn.Close()
			return scheme, nil
		}
		if !errors.Is(err, ErrWrongDatastoreKey) {
			return nil, err
		}
	}
	return nil, err
}

// rawKey is key as SQLite3 Multiple Ciphers takes a key used as it is.
func rawKey(key []byte) string { return "raw:" + hex.EncodeToString(key) }

// ErrWrongDatastoreKey is an encrypted SQLite file that the data key
// given does not open.
var ErrWrongDatastoreKey = errors.New("the database file does not open with its data key (a wrong key, or not this deployment's file)")

func (c *sqliteConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.d.d.Open(c.dsn)
	if err != nil {
		return nil, c.keyErr(err)
	}
	conn := dc.(*sqlite3.SQLiteConn)
	if c.encrypted {
		// SQLite reads nothing until asked: check the key opens the file.
		if _, err := conn.Exec("SELECT count(*) FROM sqlite_schema", nil); err != nil {
			conn.Close()
			return nil, c.keyErr(err)
		}
	}
	for _, p := range sqlitePragmas {
		if _, err := conn.Exec(p, nil); err != nil {
			conn.Close()
			return nil, err
		}
	}
	nc := &numberedConn{SQLiteConn: conn}
	if err := nc.adopt(); err != nil {
		conn.Close()
		return nil, err
	}
	return nc, nil
}

// keyErr tells a key that does not open an encrypted file apart.
func (c *sqliteConnector) keyErr(err error) error {
	var se sqlite3.Error
	if c.encrypted && errors.As(err, &se) && se.Code == sqlite3.ErrNotADB {
		return ErrWrongDatastoreKey
	}
	return err
}

func (c *sqliteConnector) Driver() driver.Driver { return c.d }

type numberedDriver struct{ d *sqlite3.SQLiteDriver }

func (n *numberedDriver) Open(dsn string) (driver.Conn, error) {
	return (&sqliteConnector{dsn: dsn, d: n}).Connect(context.Background())
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

// plainSQLiteHeader starts every SQLite file whose pages are not
// encrypted; an encrypted file starts with its random salt.
const plainSQLiteHeader = "SQLite format 3\x00"

// isPlainSQLite reports whether path is an SQLite file in the clear (false
// when it does not exist).
func isPlainSQLite(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	b := make([]byte, len(plainSQLiteHeader))
	n, _ := io.ReadFull(f, b)
	return n == len(b) && string(b) == plainSQLiteHeader, nil
}

// EncryptSQLiteInPlace encrypts the pages of the plain SQLite database at
// path with key, in one transaction (a crash leaves it plain), and reports
// whether it did (false: the file is missing or encrypted already). Its
// write-ahead log is copied in first; nothing else may have it open.
func EncryptSQLiteInPlace(ctx context.Context, path string, key []byte) (bool, error) {
	plain, err := isPlainSQLite(path)
	if err != nil || !plain {
		return false, err
	}
	d := &sqlite3.SQLiteDriver{}
	dc, err := d.Open("file:" + path)
	if err != nil {
		return false, err
	}
	conn := dc.(*sqlite3.SQLiteConn)
	defer conn.Close()
	// SQLite3 Multiple Ciphers encrypts a plain file only outside WAL mode.
	steps := []string{
		"PRAGMA busy_timeout = " + itoa(int(sqliteBusyTimeout.Milliseconds())),
		"PRAGMA wal_checkpoint(TRUNCATE)",
		"PRAGMA journal_mode = DELETE",
	}
	for _, p := range sqliteCipher {
		steps = append(steps, "PRAGMA "+p[0]+" = '"+p[1]+"'")
	}
	for _, p := range steps {
		if _, err := conn.Exec(p, nil); err != nil {
			return false, fmt.Errorf("encrypting %s: %w", filepath.Base(path), err)
		}
	}
	if _, err := conn.Exec("PRAGMA rekey = '"+rawKey(key)+"'", nil); err != nil {
		var se sqlite3.Error
		if errors.As(err, &se) {
			return false, fmt.Errorf("encrypting %s: %s", filepath.Base(path), se.Code)
		}
		return false, fmt.Errorf("encrypting %s failed", filepath.Base(path))
	}
	if _, err := conn.Exec("PRAGMA journal_mode = WAL", nil); err != nil {
		return false, fmt.Errorf("encrypting %s: %w", filepath.Base(path), err)
	}
	if plain, err := isPlainSQLite(path); err != nil || plain {
		return false, fmt.Errorf("encrypting %s: the file is still plain", filepath.Base(path))
	}
	return true, nil
}

// CheckSQLiteKey reports whether key opens the encrypted SQLite file at
// path (ErrWrongDatastoreKey when it does not), reading one page.
func CheckSQLiteKey(ctx context.Context, path string, key []byte) error {
	_, err := sqliteScheme(ctx, path, key)
	return err
}
