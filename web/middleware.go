package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/logging"
	"github.com/clinikapi/clinikapi/internal/random"
)

// requestContext gives every request an id (X-Request-Id), a timestamp
// (X-Timestamp), and puts the id and client origin into the request context
// for logs and the audit trail.
func requestContext(now func() time.Time) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			id := random.ID("req")
			h := c.Response().Header()
			h.Set("X-Request-Id", id)
			h.Set("X-Timestamp", now().UTC().Format(time.RFC3339))
			r := c.Request()
			ctx := logging.WithRequestID(r.Context(), id)
			ctx = audit.WithOrigin(ctx, audit.Origin{IP: c.RealIP(), UserAgent: r.UserAgent()})
			c.SetRequest(r.WithContext(ctx))
			return next(c)
		}
	}
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

// recoverPanics turns a panic into a 500 and logs the stack.
func recoverPanics(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				if r := recover(); r != nil {
					if r == http.ErrAbortHandler {
						panic(r)
					}
					log.ErrorContext(c.Request().Context(), "panic", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
					err = echo.NewHTTPError(http.StatusInternalServerError)
				}
			}()
			return next(c)
		}
	}
}

// contentSecurityPolicy allows only the dashboard's own scripts and styles.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders sets the browser protections on every response.
func securityHeaders(hsts bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("Content-Security-Policy", contentSecurityPolicy)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
			if hsts {
				h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
			}
			return next(c)
		}
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
