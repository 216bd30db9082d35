package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/errs"
)

var (
	testSecret = regexp.MustCompile(`clk_test_[0-9A-Za-z]{32}`)
	liveSecret = regexp.MustCompile(`clk_live_[0-9A-Za-z]{32}`)
	keyRowID   = regexp.MustCompile(`<tr id="key-(key_[0-9a-z]+)"`)
)

// shownSecret returns the one secret a response shows, failing unless there
// is exactly one distinct secret in it, in the dialog.
func shownSecret(t *testing.T, what string, r *apptest.Response, shape *regexp.Regexp) string {
	t.Helper()
	all := map[string]bool{}
	for _, s := range shape.FindAllString(r.Body, -1) {
		all[s] = true
	}
	if len(all) != 1 {
		t.Fatalf("%s: %d distinct secrets on the page, want exactly 1\n%s", what, len(all), apptest.Text(r.Body))
	}
	var secret string
	for s := range all {
		secret = s
	}
	if !regexp.MustCompile(`^` + shape.String() + `$`).MatchString(secret) {
		t.Fatalf("%s: secret %q has the wrong shape", what, secret)
	}
	if !strings.Contains(r.Body, `<dialog id="key-secret" open data-open`) || !strings.Contains(r.Body, `data-copy="new-key-secret"`) {
		t.Fatalf("%s: the secret is not in the open dialog with a copy button", what)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%s: Cache-Control %q, want no-store", what, r.Header.Get("Cache-Control"))
	}
	for name, values := range r.Header {
		for _, v := range values {
			if strings.Contains(v, secret) {
				t.Fatalf("%s: the secret is in the %s header", what, name)
			}
		}
	}
	if strings.Contains(r.URL.String(), secret) {
		t.Fatalf("%s: the secret is in the URL", what)
	}
	return secret
}

// keyIDs lists the key ids of the rows on a keys page, in order.
func keyIDs(r *apptest.Response) []string {
	var out []string
	for _, m := range keyRowID.FindAllStringSubmatch(r.Body, -1) {
		out = append(out, m[1])
	}
	return out
}

// keyNamed returns the id of the key named name on a keys page.
func keyNamed(t *testing.T, r *apptest.Response, name string) string {
	t.Helper()
	for _, id := range keyIDs(r) {
		if strings.Contains(keyRow(t, r, id), ">"+name+"<") {
			return id
		}
	}
	t.Fatalf("no key named %q on the page", name)
	return ""
}

