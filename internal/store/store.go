// Package store is the only place with SQL. One DB type implements the store
// interfaces of the capability packages on SQLite (the C library, the
// embedded default) and PostgreSQL (pgx). Both bind $N placeholders, so one
// SQL text serves both dialects; the few differences are named here.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/stdlib" // also registers the "pgx" driver
	sqlite3 "github.com/mattn/go-sqlite3"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/random"
	"github.com/clinikapi/clinikapi/migrations"
)

// Dialect names the SQL engine behind a DB.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is one database: the control plane, or a FHIR datastore.
type DB struct {
	sql     *sql.DB
	dialect Dialect
	// writeMu serialises writers on SQLite in the process, so they queue
	// here instead of in SQLite's busy handler, which sleeps in steps of
	// up to 100 ms. PostgreSQL needs no such lock. Every write takes it
	// through writing (or execWrite, queryWrite, tx, insertValuesTx and the
	// committer, built on it); TestWritesHoldTheWriteLock keeps it so.
	writeMu sync.Mutex
	// stopCheckpoints ends the SQLite background checkpointer.
	stopCheckpoints func()
	// stmts holds statements prepared once and kept (see prepared).
	stmts sync.Map
}

// batchShape names a multi-row INSERT: its text around VALUES and its size.
type batchShape struct {
	head, tail string
	rows, cols int
}

// writing runs fn holding the SQLite write lock.
func (db *DB) writing(fn func() error) error {
	if db.dialect == SQLite {
		db.writeMu.Lock()
		defer db.writeMu.Unlock()
	}
	return fn()
}

// execWrite runs a writing statement outside a transaction.
func (db *DB) execWrite(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := db.writing(func() error {
		var err error
		res, err = db.sql.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

// queryWrite runs a writing statement that returns a row (… RETURNING)
// outside a transaction; scan reads the row while the write lock is held.
func (db *DB) queryWrite(ctx context.Context, scan func(*sql.Row) error, query string, args ...any) error {
	return db.writing(func() error { return scan(db.sql.QueryRowContext(ctx, query, args...)) })
}

// Open connects to databaseURL (postgres://…) or, when it is empty, to the
// SQLite file clinikapi.db under dataDir, creating the directory.
func Open(ctx context.Context, databaseURL, dataDir string) (*DB, error) {
	if databaseURL != "" {
		return openPostgres(ctx, databaseURL)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("CLINIKAPI_DATA_DIR: %w", err)
	}
	return OpenSQLite(ctx, filepath.Join(dataDir, "clinikapi.db"), nil)
}

// OpenSQLite opens (creating if needed) the SQLite database at path. With
// key (32 bytes) its pages are encrypted (AES-256, see sqliteCipher); a file that key does not open is
// ErrWrongDatastoreKey. A plain file must be encrypted first
// (EncryptSQLiteInPlace).
func OpenSQLite(ctx context.Context, path string, key []byte) (*DB, error) {
	q := url.Values{}
	q.Set("_txlock", "immediate")
	if key != nil {
		if plain, err := isPlainSQLite(path); err != nil {
			return nil, err
		} else if plain {
			return nil, fmt.Errorf("open SQLite database %s: it is not encrypted yet", path)
		}
	}
	if key != nil {
		scheme, err := sqliteScheme(ctx, path, key)
		if err != nil {
			return nil, fmt.Errorf("open SQLite database %s: %w", path, err)
		}
		sqliteKeyParams(q, scheme, key)
	}
	db := sql.OpenDB(&sqliteConnector{dsn: "file:" + path + "?" + q.Encode(), encrypted: key != nil, d: sqliteDrv})
	// Keep every connection idle-ready: a closed one costs a file open,
	// the pragmas and every prepared statement again on its next use.
	db.SetMaxOpenConns(sqliteMaxConns)
	db.SetMaxIdleConns(sqliteMaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open SQLite database %s: %w", path, err)
	}
	d := &DB{sql: db, dialect: SQLite}
	d.stopCheckpoints = d.checkpoints(checkpointEvery)
	sqliteOpened()
	return d, nil
}

// checkpointEvery is how often the write-ahead log is copied back into the
// SQLite database file.
const checkpointEvery = 500 * time.Millisecond

// checkpoints copies the write-ahead log back into the database file in
// the background until the returned stop is called. Connections do not
// checkpoint themselves (wal_autocheckpoint(0)): a checkpoint ends in an
// fsync, which would stall the commit that crossed the threshold and every
// write queued behind it. A PASSIVE checkpoint takes no lock that readers
// or writers wait for.
func (db *DB) checkpoints(every time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				// A failure (a busy file) is retried on the next tick. A
				// pass under way when stop is called is not interrupted:
				// SQLite keeps a connection's interrupt until its next
				// statement, and a connection closed with one pending
				// abandons its closing checkpoint.
				_, _ = db.checkpointOnce(context.WithoutCancel(ctx), walRestartFrames)
			}
		}
	}()
	return func() { cancel(); <-done }
}

