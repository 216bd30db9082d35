package web_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

// TestBrowserKeyPageRestrictHintRoll: an owner restricts a key from its
// own page (one validation round trip first), follows the least-privilege
// hint the key's real usage gives and sees the narrowed key, then rolls it
// with a grace period and sees the old secret's "expires …" on the list and
// on the page — and the API holds the key to each step.
func TestBrowserKeyPageRestrictHintRoll(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	ctx, shot := browser(t)
	base := env.Server.URL
	orgID := signUpInBrowser(t, ctx, base, "Reminder Clinic")
	k, err := env.App.Keys.Create(context.Background(), apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "reminders", Env: apikey.Test})
	if err != nil {
		t.Fatal(err)
	}
	secret, id := k.Secret, k.Key.ID
	page := base + "/o/" + orgID + "/keys/" + id

	// From the list to the key's page.
	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/o/"+orgID+"/keys"),
		chromedp.WaitVisible(`[data-testid=key-link]`, chromedp.ByQuery),
		chromedp.Click(`[data-testid=key-link]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=key-page]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("key page: %v", err)
	}
	if got := textOf(t, ctx, "[data-testid=key-grants]"); got != "Every type" {
		t.Fatalf("resource types of a new key: %q", got)
	}

	// Restrict it: a bad network first (the field says why), then a good one.
	err = chromedp.Run(ctx,
		chromedp.SendKeys(`#resource_types`, "appointments:read, patients:read", chromedp.ByQuery),
		chromedp.SendKeys(`#ip_allowlist`, "10.0.0.0/33", chromedp.ByQuery),
		chromedp.Click(`[data-testid=save-restrictions]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#ip_allowlist[aria-invalid=true]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("restrict with a bad network: %v", err)
	}
	if msg := textOf(t, ctx, "#ip_allowlist-hint"); !strings.Contains(msg, "CIDR notation") || !strings.Contains(msg, "10.0.0.0/33") {
		t.Fatalf("allowlist error = %q", msg)
	}
	var kept string
	chromedp.Run(ctx, chromedp.Value(`#resource_types`, &kept, chromedp.ByQuery))
	if kept != "appointments:read, patients:read" {
		t.Fatalf("the form lost the resource types: %q", kept)
	}
	shot("restrict-error")
	err = chromedp.Run(ctx,
		chromedp.SetValue(`#ip_allowlist`, "127.0.0.0/8, ::1", chromedp.ByQuery),
		chromedp.Click(`[data-testid=save-restrictions]`, chromedp.ByQuery),
		chromedp.Poll(grantsJS+`.includes("Patient")`, nil),
	)
	if err != nil {
		t.Fatalf("restrict: %v", err)
	}
	if got := squash(textOf(t, ctx, "[data-testid=key-grants]")); got != "Appointment (Read only) , Patient (Read only)" && got != "Appointment (Read only), Patient (Read only)" {
		t.Fatalf("resource types after restricting: %q", got)
	}
	if got := squash(textOf(t, ctx, "[data-testid=key-allowlist]")); !strings.Contains(got, "127.0.0.0/8") || !strings.Contains(got, "::1/128") {
		t.Fatalf("allowlist after restricting: %q", got)
	}
	shot("restricted")
	// The next request is held to it.
	wantAPIError(t, "another type", apiCall(t, env, "GET", "/v1/observations", secret, nil), 403, "INSUFFICIENT_SCOPE")
	for range 3 {
		if r := apiCall(t, env, "GET", "/v1/patients", secret, nil); r.Status != 200 {
			t.Fatalf("patients with the restricted key: %d %s", r.Status, r.Raw)
		}
	}
	waitUsage(t, env, orgID, 4)

	// The hint: its requests needed read on Patient only; apply it.
	err = chromedp.Run(ctx,
		chromedp.Navigate(page),
		chromedp.WaitVisible(`[data-testid=hint-text]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("hint: %v", err)
	}
	if got := squash(textOf(t, ctx, "[data-testid=hint-text]")); !strings.Contains(got, "3 requests needed only scope read on Patient (Read only)") {
		t.Fatalf("hint = %q", got)
	}
	shot("hint")
	err = chromedp.Run(ctx,
		chromedp.Click(`[data-testid=apply-hint]`, chromedp.ByQuery),
		chromedp.Poll(grantsJS+`.includes("Patient") && !`+grantsJS+`.includes("Appointment")`, nil),
		chromedp.WaitVisible(`[data-testid=key-audit]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("apply the hint: %v", err)
	}
	if got := squash(textOf(t, ctx, "[data-testid=key-grants]")); got != "Patient (Read only)" {
		t.Fatalf("resource types after the hint: %q", got)
	}
	if got := textOf(t, ctx, "#key-page dl"); !strings.Contains(got, "Read only (read)") {
		t.Fatalf("scope after the hint: %q", got)
	}
	if got := textOf(t, ctx, "[data-testid=key-audit]"); !strings.Contains(got, "via: hint") {
		t.Fatalf("the key's history does not show the applied hint: %q", got)
	}
	shot("hint-applied")
	wantAPIError(t, "appointments after the hint", apiCall(t, env, "GET", "/v1/appointments", secret, nil), 403, "INSUFFICIENT_SCOPE")

	// Roll with the default grace (24 hours): the list and the page say
	// when the old secret expires, and both secrets work until then.
	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/o/"+orgID+"/keys"),
		chromedp.WaitVisible(`[data-dialog-open="roll-`+id+`"]`, chromedp.ByQuery),
		chromedp.Click(`[data-dialog-open="roll-`+id+`"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#roll-`+id+`:modal`, chromedp.ByQuery),
		chromedp.Click(`#roll-`+id+` input[value="24h"]`, chromedp.ByQuery),
		chromedp.Click(`#roll-`+id+` button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=new-key-secret]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("roll: %v", err)
	}
	var fresh string
	chromedp.Run(ctx, chromedp.Value(`[data-testid=new-key-secret]`, &fresh, chromedp.ByQuery))
	if !regexp.MustCompile(`^clk_test_[0-9A-Za-z]{32}$`).MatchString(fresh) || fresh == secret {
		t.Fatalf("new secret = %q", fresh)
	}
	ends := env.Clock.Now().UTC().Add(24 * time.Hour)
	if got, until := textOf(t, ctx, "#keys [data-testid=old-secret-until]"), ends.Format("Jan 2, 15:04 UTC"); got != "Old secret expires "+until {
		t.Fatalf("the list says %q, want \"Old secret expires %s\"", got, until)
	}
	shot("rolled-list")
	err = chromedp.Run(ctx,
		chromedp.Navigate(page),
		chromedp.WaitVisible(`[data-testid=old-secret-until]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("key page after the roll: %v", err)
	}
	if got, until := textOf(t, ctx, "[data-testid=old-secret-until]"), ends.Format("Jan 2, 2006 15:04 UTC"); !strings.Contains(got, "expires "+until) {
		t.Fatalf("the key's page says %q, want \"… expires %s\"", got, until)
	}
	shot("rolled-page")
	for what, s := range map[string]string{"old secret in its grace": secret, "new secret": fresh} {
		if r := apiCall(t, env, "GET", "/v1/patients", s, nil); r.Status != 200 {
			t.Fatalf("%s: %d %s", what, r.Status, r.Raw)
		}
	}
}

// grantsJS is the text of the key page's resource types ("" while the
// page loads).
const grantsJS = `(document.querySelector("[data-testid=key-grants]") || {textContent: ""}).textContent`

// squash collapses runs of white space (templ output spreads text over
// lines).
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }
