package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/config"
)

func env(m map[string]string) config.Getenv { return config.FromMap(m) }

func TestAdminCreateUserThenSignIn(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{"CLINIKAPI_DATA_DIR": dir}
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"admin", "create-user", "--email", "Ops@Example.com", "--password", "bootstrap pass", "--org", "Ops Clinic", "--name", "Ops"}, env(vars), &out, &errOut)
	if err != nil {
		t.Fatalf("create-user: %v\n%s", err, errOut.String())
	}
	m := regexp.MustCompile(`^user_id=(usr_[0-9a-z]{16})\norg_id=(org_[0-9a-z]{16})\n$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("create-user printed %q, want user_id=… and org_id=…", out.String())
	}
	// A second run with the same e-mail fails with a clear message.
	err = run(context.Background(), []string{"admin", "create-user", "--email", "ops@example.com", "--password", "bootstrap pass", "--org", "Again"}, env(vars), &out, &errOut)
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
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.PostForm("http://"+addr+"/signin", url.Values{"email": {"ops@example.com"}, "password": {"bootstrap pass"}})
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
