package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/resource"
)

// The official TypeScript SDK, @clinikapi/sdk 0.3.1, copied unchanged.
const (
	sdkSource     = "testdata/clinikapi-sdk"
	sdkSuite      = "testdata/sdk_suite.mjs"
	sdkVersion    = "0.3.1"
	sdkNamespaces = 62 // resource namespaces of SDK 0.3.1 (besides the raw fhir escape hatch)
)

// sdkMissingNamespaces are the SDK namespaces the server has no route for
// yet. The list may only shrink: TestSDK fails when one of these gets a
// route (take it out and give it a cycle in sdk_suite.mjs) and when a
// namespace not listed here has none.
var sdkMissingNamespaces = []string{}

// sdkKnownFailures are checks ("namespace/step") that fail today because
// of a server defect not fixed yet, each with the defect. Like the list
// above it may only shrink: a listed check that passes fails the test.
var sdkKnownFailures = map[string]string{}

// sdkCycleSteps are the checks every implemented namespace must pass.
var sdkCycleSteps = []string{"create", "meta", "read", "read-text", "update", "update-read", "search", "delete", "read-after-delete"}

// sdkCheck is one line the suite prints.
type sdkCheck struct {
	Namespace  string   `json:"namespace"`
	Step       string   `json:"step"`
	OK         bool     `json:"ok"`
	Detail     string   `json:"detail"`
	Routed     *bool    `json:"routed"`
	Namespaces []string `json:"namespaces"`
}

// sdkNamespace is the SDK's name for a simplified route: practitioner-roles
// → practitionerRoles.
func sdkNamespace(path string) string {
	parts := strings.Split(path, "-")
	for i := 1; i < len(parts); i++ {
		parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
	}
	return strings.Join(parts, "")
}

// buildSDK compiles the SDK with the repository's pinned TypeScript (from
// `npm ci`) into an npm package under a temporary node_modules, next to a
// copy of the suite, so that the suite imports '@clinikapi/sdk' as a
// customer's code does. It returns the suite's path.
func buildSDK(t *testing.T, node string) string {
	t.Helper()
	tsc, err := filepath.Abs("../node_modules/typescript/bin/tsc")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tsc); err != nil {
		t.Fatalf("TypeScript is not installed: run `npm ci` at the repository root (it is a devDependency in package.json): %v", err)
	}
	dir := t.TempDir()
	pkg := filepath.Join(dir, "node_modules", "@clinikapi", "sdk")
	// CommonJS output: the SDK's sources import './types/base' without an
	// extension, which Node resolves for require, not for ES modules.
	cmd := exec.Command(node, tsc, "-p", filepath.Join(sdkSource, "tsconfig.json"),
		"--outDir", filepath.Join(pkg, "dist"), "--module", "commonjs", "--moduleResolution", "node10",
		"--declaration", "false", "--declarationMap", "false", "--sourceMap", "false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("compiling the SDK (%s): %v\n%s", sdkSource, err, out)
	}
	manifest := `{"name": "@clinikapi/sdk", "version": "` + sdkVersion + `", "type": "commonjs", "main": "dist/index.js"}`
	if err := os.WriteFile(filepath.Join(pkg, "package.json"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	// The suite and the cycle modules it imports.
	modules, err := filepath.Glob(filepath.Join(filepath.Dir(sdkSuite), "sdk_*.mjs"))
	if err != nil || len(modules) == 0 {
		t.Fatalf("no suite modules next to %s: %v", sdkSuite, err)
	}
	for _, m := range modules {
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(m)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, filepath.Base(sdkSuite))
}

// TestSDK runs the official TypeScript SDK against the assembled server: a
// create → read → update → search → delete → read cycle for every
// simplified resource, each search parameter alone, patients.read with
// include, paging, the SDK's error types, the raw FHIR escape hatch, and
// which of the SDK's namespaces the server routes. Run just it with
//
//	npm ci && go test -count=1 -run SDK ./web/
func TestSDK(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("TestSDK needs Node.js (node on PATH, 18 or later) to run the official TypeScript SDK; node was not found")
	}
	suite := buildSDK(t, node)
	examples, err := filepath.Abs("../internal/resource/testdata")
	if err != nil {
		t.Fatal(err)
	}
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		orgID, key := newOrgWithKey(t, env, "sdk@example.com", apikey.ScopeAll)
		setPlan(t, env, orgID, "team") // the suite's requests fit the rate limit
		// Another organization allowed 3 requests a minute, for the SDK's
		// rate-limit error.
		limitedOrg, limited := newOrgWithKey(t, env, "sdk-limited@example.com", apikey.ScopeAll)
		if _, err := env.App.DB.SQL().Exec(`UPDATE organizations SET rate_limit_per_min = 3 WHERE id = $1`, limitedOrg); err != nil {
			t.Fatal(err)
		}

		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, suite)
		cmd.Dir = filepath.Dir(suite)
		cmd.Env = append(os.Environ(),
			"CLINIKAPI_BASE_URL="+env.Server.URL,
			"CLINIKAPI_API_KEY="+key.Secret,
			"CLINIKAPI_API_KEY_LIMITED="+limited.Secret,
			"CLINIKAPI_SERVER_DATE="+env.Clock.Now().UTC().Format("2006-01-02"),
			"CLINIKAPI_EXAMPLES="+examples,
		)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		runErr := cmd.Run()
		if runErr != nil {
			t.Errorf("the SDK suite exited with %v\n%s", runErr, stderr.String())
		}
		checks := parseSDKChecks(t, stdout.Bytes())
		judgeSDKChecks(t, checks)
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("the suite's stderr:\n%s", stderr.String())
		}
	})
}

