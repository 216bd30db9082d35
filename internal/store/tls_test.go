package store_test

import (
	"context"
	"database/sql"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/clinikapi/clinikapi/internal/store"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
)

// TestPostgresVerifyFull: DATABASE_URL with sslmode=verify-full connects
// over TLS when the server's certificate is signed by sslrootcert and
// names the host, and refuses a server whose certificate does not name the
// host it was reached by — it never falls back to plain text. The FHIR
// datastores' connections keep the same settings. (Needs a test server
// with TLS whose certificate file this process can read, such as Debian's
// snakeoil certificate for localhost.)
func TestPostgresVerifyFull(t *testing.T) {
	base := os.Getenv(storetest.EnvPostgres)
	if base == "" {
		t.Skip(storetest.EnvPostgres + " is not set")
	}
	ctx := context.Background()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var ssl, certFile string
	if err := admin.QueryRowContext(ctx, `SELECT current_setting('ssl'), current_setting('ssl_cert_file')`).Scan(&ssl, &certFile); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(certFile); ssl != "on" || err != nil {
		t.Skipf("the test server has no TLS certificate this test can read (ssl=%s, %s)", ssl, certFile)
	}
	u, err := url.Parse(storetest.DatabaseURL(t, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	with := func(host string) string {
		v := *u
		v.Host = strings.Replace(v.Host, v.Hostname(), host, 1)
		q := v.Query()
		q.Set("sslmode", "verify-full")
		q.Set("sslrootcert", certFile)
		v.RawQuery = q.Encode()
		return v.String()
	}
	db, err := store.Open(ctx, with("localhost"), t.TempDir())
	if err != nil {
		t.Fatalf("verify-full to a server whose certificate names localhost: %v", err)
	}
	defer db.Close()
	var tls bool
	if err := db.SQL().QueryRowContext(ctx, `SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()`).Scan(&tls); err != nil || !tls {
		t.Fatalf("connection is TLS: %v (%v)", tls, err)
	}
	ds, err := store.OpenDatastore(ctx, with("localhost"), t.TempDir(), "test", nil, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("a FHIR datastore over verify-full: %v", err)
	}
	ds.Close()
	if db, err := store.Open(ctx, with("127.0.0.1"), t.TempDir()); err == nil {
		db.Close()
		t.Fatal("verify-full accepted a certificate that does not name the host")
	} else if !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("verify-full to the wrong name: %v, want a certificate error", err)
	}
}
