package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/logging"
	"github.com/clinikapi/clinikapi/internal/random"
	"github.com/clinikapi/clinikapi/web/dashboard"
)

// requestContext gives every request an id (X-Request-Id), a timestamp
// (X-Timestamp), and puts the id and client origin into the request context
// for logs and the audit trail.
func requestContext(now func() time.Time) echo.MiddlewareFunc {
	stamps := &timestamps{}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			id := random.ID("req")
			vals := []string{id, stamps.format(now())}
			h := c.Response().Header()
			h["X-Request-Id"], h["X-Timestamp"] = vals[0:1:1], vals[1:2:2]
			r := c.Request()
			ctx := logging.WithRequestID(r.Context(), id)
			ctx = audit.WithOrigin(ctx, audit.Origin{IP: c.RealIP(), UserAgent: r.UserAgent()})
			c.SetRequest(r.WithContext(ctx))
			return next(c)
		}
	}
}

// timestamps formats X-Timestamp (RFC 3339, whole seconds, UTC) once a
// second rather than once a request.
type timestamps struct {
	last atomic.Pointer[stamp]
}

type stamp struct {
	unix int64
	text string
}

func (t *timestamps) format(now time.Time) string {
	sec := now.Unix()
	if s := t.last.Load(); s != nil && s.unix == sec {
		return s.text
	}
	s := &stamp{unix: sec, text: now.UTC().Format(time.RFC3339)}
	t.last.Store(s)
	return s.text
}

// accessLog writes one line per request. It logs the route pattern, never the
// raw path or query: those can carry invitation tokens or resource ids.
func accessLog(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			status := c.Response().Status
			route := c.Path()
			level := slog.LevelInfo
			if strings.HasPrefix(route, "/v1") {
				// API traffic is recorded in usage records (the request log
				// customers see); the process log keeps only failures.
				level = slog.LevelDebug
			}
			if status >= 500 {
				level = slog.LevelError
			}
			if route == "" {
				route = "(no route)"
			}
			log.LogAttrs(c.Request().Context(), level, "request",
				slog.String("method", c.Request().Method),
				slog.String("route", route),
				slog.Int("status", status),
				slog.Duration("latency", time.Since(start)),
				slog.Int64("bytes_out", c.Response().Size),
			)
			return nil
		}
	}
}

// recoverPanics turns a panic into a 500 error returned up the chain (so
// the API's usage record of the request sees it as any other failure) and
// logs the stack. The log line names the panic's type, and its message only
// when the runtime wrote it: a panic value made by code may quote the data
// it was handling (PHI).
func recoverPanics(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				if r := recover(); r != nil {
					if r == http.ErrAbortHandler {
						panic(r)
					}
					log.ErrorContext(c.Request().Context(), "panic", "route", c.Request().Method+" "+c.Path(), "panic", panicSummary(r), "stack", string(debug.Stack()))
					err = errPanicked
				}
			}()
			return next(c)
		}
	}
}

// errPanicked is what a recovered panic answers: the internal error
// (INTERNAL_ERROR on the API, the generic error page on the dashboard).
var errPanicked = errs.E(errs.Internal, "the handler panicked")

// panicSummary describes a recovered value without its contents: a
// runtime error's fixed message (index out of range, nil dereference, …),
// otherwise only the value's type.
func panicSummary(r any) string {
	if re, ok := r.(runtime.Error); ok {
		return re.Error()
	}
	return fmt.Sprintf("%T", r)
}

// contentSecurityPolicy allows only the dashboard's own scripts, styles and
// form targets; the Billing page widens form-action to Stripe's origins.
var contentSecurityPolicy = dashboard.PagePolicy()

// securityHeaders sets the browser protections on every response.
func securityHeaders(hsts bool) echo.MiddlewareFunc {
	page := fixedHeaders(hsts,
		"Content-Security-Policy", contentSecurityPolicy,
		"X-Content-Type-Options", "nosniff",
		"Referrer-Policy", "strict-origin-when-cross-origin",
		"X-Frame-Options", "DENY",
		"Cross-Origin-Opener-Policy", "same-origin",
		"Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	// API answers are JSON for programs, often PHI: nothing may cache or
	// render them; the HTML-only policies would be bytes on every call.
	api := fixedHeaders(hsts,
		"Cache-Control", "no-store",
		"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'",
		"X-Content-Type-Options", "nosniff")
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			set := page
			if p := c.Request().URL.Path; strings.HasPrefix(p, "/v1/") || p == "/v1" {
				set = api
			}
			set.apply(c.Response().Header())
			return next(c)
		}
	}
}

// headerSet is headers with the same values on every response, kept as
// shared, read-only slices under their canonical keys: setting one is a map
// assignment. A handler's Header.Set replaces a slice; none is written into.
type headerSet struct {
	keys []string
	vals [][]string
}

// fixedHeaders makes a headerSet of key, value pairs, plus HSTS over TLS.
func fixedHeaders(hsts bool, kv ...string) headerSet {
	if hsts {
		kv = append(kv, "Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
	var s headerSet
	for i := 0; i < len(kv); i += 2 {
		s.keys = append(s.keys, http.CanonicalHeaderKey(kv[i]))
		s.vals = append(s.vals, []string{kv[i+1]})
	}
	return s
}

func (s headerSet) apply(h http.Header) {
	for i, k := range s.keys {
		h[k] = s.vals[i]
	}
}

// crossOriginProtection rejects cross-site state-changing requests (CSRF)
// with Go's http.CrossOriginProtection: it checks Sec-Fetch-Site and Origin
// on every non-safe method, HTMX requests included.
func crossOriginProtection() echo.MiddlewareFunc {
	p := http.NewCrossOriginProtection()
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := p.Check(c.Request()); err != nil {
				return errs.E(errs.Forbidden, "This request came from another site and was refused. Reload the page and try again.")
			}
			return next(c)
		}
	}
}
