package dashboard

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/plan"
	"github.com/clinikapi/clinikapi/internal/product"
	"github.com/clinikapi/clinikapi/views/onboarding"
	"github.com/clinikapi/clinikapi/views/overview"
	"github.com/clinikapi/clinikapi/views/settings"
)

// Home sends a signed-in person to their first organization, or to create one.
func (h *Handler) Home(c echo.Context) error {
	u, ok := currentUser(c)
	if !ok {
		return c.Redirect(http.StatusSeeOther, "/signin")
	}
	ms, err := h.Orgs.Memberships(c.Request().Context(), u)
	if err != nil {
		return err
	}
	if len(ms) == 0 {
		return c.Redirect(http.StatusSeeOther, "/orgs/new")
	}
	return c.Redirect(http.StatusSeeOther, "/o/"+ms[0].Org.ID)
}

// NewOrgPage asks for an organization name.
func (h *Handler) NewOrgPage(c echo.Context) error {
	u, _ := currentUser(c)
	shell := h.userShell(c, u, "", "New organization")
	return render(c, http.StatusOK, onboarding.NewOrg(onboarding.Props{Shell: shell, First: len(shell.Orgs) == 0}))
}

// CreateOrg creates an organization owned by the signed-in person.
func (h *Handler) CreateOrg(c echo.Context) error {
	u, _ := currentUser(c)
	o, err := h.Orgs.Create(c.Request().Context(), u, c.FormValue("org_name"))
	if err != nil {
		fe, status, err := formErrors(err)
		if err != nil {
			return err
		}
		shell := h.userShell(c, u, "", "New organization")
		return render(c, status, onboarding.NewOrg(onboarding.Props{Shell: shell, First: len(shell.Orgs) == 0, OrgName: c.FormValue("org_name"), Errors: fe}))
	}
	h.Product.Capture(c.Request().Context(), product.Event{Name: product.OrgCreated, UserID: u.ID, OrgID: o.ID, Props: map[string]any{"plan": o.Plan}})
	h.flash(c, "Organization created. You are its owner.")
	return redirect(c, "/o/"+o.ID)
}

// planLimits describes a plan's API limits in a line.
func planLimits(id string) string {
	p := plan.Of(id)
	if p.Unlimited {
		return fmt.Sprintf("%s requests/min · no monthly cap", humanInt(int64(p.PerMinute)))
	}
	return fmt.Sprintf("%s requests/min · %s/month", humanInt(int64(p.PerMinute)), humanInt(p.Included))
}

// humanInt writes 60000 as 60,000.
func humanInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// planNames are the display names of the plans.
var planNames = map[string]string{"sandbox": "Sandbox", "starter": "Starter", "pro": "Pro", "team": "Team", "enterprise": "Enterprise"}

func planName(p string) string {
	if n, ok := planNames[p]; ok {
		return n
	}
	return p
}

// Overview is an organization's home page.
func (h *Handler) Overview(c echo.Context) error {
	a := currentActor(c)
	ctx := c.Request().Context()
	members, invites, err := h.Orgs.Members(ctx, a)
	if err != nil {
		return err
	}
	base := "/o/" + a.Org.ID
	steps := []overview.Step{
		{Title: "Create your organization", Text: a.Org.Name + " is ready. Everything you do here belongs to it.", Done: true},
	}
	if a.Can(org.ManageKeys) {
		ks, err := h.Keys.List(ctx, a.Org.ID)
		if err != nil {
			return err
		}
		steps = append(steps, overview.Step{
			Title: "Create an API key", Text: "Make a test key; you get a curl command that calls the API with it right away.",
			Href: base + "/keys", CTA: "Create a key", Done: len(ks) > 0,
		})
	}
	if a.Can(org.ManageMembers) {
		steps = append(steps, overview.Step{
			Title: "Invite your team", Text: "Add developers for API keys and billing admins for invoices.",
			Href: base + "/members", CTA: "Invite people", Done: len(members) > 1 || len(invites) > 0,
		})
	}
	facts := []overview.Fact{
		{Label: "Plan", Value: planName(a.Org.Plan), Hint: planLimits(a.Org.Plan)},
		{Label: "Members", Value: itoa(len(members))},
		{Label: "Your role", Value: a.Role.Label(), Hint: a.Role.Describe()},
		{Label: "Created", Value: dateString(a.Org.CreatedAt)},
	}
	return render(c, http.StatusOK, overview.Page(overview.Props{
		Shell: h.shell(c, a, PageOverview, "Overview", "Welcome to "+a.Org.Name+"."),
		Steps: steps,
		Facts: facts,
	}))
}

// SettingsPage shows the organization's general settings.
func (h *Handler) SettingsPage(c echo.Context) error {
	a := currentActor(c)
	return render(c, http.StatusOK, settings.General(h.settingsProps(c, a, a.Org.Name)))
}

func (h *Handler) settingsProps(c echo.Context, a org.Actor, name string) settings.Props {
	return settings.Props{
		Shell: h.shell(c, a, PageSettings, "Settings", "Your organization's name and details."),
		OrgID: a.Org.ID, Name: name, CanRename: a.Can(org.RenameOrg),
		Plan: planName(a.Org.Plan), Created: dateString(a.Org.CreatedAt),
	}
}

// RenameOrg changes the organization's name.
func (h *Handler) RenameOrg(c echo.Context) error {
	a := currentActor(c)
	if _, err := h.Orgs.Rename(c.Request().Context(), a, c.FormValue("org_name")); err != nil {
		fe, status, err := formErrors(err)
		if err != nil {
			return err
		}
		p := h.settingsProps(c, a, c.FormValue("org_name"))
		p.Errors = fe
		return render(c, status, settings.General(p))
	}
	h.flash(c, "Organization renamed.")
	return redirect(c, "/o/"+a.Org.ID+"/settings")
}
