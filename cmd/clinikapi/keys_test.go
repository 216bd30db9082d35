package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/config"
	"github.com/clinikapi/clinikapi/internal/errs"
)

// adminOrg makes a built-in account with a new organization (Sandbox
// plan: 100 requests a minute) and returns the organization's id.
func adminOrg(t *testing.T, vars map[string]string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"admin", "create-user", "--email", "keys@example.com", "--password", "bootstrap violet harbor", "--org", "Keys Clinic"}, env(vars), &out, &errOut); err != nil {
		t.Fatalf("create-user: %v\n%s", err, errOut.String())
	}
	return regexp.MustCompile(`org_id=(org_[0-9a-z]+)`).FindStringSubmatch(out.String())[1]
}

// createKeyCLI runs create-key with args and returns the printed secret
// and key id.
func createKeyCLI(t *testing.T, vars map[string]string, args ...string) (secret, keyID string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), append([]string{"admin", "create-key"}, args...), env(vars), &out, &errOut); err != nil {
		t.Fatalf("create-key %v: %v\n%s", args, describe(err), errOut.String())
	}
	m := regexp.MustCompile(`^(clk_(?:test|live)_[0-9A-Za-z]{32})\nkey_id=(key_[0-9a-z]+)\n`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("create-key printed %q", out.String())
	}
	return m[1], m[2]
}

