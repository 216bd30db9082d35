package web_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

// browser starts headless Chromium for one test. Screenshots go to
// $CLINIKAPI_ARTIFACTS (default testdata/artifacts) so CI can keep them.
// The browser gets 90 s, or the time given.
func browser(t *testing.T, timeout ...time.Duration) (context.Context, func(name string)) {
	t.Helper()
	path := os.Getenv("CHROMIUM_PATH")
	if path == "" {
		for _, p := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(p); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("Chromium is not installed; .ci/run installs it")
		}
		t.Skip("Chromium is not installed (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 860),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	// chromedp logs DevTools events it does not know (newer Chromium); they
	// are noise for these tests.
	quiet := func(format string, args ...any) {
		if !strings.Contains(format, "unhandled") {
			t.Logf(format, args...)
		}
	}
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithErrorf(quiet))
	limit := 90 * time.Second
	if len(timeout) > 0 {
		limit = timeout[0]
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, limit)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })

	dir := os.Getenv("CLINIKAPI_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "testdata", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := func(name string) {
		t.Helper()
		var png []byte
		if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		file := filepath.Join(dir, t.Name()+"-"+name+".png")
		if err := os.WriteFile(file, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return ctx, shot
}

func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	var s string
	if err := chromedp.Run(ctx, chromedp.Text(sel, &s, chromedp.ByQuery)); err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// signUpInBrowser signs Ada Lovelace up with a new organization called
// orgName, through the sign-up form, and returns the organization's id
// (from the page she lands on).
func signUpInBrowser(t *testing.T, ctx context.Context, base, orgName string) string {
	t.Helper()
	err := chromedp.Run(ctx,
		chromedp.Navigate(base+"/signup"),
		chromedp.WaitVisible(`#email`, chromedp.ByQuery),
		chromedp.SendKeys(`#name`, "Ada Lovelace", chromedp.ByQuery),
		chromedp.SendKeys(`#email`, "ada@example.com", chromedp.ByQuery),
		chromedp.SendKeys(`#password`, pw, chromedp.ByQuery),
		chromedp.SendKeys(`#org_name`, orgName, chromedp.ByQuery),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=current-org]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("sign-up: %v", err)
	}
	var loc string
	if err := chromedp.Run(ctx, chromedp.Location(&loc)); err != nil {
		t.Fatal(err)
	}
	i := strings.Index(loc, "/o/")
	if i < 0 {
		t.Fatalf("after sign-up the browser is at %s, not an organization's page", loc)
	}
	return strings.Split(loc[i+len("/o/"):], "/")[0]
}

func TestBrowserSignUpSignOutSignIn(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	ctx, shot := browser(t)
	base := env.Server.URL

	// Sign-up, with one validation round trip first.
	err := chromedp.Run(ctx,
		chromedp.Navigate(base+"/signup"),
		chromedp.WaitVisible(`#email`, chromedp.ByQuery),
		chromedp.SendKeys(`#name`, "Grace Hopper", chromedp.ByQuery),
		chromedp.SendKeys(`#email`, "grace@example.com", chromedp.ByQuery),
		chromedp.SendKeys(`#password`, "short", chromedp.ByQuery),
		chromedp.SendKeys(`#org_name`, "Cobol Clinic", chromedp.ByQuery),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#password-error`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("sign-up with a short password: %v", err)
	}
	if msg := textOf(t, ctx, "#password-error"); !strings.Contains(msg, "at least 8 characters") {
		t.Fatalf("password error = %q", msg)
	}
	shot("signup-validation")
	err = chromedp.Run(ctx,
		chromedp.SendKeys(`#password`, pw, chromedp.ByQuery),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=current-org]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("sign-up: %v", err)
	}
	if got := textOf(t, ctx, "[data-testid=current-org]"); got != "Cobol Clinic" {
		t.Fatalf("current organization = %q, want Cobol Clinic", got)
	}
	if got := textOf(t, ctx, "[data-testid=current-role]"); got != "Owner" {
		t.Fatalf("current role = %q, want Owner", got)
	}
	shot("overview")

	// Members page, then sign out.
	err = chromedp.Run(ctx,
		chromedp.Click(`a[href$="/members"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#invites`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("members page: %v", err)
	}
	shot("members")
	err = chromedp.Run(ctx,
		chromedp.Click(`form[action="/signout"] button`, chromedp.ByQuery),
		chromedp.WaitVisible(`form[action="/signin"]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("sign-out: %v", err)
	}
	shot("signed-out")

	// Wrong password, then the right one.
	err = chromedp.Run(ctx,
		chromedp.SendKeys(`#email`, "grace@example.com", chromedp.ByQuery),
		chromedp.SendKeys(`#password`, "not the password", chromedp.ByQuery),
		chromedp.Click(`form[action="/signin"] button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[role=alert]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("wrong password: %v", err)
	}
	if msg := textOf(t, ctx, "[role=alert]"); !strings.Contains(msg, "incorrect") {
		t.Fatalf("wrong-password message = %q", msg)
	}
	shot("signin-error")
	err = chromedp.Run(ctx,
		chromedp.SendKeys(`#password`, pw, chromedp.ByQuery),
		chromedp.Click(`form[action="/signin"] button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid=current-org]`, chromedp.ByQuery),
	)
	if err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	if got := textOf(t, ctx, "[data-testid=user-name]"); got != "Grace Hopper" {
		t.Fatalf("signed-in user = %q, want Grace Hopper", got)
	}
	shot("signed-in")
}
