package web_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/config"
	"github.com/clinikapi/clinikapi/internal/encryption"
	"github.com/clinikapi/clinikapi/internal/logging"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
)

// filesHolding lists the files under dir whose bytes contain any of names.
func filesHolding(t *testing.T, dir string, names []string) []string {
	t.Helper()
	var hits []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if bytes.Contains(b, []byte(n)) {
				hits = append(hits, filepath.Base(path)+": "+n)
			}
		}
		return nil
	})
	return hits
}

// TestExportFilesEncryptedAtRest: with the embedded default's key (made on
// first start), bulk export files and staged imports hold none of the
// patients' names, and on SQLite no file under the data directory does
// (datastore pages are encrypted; the control database holds ids only);
// they read back through their links and the API after a restart and
// after the master key is rotated (no data rewritten); a wrong key stops
// start-up with one line.
func TestExportFilesEncryptedAtRest(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		dir := t.TempDir()
		vars := map[string]string{"CLINIKAPI_DATA_DIR": dir, "DATABASE_URL": storetest.DatabaseURL(t, engine)}
		env := apptest.New(t, engine, vars)
		if engine == "sqlite" && !strings.Contains(env.Logs.String(), "generated a master key") {
			t.Fatalf("first start does not say where the key is:\n%s", env.Logs.String())
		}
		orgID := env.Browser().SignUp("", "enc@example.com", pw, "Encrypted Clinic")
		k, err := env.App.Keys.Create(context.Background(), apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "backend", Env: apikey.Test})
		if err != nil {
			t.Fatal(err)
		}
		names := []string{"Xylophanta", "Quorrelsby", "Brindlewick"}
		for _, n := range names[:2] {
			if r := fhirCall(t, env, "POST", "/v1/fhir/Patient", k.Secret, `{"resourceType":"Patient","name":[{"family":"`+n+`"}]}`); r.Status != 201 {
				t.Fatalf("create: %d %s", r.Status, r.Raw)
			}
		}
		job := startedJob(t, bulkCall(t, env, "/v1/bulk/export", k.Secret, map[string]any{"resourceTypes": []string{"Patient"}}))
		out := waitJob(t, env, k.Secret, job)["output"].([]any)
		link := out[0].(map[string]any)["url"].(string)
		// An import waiting in its staging file.
		imp := bulkCall(t, env, "/v1/bulk/import", k.Secret, map[string]any{"resourceType": "Patient",
			"data": `{"resourceType":"Patient","name":[{"family":"` + names[2] + `"}]}`})
		startedJob(t, imp)

		exports := env.App.Config.ExportDir
		if n := countFiles(t, exports); n < 2 {
			t.Fatalf("%d files under %s, want the export and the staged import", n, exports)
		}
		if hits := filesHolding(t, exports, names); len(hits) > 0 {
			t.Fatalf("export and staging files hold patient names: %v", hits)
		}
		sqliteClean := func(when string) {
			t.Helper()
			if engine != "sqlite" {
				return
			}
			if n := countFiles(t, dir); n < 4 {
				t.Fatalf("%s: %d files under the data directory, want the databases, their logs and the exports", when, n)
			}
			if hits := filesHolding(t, dir, append(names, strings.ToLower(names[0]))); len(hits) > 0 {
				t.Fatalf("%s: files under the data directory hold patient names: %v", when, hits)
			}
		}
		sqliteClean("running")
		readPatients := func(what string) {
			t.Helper()
			for _, n := range names[:2] {
				if r := fhirCall(t, env, "GET", "/v1/fhir/Patient?family="+n, k.Secret, ""); !strings.Contains(r.Raw, n) {
					t.Fatalf("%s: the search for %s reads %s", what, n, r.Raw)
				}
			}
		}
		first := env.Server.URL
		readBack := func(what string) {
			t.Helper()
			status, body := get(t, strings.Replace(link, first, env.Server.URL, 1)) // the server of this start

			if status != 200 || !strings.Contains(body, names[0]) || !strings.Contains(body, names[1]) {
				t.Fatalf("%s: the export reads %d %q", what, status, body)
			}
		}
		readBack("before a restart")

		env.App.Close()
		sqliteClean("stopped")
		env = apptest.New(t, engine, vars)
		readBack("after a restart")
		readPatients("after a restart")
		waitJob(t, env, k.Secret, startedJobID(imp)) // the staged import reads back too
		if r := fhirCall(t, env, "GET", "/v1/fhir/Patient?family="+names[2], k.Secret, ""); !strings.Contains(r.Raw, names[2]) {
			t.Fatalf("the staged import was not stored: %s", r.Raw)
		}

		old := env.App.MasterKey
		next := encryption.NewKey()
		want := 1 // the files key
		if engine == "sqlite" {
			want = 2 // and the datastore's
		}
		if n, err := env.App.RotateEncryptionKey(context.Background(), next); err != nil || n < want {
			t.Fatalf("rotate: %d data keys, want %d or more, %v", n, want, err)
		}
		env.App.Close()
		env = apptest.New(t, engine, vars)
		if env.App.MasterKey != next {
			t.Fatal("after rotation the server does not start on the new key")
		}
		readBack("after rotating the master key")
		readPatients("after rotating the master key")
		env.App.Close()

		// The old key (or any other) no longer opens the data.
		wrong := map[string]string{"CLINIKAPI_ENCRYPTION_KEY": old.String()}
		for k, v := range vars {
			wrong[k] = v
		}
		cfg, err := config.Load(config.FromMap(wrong))
		if err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		a, err := app.New(context.Background(), cfg, logging.New(&logs, "json", "info"), app.Options{Server: true})
		if err == nil {
			a.Close()
			t.Fatal("the server started with the wrong master key")
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "is not the one that encrypted the data") || strings.Contains(msg, old.String()) {
			t.Fatalf("wrong key: %q, want one line naming the problem (and never the key)", msg)
		}
	})
}

func countFiles(t *testing.T, dir string) int {
	n := 0
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

func startedJobID(r apiResult) string { return r.Body["data"].(map[string]any)["jobId"].(string) }
