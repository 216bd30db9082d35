package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// TestAdminSubOrgs: create, list, rename, a key, archive and restore a
// sub-organization from the command line.
func TestAdminSubOrgs(t *testing.T) {
	vars := map[string]string{"CLINIKAPI_DATA_DIR": t.TempDir()}
	ctx := context.Background()
	var out, errOut bytes.Buffer
	do := func(args ...string) string {
		t.Helper()
		out.Reset()
		if err := run(ctx, append([]string{"admin"}, args...), env(vars), &out, &errOut); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errOut.String())
		}
		return out.String()
	}
	orgID := regexp.MustCompile(`org_id=(org_[0-9a-z]+)`).FindStringSubmatch(do("create-user", "--email", "cli@example.com", "--password", "plan tundra saffron", "--org", "Platform"))[1]
	created := do("create-suborg", "--org", orgID, "--name", "North Clinic")
	sub := regexp.MustCompile(`suborg_id=(sub_[0-9a-z]+)`).FindStringSubmatch(created)
	if sub == nil || !strings.Contains(created, "status=active") {
		t.Fatalf("create-suborg printed %q", created)
	}
	if got := do("rename-suborg", "--org", orgID, "--suborg", sub[1], "--name", "North Family Clinic"); !strings.Contains(got, "name=North Family Clinic") {
		t.Fatalf("rename-suborg printed %q", got)
	}
	if got := do("create-key", "--org", orgID, "--suborg", sub[1]); !strings.Contains(got, "tenant="+sub[1]) || !regexp.MustCompile(`clk_test_[A-Za-z0-9]{32}`).MatchString(got) {
		t.Fatalf("create-key --suborg printed %q", got)
	}
	if got := do("list-suborgs", "--org", orgID); got != sub[1]+"\tactive\tNorth Family Clinic\n" {
		t.Fatalf("list-suborgs printed %q", got)
	}
	if got := do("archive-suborg", "--org", orgID, "--suborg", sub[1]); !strings.Contains(got, "status=archived") || !strings.Contains(got, "delete_after=") {
		t.Fatalf("archive-suborg printed %q", got)
	}
	if got := do("restore-suborg", "--org", orgID, "--suborg", sub[1]); !strings.Contains(got, "status=active") {
		t.Fatalf("restore-suborg printed %q", got)
	}
	for _, args := range [][]string{
		{"create-suborg", "--org", orgID},
		{"rename-suborg", "--org", orgID, "--suborg", "sub_nope", "--name", "X"},
		{"create-key", "--org", orgID, "--suborg", "sub_nope"},
		{"create-suborg", "--org", "org_nope", "--name", "X"},
	} {
		if err := run(ctx, append([]string{"admin"}, args...), env(vars), &out, &errOut); err == nil {
			t.Errorf("%v succeeded", args)
		}
	}
}
