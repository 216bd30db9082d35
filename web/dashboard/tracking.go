package dashboard

import (
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/product"
	"github.com/clinikapi/clinikapi/views/account"
)

// cookieAnalytics remembers this browser's answer to the analytics banner.
const cookieAnalytics = "clinik_analytics"

const consentMaxAge = 365 * 24 * time.Hour

// AnalyticsConsent works out the person's analytics choice for the request
// and carries it in the context, where the tracker respects it and the
// layout decides whether to ask. For a signed-in person the stored choice
// wins and is copied to this browser; a choice made in this browser before
// signing in is stored for the person.
func (h *Handler) AnalyticsConsent(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !h.Consents.Enabled {
			return next(c) // nothing is captured and nobody is asked
		}
		ctx := c.Request().Context()
		choice := product.Unasked
		if ck, err := c.Cookie(cookieAnalytics); err == nil {
			choice = product.ParseChoice(ck.Value)
		}
		if u, ok := currentUser(c); ok {
			stored, err := h.Consents.Of(ctx, u.ID)
			switch {
			case err != nil:
				h.Log.WarnContext(ctx, "reading the analytics choice failed", "err", err)
			case stored != product.Unasked && stored != choice:
				choice = stored
				h.setConsentCookie(c, stored)
			case stored == product.Unasked && choice != product.Unasked:
				if err := h.Consents.Set(ctx, u.ID, choice, "earlier_choice"); err != nil {
					h.Log.WarnContext(ctx, "storing the analytics choice failed", "err", err)
				}
			}
		}
		ctx = product.WithChoice(ctx, choice)
		if h.Consents.Enabled && choice == product.Unasked {
			ctx = product.WithBanner(ctx)
		}
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

func (h *Handler) setConsentCookie(c echo.Context, ch product.Choice) {
	h.setCookie(c, cookieAnalytics, string(ch), consentMaxAge)
}

// SetAnalyticsConsent records the answer from the banner or the Account
// page: in this browser's cookie and, when signed in, for the person.
func (h *Handler) SetAnalyticsConsent(c echo.Context) error {
	ctx := c.Request().Context()
	ch, err := product.CheckChoice(c.FormValue("analytics"))
	if err != nil {
		return err
	}
	via := "banner"
	if c.FormValue("via") == "account" {
		via = "account"
	}
	if u, ok := currentUser(c); ok {
		if err := h.Consents.Set(ctx, u.ID, ch, via); err != nil {
			return err
		}
	}
	h.setConsentCookie(c, ch)
	if isFragment(c) {
		// The banner replaces itself with nothing.
		return c.HTML(http.StatusOK, "")
	}
	if via == "account" {
		if ch == product.Refused {
			h.flash(c, "Product analytics are off for you.")
		} else {
			h.flash(c, "Product analytics are on for you. Thank you.")
		}
		return redirect(c, "/account")
	}
	return redirect(c, backTo(c))
}

// backTo is the page a plain form post came from, on this site.
func backTo(c echo.Context) string {
	if u, err := url.Parse(c.Request().Referer()); err == nil && u.Path != "" {
		if p := safeNext(u.Path); p != "" {
			return p
		}
	}
	return "/"
}

// TrackPageViews captures a page view for every dashboard page a signed-in
// person opens, named by its route pattern (/o/:org/keys), never by the
// concrete URL with its ids and query.
func (h *Handler) TrackPageViews(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if err != nil || c.Request().Method != http.MethodGet || isFragment(c) || c.Response().Status != http.StatusOK {
			return err
		}
		if u, ok := currentUser(c); ok {
			h.Product.Capture(c.Request().Context(), product.Event{
				Name: product.PageViewed, UserID: u.ID, OrgID: currentActor(c).Org.ID,
				Props: map[string]any{"route": c.Path()},
			})
		}
		return nil
	}
}

// analyticsSetting is the Account page's view of the person's choice, nil
// when product analytics are not configured.
func (h *Handler) analyticsSetting(c echo.Context) *account.Analytics {
	if !h.Consents.Enabled {
		return nil
	}
	ch := product.ChoiceFrom(c.Request().Context())
	return &account.Analytics{Allowed: ch == product.Granted, Chosen: ch != product.Unasked}
}
