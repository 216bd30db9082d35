// Package storetest gives tests fresh, migrated databases: a SQLite file in a
// temporary directory always, and a PostgreSQL schema of its own when
// CLINIKAPI_TEST_POSTGRES_URL is set (CI sets it).
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/clinikapi/clinikapi/internal/random"
	"github.com/clinikapi/clinikapi/internal/store"
)

// EnvPostgres names the variable holding the PostgreSQL server to test on.
const EnvPostgres = "CLINIKAPI_TEST_POSTGRES_URL"

// Targets lists the engines to test on: SQLite always, PostgreSQL when
// CLINIKAPI_TEST_POSTGRES_URL is set.
func Targets(t testing.TB) []string {
	out := []string{"sqlite"}
	if os.Getenv(EnvPostgres) != "" {
		out = append(out, "postgres")
	}
	return out
}

// DatabaseURL returns a DATABASE_URL for a fresh database on engine: "" for
// SQLite (the caller's temporary data directory holds it), or a DSN whose
// search_path is a new PostgreSQL schema dropped when the test ends.
func DatabaseURL(t testing.TB, engine string) string {
	t.Helper()
	if engine != "postgres" {
		return ""
	}
	base := os.Getenv(EnvPostgres)
	if base == "" {
		t.Skip(EnvPostgres + " is not set")
	}
	schema := "t_" + strings.TrimPrefix(random.ID("x"), "x_")
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", EnvPostgres, err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		// The FHIR datastores of this test live beside it (schema_fhir_…).
		rows, err := db.Query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE $1`, schema+`\_fhir\_%`)
		if err != nil {
			return
		}
		var names []string
		for rows.Next() {
			var n string
			if rows.Scan(&n) == nil {
				names = append(names, n)
			}
		}
		rows.Close()
		for _, n := range names {
			_, _ = db.Exec(`DROP SCHEMA ` + n + ` CASCADE`)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open returns a fresh, migrated database on engine, closed when the test ends.
func Open(t testing.TB, engine string) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, DatabaseURL(t, engine), t.TempDir())
	if err != nil {
		t.Fatalf("open %s: %v", engine, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("migrate %s: %v", engine, err)
	}
	return db
}

// Each runs fn as a subtest on every target engine.
func Each(t *testing.T, fn func(t *testing.T, engine string)) {
	for _, engine := range Targets(t) {
		t.Run(engine, func(t *testing.T) { fn(t, engine) })
	}
}

// DatastoreKey is a fresh data key for a datastore on engine: SQLite
// files are encrypted, as the server keeps them; nil on PostgreSQL.
func DatastoreKey(engine string) []byte {
	if engine != "sqlite" {
		return nil
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic(err)
	}
	return k
}
