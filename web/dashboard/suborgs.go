package dashboard

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/suborg"
	"github.com/clinikapi/clinikapi/views/components/form"
	"github.com/clinikapi/clinikapi/views/components/icon"
	"github.com/clinikapi/clinikapi/views/suborgs"
)

// PageSubOrgs is the sub-organizations page.
const PageSubOrgs Page = "suborgs"

func init() {
	settingsNav = append(settingsNav, navEntry{PageSubOrgs, "Sub-organizations", "/suborgs", icon.Users, org.ManageSubOrgs})
}

func subOrgActor(a org.Actor) suborg.Actor { return suborg.Actor{OrgID: a.Org.ID, UserID: a.User.ID} }

// subOrgsPage renders the list; v carries the create form's state, a
// row's error or a notice.
func (h *Handler) subOrgsPage(c echo.Context, a org.Actor, status int, v suborgs.Props, rowID, rowErr string) error {
	ctx := c.Request().Context()
	all, err := h.SubOrgs.List(ctx, a.Org.ID)
	if err != nil {
		return err
	}
	keys, err := h.Keys.List(ctx, a.Org.ID)
	if err != nil {
		return err
	}
	now := h.clock()
	active := map[string]int{}
	for _, k := range keys {
		if s := k.StatusAt(now); k.TenantID != "" && (s == apikey.Active || s == apikey.Expiring) {
			active[k.TenantID]++
		}
	}
	v.Shell = h.shell(c, a, PageSubOrgs, "Sub-organizations", "One tenant per clinic you serve, under this organization's plan and bill.")
	v.OrgID = a.Org.ID
	for _, s := range all {
		r := suborgs.SubOrg{ID: s.ID, Name: s.Name, Status: s.Status(), Created: dateString(s.CreatedAt), Keys: active[s.ID], WithOrg: s.WithOrg}
		if !s.DeleteAfter.IsZero() {
			r.DeleteAfter = dateString(s.DeleteAfter)
		}
		if s.ID == rowID {
			r.Error, r.Rename = rowErr, rowErr != ""
		}
		v.SubOrgs = append(v.SubOrgs, r)
	}
	return render(c, status, suborgs.Page(v))
}

// SubOrgsPage lists the organization's sub-organizations.
func (h *Handler) SubOrgsPage(c echo.Context) error {
	return h.subOrgsPage(c, currentActor(c), http.StatusOK, suborgs.Props{}, "", "")
}

// CreateSubOrg makes a sub-organization and goes to its keys.
func (h *Handler) CreateSubOrg(c echo.Context) error {
	a := currentActor(c)
	so, err := h.SubOrgs.Create(c.Request().Context(), subOrgActor(a), c.FormValue("name"))
	if err != nil {
		fe, status, err := formErrors(err)
		if err != nil {
			return err
		}
		return h.subOrgsPage(c, a, status, suborgs.Props{Name: c.FormValue("name"), Errors: fe}, "", "")
	}
	h.flash(c, "Sub-organization "+so.Name+" created. Create its first API key.")
	return redirect(c, "/o/"+a.Org.ID+"/keys?tenant="+so.ID)
}

// subOrgChange runs a change to one sub-organization and goes back to the
// list with its message, or shows the error on its row.
func (h *Handler) subOrgChange(c echo.Context, done string, fn func(a org.Actor, id string) error) error {
	a := currentActor(c)
	id := c.Param("sub")
	if err := fn(a, id); err != nil {
		_, status, ferr := formErrors(err)
		if ferr != nil {
			return ferr
		}
		if errs.Is(err, errs.NotFound) {
			return err
		}
		return h.subOrgsPage(c, a, status, suborgs.Props{}, id, errs.MessageOf(err))
	}
	h.flash(c, done)
	return redirect(c, "/o/"+a.Org.ID+"/suborgs")
}

// RenameSubOrg renames a sub-organization.
func (h *Handler) RenameSubOrg(c echo.Context) error {
	return h.subOrgChange(c, "Sub-organization renamed.", func(a org.Actor, id string) error {
		_, err := h.SubOrgs.Rename(c.Request().Context(), subOrgActor(a), id, c.FormValue("name"))
		return err
	})
}

// ArchiveSubOrg closes a sub-organization: keys revoked, data deleted on
// schedule.
func (h *Handler) ArchiveSubOrg(c echo.Context) error {
	return h.subOrgChange(c, "Sub-organization archived: its keys stopped working and its data will be deleted in 29 days unless you restore it.", func(a org.Actor, id string) error {
		_, err := h.Privacy.CloseSubOrg(c.Request().Context(), subOrgActor(a), id)
		return err
	})
}

// RestoreSubOrg reopens an archived sub-organization before its deletion.
func (h *Handler) RestoreSubOrg(c echo.Context) error {
	return h.subOrgChange(c, "Sub-organization restored. Its old keys stay revoked; create new ones.", func(a org.Actor, id string) error {
		_, err := h.Privacy.ReopenSubOrg(c.Request().Context(), subOrgActor(a), id)
		return err
	})
}

// tenantOptions are the tenant filter's choices: every tenant, (withOwn)
// the organization's own keys, and each sub-organization.
func (h *Handler) tenantOptions(ctx context.Context, a org.Actor, withOwn bool) ([]form.Option, error) {
	subs, err := h.SubOrgs.List(ctx, a.Org.ID)
	if err != nil || len(subs) == 0 {
		return nil, err
	}
	out := []form.Option{{Value: "", Label: "All tenants"}}
	if withOwn {
		out = append(out, form.Option{Value: a.Org.ID, Label: a.Org.Name + " (own keys)"})
	}
	for _, so := range subs {
		out = append(out, form.Option{Value: so.ID, Label: so.Name})
	}
	return out, nil
}