// keyRow returns the HTML of one key's row.
func keyRow(t *testing.T, r *apptest.Response, keyID string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<tr id="key-` + keyID + `".*?</tr>`).FindString(r.Body)
	if m == "" {
		t.Fatalf("no row for %s on the page\n%s", keyID, apptest.Text(r.Body))
	}
	return m
}

func wantVerify(t *testing.T, env *apptest.Env, what, secret string, reason errs.Reason) {
	t.Helper()
	_, err := env.App.Keys.Verify(context.Background(), secret)
	if got := errs.ReasonOf(err); got != reason || (reason == "" && err != nil) {
		t.Fatalf("%s: Verify = %v (reason %q), want reason %q", what, err, got, reason)
	}
}

func TestKeysCreateListRollRevoke(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		owner := env.Browser()
		orgID := owner.SignUp("Olivia Owner", "owner@example.com", pw, "Key Clinic")
		keysURL := "/o/" + orgID + "/keys"
		var secrets []string

		// Empty state, the nav entry and the getting-started step.
		r := owner.Get(keysURL)
		wantStatus(t, "empty keys page", r, http.StatusOK)
		wantText(t, "empty keys page", r, "API Keys", "Test keys", "No test keys yet", "Create a test key", "Create an API key")
		if !strings.Contains(r.Body, `href="`+keysURL+`"`) {
			t.Fatalf("no API Keys link in the navigation")
		}
		wantText(t, "overview before a key", owner.Get("/o/"+orgID), "Create an API key", "1 of 3 done") // only the organization
		wantText(t, "empty live keys", owner.Get(keysURL+"?env=live"), "Live keys", "No live keys yet")

		// Validation.
		r = owner.Post(keysURL, url.Values{"name": {""}, "env": {"test"}, "scope": {"*"}})
		wantStatus(t, "key without a name", r, http.StatusUnprocessableEntity)
		wantText(t, "key without a name", r, "Give the key a name")
		r = owner.Post(keysURL, url.Values{"name": {"x"}, "env": {"test"}, "scope": {"*"}, "expires_at": {"2026-11-23"}})
		wantStatus(t, "expiry today", r, http.StatusUnprocessableEntity)
		wantText(t, "expiry today", r, "Choose an expiry date in the future")
		r = owner.Post(keysURL, url.Values{"name": {"x"}, "env": {"test"}, "scope": {"*"}, "expires_at": {"next week"}})
		wantStatus(t, "expiry not a date", r, http.StatusUnprocessableEntity)
		wantText(t, "expiry not a date", r, "Enter the expiry as a date")
		r = owner.Post(keysURL, url.Values{"name": {"x"}, "env": {"prod"}, "scope": {"*"}})
		wantStatus(t, "unknown environment", r, http.StatusUnprocessableEntity)
		wantText(t, "unknown environment", r, "Choose the test or the live environment")
		r = owner.Post(keysURL, url.Values{"name": {"x"}, "env": {"test"}, "scope": {"admin"}})
		wantStatus(t, "unknown scope", r, http.StatusUnprocessableEntity)
		if len(testSecret.FindAllString(r.Body, -1)) != 0 || len(keyIDs(owner.Get(keysURL))) != 0 {
			t.Fatalf("a refused form created a key")
		}

		// Create a test key: the secret is shown once, with a curl that works.
		r = owner.Post(keysURL, url.Values{"name": {"backend"}, "env": {"test"}, "scope": {"*"}})
		wantStatus(t, "create test key", r, http.StatusOK)
		secret := shownSecret(t, "create test key", r, testSecret)
		secrets = append(secrets, secret)
		wantText(t, "create test key", r, "Your new test key", "only time it is shown",
			`curl -H "x-api-key: `+secret+`" `+env.Server.URL+`/v1/patients`)
		wantVerify(t, env, "created key", secret, "")
		curl := apiCall(t, env, "GET", "/v1/patients", secret, nil)
		if curl.Status == http.StatusUnauthorized || curl.Status == http.StatusForbidden {
			t.Fatalf("the curl example's request was refused: %d %s", curl.Status, curl.Raw)
		}

		// Listed masked, never in full again.
		r = owner.Get(keysURL)
		if strings.Contains(r.Body, secret) || testSecret.MatchString(r.Body) {
			t.Fatalf("the secret is on the page after the creation")
		}
		ids := keyIDs(r)
		if len(ids) != 1 {
			t.Fatalf("keys listed = %v, want 1", ids)
		}
		backendID := ids[0]
		masked := secret[:len("clk_test_")+4] + "…" + secret[len(secret)-4:]
		row := keyRow(t, r, backendID)
		for _, want := range []string{"backend", masked, "Full access", "owner@example.com", "Nov 23, 2026", "Never", "Active", "/roll", "/revoke"} {
			if !strings.Contains(row, want) {
				t.Fatalf("row of backend lacks %q:\n%s", want, apptest.Text(row))
			}
		}
		wantText(t, "overview after a key", owner.Get("/o/"+orgID), "2 of 3 done") // organization + key

		// A read-only key expiring within a week, created with HTMX.
		env.Clock.Advance(time.Minute)
		owner.Headers["HX-Request"] = "true"
		r = owner.Post(keysURL, url.Values{"name": {"reporting"}, "env": {"test"}, "scope": {"read"}, "expires_at": {"2026-11-27"}})
		delete(owner.Headers, "HX-Request")
		wantStatus(t, "create with htmx", r, http.StatusOK)
		if !strings.HasPrefix(strings.TrimSpace(r.Body), `<div id="keys"`) || strings.Contains(r.Body, "<html") {
			t.Fatalf("htmx create did not answer with the keys section:\n%.300s", r.Body)
		}
		reporting := shownSecret(t, "create with htmx", r, testSecret)
		secrets = append(secrets, reporting)
		ids = keyIDs(r)
		if len(ids) != 2 || ids[1] != backendID {
			t.Fatalf("keys after the second = %v, want the new one first", ids)
		}
		reportingID := ids[0]
		row = keyRow(t, r, reportingID)
		for _, want := range []string{"Read only", "Nov 27, 2026", "Expiring"} {
			if !strings.Contains(row, want) {
				t.Fatalf("row of reporting lacks %q:\n%s", want, apptest.Text(row))
			}
		}

		// Last used appears once the coalesced writes are flushed.
		wantVerify(t, env, "use backend", secret, "")
		if err := env.App.Keys.FlushLastUsed(context.Background()); err != nil {
			t.Fatal(err)
		}
		if row := keyRow(t, owner.Get(keysURL), backendID); !strings.Contains(row, "Just now") {
			t.Fatalf("last used is not shown after a flush:\n%s", apptest.Text(row))
		}

		// Without JavaScript, Roll opens the page with the key's roll dialog open.
		r = owner.Get(keysURL)
		if !strings.Contains(keyRow(t, r, backendID), `href="`+keysURL+`?env=test&amp;roll=`+backendID+`#roll-`+backendID+`"`) ||
			strings.Contains(r.Body, `<dialog id="roll-`+backendID+`" open`) {
			t.Fatalf("the Roll link or the closed roll dialog is wrong:\n%s", keyRow(t, r, backendID))
		}
		r = owner.Get(keysURL + "?env=test&roll=" + backendID)
		if !strings.Contains(r.Body, `<dialog id="roll-`+backendID+`" open data-open`) || !strings.Contains(r.Body, `value="24h" checked`) {
			t.Fatalf("?roll= did not render the roll dialog open with 24 hours preselected:\n%s", keyRow(t, r, backendID))
		}

		// Roll with a 1-hour grace (plain form): new secret once, old one
		// keeps working for the hour, then stops.
		r = owner.Post(keysURL+"/"+backendID+"/roll", url.Values{"grace": {"1h"}})
		wantStatus(t, "roll", r, http.StatusOK)
		rolled := shownSecret(t, "roll", r, testSecret)
		secrets = append(secrets, rolled)
		if rolled == secret {
			t.Fatalf("roll showed the old secret")
		}
		wantText(t, "roll", r, "New secret for backend", "keeps working until Nov 23, 2026 10:01 UTC")
		newMasked := rolled[:len("clk_test_")+4] + "…" + rolled[len(rolled)-4:]
		if row := keyRow(t, r, backendID); !strings.Contains(row, newMasked) {
			t.Fatalf("rolled row does not show the new secret's display %s", newMasked)
		}
		// The list keeps saying so after the dialog is gone, until the end.
		if row := keyRow(t, owner.Get(keysURL), backendID); !strings.Contains(apptest.Text(row), "Old secret expires Nov 23, 10:01 UTC") {
			t.Fatalf("the key's row does not say until when the old secret works:\n%s", apptest.Text(row))
		}
		wantVerify(t, env, "old secret during the grace", secret, "")
		wantVerify(t, env, "new secret", rolled, "")
		env.Clock.Advance(time.Hour)
		wantVerify(t, env, "old secret after the grace", secret, "KEY_EXPIRED")
		if row := keyRow(t, owner.Get(keysURL), backendID); strings.Contains(row, "old-secret-until") {
			t.Fatal("the row still shows the old secret's grace after it ended")
		}
		wantVerify(t, env, "new secret after the grace", rolled, "")

		// Roll with no grace (HTMX): the old secret stops at once.
		owner.Headers["HX-Request"] = "true"
		r = owner.Post(keysURL+"/"+backendID+"/roll", url.Values{"grace": {"0"}})
		delete(owner.Headers, "HX-Request")
		wantStatus(t, "roll now (htmx)", r, http.StatusOK)
		if !strings.HasPrefix(strings.TrimSpace(r.Body), `<div id="keys"`) {
			t.Fatalf("htmx roll did not answer with the keys section")
		}
		rolledAgain := shownSecret(t, "roll now", r, testSecret)
		secrets = append(secrets, rolledAgain)
		wantText(t, "roll now", r, "The old secret stopped working")
		wantVerify(t, env, "previous secret after a roll with no grace", rolled, "KEY_EXPIRED")
		wantVerify(t, env, "newest secret", rolledAgain, "")
		r = owner.Post(keysURL+"/"+backendID+"/roll", url.Values{"grace": {"5m"}})
		wantStatus(t, "roll with a grace not offered", r, http.StatusUnprocessableEntity)
		wantText(t, "roll with a grace not offered", r, "Choose how long the old secret keeps working")

		// Revoke with HTMX: the row comes back greyed, the key stops at once.
		owner.Headers["HX-Request"] = "true"
		r = owner.Post(keysURL+"/"+backendID+"/revoke", nil)
		delete(owner.Headers, "HX-Request")
		wantStatus(t, "revoke (htmx)", r, http.StatusOK)
		body := strings.TrimSpace(r.Body)
		if !strings.HasPrefix(body, `<tr id="key-`+backendID+`"`) || !strings.Contains(body, `data-status="revoked"`) || !strings.Contains(body, "Revoked") || strings.Contains(body, "/roll") {
			t.Fatalf("htmx revoke did not answer with the revoked row:\n%s", body)
		}
		wantVerify(t, env, "revoked key", rolledAgain, "KEY_REVOKED")
		r = owner.Post(keysURL+"/"+backendID+"/roll", url.Values{"grace": {"1h"}})
		wantStatus(t, "roll a revoked key", r, http.StatusConflict)
		wantText(t, "roll a revoked key", r, "This key was revoked")

		// Without JavaScript the Revoke link opens its confirmation as a page.
		r = owner.Get(keysURL + "?env=test&revoke=" + reportingID)
		if !strings.Contains(r.Body, `<dialog id="revoke-`+reportingID+`" open data-open`) || !strings.Contains(r.Body, "Revoke reporting?") {
			t.Fatalf("the revoke link's page has no open confirmation:\n%s", apptest.Text(r.Body))
		}
		// Revoke as a plain form: back to the list, which still shows it.
		r = owner.Post(keysURL+"/"+reportingID+"/revoke", nil)
		wantStatus(t, "revoke (plain form)", r, http.StatusOK)
		if r.URL.Path != keysURL {
			t.Fatalf("plain revoke landed on %s, want %s", r.URL.Path, keysURL)
		}
		wantText(t, "revoke (plain form)", r, "Key revoked.")
		for _, id := range []string{backendID, reportingID} {
			if row := keyRow(t, r, id); !strings.Contains(row, `data-status="revoked"`) {
				t.Fatalf("revoked key %s is not listed as revoked", id)
			}
		}
		wantVerify(t, env, "revoked by a plain form", reporting, "KEY_REVOKED")
		wantStatus(t, "revoke an unknown key", owner.Post(keysURL+"/key_nope/revoke", nil), http.StatusNotFound)
		owner.Headers["HX-Request"] = "true"
		r = owner.Post(keysURL+"/key_nope/revoke", nil)
		delete(owner.Headers, "HX-Request")
		wantStatus(t, "revoke an unknown key (htmx)", r, http.StatusNotFound)
		if r.Header.Get("HX-Retarget") != "#keys" || !strings.HasPrefix(strings.TrimSpace(r.Body), `<div id="keys"`) || !strings.Contains(r.Body, "API key not found") {
			t.Fatalf("htmx revoke of an unknown key: HX-Retarget %q, want the keys section with the message", r.Header.Get("HX-Retarget"))
		}

		// Live keys are listed under the live toggle only.
		r = owner.Post(keysURL, url.Values{"name": {"production"}, "env": {"live"}, "scope": {"write"}})
		wantStatus(t, "create live key", r, http.StatusOK)
		live := shownSecret(t, "create live key", r, liveSecret)
		secrets = append(secrets, live)
		wantText(t, "create live key", r, "Your new live key", "Live keys", "production data")
		r = owner.Get(keysURL + "?env=live")
		if ids := keyIDs(r); len(ids) != 1 || !strings.Contains(r.Body, "clk_live_") || strings.Contains(r.Body, ">backend<") {
			t.Fatalf("live list = %v; want only the live key", ids)
		}
		wantText(t, "live list", r, "production", "Write only")
		if r := owner.Get(keysURL); strings.Contains(r.Body, ">production<") || len(keyIDs(r)) != 2 {
			t.Fatalf("test list shows %v; want the 2 test keys and not the live one", keyIDs(r))
		}

		// The audit trail names every change with the prefix, never the secret.
		r = owner.Get("/o/" + orgID + "/audit")
		wantText(t, "audit", r, "api_key.created", "api_key.rotated", "api_key.revoked", "prefix="+secret[:len("clk_test_")+4], "grace=1h0m0s", "key "+backendID)
		for _, s := range secrets {
			if strings.Contains(r.Body, s) {
				t.Fatalf("a secret is in the audit log")
			}
			if strings.Contains(env.Logs.String(), s) {
				t.Fatalf("a secret reached the server log")
			}
			if strings.Contains(owner.Cookie("clinik_flash"), s) || strings.Contains(owner.Cookie("clinik_session"), s) {
				t.Fatalf("a secret is in a cookie")
			}
		}
	})
}

func TestKeysPermissions(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		owner := env.Browser()
		orgID := owner.SignUp("Olivia Owner", "owner@example.com", pw, "Perm Clinic")
		keysURL := "/o/" + orgID + "/keys"
		r := owner.Post(keysURL, url.Values{"name": {"owner key"}, "env": {"test"}})
		wantStatus(t, "owner creates a key", r, http.StatusOK)
		ownerKey := keyIDs(r)[0]

		// A developer manages keys.
		dev := join(t, env, invite(t, owner, orgID, "dev@example.com", "developer"), "dev@example.com")
		if !strings.Contains(dev.Get("/o/"+orgID).Body, `href="`+keysURL+`"`) {
			t.Fatalf("a developer does not see the API Keys link")
		}
		r = dev.Post(keysURL, url.Values{"name": {"dev key"}, "env": {"test"}, "scope": {"read"}})
		wantStatus(t, "developer creates a key", r, http.StatusOK)
		shownSecret(t, "developer creates a key", r, testSecret)
		devKey := keyNamed(t, r, "dev key")
		if row := keyRow(t, r, devKey); !strings.Contains(row, "dev@example.com") {
			t.Fatalf("created by of the developer's key:\n%s", apptest.Text(row))
		}
		wantStatus(t, "developer rolls", dev.Post(keysURL+"/"+ownerKey+"/roll", url.Values{"grace": {"0"}}), http.StatusOK)

		// A key made by the operator command shows "system".
		if _, err := env.App.Keys.Create(context.Background(), apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "ops", Env: apikey.Test}); err != nil {
			t.Fatal(err)
		}
		r = owner.Get(keysURL)
		if ids := keyIDs(r); len(ids) != 3 || strings.Count(r.Body, "by system") != 1 {
			t.Fatalf("the CLI key is not listed as created by system (%v)", ids)
		}

		// A billing admin sees neither the page nor the link.
		bill := join(t, env, invite(t, owner, orgID, "bill@example.com", "billing"), "bill@example.com")
		wantStatus(t, "billing admin keys page", bill.Get(keysURL), http.StatusForbidden)
		wantStatus(t, "billing admin creates a key", bill.Post(keysURL, url.Values{"name": {"x"}, "env": {"test"}}), http.StatusForbidden)
		wantStatus(t, "billing admin rolls", bill.Post(keysURL+"/"+devKey+"/roll", url.Values{"grace": {"0"}}), http.StatusForbidden)
		wantStatus(t, "billing admin revokes", bill.Post(keysURL+"/"+devKey+"/revoke", nil), http.StatusForbidden)
		r = bill.Get("/o/" + orgID)
		wantStatus(t, "billing admin overview", r, http.StatusOK)
		if strings.Contains(r.Body, `href="`+keysURL+`"`) || strings.Contains(r.Body, "API Keys") || strings.Contains(r.Body, "Create an API key") {
			t.Fatalf("a billing admin sees the API Keys link or step")
		}

		// Outsiders find nothing, and cannot reach keys through their own org.
		stranger := env.Browser()
		otherOrg := stranger.SignUp("", "stranger@example.com", pw, "Elsewhere")
		wantStatus(t, "outsider keys page", stranger.Get(keysURL), http.StatusNotFound)
		wantStatus(t, "outsider creates", stranger.Post(keysURL, url.Values{"name": {"x"}, "env": {"test"}}), http.StatusNotFound)
		wantStatus(t, "outsider revokes", stranger.Post(keysURL+"/"+devKey+"/revoke", nil), http.StatusNotFound)
		wantStatus(t, "revoke through another org", stranger.Post("/o/"+otherOrg+"/keys/"+devKey+"/revoke", nil), http.StatusNotFound)
		r = stranger.Post("/o/"+otherOrg+"/keys/"+devKey+"/roll", url.Values{"grace": {"0"}})
		wantStatus(t, "roll through another org", r, http.StatusNotFound)
		if testSecret.MatchString(r.Body) {
			t.Fatalf("a roll through another organization showed a secret")
		}
		if row := keyRow(t, owner.Get(keysURL), devKey); !strings.Contains(row, `data-status="active"`) {
			t.Fatalf("the developer's key changed after outsiders' attempts")
		}
		// Signed out: to the sign-in page, no key made.
		wantStatus(t, "signed-out create", env.Browser().Post(keysURL, url.Values{"name": {"x"}, "env": {"test"}}), http.StatusUnauthorized)
	})
}

// TestBrowserAPIKeys creates a key in Chromium (HTMX + dialog), screenshots
// the dialog and the list, then revokes through the confirmation.
func TestBrowserAPIKeys(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	ctx, shot := browser(t)
	owner := env.Browser()
	orgID := owner.SignUp("Ada Lovelace", "ada@example.com", pw, "Engine Clinic")
	err := chromedp.Run(ctx,
		chromedp.Navigate(env.Server.URL+"/signin"),
		chromedp.WaitVisible(`#email`, chromedp.ByQuery),
		chromedp.SendKeys(`#email`, "ada@example.com", chromedp.ByQuery),
		chromedp.SendKeys(`#password`, pw, chromedp.ByQuery),
		chromedp.Click(`form[action="/signin"] button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=current-org]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	err = chromedp.Run(ctx,
		chromedp.Click(`nav a[href="/o/`+orgID+`/keys"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=open-create-key]`, chromedp.ByQuery),
		chromedp.Click(`[data-testid=open-create-key]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#create-key:modal`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("keys page: %v", err)
	}
	shot("empty")
	err = chromedp.Run(ctx,
		chromedp.SendKeys(`#name`, "billing-service", chromedp.ByQuery),
		chromedp.Click(`#create-key button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#key-secret:modal`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	var modal bool
	var secret string
	if err := chromedp.Run(ctx,
		chromedp.Evaluate(`document.querySelector("#key-secret").matches(":modal")`, &modal),
		chromedp.Value(`#new-key-secret`, &secret, chromedp.ByQuery),
	); err != nil {
		t.Fatal(err)
	}
	if !modal || !testSecret.MatchString(secret) {
		t.Fatalf("dialog modal=%v secret=%q; want a modal dialog with the test secret", modal, secret)
	}
	wantVerify(t, env, "secret from the dialog", secret, "")
	shot("secret-dialog")
	err = chromedp.Run(ctx,
		chromedp.Click(`#key-secret form[method=dialog] button`, chromedp.ByQuery),
		chromedp.WaitNotVisible(`#key-secret`, chromedp.ByQuery),
		chromedp.Click(`[data-testid=open-create-key]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#create-key:modal`, chromedp.ByQuery),
		chromedp.SetValue(`#name`, "reporting", chromedp.ByQuery),
		chromedp.SetValue(`#scope`, "read", chromedp.ByQuery),
		chromedp.Click(`#create-key button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#key-secret:modal`, chromedp.ByQuery),
		chromedp.Click(`#key-secret form[method=dialog] button`, chromedp.ByQuery),
		chromedp.WaitNotVisible(`#key-secret`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("second key: %v", err)
	}
	shot("list")

	// Roll the second key through its dialog, keeping the old secret an hour.
	err = chromedp.Run(ctx,
		chromedp.Click(`//tr[.//a[text()="reporting"]]//a[text()="Roll"]`, chromedp.BySearch),
		chromedp.WaitVisible(`dialog[id^="roll-"]:modal`, chromedp.ByQuery),
		chromedp.Click(`dialog[id^="roll-"]:modal input[value="1h"]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("roll dialog: %v", err)
	}
	shot("roll-dialog")
	err = chromedp.Run(ctx,
		chromedp.Click(`dialog[id^="roll-"]:modal button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#key-secret:modal`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("roll: %v", err)
	}
	var note string
	if err := chromedp.Run(ctx, chromedp.Text(`#key-secret [role=status]`, &note, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(note, "keeps working until") {
		t.Fatalf("roll note = %q", note)
	}
	shot("rolled")
	if err := chromedp.Run(ctx,
		chromedp.Click(`#key-secret form[method=dialog] button`, chromedp.ByQuery),
		chromedp.WaitNotVisible(`#key-secret`, chromedp.ByQuery),
	); err != nil {
		t.Fatal(err)
	}

	// Revoke the first key through its confirmation dialog: Cancel keeps
	// the key, "Revoke key" revokes it.
	err = chromedp.Run(ctx,
		chromedp.Click(`//tr[.//a[text()="billing-service"]]//a[contains(@href,"revoke=")]`, chromedp.BySearch),
		chromedp.WaitVisible(`//tr[.//a[text()="billing-service"]]//dialog[starts-with(@id,"revoke-")]`, chromedp.BySearch),
	)
	if err != nil {
		t.Fatalf("revoke confirmation: %v", err)
	}
	shot("revoke-confirmation")
	err = chromedp.Run(ctx,
		chromedp.Click(`//tr[.//a[text()="billing-service"]]//dialog[starts-with(@id,"revoke-")]//a[text()="Cancel"]`, chromedp.BySearch),
		chromedp.WaitNotVisible(`//tr[.//a[text()="billing-service"]]//dialog[starts-with(@id,"revoke-")]`, chromedp.BySearch),
	)
	if err != nil {
		t.Fatalf("cancel the revoke: %v", err)
	}
	err = chromedp.Run(ctx,
		chromedp.Click(`//tr[.//a[text()="billing-service"]]//a[contains(@href,"revoke=")]`, chromedp.BySearch),
		chromedp.Click(`//tr[.//a[text()="billing-service"]]//dialog//button[@data-testid="confirm-revoke"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//tr[@data-status="revoked"][.//a[text()="billing-service"]]`, chromedp.BySearch),
	)
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	wantVerify(t, env, "revoked in the browser", secret, "KEY_REVOKED")
	shot("revoked")

	// The Roll link's own page (what works without JavaScript) opens the
	// dialog rendered open as a modal too.
	var href string
	var ok bool
	err = chromedp.Run(ctx,
		chromedp.AttributeValue(`//tr[.//a[text()="reporting"]]//a[text()="Roll"]`, "href", &href, &ok, chromedp.BySearch),
	)
	if err != nil || !ok {
		t.Fatalf("roll link: %v", err)
	}
	err = chromedp.Run(ctx,
		chromedp.Navigate(env.Server.URL+href),
		chromedp.WaitVisible(`dialog[id^="roll-"]:modal`, chromedp.ByQuery),
		chromedp.Click(`dialog[id^="roll-"]:modal a[data-dialog-close]`, chromedp.ByQuery),
		chromedp.WaitNotVisible(`dialog[id^="roll-"]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("roll dialog from its link: %v", err)
	}
}
