package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserWebhooks: create an endpoint, see its secret once, send a
// test event (it arrives signed with that secret), and find it in
// Analytics → Webhook logs; the secret dialog, the list and the log fit
// the screen and axe-core finds no violation on them.
func TestBrowserWebhooks(t *testing.T) {
	axe := axeSource(t)
	rcv := newReceiver(t)
	env, _ := webhookEnv(t, "sqlite", rcv, true, nil)
	ctx, shot := browser(t)
	base := env.Server.URL
	orgID := signUpInBrowser(t, ctx, base, "Hook Clinic")
	o := base + "/o/" + orgID

	var secret string
	err := chromedp.Run(ctx,
		chromedp.Click(`nav a[href="/o/`+orgID+`/webhooks"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#url`, chromedp.ByQuery),
		chromedp.SendKeys(`#url`, rcv.url("/browser"), chromedp.ByQuery),
		chromedp.SendKeys(`#description`, "Lab result pager", chromedp.ByQuery),
		chromedp.Click(`form[action$="/webhooks"] button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=webhook-secret]`, chromedp.ByQuery),
		chromedp.Value(`[data-testid=webhook-secret]`, &secret, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q", secret)
	}
	checkPage(t, ctx, axe, "the webhook secret")
	shot("secret")
	var html string
	err = chromedp.Run(ctx,
		chromedp.Navigate(o+"/webhooks"),
		chromedp.WaitVisible(`[data-testid=webhook-row]`, chromedp.ByQuery),
		chromedp.OuterHTML(`html`, &html, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, secret) || !strings.Contains(html, "Lab result pager") {
		t.Fatal("the list shows the secret again, or not the endpoint")
	}
	checkPage(t, ctx, axe, "the webhooks page")
	if err := chromedp.Run(ctx,
		chromedp.Click(`form[action$="/test"] button`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=webhook-row]`, chromedp.ByQuery),
	); err != nil {
		t.Fatal(err)
	}
	h := rcv.waitCount(t, "/browser", 1)[0]
	if p := checkSigned(t, h, secret, env.Clock.Now()); p.Event != "webhook.test" {
		t.Fatalf("event %s", p.Event)
	}
	var log string
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(log, "succeeded") && time.Now().Before(deadline) {
		err := chromedp.Run(ctx,
			chromedp.Navigate(o+"/analytics/webhooks"),
			chromedp.WaitVisible(`#main`, chromedp.ByQuery),
			chromedp.Text(`#main`, &log, chromedp.ByQuery),
		)
		if err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(log, "webhook.test") || !strings.Contains(log, "succeeded") || !strings.Contains(log, "200") {
		t.Fatalf("the log does not show the delivered test event:\n%s", log)
	}
	checkPage(t, ctx, axe, "the webhook logs")
	shot("log")
}

// TestBrowserWebhookPagesFit puts every state of the webhook pages in the
// layout and accessibility suite, at desktop and phone sizes: the empty
// list and delivery log, the create form answered with an error, the
// shown-once secret after a create and after a roll, the endpoint list
// (each endpoint's details and actions), the delivery log with an attempt
// and filtered to nothing. No horizontal overflow, no axe-core violation,
// and the secret dialog with its buttons inside the screen.
func TestBrowserWebhookPagesFit(t *testing.T) {
	axe := axeSource(t)
	rcv := newReceiver(t)
	env, _ := webhookEnv(t, "sqlite", rcv, true, nil)
	ctx, shot := browser(t, 3*time.Minute)
	base := env.Server.URL
	orgID := signUpInBrowser(t, ctx, base, "Hook Layout Clinic")
	o := base + "/o/" + orgID

	visit := func(sc screen, url, wait, name string) {
		t.Helper()
		if err := chromedp.Run(ctx, chromedp.Navigate(url), chromedp.WaitVisible(wait, chromedp.ByQuery)); err != nil {
			t.Fatalf("%s at %dpx: %v", name, sc.width, err)
		}
		checkPage(t, ctx, axe, fmt.Sprintf("%s at %dpx", name, sc.width))
		shot(sc.name + "-" + name)
	}
	secretFits := func(sc screen, name string) {
		t.Helper()
		var fits bool
		err := chromedp.Run(ctx,
			chromedp.WaitVisible(`#webhook-secret:modal`, chromedp.ByQuery),
			chromedp.Evaluate(`(() => {
				const d = document.querySelector("#webhook-secret").getBoundingClientRect();
				const ok = el => { const r = el.getBoundingClientRect(); return r.left >= d.left && r.right <= d.right && r.left >= 0 && r.right <= window.innerWidth; };
				return d.left >= 0 && d.right <= window.innerWidth && [...document.querySelectorAll("#webhook-secret button, #webhook-secret input")].every(ok);
			})()`, &fits),
		)
		if err != nil {
			t.Fatalf("%s at %dpx: %v", name, sc.width, err)
		}
		if !fits {
			t.Errorf("%s at %dpx: the dialog or one of its buttons is outside the screen", name, sc.width)
		}
		checkPage(t, ctx, axe, fmt.Sprintf("%s at %dpx", name, sc.width))
		shot(sc.name + "-" + name)
	}

	for i, sc := range screens {
		if err := chromedp.Run(ctx, chromedp.EmulateViewport(sc.width, sc.height)); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			visit(sc, o+"/webhooks", `#url`, "webhooks-empty")
			visit(sc, o+"/analytics/webhooks", `#main`, "webhook-log-empty")
		}
		// The create form answered with an error.
		err := chromedp.Run(ctx,
			chromedp.Navigate(o+"/webhooks"),
			chromedp.WaitVisible(`#url`, chromedp.ByQuery),
			chromedp.SendKeys(`#url`, "ftp://files.example-hospital.org/incoming/clinikapi/webhooks", chromedp.ByQuery),
			chromedp.SetValue(`#events`, "*", chromedp.ByQuery),
			chromedp.Click(`form[action$="/webhooks"] button[type=submit]`, chromedp.ByQuery),
			chromedp.WaitVisible(`#url[aria-invalid=true]`, chromedp.ByQuery),
		)
		if err != nil {
			t.Fatalf("create form errors at %dpx: %v", sc.width, err)
		}
		checkPage(t, ctx, axe, fmt.Sprintf("webhook form errors at %dpx", sc.width))
		shot(sc.name + "-webhook-form-errors")

		// Created: the secret, once.
		err = chromedp.Run(ctx,
			chromedp.Navigate(o+"/webhooks"),
			chromedp.WaitVisible(`#url`, chromedp.ByQuery),
			chromedp.SendKeys(`#url`, rcv.url("/layout-"+sc.name+"/a/rather/long/path/for/the/lab-results-integration"), chromedp.ByQuery),
			chromedp.SetValue(`#events`, "patient.*, lab.created, appointment.updated", chromedp.ByQuery),
			chromedp.SendKeys(`#description`, "Lab results pager of the Northside Family and Pediatric Medicine Clinic", chromedp.ByQuery),
			chromedp.Click(`form[action$="/webhooks"] button[type=submit]`, chromedp.ByQuery),
		)
		if err != nil {
			t.Fatalf("create at %dpx: %v", sc.width, err)
		}
		secretFits(sc, "webhook-secret")

		// The list: every endpoint with its details and actions.
		visit(sc, o+"/webhooks", `[data-testid=webhook-row]`, "webhooks-list")

		// Rolled: the new secret, with how long the old one signs.
		err = chromedp.Run(ctx,
			chromedp.Click(`form[action$="/roll"] button[type=submit]`, chromedp.ByQuery),
		)
		if err != nil {
			t.Fatalf("roll at %dpx: %v", sc.width, err)
		}
		secretFits(sc, "webhook-rolled-secret")

		// A delivery in the log (sent once), then a filter that matches nothing.
		if i == 0 {
			if err := chromedp.Run(ctx,
				chromedp.Navigate(o+"/webhooks"),
				chromedp.WaitVisible(`[data-testid=webhook-row]`, chromedp.ByQuery),
				chromedp.Click(`form[action$="/test"] button`, chromedp.ByQuery),
				chromedp.WaitVisible(`[data-testid=webhook-row]`, chromedp.ByQuery),
			); err != nil {
				t.Fatal(err)
			}
			rcv.waitCount(t, "/layout-desktop/a/rather/long/path/for/the/lab-results-integration", 1)
		}
		var log string
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(log, "succeeded") && time.Now().Before(deadline); {
			if err := chromedp.Run(ctx, chromedp.Navigate(o+"/analytics/webhooks"), chromedp.WaitVisible(`#main`, chromedp.ByQuery), chromedp.Text(`#main`, &log, chromedp.ByQuery)); err != nil {
				t.Fatal(err)
			}
		}
		if !strings.Contains(log, "succeeded") {
			t.Fatalf("at %dpx the delivery log does not show the test event:\n%s", sc.width, log)
		}
		visit(sc, o+"/analytics/webhooks", `#main table`, "webhook-log")
		visit(sc, o+"/analytics/webhooks?outcome=failed", `#main`, "webhook-log-filtered")
	}
}
