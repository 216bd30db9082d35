package web_test

import (
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
