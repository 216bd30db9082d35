package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestAdminBackupRestore: a backup of the embedded data directory holds
// none of the seeded patients' names; restored with the master key, it
// reads them back; another key cannot restore it.
func TestAdminBackupRestore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	vars := map[string]string{"CLINIKAPI_DATA_DIR": dir}
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"admin", "create-user", "--email", "bk@example.com", "--password", "backup maple cobalt", "--org", "Backup"}, env(vars), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	orgID := regexp.MustCompile(`org_id=(\S+)`).FindStringSubmatch(out.String())[1]
	if err := run(ctx, []string{"admin", "seed", "--org", orgID, "--patients", "5"}, env(vars), &out, &errOut); err != nil {
		t.Fatalf("seed: %v\n%s", err, errOut.String())
	}
	families := func(path string) []string {
		t.Helper()
		db, err := sql.Open("sqlite3", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rows, err := db.Query(`SELECT content FROM resources WHERE type = 'Patient'`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var names []string
		for rows.Next() {
			var c string
			rows.Scan(&c)
			var p struct {
				Name []struct{ Family string } `json:"name"`
			}
			json.Unmarshal([]byte(c), &p)
			names = append(names, p.Name[0].Family+`"`) // as JSON holds it
		}
		return names
	}
	names := families(filepath.Join(dir, "fhir-test.db"))
	if len(names) != 5 {
		t.Fatalf("seeded %d patients, want 5", len(names))
	}
	backup := filepath.Join(t.TempDir(), "backup")
	out.Reset()
	if err := run(ctx, []string{"admin", "backup", "--out", backup}, env(vars), &out, &errOut); err != nil {
		t.Fatalf("backup: %v\n%s", err, errOut.String())
	}
	entries, _ := os.ReadDir(backup)
	if len(entries) < 3 {
		t.Fatalf("backup holds %d files, want the control database, the test datastore and backup.json:\n%s", len(entries), out.String())
	}
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(backup, e.Name()))
		for _, n := range names {
			if bytes.Contains(b, []byte(n)) {
				t.Fatalf("%s holds the name %s", e.Name(), n)
			}
		}
	}
	// Another key does not restore it.
	other := filepath.Join(t.TempDir(), "other.key")
	os.WriteFile(other, []byte("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"), 0o600)
	if err := run(ctx, []string{"admin", "restore", "--from", backup, "--to", filepath.Join(t.TempDir(), "x"), "--key-file", other}, env(nil), &out, &errOut); err == nil ||
		!strings.Contains(err.Error(), "is not the one that encrypted") {
		t.Fatalf("restore with another key: %v", err)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	if err := run(ctx, []string{"admin", "restore", "--from", backup, "--to", restored, "--key-file", filepath.Join(dir, "encryption.key")}, env(nil), &out, &errOut); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if got := families(filepath.Join(restored, "fhir-test.db")); len(got) != 5 {
		t.Fatalf("restored %d patients, want 5", len(got))
	}
	// The restored directory starts as a data directory of its own.
	out.Reset()
	if err := run(ctx, []string{"admin", "verify-audit"}, env(map[string]string{"CLINIKAPI_DATA_DIR": restored}), &out, &errOut); err != nil {
		t.Fatalf("the restored data directory: %v\n%s%s", err, out.String(), errOut.String())
	}
}
