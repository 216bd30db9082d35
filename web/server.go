// Package web assembles the HTTP server: echo, the middleware chain, the one
// routes table (routes.go) and the error pages. Handlers live in dashboard/
// (HTML), api/ (/v1 JSON) and webhook/.
package web

import (
	"context"
	"errors"
	"github.com/clinikapi/clinikapi/internal/jobs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/logging"
	"github.com/clinikapi/clinikapi/internal/metrics"
	"github.com/clinikapi/clinikapi/views/errorpage"
	"github.com/clinikapi/clinikapi/web/api"
	"github.com/clinikapi/clinikapi/web/dashboard"
	"github.com/clinikapi/clinikapi/web/httperr"
	"github.com/clinikapi/clinikapi/web/webhook"
)

// Pinger reports whether a dependency is reachable.
type Pinger interface {
	Ping(ctx context.Context) error
}

// JobStatus lists the last run of every background job.
type JobStatus interface {
	Status(ctx context.Context) ([]jobs.Run, error)
}

// Server holds what the routes need.
type Server struct {
	Dashboard    *dashboard.Handler
	API          *api.Pipeline
	FHIR         *api.FHIR
	Resources    *api.Resources // the contract's simplified resources
	Capabilities *api.Capabilities
	Stripe       *webhook.Stripe // POST /webhooks/stripe
	Bulk         *api.Bulk       // bulk export and import
	DB           Pinger
	Jobs         JobStatus // background jobs' last runs, shown by /ready
	Log          *slog.Logger
	Now          func() time.Time
	TLS          bool              // the server terminates TLS itself: send HSTS
	TrustProxy   bool              // client IPs come from X-Forwarded-For
	Metrics      *metrics.Registry // operator metrics; nil: none collected
	MetricsToken string            // bearer token for /metrics; empty: /metrics is 404
}

// Handler builds the echo instance with every route.
func (s *Server) Handler() *echo.Echo {
	if s.Now == nil {
		s.Now = time.Now
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.IPExtractor = echo.ExtractIPDirect()
	if s.TrustProxy {
		e.IPExtractor = echo.ExtractIPFromXFFHeader()
	}
	e.HTTPErrorHandler = s.handleError
	e.Use(requestContext(s.Now), securityHeaders(s.TLS), accessLog(s.Log), recoverPanics(s.Log))
	if s.Metrics != nil {
		e.Use(s.observe)
	}
	s.routes(e)
	return e
}

// handleError renders any error a handler returned: JSON for machine routes,
// an HTML page for the dashboard. Messages of internal errors stay in the log.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	if strings.HasPrefix(c.Request().URL.Path, "/v1/") || c.Request().URL.Path == "/v1" {
		switch status := api.StatusOf(err); {
		case status == httperr.StatusClientClosed:
			s.Log.InfoContext(c.Request().Context(), "api client closed the request before its answer")
		case status >= 500:
			s.Log.ErrorContext(c.Request().Context(), "api request failed", "err", err)
		}
		api.WriteError(c, err)
		return
	}
	status := dashboard.StatusOf(err)
	msg := errs.MessageOf(err)
	var he *echo.HTTPError
	if errors.As(err, &he) {
		msg = http.StatusText(he.Code)
		if he.Code == http.StatusNotFound {
			msg = "There is nothing at this address."
		}
		if he.Code == http.StatusMethodNotAllowed {
			msg = "This address does not accept that method."
		}
	}
	ctx := c.Request().Context()
	if errors.Is(ctx.Err(), context.Canceled) {
		// The browser went away (a closed tab, a newer navigation): not a
		// server error, whatever error the cancellation surfaced as.
		s.Log.InfoContext(ctx, "client closed the request before its answer", "err", err)
		c.Response().WriteHeader(httperr.StatusClientClosed)
		return
	}
	if status >= 500 {
		s.Log.ErrorContext(ctx, "request failed", "err", err)
	}
	if strings.HasPrefix(c.Path(), "/health") || strings.HasPrefix(c.Path(), "/ready") {
		_ = c.JSON(status, map[string]string{"error": http.StatusText(status), "message": msg, "requestId": logging.RequestID(ctx)})
		return
	}
	if status == http.StatusUnauthorized && c.Request().Header.Get("HX-Request") == "true" {
		c.Response().Header().Set("HX-Redirect", "/signin")
	}
	signedIn := dashboard.SignedIn(c)
	title := map[int]string{
		http.StatusNotFound: "Page not found", http.StatusForbidden: "Not allowed", http.StatusUnauthorized: "Sign in required",
		http.StatusTooManyRequests: "Slow down", http.StatusUnprocessableEntity: "Check your input", http.StatusConflict: "Not possible right now",
	}[status]
	if title == "" {
		title = "Something went wrong"
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(status)
	if c.Request().Method == http.MethodHead {
		return
	}
	_ = errorpage.Page(errorpage.Props{Status: status, Title: title, Message: msg, RequestID: logging.RequestID(ctx), SignedIn: signedIn}).Render(ctx, c.Response())
}

// health is liveness: the process answers. It checks no dependency.
func (s *Server) health(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// ready is readiness: the database answers.
func (s *Server) ready(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.DB.Ping(ctx); err != nil {
		s.Log.WarnContext(ctx, "readiness: database unreachable", "err", err)
		return c.JSON(http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "checks": map[string]string{"database": "unreachable"}})
	}
	body := map[string]any{"status": "ok", "checks": map[string]string{"database": "ok"}}
	if s.Jobs != nil {
		if runs, err := s.Jobs.Status(ctx); err == nil {
			body["jobs"] = jobView(runs)
		}
	}
	return c.JSON(http.StatusOK, body)
}

// jobView is the operator's view of the background jobs: when each last
// ran and how it went.
func jobView(runs []jobs.Run) map[string]any {
	out := make(map[string]any, len(runs))
	for _, r := range runs {
		v := map[string]any{"startedAt": r.StartedAt.UTC().Format(time.RFC3339), "ok": r.OK, "summary": r.Summary}
		if r.FinishedAt.IsZero() {
			v["running"] = true
		} else {
			v["finishedAt"] = r.FinishedAt.UTC().Format(time.RFC3339)
		}
		if r.Error != "" {
			v["error"] = r.Error
		}
		out[r.Kind] = v
	}
	return out
}
