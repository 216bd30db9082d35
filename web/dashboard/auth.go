package dashboard

import (
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/account"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/product"
	"github.com/clinikapi/clinikapi/views/auth"
	"github.com/clinikapi/clinikapi/views/components/form"
)

// afterSignIn is where a person lands: the page they asked for, or home.
func afterSignIn(next string) string {
	if n := safeNext(next); n != "" {
		return n
	}
	return "/"
}

// SignInPage shows the sign-in form.
func (h *Handler) SignInPage(c echo.Context) error {
	if _, ok := currentUser(c); ok {
		return c.Redirect(http.StatusSeeOther, afterSignIn(c.QueryParam("next")))
	}
	p := auth.SignInProps{Next: safeNext(c.QueryParam("next")), OAuth: h.Accounts.OAuthProviders()}
	switch {
	case c.QueryParam("reset") == "1":
		p.Notice = "Your password was changed. Sign in with the new one."
	case c.QueryParam("signed_out") == "1":
		p.Notice = "You are signed out. Your session was ended on the server too."
	case c.QueryParam("deleted") == "1":
		p.Notice = "Your account was deleted. Each organization you belonged to keeps a record of it in its audit log."
	}
	return render(c, http.StatusOK, auth.SignIn(p))
}

// SignIn checks the credentials and starts a session.
func (h *Handler) SignIn(c echo.Context) error {
	p := auth.SignInProps{Email: c.FormValue("email"), Next: safeNext(c.FormValue("next")), OAuth: h.Accounts.OAuthProviders()}
	_, tokens, err := h.Accounts.SignIn(c.Request().Context(), p.Email, c.FormValue("password"))
	if err != nil {
		fe, status, err := formErrors(err)
		if err != nil {
			return err
		}
		if fe["email"] == "" {
			// Credential failures are about the pair, not one field.
			fe = form.Errors{"": firstMessage(fe)}
		}
		p.Errors = fe
		return render(c, status, auth.SignIn(p))
	}
	h.startSession(c, tokens)
	return redirect(c, afterSignIn(p.Next))
}

func firstMessage(fe form.Errors) string {
	for _, m := range fe {
		return m
	}
	return ""
}

// SignUpPage shows the sign-up form.
func (h *Handler) SignUpPage(c echo.Context) error {
	if _, ok := currentUser(c); ok {
		return c.Redirect(http.StatusSeeOther, afterSignIn(c.QueryParam("next")))
	}
	next := safeNext(c.QueryParam("next"))
	return render(c, http.StatusOK, auth.SignUp(auth.SignUpProps{Next: next, AskOrg: !joiningByInvite(next), OAuth: h.Accounts.OAuthProviders()}))
}

// joiningByInvite: someone signing up to accept an invitation gets an
// organization from it and is not asked to create one.
func joiningByInvite(next string) bool { return len(next) > 9 && next[:9] == "/invites/" }

// SignUp creates the account and, unless joining by invitation, the first
// organization with the new person as owner.
func (h *Handler) SignUp(c echo.Context) error {
	p := auth.SignUpProps{
		Name: c.FormValue("name"), Email: c.FormValue("email"), OrgName: c.FormValue("org_name"),
		Next: safeNext(c.FormValue("next")), OAuth: h.Accounts.OAuthProviders(),
	}
	p.AskOrg = !joiningByInvite(p.Next)
	fail := func(err error) error {
		fe, status, err := formErrors(err)
		if err != nil {
			return err
		}
		p.Errors = fe
		return render(c, status, auth.SignUp(p))
	}
	ctx := c.Request().Context()
	password := c.FormValue("password")
	// Every field is checked before anything is sent, so that the page
	// shows all its errors at once.
	email, emailErr := account.NormalizeEmail(p.Email)
	_, nameErr := account.CheckName(p.Name)
	orgName, orgErr := "", error(nil)
	if p.AskOrg {
		orgName, orgErr = org.CheckName(p.OrgName)
	}
	if err := errs.Fields(nameErr, emailErr, account.CheckPassword(password, email, p.Name), orgErr); err != nil {
		return fail(err)
	}
	res, err := h.Accounts.SignUp(ctx, p.Email, password, p.Name)
	if err != nil {
		return fail(err)
	}
	if orgName != "" {
		o, err := h.Orgs.Create(ctx, res.User, orgName)
		if err != nil {
			return err
		}
		h.Product.Capture(ctx, product.Event{Name: product.OrgCreated, UserID: res.User.ID, OrgID: o.ID, Props: map[string]any{"plan": o.Plan}})
	}
	if res.NeedsConfirmation {
		return render(c, http.StatusOK, auth.CheckEmail(res.User.Email))
	}
	h.startSession(c, res.Tokens)
	return redirect(c, afterSignIn(p.Next))
}