func openApp(t *testing.T, vars map[string]string) *app.App {
	t.Helper()
	cfg, err := config.Load(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler), app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// TestAdminCreateKeyRestrictions: every option of a key through
// create-key flags, stored as the dashboard stores them, and a clear
// error for each bad value.
func TestAdminCreateKeyRestrictions(t *testing.T) {
	vars := map[string]string{"CLINIKAPI_DATA_DIR": t.TempDir()}
	ctx := context.Background()
	orgID := adminOrg(t, vars)
	expiry := time.Now().UTC().AddDate(0, 3, 0).Format(time.DateOnly)
	secret, keyID := createKeyCLI(t, vars, "--org", orgID, "--name", "reminders", "--scope", "read",
		"--resource-types", "appointments:read, Patient:read", "--ip-allowlist", "10.0.0.0/8, 2001:db8::/32 203.0.113.7",
		"--per-minute", "60", "--notes", "Appointment reminder service; owner: ops", "--expires-at", expiry)

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--resource-types", "Pateint:read"}, `--resource-types: Unknown resource type "Pateint"`},
		{[]string{"--resource-types", "Patient:admin"}, "--resource-types: Write each resource type as Type:read"},
		{[]string{"--ip-allowlist", "10.0.0.0/33"}, `--ip-allowlist: Write each network in CIDR notation, such as 203.0.113.0/24 or 2001:db8::/32; "10.0.0.0/33" is not one.`},
		{[]string{"--ip-allowlist", "fe80::1%eth0"}, "--ip-allowlist: Write each network in CIDR notation"},
		{[]string{"--per-minute", "100"}, "--per-minute: Choose a limit below the plan's 100 requests per minute"},
		{[]string{"--per-minute", "ten"}, "--per-minute: Give the key's own rate limit as a whole number"},
		{[]string{"--per-minute", "0"}, "--per-minute: Give the key's own rate limit as a whole number"},
		{[]string{"--expires-at", "2020-01-01"}, "--expires-at: Choose an expiry date in the future"},
		{[]string{"--expires-at", "next week"}, "--expires-at: Give the expiry as a date (2027-01-31) or an RFC 3339 time"},
		{[]string{"--notes", strings.Repeat("n", 1001)}, "--notes: Use at most 1,000 characters"},
		{[]string{"--name", strings.Repeat("k", 81)}, "--name: Use at most 80 characters"},
	} {
		var out, errOut bytes.Buffer
		err := run(ctx, append([]string{"admin", "create-key", "--org", orgID}, c.args...), env(vars), &out, &errOut)
		if err == nil || !strings.Contains(describe(err), c.want) || out.Len() != 0 {
			t.Errorf("create-key %.60q: %v (printed %q), want an error saying %q", c.args, err, out.String(), c.want)
		}
	}

	a := openApp(t, vars)
	k, err := a.Keys.Find(ctx, orgID, keyID)
	if err != nil {
		t.Fatal(err)
	}
	if got := apikey.FormatGrants(k.Grants); got != "Appointment:read,Patient:read" {
		t.Errorf("grants = %s, want Appointment:read,Patient:read", got)
	}
	if got := strings.Join(k.AllowIPs, " "); got != "10.0.0.0/8 2001:db8::/32 203.0.113.7/32" {
		t.Errorf("allowlist = %s", got)
	}
	if k.PerMinute != 60 || k.Name != "reminders" || k.Scope != apikey.ScopeRead || k.Notes != "Appointment reminder service; owner: ops" ||
		k.ExpiresAt.Format(time.DateOnly) != expiry || k.CreatedBy != "system" {
		t.Errorf("stored key = %+v", k)
	}
	// The restrictions hold on the API's checks.
	p, err := a.Keys.Verify(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if !p.AllowsType("Appointment", "GET") || p.AllowsType("Observation", "GET") || p.AllowsType("Patient", "POST") ||
		!p.AllowsAddr("10.1.2.3") || !p.AllowsAddr("2001:db8::5") || p.AllowsAddr("192.0.2.1") || p.PerMinute() != 60 {
		t.Errorf("principal of the restricted key: %+v", p)
	}
	// Audited with the restrictions, as the system.
	events, err := a.Audit.List(ctx, audit.Filter{OrgID: orgID, TargetID: keyID})
	if err != nil || len(events) != 1 || events[0].ActorType != audit.ActorSystem ||
		events[0].Detail["resource_types"] != "Appointment:read,Patient:read" || events[0].Detail["per_minute"] != "60" ||
		events[0].Detail["ip_allowlist"] != "10.0.0.0/8,2001:db8::/32,203.0.113.7/32" {
		t.Fatalf("audit of the creation: %+v, %v", events, err)
	}
}

// TestAdminRevokeKey: a leaked key known only by its secret is revoked
// (or rolled) from the command line, audited as the system, and its
// requests since a time are listed for the incident report.
func TestAdminRevokeKey(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{"CLINIKAPI_DATA_DIR": dir}
	ctx := context.Background()
	orgID := adminOrg(t, vars)
	leaked, leakedID := createKeyCLI(t, vars, "--org", orgID, "--name", "leaky", "--resource-types", "patients:read")
	rolled, rolledID := createKeyCLI(t, vars, "--org", orgID, "--name", "rolled", "--ip-allowlist", "127.0.0.1")
	before := time.Now().UTC().Add(-time.Second)

	// Requests with the leaked key through a real server: one it may make,
	// one its restrictions refuse; then the server stops (flushing usage).
	addr := freeAddr(t)
	srvVars := map[string]string{"CLINIKAPI_DATA_DIR": dir, "CLINIKAPI_ADDR": addr}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- run(sctx, []string{"serve"}, env(srvVars), &bytes.Buffer{}, &bytes.Buffer{}) }()
	waitReady(t, "http://"+addr)
	for path, want := range map[string]int{"/v1/patients": 200, "/v1/fhir/Observation": 403} {
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		req.Header.Set("x-api-key", leaked)
		req.Header.Set("User-Agent", "curl/8.5.0")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Fatalf("GET %s with the key: %d, want %d", path, res.StatusCode, want)
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}

	revoke := func(in string, args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		stdin = strings.NewReader(in)
		defer func() { stdin = os.Stdin }()
		err := run(ctx, append([]string{"admin", "revoke-key"}, args...), env(vars), &out, &errOut)
		if err != nil {
			return out.String(), errOut.String(), errors.New(describe(err))
		}
		return out.String(), errOut.String(), nil
	}
	file := filepath.Join(t.TempDir(), "leaked.txt")
	if err := os.WriteFile(file, []byte(leaked+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := revoke("", "--secret-file", file, "--since", before.Format(time.RFC3339))
	if err != nil {
		t.Fatalf("revoke-key: %v\n%s", err, errOut)
	}
	for _, want := range []string{"key_id=" + leakedID + "\n", "org_id=" + orgID + "\n", "name=leaky\n", "revoked=",
		"requests=2\n", "/v1/fhir/", "/v1/patients", "Observation", "Patient", "403", "200", "127.0.0.1", "curl", "req_"} {
		if !strings.Contains(out, want) {
			t.Errorf("revoke-key printed\n%s\nwant %q in it", out, want)
		}
	}
	if strings.Contains(out+errOut, leaked) || strings.Contains(out, leaked[len(leaked)-8:]) {
		t.Fatal("revoke-key printed the leaked secret")
	}
	// A later --since lists none of them.
	if out, _, err := revoke(leaked, "--secret-file", "-", "--since", time.Now().UTC().Add(time.Hour).Format(time.RFC3339)); err != nil ||
		!strings.Contains(out, "requests=0\n") || !strings.Contains(out, "(it was revoked already)") {
		t.Fatalf("revoke-key again with a later --since: %v, printed %q", err, out)
	}

	// --roll, the secret on stdin: a new secret printed once, the old
	// one ends now, the key and its restrictions stay.
	out, _, err = revoke("  "+rolled+"\r\n", "--secret-file", "-", "--roll")
	if err != nil {
		t.Fatalf("revoke-key --roll: %v", err)
	}
	m := regexp.MustCompile(`^(clk_test_[0-9A-Za-z]{32})\nkey_id=` + rolledID + `\n`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "rolled=") || strings.Contains(out, "requests=") {
		t.Fatalf("revoke-key --roll printed %q", out)
	}

	a := openApp(t, vars)
	if _, err := a.Keys.Verify(ctx, leaked); errs.ReasonOf(err) != errs.ReasonKeyRevoked {
		t.Errorf("the revoked key verifies: %v", err)
	}
	if _, err := a.Keys.Verify(ctx, rolled); errs.ReasonOf(err) != errs.ReasonKeyExpired {
		t.Errorf("the rolled-out secret verifies: %v", err)
	}
	if p, err := a.Keys.Verify(ctx, m[1]); err != nil || p.KeyID != rolledID || !p.AllowsAddr("127.0.0.1") || p.AllowsAddr("10.0.0.1") {
		t.Errorf("the new secret: %+v, %v; want the same key with its allowlist", p, err)
	}
	for id, actions := range map[string][]string{leakedID: {apikey.KeyRevoked, apikey.KeyLeaked, apikey.KeyLeaked}, rolledID: {apikey.KeyRotated, apikey.KeyLeaked}} {
		events, err := a.Audit.List(ctx, audit.Filter{OrgID: orgID, TargetID: id})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range events {
			if e.Action == apikey.KeyCreated {
				continue
			}
			got = append(got, e.Action)
			if e.ActorType != audit.ActorSystem || strings.Contains(fmt.Sprint(e.Detail), leaked) || strings.Contains(fmt.Sprint(e.Detail), rolled) {
				t.Errorf("audit event %+v: want the system actor and no secret", e)
			}
		}
		slices.Sort(got) // events of one instant are in no set order
		if slices.Sort(actions); !slices.Equal(got, actions) {
			t.Errorf("audit of %s: %v, want %v", id, got, actions)
		}
	}

	// Bad input: a clear error, a non-zero exit, nothing revoked, and the
	// secret never repeated.
	unknown := "clk_test_" + strings.Repeat("Z", 32)
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o600)
	for _, c := range []struct {
		in   string
		args []string
		want string
	}{
		{unknown, []string{"--secret-file", "-"}, "no key has this secret"},
		{"clk_test_short", []string{"--secret-file", "-"}, "does not hold an API key"},
		{leaked + "\n" + rolled, []string{"--secret-file", "-"}, "does not hold an API key"},
		{"", []string{"--secret-file", empty}, "the file is empty"},
		{"", []string{"--secret-file", filepath.Join(dir, "nope")}, "no such file"},
		{"", []string{leaked}, "needs --secret-file"},
		{"", []string{"--secret-file", "-", leaked}, "the secret is never given on the command line"},
		{m[1], []string{"--secret-file", "-", "--since", "yesterday"}, "--since: Give the time as a date"},
		{leaked, []string{"--secret-file", "-", "--roll"}, "This key was revoked"},
	} {
		out, errOut, err := revoke(c.in, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("revoke-key %.50q: %v, want an error saying %q", c.args, err, c.want)
		}
		for _, s := range []string{leaked, rolled, unknown, m[1]} {
			if strings.Contains(out+errOut+fmt.Sprint(err), s) {
				t.Errorf("revoke-key %.50q repeated a secret: %q %q %v", c.args, out, errOut, err)
			}
		}
	}
	if _, err := a.Keys.Verify(ctx, m[1]); err != nil {
		t.Errorf("the new secret stopped after failed revoke-key runs: %v", err)
	}
}

// TestKeyChangeReachesRunningServerSQLite: on the embedded SQLite store, a
// key revoked by `admin revoke-key`, or disabled by another process on the
// same data directory, is refused by a server already running there (which
// verified and cached it) on its next requests, without a restart; a key
// nobody changed keeps working.
func TestKeyChangeReachesRunningServerSQLite(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{"CLINIKAPI_DATA_DIR": dir}
	ctx := context.Background()
	orgID := adminOrg(t, vars)
	leaked, _ := createKeyCLI(t, vars, "--org", orgID, "--name", "leaked")
	disabled, disabledID := createKeyCLI(t, vars, "--org", orgID, "--name", "disabled")
	kept, _ := createKeyCLI(t, vars, "--org", orgID, "--name", "kept")

	addr := freeAddr(t)
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- run(sctx, []string{"serve"}, env(map[string]string{"CLINIKAPI_DATA_DIR": dir, "CLINIKAPI_ADDR": addr}), &bytes.Buffer{}, &bytes.Buffer{})
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	waitReady(t, "http://"+addr)
	call := func(secret string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+"/v1/patients", nil)
		req.Header.Set("x-api-key", secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(res.Body)
		return res.StatusCode, b.String()
	}
	// The server verifies (and caches) every key.
	for _, k := range []string{leaked, disabled, kept} {
		if st, body := call(k); st != 200 {
			t.Fatalf("before any change: %d %s", st, body)
		}
	}
	// refused polls the running server until it refuses secret with code
	// (every 100 ms: the organization may make 100 requests a minute).
	refused := func(what, secret, code string) {
		t.Helper()
		deadline := time.Now().Add(4 * time.Second)
		for {
			st, body := call(secret)
			if st == 401 && strings.Contains(body, code) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the running server still answers %d %s", what, st, body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	file := filepath.Join(t.TempDir(), "leaked.txt")
	if err := os.WriteFile(file, []byte(leaked+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"admin", "revoke-key", "--secret-file", file}, env(vars), &out, &errOut); err != nil {
		t.Fatalf("revoke-key: %v\n%s", describe(err), errOut.String())
	}
	if strings.Contains(errOut.String(), "minutes") {
		t.Errorf("revoke-key still warns that the server may accept the key: %q", errOut.String())
	}
	refused("revoked by admin revoke-key", leaked, "KEY_REVOKED")

	other := openApp(t, vars)
	if _, err := other.Keys.SetDisabled(ctx, apikey.Actor{OrgID: orgID}, disabledID, true); err != nil {
		t.Fatal(err)
	}
	refused("disabled by another process", disabled, "KEY_DISABLED")

	if st, body := call(kept); st != 200 {
		t.Fatalf("the key nobody changed: %d %s", st, body)
	}
}