// walRestartFrames is the size of the write-ahead log, in pages, past which
// a checkpoint makes sure the log starts over (256 MiB of 4 KiB pages; it
// is then truncated to journal_size_limit). Each time, writers pause for
// about one checkpoint interval's commits to be copied: the larger the
// bound, the rarer the pause.
const walRestartFrames = 65536

// checkpointOnce copies the log into the database file without blocking
// anyone and returns the log's size in pages. Under a steady stream of
// commits such a checkpoint never catches up, and the log, which starts
// over only once it is copied entirely and no reader is still using it,
// would grow without end: past restartAt pages, this process's writers
// pause while a RESTART checkpoint copies the last stretch (what was
// committed during the pass just made) and waits for the readers of the
// log to finish (new readers read the database file); the log then starts
// over. The pause is bounded by restartWait.
func (db *DB) checkpointOnce(ctx context.Context, restartAt int) (int, error) {
	// A checkpoint reports the log as it found it: commits made during the
	// pass are neither copied nor counted.
	log, _, err := db.checkpoint(ctx)
	if err == nil && log > restartAt {
		// Not restarted (busy: a reader outlasted restartWait, or another
		// process checkpoints) is tried again at the next tick.
		err = db.writing(func() error { return db.restartLog(ctx) })
	}
	return log, err
}

// restartWait bounds how long a RESTART checkpoint waits for readers
// still on the log, writers paused meanwhile; one that is not done by then
// is tried again at the next tick.
const restartWait = 250 * time.Millisecond

// restartLog runs a RESTART checkpoint on a connection of its own whose
// busy timeout is restartWait.
func (db *DB) restartLog(ctx context.Context) error {
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = "+itoa(int(restartWait.Milliseconds()))); err != nil {
		return err
	}
	// The connection goes back to the pool with the usual timeout.
	defer conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA busy_timeout = "+itoa(int(sqliteBusyTimeout.Milliseconds())))
	var busy, log, done int
	return conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(RESTART)").Scan(&busy, &log, &done)
}

// checkpoint runs a PASSIVE checkpoint and reports the pages in the log
// and how many of them are now copied into the database file; both are -1
// when another checkpoint held the log.
func (db *DB) checkpoint(ctx context.Context) (log, done int, err error) {
	var busy int
	err = db.sql.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &done)
	return log, done, err
}

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", redact(err, dsn))
	}
	// A statement whose context ends (a request's time budget, a client
	// gone) is cancelled on the server at once, so it stops using the
	// database, and the connection stays usable. pgx's default only cuts
	// the connection, which leaves the statement running on the server
	// until it next writes to the client. A server that does not answer
	// the cancel within cancelGrace has its connection cut.
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: cancelGrace}
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(postgresPool)
	db.SetMaxIdleConns(postgresPool)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("DATABASE_URL: cannot reach PostgreSQL: %w", redact(err, dsn))
	}
	return &DB{sql: db, dialect: Postgres}, nil
}