// SignOut ends the session on the server and in the browser.
func (h *Handler) SignOut(c echo.Context) error {
	ctx := c.Request().Context()
	if u, ok := currentUser(c); ok {
		if err := h.Accounts.SignOut(ctx, u, currentTokens(c)); err != nil {
			h.Log.WarnContext(ctx, "sign-out at the identity provider failed", "err", err)
		}
	} else if _, ok := c.Get(keySessionErr).(error); ok {
		// The identity provider could not vouch for the session just now:
		// end it anyway, here and on the other instances.
		if err := h.Accounts.SignOutUnconfirmed(ctx, readTokens(c)); err != nil {
			h.Log.WarnContext(ctx, "sign-out at the identity provider failed", "err", err)
		}
	}
	h.endSession(c)
	return redirect(c, "/signin?signed_out=1")
}

// ForgotPage asks for the address to send a reset link to.
func (h *Handler) ForgotPage(c echo.Context) error {
	return render(c, http.StatusOK, auth.Forgot(auth.ForgotProps{}))
}

// Forgot sends a reset link. The answer is the same whether or not the
// account exists.
func (h *Handler) Forgot(c echo.Context) error {
	p := auth.ForgotProps{Email: c.FormValue("email")}
	if err := h.Accounts.RequestPasswordReset(c.Request().Context(), p.Email); err != nil {
		fe, status, err := formErrors(err)
		if err != nil {
			return err
		}
		p.Errors = fe
		return render(c, status, auth.Forgot(p))
	}
	p.Sent = true
	return render(c, http.StatusOK, auth.Forgot(p))
}

// ResetPage lets a person choose a new password from a reset link.
func (h *Handler) ResetPage(c echo.Context) error {
	token := c.QueryParam("token")
	if token == "" {
		token = c.QueryParam("token_hash")
	}
	// The token is in the URL only for this one page; keep it out of the
	// Referer of anything the page loads.
	c.Response().Header().Set("Referrer-Policy", "no-referrer")
	return render(c, http.StatusOK, auth.Reset(auth.ResetProps{Token: token}))
}

// Reset sets the new password.
func (h *Handler) Reset(c echo.Context) error {
	p := auth.ResetProps{Token: c.FormValue("token")}
	if err := h.Accounts.ResetPassword(c.Request().Context(), p.Token, c.FormValue("password")); err != nil {
		fe, status, err := formErrors(err)
		if err != nil {
			return err
		}
		p.Errors = fe
		return render(c, status, auth.Reset(p))
	}
	h.endSession(c)
	return redirect(c, "/signin?reset=1")
}

// OAuthStart sends the browser to the external provider (PKCE flow).
func (h *Handler) OAuthStart(c echo.Context) error {
	next := safeNext(c.FormValue("next"))
	callback := h.BaseURL + "/auth/callback"
	if next != "" {
		callback += "?next=" + url.QueryEscape(next)
	}
	authURL, verifier, err := h.Accounts.OAuthStart(c.Request().Context(), c.Param("provider"), callback)
	if err != nil {
		return err
	}
	h.setCookie(c, cookieOAuth, verifier, 10*time.Minute)
	return c.Redirect(http.StatusSeeOther, authURL)
}

// OAuthCallback finishes the external sign-in.
func (h *Handler) OAuthCallback(c echo.Context) error {
	ck, err := c.Cookie(cookieOAuth)
	if err != nil || ck.Value == "" {
		return errs.E(errs.Invalid, "The sign-in took too long or was started in another browser. Try again.")
	}
	h.clearCookie(c, cookieOAuth)
	if c.QueryParam("error") != "" {
		return errs.E(errs.Unauthorized, "Sign-in was cancelled or refused by the provider.")
	}
	_, tokens, err := h.Accounts.OAuthFinish(c.Request().Context(), c.QueryParam("code"), ck.Value)
	if err != nil {
		return err
	}
	h.startSession(c, tokens)
	return c.Redirect(http.StatusSeeOther, afterSignIn(c.QueryParam("next")))
}