func parseSDKChecks(t *testing.T, out []byte) []sdkCheck {
	t.Helper()
	var checks []sdkCheck
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var c sdkCheck
		if err := json.Unmarshal([]byte(line), &c); err != nil || c.Step == "" {
			t.Errorf("the SDK suite printed a line that is not a check: %q", line)
			continue
		}
		checks = append(checks, c)
	}
	return checks
}

func judgeSDKChecks(t *testing.T, checks []sdkCheck) {
	t.Helper()
	implemented := map[string]bool{}
	for _, d := range resource.All {
		implemented[sdkNamespace(d.Path)] = true
	}
	missing := map[string]bool{}
	for _, ns := range sdkMissingNamespaces {
		missing[ns] = true
	}

	seen := map[string]bool{}
	var inventory []string
	routed := map[string]bool{}
	for _, c := range checks {
		id := c.Namespace + "/" + c.Step
		switch {
		case c.Step == "inventory":
			inventory = c.Namespaces
			continue
		case c.Step == "route":
			if c.Routed == nil {
				t.Errorf("%s: no routed field", id)
				continue
			}
			routed[c.Namespace] = *c.Routed
			switch {
			case *c.Routed && missing[c.Namespace]:
				t.Errorf("%s: the server routes %s now (%s): take it out of sdkMissingNamespaces and give it a cycle in %s", id, c.Namespace, c.Detail, sdkSuite)
			case !*c.Routed && !missing[c.Namespace]:
				t.Errorf("%s: the server has no route for %s (%s)", id, c.Namespace, c.Detail)
			}
			continue
		}
		if testing.Verbose() {
			t.Logf("%s ok=%v: %s", id, c.OK, c.Detail)
		}
		if seen[id] {
			t.Errorf("%s: reported twice", id)
		}
		seen[id] = true
		defect, known := sdkKnownFailures[id]
		switch {
		case c.OK && known:
			t.Errorf("%s passes now: take it out of sdkKnownFailures (it was: %s)", id, defect)
		case !c.OK && known:
			t.Logf("%s: known failure (%s): %s", id, defect, c.Detail)
		case !c.OK:
			t.Errorf("%s: %s", id, c.Detail)
		}
	}

	// The SDK's namespaces: SDK 0.3.1 has 62, and each is either
	// implemented (a cycle below) or listed as missing.
	if len(inventory) != sdkNamespaces {
		t.Errorf("the SDK lists %d namespaces, want %d: %v", len(inventory), sdkNamespaces, inventory)
	}
	inSDK := map[string]bool{}
	for _, ns := range inventory {
		inSDK[ns] = true
		if !implemented[ns] && !missing[ns] {
			t.Errorf("%s: the SDK namespace is neither implemented (internal/resource/defs.go) nor in sdkMissingNamespaces", ns)
		}
		if _, ok := routed[ns]; !ok {
			t.Errorf("%s/route: no result", ns)
		}
	}
	for ns := range implemented {
		if missing[ns] {
			t.Errorf("%s is implemented and in sdkMissingNamespaces", ns)
		}
		if !inSDK[ns] {
			t.Errorf("%s: the server implements it but the SDK has no such namespace", ns)
		}
	}
	for ns := range missing {
		if !inSDK[ns] {
			t.Errorf("%s is in sdkMissingNamespaces but not an SDK namespace", ns)
		}
	}
	var unrouted []string
	for ns, r := range routed {
		if !r {
			unrouted = append(unrouted, ns)
		}
	}
	sort.Strings(unrouted)
	t.Logf("SDK %s: %d namespaces, %d without a route on this server", sdkVersion, len(inventory), len(unrouted))

	// Every check that must have run did.
	want := []string{"fixtures/practitioner", "fixtures/patient", "fixtures/encounter",
		"patients/read-include", "patients/summary", "patients/search-paging", "patients/search-cursor", "patients/validation",
		"fhir/create", "fhir/read", "fhir/update", "fhir/patch", "fhir/search", "fhir/delete",
		"client/auth", "client/rate-limit"}
	for _, d := range resource.All {
		for _, step := range sdkCycleSteps {
			// No update where the contract has none (nor has the SDK).
			if strings.HasPrefix(step, "update") && !resource.DefaultContract().Allows(http.MethodPatch, d.Path+"/{id}") {
				continue
			}
			want = append(want, sdkNamespace(d.Path)+"/"+step)
		}
	}
	for _, d := range resource.All {
		prefix := sdkNamespace(d.Path) + "/search:"
		found := false
		for id := range seen {
			found = found || strings.HasPrefix(id, prefix)
		}
		if !found {
			t.Errorf("%s…: no search parameter was tried alone", prefix)
		}
	}
	for _, id := range want {
		if !seen[id] {
			t.Errorf("%s: no result (the suite did not get that far, or %s has no cycle for it)", id, sdkSuite)
		}
	}
	for id := range sdkKnownFailures {
		if !seen[id] {
			t.Errorf("%s is in sdkKnownFailures but the suite does not report it", id)
		}
	}
}