// cancelGrace is how long PostgreSQL has to honour a cancel request
// before the connection of the cancelled statement is closed.
const cancelGrace = time.Second

// redact keeps a password in the DSN out of error messages.
func redact(err error, dsn string) error {
	u, perr := url.Parse(dsn)
	if perr != nil || u.User == nil {
		return err
	}
	if pw, ok := u.User.Password(); ok && pw != "" {
		return errors.New(strings.ReplaceAll(err.Error(), pw, "***"))
	}
	return err
}

// Dialect reports the SQL engine.
func (db *DB) Dialect() Dialect { return db.dialect }

// Close closes the connection pool.
func (db *DB) Close() error {
	if db.stopCheckpoints != nil {
		db.stopCheckpoints()
	}
	db.stmts.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
	if db.dialect == SQLite {
		defer sqliteClosed()
		// The log is copied into the database file and emptied before the
		// pool closes, so the file closed is whole on its own (to copy,
		// back up or move). SQLite's own checkpoint when its last
		// connection closes is skipped if that connection holds an
		// interrupt left by a cancelled statement. A log still read by
		// another process stays as it is: opening the file replays it.
		_, _ = db.execWrite(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)")
	}
	return db.sql.Close()
}

// Ping checks the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.sql.PingContext(ctx) }

// SQL exposes the pool for tests that inspect raw tables.
func (db *DB) SQL() *sql.DB { return db.sql }

// Migrate applies every pending migration. On PostgreSQL a session advisory
// lock makes concurrent start-ups wait for each other.
func (db *DB) Migrate(ctx context.Context, log *slog.Logger) error {
	return db.migrate(ctx, log, string(db.dialect))
}

// migrate applies the migration set in dir of the embedded tree.
func (db *DB) migrate(ctx context.Context, log *slog.Logger, dir string) error {
	var opts []goose.ProviderOption
	dialect := goose.DialectSQLite3
	if db.dialect == Postgres {
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	sub, err := subFS(dir)
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(dialect, db.sql, sub, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	for _, r := range results {
		log.Info("migration applied", "version", r.Source.Version, "file", filepath.Base(r.Source.Path), "took", r.Duration.String())
	}
	return nil
}

// tx runs fn in a transaction, committing when it returns nil.
func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	return db.writing(func() error {
		tx, err := db.sql.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			_ = tx.Rollback()
			return err
		}
		return tx.Commit()
	})
}

// isUnique reports whether err is a unique-constraint violation.
func isUnique(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505"
	}
	var lite sqlite3.Error
	if errors.As(err, &lite) {
		return lite.ExtendedCode == sqlite3.ErrConstraintUnique || lite.ExtendedCode == sqlite3.ErrConstraintPrimaryKey
	}
	return false
}

// notFound maps sql.ErrNoRows to an errs.NotFound with msg.
func notFound(err error, msg string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return errs.E(errs.NotFound, "%s", msg)
	}
	return err
}

// utc normalises times before they are written: UTC, microsecond precision
// (PostgreSQL's), so a value reads back equal on both engines.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// nullString maps "" to NULL.
func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func subFS(dir string) (fs.FS, error) { return fs.Sub(migrations.FS, dir) }

func itoa(n int) string { return strconv.Itoa(n) }

// placeholder returns the n-th bind parameter for statements with many
// parameters. SQLite looks $N names up linearly (quadratic for a 5,000-value
// batch insert), so it gets plain positional "?"; PostgreSQL needs $N.
func (db *DB) placeholder(n int) string {
	if db.dialect == SQLite {
		return "?"
	}
	return "$" + itoa(n)
}

// values writes the VALUES rows of a multi-row INSERT: rows groups of cols
// bind parameters, "(…),(…)", numbered from 1.
// valuesText returns the text of a multi-row INSERT of shape.
func (db *DB) valuesText(s batchShape) func() string {
	return func() string {
		var q strings.Builder
		q.WriteString(s.head)
		q.WriteString(" VALUES ")
		db.values(&q, s.rows, s.cols)
		q.WriteString(s.tail)
		return q.String()
	}
}

