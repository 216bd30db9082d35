package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/config"
	"github.com/clinikapi/clinikapi/internal/encryption"
	"github.com/clinikapi/clinikapi/internal/store"
)

func env(m map[string]string) config.Getenv { return config.FromMap(m) }

// openDatastoreFile opens the SQLite file of the datastore called name in
// the data directory dir with its data key, unwrapped as the server does
// with the key file there.
func openDatastoreFile(t *testing.T, dir, name string) *store.DB {
	t.Helper()
	ctx := context.Background()
	ctrl, err := store.OpenSQLite(ctx, filepath.Join(dir, "clinikapi.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ctrl.Close()
	master, err := encryption.ReadKeyFile(filepath.Join(dir, encryption.KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	dk, err := encryption.DataKey(ctx, ctrl, master, app.DatastoreKeyName(name))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.OpenSQLite(ctx, store.DatastoreFile(dir, name), dk)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestAdminCreateUserThenSignIn(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{"CLINIKAPI_DATA_DIR": dir}
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"admin", "create-user", "--email", "Ops@Example.com", "--password", "bootstrap violet harbor", "--org", "Ops Clinic", "--name", "Ops"}, env(vars), &out, &errOut)
	if err != nil {
		t.Fatalf("create-user: %v\n%s", err, errOut.String())
	}
	m := regexp.MustCompile(`^user_id=(usr_[0-9a-z]{16})\norg_id=(org_[0-9a-z]{16})\n$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("create-user printed %q, want user_id=… and org_id=…", out.String())
	}
	// A second run with the same e-mail fails with a clear message.
	err = run(context.Background(), []string{"admin", "create-user", "--email", "ops@example.com", "--password", "bootstrap violet harbor", "--org", "Again"}, env(vars), &out, &errOut)
	if err == nil || !strings.Contains(describe(err), "already exists") {
		t.Fatalf("duplicate create-user: %v", err)
	}
	if err := run(context.Background(), []string{"admin", "create-user", "--email", "x@example.com", "--password", "short", "--org", "X"}, env(vars), &out, &errOut); err == nil || !strings.Contains(describe(err), "at least 8 characters") {
		t.Fatalf("short password: %v", err)
	}

	// The server on the same data directory signs the user in.
	addr := freeAddr(t)
	vars["CLINIKAPI_ADDR"] = addr
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, env(vars), &out, &errOut) }()
	waitReady(t, "http://"+addr)

	// A second server on the same data directory refuses to start; admin
	// commands run beside the server.
	second := map[string]string{"CLINIKAPI_DATA_DIR": vars["CLINIKAPI_DATA_DIR"], "CLINIKAPI_ADDR": freeAddr(t)}
	if err := run(context.Background(), []string{"serve"}, env(second), &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "another clinikapi server is using the data directory") {
		t.Fatalf("second server on the same data directory: %v", err)
	}
	if err := run(context.Background(), []string{"admin", "create-user", "--email", "beside@example.com", "--password", "beside lantern garnet", "--org", "Beside"}, env(vars), &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatalf("admin command beside the server: %v", err)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.PostForm("http://"+addr+"/signin", url.Values{"email": {"ops@example.com"}, "password": {"bootstrap violet harbor"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("sign-in as the created user: %d → %q", res.StatusCode, res.Header.Get("Location"))
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v after shutdown", err)
		}
	case <-time.After(35 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	addr := freeAddr(t)
	vars := map[string]string{"CLINIKAPI_DATA_DIR": t.TempDir(), "CLINIKAPI_ADDR": addr}
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, env(vars), &out, &errOut) }()
	waitReady(t, "http://"+addr)

	// A second server on the same data directory refuses to start; admin
	// commands run beside the server.
	second := map[string]string{"CLINIKAPI_DATA_DIR": vars["CLINIKAPI_DATA_DIR"], "CLINIKAPI_ADDR": freeAddr(t)}
	if err := run(context.Background(), []string{"serve"}, env(second), &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "another clinikapi server is using the data directory") {
		t.Fatalf("second server on the same data directory: %v", err)
	}
	if err := run(context.Background(), []string{"admin", "create-user", "--email", "beside@example.com", "--password", "beside lantern garnet", "--org", "Beside"}, env(vars), &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatalf("admin command beside the server: %v", err)
	}

	// Open a request whose body arrives slowly, then ask the server to stop.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := "email=a%40example.com&password=whatever+pw"
	fmt.Fprintf(conn, "POST /signin HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body[:5])
	time.Sleep(100 * time.Millisecond)
	cancel()
	time.Sleep(100 * time.Millisecond)
	fmt.Fprint(conn, body[5:])
	buf := make([]byte, 64)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _ := conn.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 401") {
		t.Fatalf("in-flight request got %q, want its real answer (401 wrong credentials)", buf[:n])
	}
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if _, err := http.Get("http://" + addr + "/health"); err == nil {
		t.Fatalf("server still accepts connections after shutdown")
	}
}

func TestBadConfigStopsStartup(t *testing.T) {
	cases := map[string]map[string]string{
		"DATABASE_URL":      {"DATABASE_URL": "mysql://x"},
		"SUPABASE_ANON_KEY": {"SUPABASE_URL": "https://x.supabase.co"},
		"SUPABASE_URL":      {"SUPABASE_URL": "::not a url"},
		"CLINIKAPI_ADDR":    {"CLINIKAPI_ADDR": "8080"},
		"TLS_CERT_FILE":     {"TLS_CERT_FILE": "/nonexistent.pem"},
		"SMTP_URL":          {"SMTP_URL": "http://mail"},
	}
	for want, vars := range cases {
		vars["CLINIKAPI_DATA_DIR"] = t.TempDir()
		err := run(context.Background(), []string{"serve"}, env(vars), &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("config %v: error %v, want one line starting with %s", vars, err, want)
		}
	}
}

func TestMigrate(t *testing.T) {
	var errOut bytes.Buffer
	if err := run(context.Background(), []string{"migrate"}, env(map[string]string{"CLINIKAPI_DATA_DIR": t.TempDir(), "CLINIKAPI_LOG_FORMAT": "text"}), &bytes.Buffer{}, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "database is up to date") {
		t.Fatalf("migrate log: %s", errOut.String())
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if res, err := http.Get(base + "/ready"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server at %s did not become ready", base)
}

func TestAdminCreateKey(t *testing.T) {
	vars := map[string]string{"CLINIKAPI_DATA_DIR": t.TempDir()}
	ctx := context.Background()
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"admin", "create-user", "--email", "ops@example.com", "--password", "bootstrap violet harbor", "--org", "Ops Clinic"}, env(vars), &out, &errOut); err != nil {
		t.Fatalf("create-user: %v\n%s", err, errOut.String())
	}
	orgID := regexp.MustCompile(`org_id=(org_[0-9a-z]+)`).FindStringSubmatch(out.String())[1]

	out.Reset()
	errOut.Reset()
	err := run(ctx, []string{"admin", "create-key", "--org", orgID, "--env", "live", "--scope", "read", "--name", "deploy bot"}, env(vars), &out, &errOut)
	if err != nil {
		t.Fatalf("create-key: %v\n%s", err, errOut.String())
	}
	m := regexp.MustCompile(`^(clk_live_[0-9A-Za-z]{32})\nkey_id=(key_[0-9a-z]+)\n$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("create-key printed %q, want the key line and key_id=…", out.String())
	}
	secret, keyID := m[1], m[2]
	if e, err := apikey.Parse(secret); err != nil || e != apikey.Live {
		t.Fatalf("apikey.Parse(printed key) = %q, %v; want live", e, err)
	}
	if strings.Contains(errOut.String(), secret) {
		t.Fatalf("the key was written to stderr (the log)")
	}
	// Defaults: test environment, scope *.
	out.Reset()
	if err := run(ctx, []string{"admin", "create-key", "--org", orgID}, env(vars), &out, &errOut); err != nil || !strings.HasPrefix(out.String(), "clk_test_") {
		t.Fatalf("create-key with defaults: %v, printed %q", err, out.String())
	}
	defaultKey := strings.SplitN(out.String(), "\n", 2)[0]

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--env", "test"}, "needs --org"},
		{[]string{"--org", "org_nope"}, "--org: No organization"},
		{[]string{"--org", orgID, "--env", "prod"}, "--env: Choose the test or the live environment"},
		{[]string{"--org", orgID, "--scope", "admin"}, "--scope: Choose the scope"},
		{[]string{"--org", orgID, "--name", " "}, "--name: Give the key a name"},
	} {
		out.Reset()
		err := run(ctx, append([]string{"admin", "create-key"}, c.args...), env(vars), &out, &errOut)
		if err == nil || !strings.Contains(describe(err), c.want) || out.Len() != 0 {
			t.Errorf("create-key %v: %v (printed %q), want an error saying %q", c.args, err, out.String(), c.want)
		}
	}

	// The printed keys verify, and the creation is audited as the system.
	cfg, err := config.Load(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	p, err := a.Keys.Verify(ctx, secret)
	if err != nil || p.KeyID != keyID || p.OrgID != orgID || p.Env != apikey.Live || p.Scope != apikey.ScopeRead {
		t.Fatalf("Verify(printed key) = %+v, %v; want key %s of %s, live, read", p, err, keyID, orgID)
	}
	if p, err := a.Keys.Verify(ctx, defaultKey); err != nil || p.Env != apikey.Test || p.Scope != apikey.ScopeAll {
		t.Fatalf("Verify(default key) = %+v, %v; want test, *", p, err)
	}
	keys, _ := a.Keys.List(ctx, orgID)
	for _, k := range keys {
		if k.ID == keyID && (k.Name != "deploy bot" || k.CreatedBy != "system") {
			t.Fatalf("stored key = %+v; want name deploy bot, created by system", k)
		}
	}
	events, err := a.Audit.List(ctx, audit.Filter{OrgID: orgID, Action: apikey.KeyCreated})
	if err != nil || len(events) != 2 {
		t.Fatalf("api_key.created events = %d, %v; want 2", len(events), err)
	}
	for _, e := range events {
		if e.ActorType != audit.ActorSystem || e.Detail["prefix"] == "" || strings.Contains(fmt.Sprint(e.Detail), secret) {
			t.Fatalf("audit event %+v: want the system actor, the prefix, and no secret", e)
		}
	}
}

func TestAdminSeed(t *testing.T) {
	vars := map[string]string{"CLINIKAPI_DATA_DIR": t.TempDir()}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"admin", "create-user", "--email", "seed@example.com", "--password", "seed orchard quartz", "--org", "Seeds"}, env(vars), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	orgID := regexp.MustCompile(`org_id=(\S+)`).FindStringSubmatch(out.String())[1]
	out.Reset()
	if err := run(context.Background(), []string{"admin", "seed", "--org", orgID, "--patients", "20"}, env(vars), &out, &errOut); err != nil {
		t.Fatalf("seed: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "seeded 20 patients (80 resources) into the test datastore of "+orgID) {
		t.Fatalf("seed printed %q", out.String())
	}
	if err := run(context.Background(), []string{"admin", "seed", "--org", "org_nope", "--patients", "1"}, env(vars), &out, &errOut); err == nil {
		t.Fatalf("seeding an unknown organization worked")
	}
}

// TestAdminReindex: reindex rewrites every datastore's index, either with
// each value once (the default) or under every parameter, and searches
// answer the same either way.
func TestAdminReindex(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{"CLINIKAPI_DATA_DIR": dir}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"admin", "create-user", "--email", "ri@example.com", "--password", "reindex maple cobalt", "--org", "Reindex"}, env(vars), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	orgID := regexp.MustCompile(`org_id=(\S+)`).FindStringSubmatch(out.String())[1]
	// Seeded as a server of the earlier index rules would.
	every := map[string]string{"CLINIKAPI_DATA_DIR": dir, "CLINIKAPI_SEARCH_INDEX": "every-parameter"}
	if err := run(context.Background(), []string{"admin", "seed", "--org", orgID, "--patients", "20"}, env(every), &out, &errOut); err != nil {
		t.Fatalf("seed: %v\n%s", err, errOut.String())
	}
	rows := func(param string) int {
		t.Helper()
		db := openDatastoreFile(t, dir, "test")
		defer db.Close()
		var n int
		if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM idx_string WHERE param = ?`, param).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if rows("name") != 40 || rows("family") != 20 { // family and given under name too
		t.Fatalf("seeded index: %d name rows, %d family rows; want 40 and 20", rows("name"), rows("family"))
	}
	for _, c := range []struct {
		args         []string
		vars         map[string]string
		name, family int
	}{
		{[]string{"admin", "reindex"}, vars, 0, 20},
		{[]string{"admin", "reindex", "--every-parameter"}, vars, 40, 20},
		{[]string{"admin", "reindex"}, vars, 0, 20},
		{[]string{"admin", "reindex"}, every, 40, 20},
	} {
		out.Reset()
		if err := run(context.Background(), c.args, env(c.vars), &out, &errOut); err != nil {
			t.Fatalf("%v: %v\n%s", c.args, err, errOut.String())
		}
		if !strings.Contains(out.String(), "datastore test: 80 resources reindexed") {
			t.Fatalf("%v printed %q", c.args, out.String())
		}
		if rows("name") != c.name || rows("family") != c.family {
			t.Fatalf("after %v: %d name rows, %d family rows; want %d and %d", c.args, rows("name"), rows("family"), c.name, c.family)
		}
	}
	if err := run(context.Background(), []string{"admin", "reindex", "extra"}, env(vars), &out, &errOut); err == nil {
		t.Fatal("reindex took an argument")
	}
}
