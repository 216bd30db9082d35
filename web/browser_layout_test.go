package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

// screen is one viewport the dashboard must fit.
type screen struct {
	name          string
	width, height int64
}

var screens = []screen{{"desktop", 1440, 900}, {"phone", 390, 844}}

// axeSource is axe-core from node_modules (a pinned devDependency of the
// root package.json), injected into each page; nothing is downloaded.
func axeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("axe-core is not installed; .ci/run runs npm ci: %v", err)
		}
		t.Skipf("axe-core is not installed (npm ci): %v", err)
	}
	return string(b)
}

// checkPage fails the test when the page is wider than the viewport or
// when axe-core reports a violation.
func checkPage(t *testing.T, ctx context.Context, axe, what string) {
	t.Helper()
	var overflow struct {
		Scroll int64  `json:"scroll"`
		Inner  int64  `json:"inner"`
		Widest string `json:"widest"`
	}
	// The widest element that ends past the viewport's right edge, to say
	// what broke.
	err := chromedp.Run(ctx, chromedp.Evaluate(`(() => {
		const inner = window.innerWidth;
		const over = [];
		for (const el of document.querySelectorAll("body *")) {
			const r = el.getBoundingClientRect();
			if (r.width === 0 || r.right <= inner + 1) continue;
			// Only elements not inside a scrolling or clipping box that
			// itself fits (an absolutely positioned element escapes the
			// boxes between it and its positioned ancestor).
			let p = el.parentElement, clipped = false;
			const abs = getComputedStyle(el).position === "absolute";
			while (p) {
				if (abs && getComputedStyle(p).position === "static") { p = p.parentElement; continue; }
				const o = getComputedStyle(p).overflowX;
				if ((o === "auto" || o === "hidden" || o === "scroll") && p.getBoundingClientRect().right <= inner + 1) { clipped = true; break; }
				p = p.parentElement;
			}
			if (!clipped) over.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + "." + String(el.className.baseVal ?? el.className).split(" ").slice(0, 5).join(".") + " (" + Math.round(r.right) + "px, " + getComputedStyle(el).position + ")");
		}
		return {scroll: document.documentElement.scrollWidth, inner: inner, widest: over.slice(-4).join(", ")};
	})()`, &overflow))
	if err != nil {
		t.Fatalf("%s: measuring: %v", what, err)
	}
	if overflow.Scroll > overflow.Inner {
		t.Errorf("%s: the page is %d px wide in a %d px viewport (widest: %s)", what, overflow.Scroll, overflow.Inner, overflow.Widest)
	}

	var raw string
	err = chromedp.Run(ctx,
		chromedp.Evaluate(axe, nil),
		chromedp.Evaluate(`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations.map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.target.join(" ") + " — " + n.failureSummary)}))))`, &raw, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
	)
	if err != nil {
		t.Fatalf("%s: axe: %v", what, err)
	}
	var violations []struct {
		ID    string   `json:"id"`
		Help  string   `json:"help"`
		Nodes []string `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(raw), &violations); err != nil {
		t.Fatalf("%s: axe result %q: %v", what, raw, err)
	}
	for _, v := range violations {
		t.Errorf("%s: axe %s (%s): %s", what, v.ID, v.Help, strings.Join(v.Nodes, "; "))
	}
}

// TestBrowserLayoutAndAccessibility visits every dashboard page at desktop
// and phone sizes: no page (and not the key-secret dialog) is wider than
// the screen, and axe-core finds no violation.
func TestBrowserLayoutAndAccessibility(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	ctx, shot := browser(t)
	axe := axeSource(t)
	base := env.Server.URL

	// Signed-out pages first.
	for _, sc := range screens {
		if err := chromedp.Run(ctx, chromedp.EmulateViewport(sc.width, sc.height)); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/signin", "/signup", "/forgot-password"} {
			if err := chromedp.Run(ctx, chromedp.Navigate(base+path), chromedp.WaitReady(`body`, chromedp.ByQuery)); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			what := fmt.Sprintf("%s at %dpx", path, sc.width)
			checkPage(t, ctx, axe, what)
			shot(sc.name + strings.ReplaceAll(path, "/", "-"))
		}
	}

	orgID := signUpInBrowser(t, ctx, base, "Layout Clinic")
	o := "/o/" + orgID
	// Rows that make tables wide: pending invitations with long addresses,
	// a key with a long name, API traffic in the request and audit logs.
	ada := env.Browser()
	ada.SignIn("ada@example.com", pw)
	invite(t, ada, orgID, "a.very.long.address.for.the.compliance.team@example-hospital.org", "billing")
	invite(t, ada, orgID, "developer@example.com", "developer")
	k, err := env.App.Keys.Create(context.Background(), apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "a-rather-long-key-name-for-the-billing-service", Env: apikey.Test, Scope: apikey.ScopeAll})
	if err != nil {
		t.Fatal(err)
	}
	fhirCall(t, env, "POST", "/v1/fhir/Patient", k.Secret, `{"resourceType":"Patient","name":[{"family":"Wide"}]}`)
	apiCall(t, env, "GET", "/v1/fhir/Patient/missing-one", k.Secret, nil)
	env.App.Records.RelayAudit(context.Background())
	env.App.Audit.Flush(context.Background())
	env.App.Usage.Flush(context.Background())
	pages := []string{o, o + "/keys", o + "/analytics", o + "/requests", o + "/billing", o + "/settings",
		o + "/members", o + "/audit", o + "/privacy", o + "/settings/compliance", "/account", "/orgs/new"}

	for _, sc := range screens {
		if err := chromedp.Run(ctx, chromedp.EmulateViewport(sc.width, sc.height)); err != nil {
			t.Fatal(err)
		}
		for _, path := range pages {
			if err := chromedp.Run(ctx, chromedp.Navigate(base+path), chromedp.WaitVisible(`#main`, chromedp.ByQuery)); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			what := fmt.Sprintf("%s at %dpx", strings.TrimPrefix(path, o), sc.width)
			checkPage(t, ctx, axe, what)
			name := strings.ReplaceAll(strings.TrimPrefix(path, o), "/", "-")
			if name == "" {
				name = "-overview"
			}
			shot(sc.name + name)
		}

		// The one-time secret dialog.
		err := chromedp.Run(ctx,
			chromedp.Navigate(base+o+"/keys"),
			chromedp.WaitVisible(`[data-testid=open-create-key]`, chromedp.ByQuery),
			chromedp.Click(`[data-testid=open-create-key]`, chromedp.ByQuery),
			chromedp.WaitVisible(`#create-key:modal`, chromedp.ByQuery),
			chromedp.SendKeys(`#name`, "svc-"+sc.name, chromedp.ByQuery),
			chromedp.Click(`#create-key button[type=submit]`, chromedp.ByQuery),
			chromedp.WaitVisible(`#key-secret:modal`, chromedp.ByQuery),
		)
		if err != nil {
			t.Fatalf("key secret dialog at %dpx: %v", sc.width, err)
		}
		what := fmt.Sprintf("key-secret dialog at %dpx", sc.width)
		checkPage(t, ctx, axe, what)
		var fits bool
		err = chromedp.Run(ctx, chromedp.Evaluate(`(() => {
			const d = document.querySelector("#key-secret").getBoundingClientRect();
			const ok = el => { const r = el.getBoundingClientRect(); return r.left >= d.left && r.right <= d.right && r.left >= 0 && r.right <= window.innerWidth; };
			return d.left >= 0 && d.right <= window.innerWidth && [...document.querySelectorAll("#key-secret button, #key-secret input")].every(ok);
		})()`, &fits))
		if err != nil {
			t.Fatal(err)
		}
		if !fits {
			t.Errorf("%s: the dialog or one of its buttons is outside the screen", what)
		}
		shot(sc.name + "-key-secret")
		if err := chromedp.Run(ctx, chromedp.Click(`#key-secret [data-dialog-close]`, chromedp.ByQuery)); err != nil {
			t.Fatal(err)
		}

		// The revoke confirmation.
		err = chromedp.Run(ctx,
			chromedp.Click(`a[href*="revoke="]`, chromedp.ByQuery),
			chromedp.WaitVisible(`dialog[id^="revoke-"]:modal`, chromedp.ByQuery),
		)
		if err != nil {
			t.Fatalf("revoke confirmation at %dpx: %v", sc.width, err)
		}
		checkPage(t, ctx, axe, fmt.Sprintf("revoke dialog at %dpx", sc.width))
		shot(sc.name + "-revoke-dialog")

		// The downgrade confirmation (on a paid plan).
		setPlan(t, env, orgID, "team")
		err = chromedp.Run(ctx,
			chromedp.Navigate(base+o+"/billing?downgrade=sandbox"),
			chromedp.WaitVisible(`#downgrade-sandbox:modal`, chromedp.ByQuery),
		)
		if err != nil {
			t.Fatalf("downgrade confirmation at %dpx: %v", sc.width, err)
		}
		checkPage(t, ctx, axe, fmt.Sprintf("downgrade dialog at %dpx", sc.width))
		shot(sc.name + "-downgrade-dialog")
		setPlan(t, env, orgID, "sandbox")

		if sc.name == "phone" {
			// The menu button opens the folded navigation.
			var display string
			err := chromedp.Run(ctx,
				chromedp.Navigate(base+o+"/keys"),
				chromedp.WaitVisible(`[data-sidebar-toggle]`, chromedp.ByQuery),
				chromedp.Evaluate(`getComputedStyle(document.getElementById("sidebar")).display`, &display),
			)
			if err != nil {
				t.Fatalf("menu button: %v", err)
			}
			if display != "none" {
				t.Errorf("at %dpx the sidebar shows before the menu is opened (display %s)", sc.width, display)
			}
			err = chromedp.Run(ctx,
				chromedp.Click(`[data-sidebar-toggle]`, chromedp.ByQuery),
				chromedp.WaitVisible(`#sidebar nav a[href$="/members"]`, chromedp.ByQuery),
			)
			if err != nil {
				t.Fatalf("opening the menu: %v", err)
			}
			checkPage(t, ctx, axe, "open menu at 390px")
			shot("phone-menu-open")

			// The organization switcher opens, and Escape closes it.
			var open bool
			err = chromedp.Run(ctx,
				chromedp.Click(`details[data-org-switcher] summary`, chromedp.ByQuery),
				chromedp.WaitVisible(`details[data-org-switcher] a[href="/orgs/new"]`, chromedp.ByQuery),
			)
			if err != nil {
				t.Fatalf("org switcher: %v", err)
			}
			checkPage(t, ctx, axe, "org switcher at 390px")
			shot("phone-org-switcher")
			err = chromedp.Run(ctx,
				chromedp.KeyEvent(kb.Escape),
				chromedp.Evaluate(`document.querySelector("details[data-org-switcher]").open`, &open),
			)
			if err != nil || open {
				t.Fatalf("Escape did not close the organization switcher (open %v, %v)", open, err)
			}
		}
	}
}