// insertValuesTx runs head VALUES (…),(…) tail over rows rows of cols
// arguments each inside tx (which holds the write lock). The statement of a
// full batch (rows == full, what the flushers write under load) is prepared
// once and kept: parsing thousands of placeholders costs about as much as
// running them. Smaller batches are parsed each time.
func (db *DB) insertValuesTx(ctx context.Context, tx *sql.Tx, head, tail string, rows, cols, full int, args []any) error {
	shape := batchShape{head: head, tail: tail, rows: rows, cols: cols}
	text := db.valuesText(shape)
	if rows != full {
		_, err := tx.ExecContext(ctx, text(), args...)
		return err
	}
	st, err := db.prepared(ctx, shape, text)
	if err != nil {
		return err
	}
	_, err = tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	return err
}

// prepared returns the statement kept under key, preparing text() the
// first time. Kept statements are closed with the database; a key must
// name one statement text, and the set of keys must stay small.
func (db *DB) prepared(ctx context.Context, key any, text func() string) (*sql.Stmt, error) {
	if st, ok := db.stmts.Load(key); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := db.sql.PrepareContext(ctx, text())
	if err != nil {
		return nil, err
	}
	if kept, loaded := db.stmts.LoadOrStore(key, st); loaded {
		st.Close()
		return kept.(*sql.Stmt), nil
	}
	return st, nil
}

func (db *DB) values(q *strings.Builder, rows, cols int) {
	n := 0
	for i := range rows {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteByte('(')
		for j := range cols {
			if j > 0 {
				q.WriteByte(',')
			}
			n++
			q.WriteString(db.placeholder(n))
		}
		q.WriteByte(')')
	}
}

// ServerSecret returns the shared secret called name, creating it on first
// use; every instance on the database gets the same bytes.
func (db *DB) ServerSecret(ctx context.Context, name string) ([]byte, error) {
	s, err := db.ServerSecretOr(ctx, name, random.Token()+random.Token())
	return []byte(s), err
}

// ServerSecretOr implements encryption.Secrets.
func (db *DB) ServerSecretOr(ctx context.Context, name, fresh string) (string, error) {
	if _, err := db.execWrite(ctx, `INSERT INTO server_secrets (name, secret, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`,
		name, fresh, utc(time.Now())); err != nil {
		return "", err
	}
	var s string
	err := db.sql.QueryRowContext(ctx, `SELECT secret FROM server_secrets WHERE name = $1`, name).Scan(&s)
	return s, err
}

// ServerSecretsLike implements encryption.Secrets.
func (db *DB) ServerSecretsLike(ctx context.Context, prefix string) (map[string]string, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT name, secret FROM server_secrets WHERE name LIKE $1 ESCAPE '\'`, likePrefix(prefix))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var n, s string
		if err := rows.Scan(&n, &s); err != nil {
			return nil, err
		}
		out[n] = s
	}
	return out, rows.Err()
}

// ReplaceServerSecrets implements encryption.Secrets.
func (db *DB) ReplaceServerSecrets(ctx context.Context, old, new map[string]string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		for name, v := range new {
			res, err := tx.ExecContext(ctx, `UPDATE server_secrets SET secret = $1 WHERE name = $2 AND secret = $3`, v, name, old[name])
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return fmt.Errorf("server secret %s changed meanwhile; run the rotation again", name)
			}
		}
		return nil
	})
}

// VacuumInto writes a consistent copy of the SQLite database to path (a
// new file), beside running readers and writers (this process's writers
// wait for it: it runs under the write lock).
func (db *DB) VacuumInto(ctx context.Context, path string) error {
	if db.dialect != SQLite {
		return errors.New("backups of PostgreSQL are made with its own tools")
	}
	_, err := db.execWrite(ctx, `VACUUM INTO $1`, path)
	return err
}
