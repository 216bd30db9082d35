package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/clinikapi/clinikapi/internal/analytics"
	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/suborg"
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

// checkPage fails the test when the page is wider than the viewport, when
// a table row action is off the screen (checkFit) or when axe-core reports
// a violation.
func checkPage(t *testing.T, ctx context.Context, axe, what string) {
	t.Helper()
	checkFit(t, ctx, what)
	var raw string
	err := chromedp.Run(ctx,
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

// checkFit fails the test when the page is wider than the viewport or a
// table row action (a link, button or field in a row) is outside the
// screen or the box that scrolls it.
func checkFit(t *testing.T, ctx context.Context, what string) {
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

	// Every row action of every table (its links, buttons and fields) is
	// on the screen and inside the box that scrolls or clips it: nobody
	// has to scroll sideways to reach Remove, Revoke or Roll.
	var unreachable []string
	err = chromedp.Run(ctx, chromedp.Evaluate(rowActionsOutside, &unreachable))
	if err != nil {
		t.Fatalf("%s: measuring row actions: %v", what, err)
	}
	for _, u := range unreachable {
		t.Errorf("%s: a table row action is outside the screen: %s", what, u)
	}
}

// rowActionsOutside lists the rendered interactive elements in table rows
// (outside closed dialogs) that end past the viewport, or past a scrolling
// or clipping box around them (within their dialog, if any), as
// "tag "text" (left–right px)".
const rowActionsOutside = `(() => {
	const inner = window.innerWidth, out = [];
	for (const el of document.querySelectorAll("table tbody tr :is(a[href], button, select, input:not([type=hidden]), textarea, summary)")) {
		const r = el.getBoundingClientRect();
		if (r.width === 0 || r.height === 0 || el.closest("dialog:not([open])")) continue;
		let lo = 0, hi = inner;
		// A dialog is in the top layer: no box around it clips it.
		for (let p = el.parentElement; p && p.tagName !== "DIALOG"; p = p.parentElement) {
			const o = getComputedStyle(p).overflowX;
			if (o === "auto" || o === "hidden" || o === "scroll" || o === "clip") {
				const b = p.getBoundingClientRect();
				lo = Math.max(lo, b.left); hi = Math.min(hi, b.right);
			}
		}
		if (r.left < lo - 1 || r.right > hi + 1) {
			out.push(el.tagName.toLowerCase() + " " + JSON.stringify((el.textContent || el.name || "").trim().replace(/\s+/g, " ").slice(0, 40)) + " (" + Math.round(r.left) + "–" + Math.round(r.right) + " px, visible " + Math.round(lo) + "–" + Math.round(hi) + ")");
		}
	}
	return out;
})()`

// TestBrowserLayoutAndAccessibility visits every dashboard page at desktop
// and phone sizes: no page (and not the key-secret dialog) is wider than
// the screen, and axe-core finds no violation.
func TestBrowserLayoutAndAccessibility(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	ctx, shot := browser(t, 4*time.Minute) // two sizes of every page, axe-core on each: over 90 s on a loaded machine
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
	created := fhirCall(t, env, "POST", "/v1/fhir/Patient", k.Secret, `{"resourceType":"Patient","name":[{"family":"Wide"}]}`)
	patientID, _ := created.Body["id"].(string)
	fhirCall(t, env, "GET", "/v1/fhir/Patient/"+patientID, k.Secret, "")
	apiCall(t, env, "GET", "/v1/fhir/Patient/missing-one", k.Secret, nil)
	// Several rows in the keys and members tables: keys in every state,
	// members with long addresses and every role.
	for _, in := range []apikey.CreateInput{
		{Name: "lab-results-integration-production", Env: apikey.Test, Scope: apikey.ScopeRead},
		{Name: "pharmacy-sync", Env: apikey.Test, Scope: apikey.ScopeWrite},
		{Name: "old-billing-export", Env: apikey.Test, Scope: apikey.ScopeAll},
	} {
		made, err := env.App.Keys.Create(context.Background(), apikey.Actor{OrgID: orgID}, in)
		if err != nil {
			t.Fatal(err)
		}
		if in.Name == "old-billing-export" {
			if _, err := env.App.Keys.Revoke(context.Background(), apikey.Actor{OrgID: orgID}, made.Key.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, m := range []struct{ email, role string }{
		{"grace.hopper.of.the.compliance.office@example-hospital.org", "admin"},
		{"dev@example.com", "developer"},
		{"accounts.payable@example-hospital.org", "billing"},
	} {
		join(t, env, invite(t, ada, orgID, m.email, m.role), m.email)
	}
	// A sub-organization with a long name and a key: its row, the tenant
	// column and the tenant filters.
	so, err := env.App.SubOrgs.Create(context.Background(), suborg.Actor{OrgID: orgID}, "Northside Family and Pediatric Medicine Clinic of Springfield")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.App.Keys.Create(context.Background(), apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "northside-ehr", Env: apikey.Test, TenantID: so.ID}); err != nil {
		t.Fatal(err)
	}
	env.App.Records.RelayAudit(context.Background())
	env.App.Audit.Flush(context.Background())
	env.App.Usage.Flush(context.Background())
	if err := env.App.Flush(context.Background()); err != nil { // the patient access report's disclosures too
		t.Fatal(err)
	}
	pages := []string{o, o + "/keys", o + "/analytics", o + "/requests", o + "/billing", o + "/settings",
		o + "/members", o + "/audit", o + "/privacy", o + "/settings/compliance", "/account", "/orgs/new", o + "/suborgs",
		o + "/keys/" + k.Key.ID, o + "/compliance/access?patient=" + patientID, o + "/webhooks", o + "/analytics/webhooks"}

	// A phone held sideways and a tablet show the tables as cards too: the
	// same fit checks on every page (axe-core runs at the two sizes below).
	for _, sc := range []screen{{"phone-landscape", 844, 390}, {"tablet", 768, 1024}} {
		if err := chromedp.Run(ctx, chromedp.EmulateViewport(sc.width, sc.height)); err != nil {
			t.Fatal(err)
		}
		for _, path := range pages {
			if err := chromedp.Run(ctx, chromedp.Navigate(base+path), chromedp.WaitVisible(`#main`, chromedp.ByQuery)); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			checkFit(t, ctx, fmt.Sprintf("%s at %dpx", strings.TrimPrefix(path, o), sc.width))
		}
	}

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
			name := strings.NewReplacer(k.Key.ID, "key", patientID, "patient", "/", "-", "?", "-", "=", "-").Replace(strings.TrimPrefix(path, o))
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

// TestBrowserLayoutStates covers the pages and states the page tour above
// does not reach: an invitation (signed out and signed in), a password
// reset link, an error page, a request's detail, analytics with its numbers
// table and a chart tooltip open, filtered logs, an export job, the roll
// dialog, and forms answered with errors (the focus on the first invalid
// field). At desktop and phone sizes: no horizontal overflow, no axe-core
// violation.
func TestBrowserLayoutStates(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	ctx, shot := browser(t, 7*time.Minute)
	axe := axeSource(t)
	base := env.Server.URL
	bg := context.Background()

	ada := env.Browser()
	orgID := ada.SignUp("Ada Lovelace", "ada@example.com", pw, "States Clinic")
	o := "/o/" + orgID
	link := strings.TrimPrefix(invite(t, ada, orgID, "grace.hopper.of.the.compliance.office@example-hospital.org", "developer"), base)
	k, err := env.App.Keys.Create(bg, apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "backend", Env: apikey.Test, Scope: apikey.ScopeAll})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		fhirCall(t, env, "POST", "/v1/fhir/Patient", k.Secret, `{"resourceType":"Patient","name":[{"family":"State"}]}`)
		apiCall(t, env, "GET", "/v1/patients/pt_missing", k.Secret, nil)
	}
	runJob(t, env, analytics.JobRollup)
	recs, _, err := env.App.Analytics.RequestLog(bg, analytics.LogFilter{OrgID: orgID, Limit: 1})
	if err != nil || len(recs) == 0 {
		t.Fatalf("no request in the log: %v", err)
	}
	detail := o + "/requests/" + strconv.FormatInt(recs[0].ID, 10)

	visit := func(sc screen, path, wait, name string) {
		t.Helper()
		if err := chromedp.Run(ctx, chromedp.Navigate(base+path), chromedp.WaitVisible(wait, chromedp.ByQuery)); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		checkPage(t, ctx, axe, fmt.Sprintf("%s at %dpx", name, sc.width))
		shot(sc.name + "-" + name)
	}
	// focusAfter submits a form and checks where the focus lands.
	focusAfter := func(sc screen, name, wantFocus string, actions ...chromedp.Action) {
		t.Helper()
		var id string
		actions = append(actions,
			chromedp.WaitVisible(`#`+wantFocus+`[aria-invalid=true]`, chromedp.ByQuery),
			chromedp.Sleep(150*time.Millisecond), // htmx settles, then focuses
			chromedp.Evaluate(`document.activeElement.id`, &id),
		)
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s at %dpx: %v", name, sc.width, err)
		}
		if id != wantFocus {
			t.Errorf("%s at %dpx: the focus is on %q, want the first invalid field %q", name, sc.width, id, wantFocus)
		}
		checkPage(t, ctx, axe, fmt.Sprintf("%s at %dpx", name, sc.width))
		shot(sc.name + "-" + name)
	}

	for _, sc := range screens {
		if err := chromedp.Run(ctx, chromedp.EmulateViewport(sc.width, sc.height)); err != nil {
			t.Fatal(err)
		}
		visit(sc, link, `main, form, h1`, "invite-signed-out")
		visit(sc, "/reset-password?token=not-a-real-token", `h1`, "reset-bad-token")
		visit(sc, "/no-such-page", `h1`, "not-found")
	}

	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(`#email`, chromedp.ByQuery),
		chromedp.SendKeys(`#email`, "ada@example.com", chromedp.ByQuery),
		chromedp.SendKeys(`#password`, pw, chromedp.ByQuery),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=current-org]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	for _, sc := range screens {
		if err := chromedp.Run(ctx, chromedp.EmulateViewport(sc.width, sc.height)); err != nil {
			t.Fatal(err)
		}
		visit(sc, link, `h1`, "invite-other-account")
		visit(sc, detail, `#main`, "request-detail")
		visit(sc, o+"/analytics?range=1h&table=1", `[data-testid=series-table]`, "analytics-numbers")
		visit(sc, o+"/requests?range=24h&status=err&code=NOT_FOUND", `#main`, "requests-filtered")
		visit(sc, o+"/audit?category=keys", `#main`, "audit-filtered")

		// A chart tooltip, opened from the keyboard, stays on the screen.
		var inside bool
		err := chromedp.Run(ctx,
			chromedp.Navigate(base+o+"/analytics?range=1h"),
			chromedp.WaitVisible(`[data-chart=chart-requests] .chart-hit`, chromedp.ByQuery),
			chromedp.Focus(`[data-chart=chart-requests] .chart-hit`, chromedp.ByQuery),
			chromedp.KeyEvent(kb.End),
			chromedp.WaitVisible(`[data-chart-tip]:not([hidden])`, chromedp.ByQuery),
			chromedp.Evaluate(`(() => { const r = document.querySelector('[data-chart-tip]:not([hidden])').getBoundingClientRect(); return r.left >= 0 && r.right <= window.innerWidth; })()`, &inside),
		)
		if err != nil {
			t.Fatalf("chart tooltip at %dpx: %v", sc.width, err)
		}
		if !inside {
			t.Errorf("chart tooltip at %dpx: outside the screen", sc.width)
		}
		checkPage(t, ctx, axe, fmt.Sprintf("chart tooltip at %dpx", sc.width))
		shot(sc.name + "-chart-tooltip")

		// Every chart's axis labels are readable: at least 11 CSS px as
		// rendered (the font size times the scale of the SVG they are in),
		// and the labels of an axis do not overlap.
		for _, page := range []string{o + "/analytics?range=1h", o + "/analytics?range=7d", o + "/keys/" + k.Key.ID} {
			var labels struct {
				Count   int     `json:"count"`
				Min     float64 `json:"min"`
				Overlap string  `json:"overlap"`
			}
			err := chromedp.Run(ctx,
				chromedp.Navigate(base+page),
				chromedp.WaitVisible(`[data-chart-axis] text`, chromedp.ByQuery),
				chromedp.Evaluate(`(() => {
					let count = 0, min = 1e9, overlap = "";
					for (const axis of document.querySelectorAll("[data-chart-axis]")) {
						const boxes = [];
						for (const t of axis.querySelectorAll("text")) {
							const size = parseFloat(getComputedStyle(t).fontSize) * t.ownerSVGElement.getScreenCTM().a;
							count++; min = Math.min(min, size);
							const r = t.getBoundingClientRect();
							for (const b of boxes) {
								if (r.left < b.right && b.left < r.right && r.top < b.bottom && b.top < r.bottom) overlap = b.text + " / " + t.textContent;
							}
							boxes.push({left: r.left, right: r.right, top: r.top, bottom: r.bottom, text: t.textContent});
						}
					}
					return {count, min, overlap};
				})()`, &labels),
			)
			if err != nil {
				t.Fatalf("chart labels of %s at %dpx: %v", page, sc.width, err)
			}
			if labels.Count == 0 || labels.Min < 11 || labels.Overlap != "" {
				t.Errorf("chart labels of %s at %dpx: %d labels, smallest %.1f px (want ≥ 11), overlapping: %q", page, sc.width, labels.Count, labels.Min, labels.Overlap)
			}
			shot(sc.name + "-chart-labels" + strings.NewReplacer(o, "", "/"+k.Key.ID, "", "/", "-", "?", "-", "=", "-").Replace(page))
		}

		// Removing a member and revoking an invitation ask in the page.
		for _, d := range []struct{ open, dialog, name string }{
			{`[data-testid=remove-member]`, `dialog[id^="remove-"]:modal`, "remove-member-dialog"},
			{`[data-testid=revoke-invite]`, `dialog[id^="revoke-invite-"]:modal`, "revoke-invite-dialog"},
		} {
			err := chromedp.Run(ctx,
				chromedp.Navigate(base+o+"/members"),
				chromedp.WaitVisible(d.open, chromedp.ByQuery),
				chromedp.Click(d.open, chromedp.ByQuery),
				chromedp.WaitVisible(d.dialog, chromedp.ByQuery),
			)
			if err != nil {
				t.Fatalf("%s at %dpx: %v", d.name, sc.width, err)
			}
			checkPage(t, ctx, axe, fmt.Sprintf("%s at %dpx", d.name, sc.width))
			shot(sc.name + "-" + d.name)
			// Cancel closes it, nothing changed.
			var open bool
			err = chromedp.Run(ctx,
				chromedp.Click(d.dialog+` [data-dialog-close]`, chromedp.ByQuery),
				chromedp.Evaluate(`!!document.querySelector(`+strconv.Quote(d.dialog)+`)`, &open),
			)
			if err != nil || open {
				t.Fatalf("%s at %dpx: Cancel did not close the dialog (open %v, %v)", d.name, sc.width, open, err)
			}
		}

		// The roll dialog.
		err = chromedp.Run(ctx,
			chromedp.Navigate(base+o+"/keys"),
			chromedp.Click(`[data-dialog-open^="roll-"]`, chromedp.ByQuery),
			chromedp.WaitVisible(`dialog[id^="roll-"]:modal`, chromedp.ByQuery),
		)
		if err != nil {
			t.Fatalf("roll dialog at %dpx: %v", sc.width, err)
		}
		checkPage(t, ctx, axe, fmt.Sprintf("roll dialog at %dpx", sc.width))
		shot(sc.name + "-roll-dialog")

		// Forms answered with errors.
		focusAfter(sc, "key-form-errors", "name",
			chromedp.Navigate(base+o+"/keys?create=1"), // the create dialog, open (the no-JavaScript path)
			chromedp.WaitVisible(`#create-key`, chromedp.ByQuery),
			chromedp.SetValue(`#expires_at`, "2001-01-01", chromedp.ByQuery),
			chromedp.Click(`#create-key button[type=submit]`, chromedp.ByQuery),
			chromedp.WaitVisible(`#expires_at[aria-invalid=true]`, chromedp.ByQuery),
		)
		focusAfter(sc, "invite-form-errors", "email",
			chromedp.Navigate(base+o+"/members"),
			chromedp.WaitVisible(`#email`, chromedp.ByQuery),
			chromedp.SendKeys(`#email`, "not-an-address", chromedp.ByQuery),
			chromedp.Click(`#invites form[hx-post$="/invites"] button[type=submit]`, chromedp.ByQuery),
		)
		focusAfter(sc, "close-form-errors", "confirm_name",
			chromedp.Navigate(base+o+"/privacy"),
			chromedp.WaitVisible(`#confirm_name`, chromedp.ByQuery),
			chromedp.SendKeys(`#confirm_name`, "Another Clinic", chromedp.ByQuery),
			chromedp.Click(`[data-testid=close-org]`, chromedp.ByQuery),
			chromedp.WaitVisible(`#password[aria-invalid=true]`, chromedp.ByQuery),
		)
		focusAfter(sc, "password-form-errors", "current_password",
			chromedp.Navigate(base+"/account"),
			chromedp.WaitVisible(`#current_password`, chromedp.ByQuery),
			chromedp.SendKeys(`#password`, "password", chromedp.ByQuery),
			chromedp.Click(`form[action="/account/password"] button[type=submit]`, chromedp.ByQuery),
			chromedp.WaitVisible(`#password[aria-invalid=true]`, chromedp.ByQuery),
		)
	}

	// An export job in the list (once: the bulk limit is per hour).
	for _, sc := range screens {
		if err := chromedp.Run(ctx, chromedp.EmulateViewport(sc.width, sc.height)); err != nil {
			t.Fatal(err)
		}
		if sc.name == "desktop" {
			err := chromedp.Run(ctx,
				chromedp.Navigate(base+o+"/privacy"),
				chromedp.Click(`[data-testid=start-export]`, chromedp.ByQuery),
				chromedp.WaitVisible(`#main`, chromedp.ByQuery),
			)
			if err != nil {
				t.Fatalf("start export: %v", err)
			}
		}
		visit(sc, o+"/privacy", `#main table`, "privacy-job")
	}
}
