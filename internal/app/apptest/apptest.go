// Package apptest assembles the whole program for black-box HTTP tests: a
// fresh database (SQLite, or PostgreSQL when configured), the real services
// and routes behind an httptest server, a capturing mailbox, and a clock the
// test can move.
package apptest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/app"
	"github.com/clinikapi/clinikapi/internal/config"
	"github.com/clinikapi/clinikapi/internal/mail"
	"github.com/clinikapi/clinikapi/internal/random"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
	"github.com/clinikapi/clinikapi/web"
)

// Clock is a settable clock.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Mailbox captures e-mails. With Deliver false it behaves like the log
// mailer of a server without SMTP: messages are "not delivered".
type Mailbox struct {
	mu       sync.Mutex
	Deliver  bool
	Messages []mail.Message
}

// Send implements mail.Mailer.
func (m *Mailbox) Send(_ context.Context, msg mail.Message) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Messages = append(m.Messages, msg)
	return m.Deliver, nil
}

// Last returns the last message sent to addr.
func (m *Mailbox) Last(addr string) (mail.Message, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.Messages) - 1; i >= 0; i-- {
		if m.Messages[i].To == addr {
			return m.Messages[i], true
		}
	}
	return mail.Message{}, false
}

// Env is one running program.
type Env struct {
	T      testing.TB
	App    *app.App
	Server *httptest.Server
	Mail   *Mailbox
	Clock  *Clock
	Logs   *LogBuffer
}

// LogBuffer collects the server's log output so tests can check what it
// contains (and what it must never contain).
type LogBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything logged so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// New starts the program on engine ("sqlite" or "postgres") with env as
// extra environment variables.
func New(t testing.TB, engine string, env map[string]string) *Env {
	t.Helper()
	return NewWith(t, engine, env, app.Options{})
}

// NewWith is New with options for the parts of the world a test replaces
// (its clock, mailer and server flag are set here).
func NewWith(t testing.TB, engine string, env map[string]string, opt app.Options) *Env {
	t.Helper()
	vars := map[string]string{
		"CLINIKAPI_DATA_DIR": t.TempDir(),
		"DATABASE_URL":       storetest.DatabaseURL(t, engine),
	}
	for k, v := range env {
		vars[k] = v
	}
	if vars["CLINIKAPI_REDIS_PREFIX"] == "" {
		// Tests share one Redis: each program gets its own keys.
		vars["CLINIKAPI_REDIS_PREFIX"] = random.ID("test") + ":"
	}
	e := &Env{T: t, Mail: &Mailbox{}, Clock: &Clock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}, Logs: &LogBuffer{}}
	// The server's URL is known only once it listens; start it first and
	// hand the handler over after the app is built.
	var h http.Handler
	// It is served as cmd/clinikapi serves it: the same header limit, and
	// the server's own protocol errors in the API's error shape.
	e.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	e.Server.Config.MaxHeaderBytes = web.MaxHeaderBytes
	e.Server.Listener = web.ProtocolErrors(e.Server.Listener)
	e.Server.Start()
	t.Cleanup(e.Server.Close)
	vars["CLINIKAPI_BASE_URL"] = e.Server.URL
	cfg, err := config.Load(config.FromMap(vars))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	log := slog.New(slog.NewJSONHandler(e.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opt.Now, opt.Mailer, opt.Server = e.Clock.Now, e.Mail, true
	a, err := app.New(context.Background(), cfg, log, opt)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	a.Start(context.Background())
	e.App = a
	h = a.HTTP
	// The invalidation listeners' first subscriptions empty the key cache
	// and re-check every session (what was published before them was
	// missed): let them happen before the test's first request.
	select {
	case <-a.Listening():
	case <-time.After(30 * time.Second):
		t.Fatalf("the invalidation listeners did not subscribe within 30 s")
	}
	return e
}

// Browser is a client with its own cookie jar that behaves like a browser
// for the server's CSRF checks (Sec-Fetch-Site on every request).
type Browser struct {
	env    *Env
	Client *http.Client
	// Site is sent as Sec-Fetch-Site; "same-origin" unless a test changes it.
	Site string
	// Headers are added to every request.
	Headers map[string]string
}

// Browser returns a new client with an empty cookie jar.
func (e *Env) Browser() *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{env: e, Client: &http.Client{Jar: jar, Timeout: 30 * time.Second}, Site: "same-origin", Headers: map[string]string{}}
}

// Response is a read HTTP response.
type Response struct {
	Status int
	Header http.Header
	Body   string
	URL    *url.URL // after redirects
}

// Do sends a request and reads the response.
func (b *Browser) Do(method, path string, form url.Values) *Response {
	b.env.T.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.env.Server.URL+path, body)
	if err != nil {
		b.env.T.Fatalf("%s %s: %v", method, path, err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.Site != "" {
		req.Header.Set("Sec-Fetch-Site", b.Site)
	}
	for k, v := range b.Headers {
		req.Header.Set(k, v)
	}
	res, err := b.Client.Do(req)
	if err != nil {
		b.env.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return &Response{Status: res.StatusCode, Header: res.Header, Body: string(data), URL: res.Request.URL}
}

// Get fetches path.
func (b *Browser) Get(path string) *Response { return b.Do(http.MethodGet, path, nil) }

// Post submits a form to path.
func (b *Browser) Post(path string, form url.Values) *Response {
	if form == nil {
		form = url.Values{}
	}
	return b.Do(http.MethodPost, path, form)
}

// Cookie returns the value of the named cookie the browser holds.
func (b *Browser) Cookie(name string) string {
	u, _ := url.Parse(b.env.Server.URL)
	for _, c := range b.Client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// SignUp creates an account with a new organization and returns the
// organization id from the page it lands on.
func (b *Browser) SignUp(name, email, password, orgName string) string {
	b.env.T.Helper()
	r := b.Post("/signup", url.Values{"name": {name}, "email": {email}, "password": {password}, "org_name": {orgName}})
	if r.Status != http.StatusOK || !strings.HasPrefix(r.URL.Path, "/o/org_") {
		b.env.T.Fatalf("sign-up of %s: status %d at %s; want 200 at /o/org_…\n%s", email, r.Status, r.URL.Path, Text(r.Body))
	}
	return strings.TrimPrefix(r.URL.Path, "/o/")
}

// SignIn signs in and fails the test unless it works.
func (b *Browser) SignIn(email, password string) *Response {
	b.env.T.Helper()
	r := b.Post("/signin", url.Values{"email": {email}, "password": {password}})
	if r.Status != http.StatusOK || r.URL.Path == "/signin" {
		b.env.T.Fatalf("sign-in of %s: status %d at %s\n%s", email, r.Status, r.URL.Path, Text(r.Body))
	}
	return r
}

var (
	tags   = regexp.MustCompile(`(?s)<script.*?</script>|<[^>]*>`)
	spaces = regexp.MustCompile(`\s+`)
)

// Text reduces HTML to its visible text, for assertions and failure messages.
func Text(html string) string {
	s := tags.ReplaceAllString(html, " ")
	s = strings.NewReplacer("&#39;", "'", "&amp;", "&", "&lt;", "<", "&gt;", ">", "&#34;", `"`, "&quot;", `"`).Replace(s)
	return strings.TrimSpace(spaces.ReplaceAllString(s, " "))
}

// EnvRedis names the variable holding the Redis server to test on.
const EnvRedis = "CLINIKAPI_TEST_REDIS_URL"

// Engines runs fn on every configured database engine.
func Engines(t *testing.T, fn func(t *testing.T, engine string)) { storetest.Each(t, fn) }
