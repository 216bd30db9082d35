package store_test

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/random"
	"github.com/clinikapi/clinikapi/internal/store"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
)

// TestUnavailable classifies the drivers' own errors: the database out of
// reach for now (refused or cut connections, SQLite locked past its busy
// timeout) is Unavailable; a fault of the statement or the data is not.
func TestUnavailable(t *testing.T) {
	ctx := context.Background()
	for _, err := range []error{nil, errors.New("boom"), errs.E(errs.Invalid, "bad"), context.Canceled} {
		if store.Unavailable(err) {
			t.Errorf("%v is classified unavailable", err)
		}
	}

	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "busy.db")
		holder, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=0&_journal_mode=WAL")
		if err != nil {
			t.Fatal(err)
		}
		defer holder.Close()
		if _, err := holder.Exec(`CREATE TABLE t (v TEXT)`); err != nil {
			t.Fatal(err)
		}
		tx, err := holder.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.Exec(`INSERT INTO t VALUES ('a')`); err != nil {
			t.Fatal(err)
		}
		other, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=0")
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		_, err = other.Exec(`INSERT INTO t VALUES ('b')`)
		if err == nil || !store.Unavailable(err) {
			t.Fatalf("a write while another connection holds the lock: %v, want unavailable", err)
		}
		_, err = other.Exec(`INSERT INTO nope VALUES (1)`)
		if err == nil || store.Unavailable(err) {
			t.Fatalf("a statement on a missing table: %v, want not unavailable", err)
		}
	})

	t.Run("postgres", func(t *testing.T) {
		base := os.Getenv(storetest.EnvPostgres)
		if base == "" {
			t.Skip(storetest.EnvPostgres + " is not set")
		}
		admin, err := sql.Open("pgx", base)
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()

		// Nothing listens on port 1.
		_, err = store.Open(ctx, "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", t.TempDir())
		if err == nil || !store.Unavailable(err) {
			t.Fatalf("connecting to a closed port: %v, want unavailable", err)
		}

		// A role that may not connect at all: too many connections.
		role := "r_" + random.ID("x")[2:]
		if _, err := admin.Exec(`CREATE ROLE ` + role + ` LOGIN CONNECTION LIMIT 0`); err != nil {
			t.Fatal(err)
		}
		defer admin.Exec(`DROP ROLE ` + role)
		u, _ := url.Parse(base)
		u.User = url.User(role)
		limited, err := sql.Open("pgx", u.String())
		if err != nil {
			t.Fatal(err)
		}
		defer limited.Close()
		err = limited.PingContext(ctx)
		t.Logf("limited: %v", err)
		if err == nil || !store.Unavailable(err) {
			t.Fatalf("a role past its connection limit: %v, want unavailable", err)
		}

		// A connection the server terminates: its next statement fails.
		db, err := sql.Open("pgx", base)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var pid int
		if err := conn.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec(`SELECT pg_terminate_backend($1)`, pid); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, err = conn.ExecContext(ctx, `SELECT 1`)
			if err != nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("terminated: %v", err)
		if err == nil || !store.Unavailable(err) {
			t.Fatalf("a statement on a terminated connection: %v, want unavailable", err)
		}

		// Faults of the statement are not.
		if _, err := admin.Exec(`SELECT * FROM no_such_table`); err == nil || store.Unavailable(err) {
			t.Fatalf("a missing table: %v, want not unavailable", err)
		}
		if _, err := admin.Exec(`SELECT 1/0`); err == nil || store.Unavailable(err) {
			t.Fatalf("a division by zero: %v, want not unavailable", err)
		}
	})
}
