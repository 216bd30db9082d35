package records

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The records service is the one place that decides which datastore data
// lives in and names the audit actions of data operations. This test keeps
// it so: no other (non-test) Go source of the program reads a plan's
// Dedicated flag, names a datastore, or spells an audit action of data.
func TestRoutingAndAuditActionsLiveHereOnly(t *testing.T) {
	rules := []struct {
		what string
		re   *regexp.Regexp
	}{
		{"reads the plan's dedicated-datastore flag (routing)", regexp.MustCompile(`\.Dedicated\b`)},
		{"names a datastore (routing)", regexp.MustCompile(`datastore\.Name\(`)},
		{"spells a data audit action", regexp.MustCompile(`"data\.(create|read|update|patch|delete|search|history)"`)},
	}
	root := filepath.Join("..", "..")
	allowed := map[string]bool{
		filepath.Join("internal", "records"): true,
		filepath.Join("internal", "plan"):    true, // declares the flag
	}
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if path != root && strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || allowed[filepath.Dir(rel)] {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checked++
		for i, line := range strings.Split(string(b), "\n") {
			for _, r := range rules {
				if r.re.MatchString(line) {
					t.Errorf("%s:%d %s outside internal/records: %s", rel, i+1, r.what, strings.TrimSpace(line))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("checked only %d files: the walk missed the program's sources", checked)
	}
}
