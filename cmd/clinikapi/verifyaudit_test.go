package main

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/mattn/go-sqlite3"
)

// TestAdminVerifyAudit: verify-audit passes an untouched trail and fails,
// naming the place, once an event is changed behind the server's back.
func TestAdminVerifyAudit(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{"CLINIKAPI_DATA_DIR": dir}
	var out, errOut bytes.Buffer
	ctx := context.Background()
	if err := run(ctx, []string{"admin", "create-user", "--email", "va@example.com", "--password", "verify maple cobalt", "--org", "Verify"}, env(vars), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(ctx, []string{"admin", "verify-audit"}, env(vars), &out, &errOut); err != nil {
		t.Fatalf("untouched trail: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "0 problems") {
		t.Fatalf("verify-audit said %q", out.String())
	}
	db, err := sql.Open("sqlite3", filepath.Join(dir, "clinikapi.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit_events SET ip = '198.51.100.7' WHERE action = 'organization.created'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out.Reset()
	err = run(ctx, []string{"admin", "verify-audit"}, env(vars), &out, &errOut)
	if err == nil || !strings.Contains(out.String(), "does not match its hash") {
		t.Fatalf("changed trail: err %v, output %q; want a failure naming the changed event", err, out.String())
	}
}
