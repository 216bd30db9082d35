package dashboard

import (
	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/account"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/views/components/alert"
	"github.com/clinikapi/clinikapi/views/components/form"
	"github.com/clinikapi/clinikapi/views/components/icon"
	"github.com/clinikapi/clinikapi/views/layouts"
)

// Page identifies a navigation entry so the shell can highlight it.
type Page string

const (
	PageOverview Page = "overview"
	PageSettings Page = "settings"
	PageMembers  Page = "members"
	PageAudit    Page = "audit"
	PageAccount  Page = "account"
	PageNewOrg   Page = "new-org"
)

// navEntry is one navigation link and the permission it needs.
type navEntry struct {
	page  Page
	label string
	path  string // under /o/{org}
	icon  icon.Name
	perm  org.Permission
}

var mainNav = []navEntry{
	{PageOverview, "Overview", "", icon.Home, org.ViewOverview},
	{PageKeys, "API Keys", "/keys", icon.Key, org.ManageKeys},
	{PageAnalytics, "Analytics", "/analytics", icon.Chart, org.ViewAnalytics},
	{PageRequests, "Request log", "/requests", icon.List, org.ViewRequestLog},
	{PageWebhooks, "Webhooks", "/webhooks", icon.Mail, org.ManageWebhooks},
	{PageWebhookLogs, "Webhook logs", "/analytics/webhooks", icon.List, org.ManageWebhooks},
	{PageBilling, "Billing", "/billing", icon.Card, org.ViewBilling},
}

var settingsNav = []navEntry{
	{PageSettings, "General", "/settings", icon.Settings, org.ViewOverview},
	{PageMembers, "Members", "/members", icon.Users, org.ViewMembers},
	{PageCompliance, "Compliance", "/settings/compliance", icon.Shield, org.ViewBilling},
	{PageAccessReport, "Patient access report", "/compliance/access", icon.Shield, org.ViewAuditLog},
	{PageAudit, "Audit log", "/audit", icon.List, org.ViewAuditLog},
	{PagePrivacy, "Data & privacy", "/privacy", icon.Shield, org.ManageData},
}

func navItems(entries []navEntry, a org.Actor, active Page) []layouts.NavItem {
	var out []layouts.NavItem
	for _, e := range entries {
		if !a.Can(e.perm) {
			continue
		}
		out = append(out, layouts.NavItem{Label: e.label, Href: "/o/" + a.Org.ID + e.path, Icon: e.icon, Active: e.page == active})
	}
	return out
}

// shell builds the application frame for a page inside an organization.
func (h *Handler) shell(c echo.Context, a org.Actor, active Page, title, subtitle string) layouts.AppProps {
	p := h.userShell(c, a.User, a.Org.ID, title)
	p.Subtitle = subtitle
	p.OrgName = a.Org.Name
	p.Role = string(a.Role)
	p.RoleLabel = a.Role.Label()
	p.Nav = navItems(mainNav, a, active)
	p.Settings = navItems(settingsNav, a, active)
	p.Banner = h.paymentBanner(c.Request().Context(), a)
	if b := h.closedBanner(c, a); b != nil && p.Flash == nil {
		p.Flash = b
	}
	return p
}

// userShell builds the frame for pages outside an organization (account).
func (h *Handler) userShell(c echo.Context, u account.User, currentOrg, title string) layouts.AppProps {
	p := layouts.AppProps{Title: title, UserName: u.DisplayName(), UserEmail: u.Email, Flash: takeFlash(c)}
	ms, err := h.Orgs.Memberships(c.Request().Context(), u)
	if err != nil {
		h.Log.WarnContext(c.Request().Context(), "listing memberships failed", "err", err)
	}
	for _, m := range ms {
		p.Orgs = append(p.Orgs, layouts.OrgLink{Name: m.Org.Name, Href: "/o/" + m.Org.ID, Role: m.Role.Label(), Current: m.Org.ID == currentOrg})
		if currentOrg == "" && len(p.Nav) == 0 {
			// Outside an organization, the navigation leads back into the first one.
			p.Nav = []layouts.NavItem{{Label: "Overview", Href: "/o/" + m.Org.ID, Icon: icon.Home}}
		}
	}
	return p
}

// roleOptions lists the roles the actor may hand out.
func roleOptions(a org.Actor) []form.Option {
	var out []form.Option
	for _, r := range org.Roles {
		if r == org.Owner && a.Role != org.Owner {
			continue
		}
		out = append(out, form.Option{Value: string(r), Label: r.Label()})
	}
	return out
}

const cookieFlash = "clinik_flash"

// flash leaves a one-time success message for the next page.
func (h *Handler) flash(c echo.Context, msg string) {
	h.setCookie(c, cookieFlash, encodeFlash(msg), 0)
}

func takeFlash(c echo.Context) *alert.Props {
	ck, err := c.Cookie(cookieFlash)
	if err != nil || ck.Value == "" {
		return nil
	}
	c.SetCookie(&httpCookieDelete)
	msg := decodeFlash(ck.Value)
	if msg == "" {
		return nil
	}
	return &alert.Props{Kind: alert.Success, Message: msg, Dismissable: true}
}
