// Package dashboard holds the HTML handlers of the Developer Dashboard, one
// file per area. Handlers decode the request, ask the domain services, and
// render a view model; they hold no rules of their own.
package dashboard

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/account"
	"github.com/clinikapi/clinikapi/internal/analytics"
	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/billing"
	"github.com/clinikapi/clinikapi/internal/bulk"
	"github.com/clinikapi/clinikapi/internal/disclosure"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/privacy"
	"github.com/clinikapi/clinikapi/internal/product"
	"github.com/clinikapi/clinikapi/internal/quota"
	"github.com/clinikapi/clinikapi/internal/records"
	"github.com/clinikapi/clinikapi/internal/suborg"
	"github.com/clinikapi/clinikapi/internal/webhook"
	"github.com/clinikapi/clinikapi/views/components/form"
	"github.com/clinikapi/clinikapi/web/httperr"
)

// Handler serves the dashboard.
type Handler struct {
	Accounts      *account.Service
	Orgs          *org.Service
	Keys          *apikey.Service
	Billing       *billing.Service
	Audit         *audit.Log
	Disclosures   *disclosure.Log    // the patient access report
	Analytics     *analytics.Service // usage charts, request log
	Quota         *quota.Meter
	Log           *slog.Logger
	BaseURL       string
	SecureCookies bool
	SessionMaxAge time.Duration
	Now           func() time.Time
	Product       product.Tracker   // product analytics; the consent middleware's choice travels in the context
	Consents      *product.Consents // who refused product analytics
	Bulk          *bulk.Service     // data & privacy: exports
	Privacy       *privacy.Service  // closing the organization, deleting the account
	SubOrgs       *suborg.Service   // sub-organizations and their tenants
	Webhooks      *webhook.Service  // outbound webhooks: endpoints, delivery log
	Moves         *records.Mover    // the move of live data after a plan change (Billing)
	Records       *records.Service  // the patient picker of the access report
}

// render writes a templ component with status.
func render(c echo.Context, status int, t templ.Component) error {
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().WriteHeader(status)
	return t.Render(c.Request().Context(), c.Response())
}

// isFragment reports whether an HTMX request asked for a part of a page
// (hx-post/hx-get on an element) rather than a boosted navigation.
func isFragment(c echo.Context) bool {
	h := c.Request().Header
	return h.Get("HX-Request") == "true" && h.Get("HX-Boosted") != "true"
}

// redirect sends the browser to url after a successful form post: a 303 for
// plain forms, HX-Location for HTMX so it navigates without a full reload.
func redirect(c echo.Context, to string) error {
	if c.Request().Header.Get("HX-Request") == "true" {
		c.Response().Header().Set("HX-Location", `{"path":"`+to+`","target":"body"}`)
		return c.NoContent(http.StatusNoContent)
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// formErrors turns a domain error into messages for a form (each field's,
// when it combines several), or returns the error itself when it is not
// about the input (a bug, a dependency down).
func formErrors(err error) (form.Errors, int, error) {
	switch errs.CodeOf(err) {
	case errs.Invalid, errs.Conflict, errs.Unauthorized, errs.RateLimited, errs.Forbidden, errs.NotFound, errs.Unavailable:
		// Every field's message at once (errs.Fields), so the form shows
		// them together.
		return form.Errors(errs.FieldErrors(err)), StatusOf(err), nil
	}
	return nil, 0, err
}

// StatusOf is the HTTP status of an error (httperr maps domain errors for
// the dashboard and the API alike).
func StatusOf(err error) int {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return he.Code
	}
	return httperr.Status(err)
}

// safeNext keeps a post-sign-in destination on this site.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return ""
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return ""
	}
	return next
}

func dateString(t time.Time) string { return t.UTC().Format("Jan 2, 2006") }

func itoa(n int) string { return strconv.Itoa(n) }
