package main

import (
	"bytes"
	"context"
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
	families := func(dir string) []string {
		t.Helper()
		db := openDatastoreFile(t, dir, "test")
		defer db.Close()
		rows, err := db.SQL().Query(`SELECT content FROM resources WHERE type = 'Patient'`)
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
	names := families(dir)
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
	if got := families(restored); len(got) != 5 {
		t.Fatalf("restored %d patients, want 5", len(got))
	}
	// The restored directory starts as a data directory of its own.
	out.Reset()
	if err := run(ctx, []string{"admin", "verify-audit"}, env(map[string]string{"CLINIKAPI_DATA_DIR": restored}), &out, &errOut); err != nil {
		t.Fatalf("the restored data directory: %v\n%s%s", err, out.String(), errOut.String())
	}
}

// TestDatastoreFileOfAnotherDeployment: a datastore file that its data key
// does not open (copied from another data directory) stops start-up with
// one line naming the file, never a key.
func TestDatastoreFileOfAnotherDeployment(t *testing.T) {
	ctx := context.Background()
	var dirs []string
	for i := range 2 {
		dir := t.TempDir()
		vars := map[string]string{"CLINIKAPI_DATA_DIR": dir}
		var out, errOut bytes.Buffer
		if err := run(ctx, []string{"admin", "create-user", "--email", "dep@example.com", "--password", "deploy maple cobalt", "--org", "Deploy"}, env(vars), &out, &errOut); err != nil {
			t.Fatal(i, err)
		}
		orgID := regexp.MustCompile(`org_id=(\S+)`).FindStringSubmatch(out.String())[1]
		if err := run(ctx, []string{"admin", "seed", "--org", orgID, "--patients", "2"}, env(vars), &out, &errOut); err != nil {
			t.Fatalf("seed: %v\n%s", err, errOut.String())
		}
		dirs = append(dirs, dir)
	}
	b, err := os.ReadFile(filepath.Join(dirs[1], "fhir-test.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(filepath.Join(dirs[0], "fhir-test.db"+suffix))
	}
	if err := os.WriteFile(filepath.Join(dirs[0], "fhir-test.db"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	err = run(ctx, []string{"admin", "verify-audit"}, env(map[string]string{"CLINIKAPI_DATA_DIR": dirs[0]}), &out, &errOut)
	if err == nil {
		t.Fatal("started with another deployment's datastore file")
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "fhir-test.db") || !strings.Contains(msg, "does not open with its data key") || strings.Contains(msg, "raw:") {
		t.Fatalf("got %q, want one line naming the file", msg)
	}
}
