package dashboard

import (
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/account"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/org"
)

// Cookie names. Both are HttpOnly: no script on the page can read a token.
const (
	cookieSession = "clinik_session" // built-in session secret, or Supabase access token
	cookieRefresh = "clinik_refresh" // Supabase refresh token
	cookieOAuth   = "clinik_oauth"   // PKCE verifier during an OAuth round trip
)

const (
	keyUser       = "dashboard.user"
	keyTokens     = "dashboard.tokens"
	keyActor      = "dashboard.actor"
	keySessionErr = "dashboard.session_error"
)

func (h *Handler) setCookie(c echo.Context, name, value string, maxAge time.Duration) {
	c.SetCookie(&http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   int(maxAge.Seconds()),
		HttpOnly: true,
		Secure:   h.SecureCookies,
		SameSite: http.SameSiteLaxMode,
	})
}

func (h *Handler) clearCookie(c echo.Context, name string) {
	c.SetCookie(&http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: h.SecureCookies, SameSite: http.SameSiteLaxMode})
}

// startSession stores the tokens in cookies.
func (h *Handler) startSession(c echo.Context, t account.Tokens) {
	h.setCookie(c, cookieSession, t.Access, h.SessionMaxAge)
	if t.Refresh != "" {
		h.setCookie(c, cookieRefresh, t.Refresh, h.SessionMaxAge)
	} else {
		h.clearCookie(c, cookieRefresh)
	}
}

func (h *Handler) endSession(c echo.Context) {
	h.clearCookie(c, cookieSession)
	h.clearCookie(c, cookieRefresh)
}

func readTokens(c echo.Context) account.Tokens {
	var t account.Tokens
	if ck, err := c.Cookie(cookieSession); err == nil {
		t.Access = ck.Value
	}
	if ck, err := c.Cookie(cookieRefresh); err == nil {
		t.Refresh = ck.Value
	}
	return t
}

// LoadSession identifies the signed-in person, if any, refreshing their
// tokens when the provider did. It never rejects a request: an ended
// session clears the cookies; when the identity provider cannot tell
// (Supabase unreachable), the cookies are kept so the session resumes once
// it answers, and pages that need a person answer that error (RequireUser)
// while the others, sign-out included, still work.
func (h *Handler) LoadSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		t := readTokens(c)
		if t.Empty() {
			return next(c)
		}
		u, fresh, err := h.Accounts.Authenticate(c.Request().Context(), t)
		switch {
		case err == nil:
			if fresh != nil {
				h.startSession(c, *fresh)
				t = *fresh
			}
			c.Set(keyUser, u)
			c.Set(keyTokens, t)
		case errs.Is(err, errs.Unauthorized) || errs.Is(err, errs.NotFound):
			h.endSession(c)
		case errs.Is(err, errs.Unavailable):
			c.Set(keySessionErr, err)
		default:
			return err
		}
		return next(c)
	}
}

func currentUser(c echo.Context) (account.User, bool) {
	u, ok := c.Get(keyUser).(account.User)
	return u, ok
}

// SignedIn reports whether the request carries a valid session.
func SignedIn(c echo.Context) bool {
	_, ok := currentUser(c)
	return ok
}

func currentTokens(c echo.Context) account.Tokens {
	t, _ := c.Get(keyTokens).(account.Tokens)
	return t
}

func currentActor(c echo.Context) org.Actor {
	a, _ := c.Get(keyActor).(org.Actor)
	return a
}

// RequireUser sends people who are not signed in to the sign-in page.
func (h *Handler) RequireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, ok := currentUser(c); ok {
			return next(c)
		}
		if err, ok := c.Get(keySessionErr).(error); ok {
			return err
		}
		if c.Request().Method != http.MethodGet {
			return errs.E(errs.Unauthorized, "Your session has ended. Sign in again.")
		}
		to := "/signin"
		if p := c.Request().URL.RequestURI(); p != "/" {
			to += "?next=" + url.QueryEscape(p)
		}
		if c.Request().Header.Get("HX-Request") == "true" {
			c.Response().Header().Set("HX-Redirect", to)
			return c.NoContent(http.StatusUnauthorized)
		}
		return c.Redirect(http.StatusSeeOther, to)
	}
}

// RequireOrg resolves the :org path parameter to the person's membership and
// checks their role grants perm. Non-members get 404, like a missing
// organization; members without the permission get 403.
func (h *Handler) RequireOrg(perm org.Permission) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			u, ok := currentUser(c)
			if !ok {
				return errs.E(errs.Unauthorized, "Sign in to continue.")
			}
			a, err := h.Orgs.Act(c.Request().Context(), u, c.Param("org"))
			if err != nil {
				return err
			}
			if err := a.Require(perm); err != nil {
				return err
			}
			c.Set(keyActor, a)
			return next(c)
		}
	}
}
