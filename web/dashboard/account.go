package dashboard

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/views/account"
	"github.com/clinikapi/clinikapi/views/components/form"
)

func (h *Handler) accountPage(c echo.Context, status int, name string, profile, password form.Errors, deletion ...form.Errors) error {
	u, _ := currentUser(c)
	return render(c, status, account.Page(account.Props{
		Shell: h.userShell(c, u, "", "Account"),
		Name:  name, Email: u.Email, Provider: h.Accounts.ProviderName(),
		ProfileErrors: profile, PasswordErrors: password, Analytics: h.analyticsSetting(c),
		DeleteErrors: firstErrors(deletion),
	}))
}

// AccountPage shows the person's profile and password forms.
func (h *Handler) AccountPage(c echo.Context) error {
	u, _ := currentUser(c)
	return h.accountPage(c, http.StatusOK, u.Name, nil, nil)
}

// UpdateProfile saves the display name.
func (h *Handler) UpdateProfile(c echo.Context) error {
	u, _ := currentUser(c)
	if _, err := h.Accounts.UpdateProfile(c.Request().Context(), u, c.FormValue("name")); err != nil {
		fe, status, err := formErrors(err)
		if err != nil {
			return err
		}
		return h.accountPage(c, status, c.FormValue("name"), fe, nil)
	}
	h.flash(c, "Profile saved.")
	return redirect(c, "/account")
}

// ChangePassword sets a new password; other sessions end.
func (h *Handler) ChangePassword(c echo.Context) error {
	u, _ := currentUser(c)
	err := h.Accounts.ChangePassword(c.Request().Context(), u, currentTokens(c), c.FormValue("current_password"), c.FormValue("password"))
	if err != nil {
		fe, status, err := formErrors(err)
		if err != nil {
			return err
		}
		return h.accountPage(c, status, u.Name, nil, fe)
	}
	h.flash(c, "Password changed. Other sessions were signed out.")
	return redirect(c, "/account")
}

func firstErrors(e []form.Errors) form.Errors {
	if len(e) == 0 {
		return nil
	}
	return e[0]
}
