package dashboard

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/account"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/views/invite"
	"github.com/clinikapi/clinikapi/views/members"
)

func memberRow(a org.Actor, m org.Member) members.Member {
	name := m.Name
	if name == "" {
		name = m.Email[:strings.IndexByte(m.Email, '@')]
	}
	canEdit := a.Can(org.ManageMembers) && m.UserID != a.User.ID && (m.Role != org.Owner || a.Role == org.Owner)
	return members.Member{
		UserID: m.UserID, Name: name, Email: m.Email, Role: string(m.Role), RoleLabel: m.Role.Label(),
		Joined: dateString(m.JoinedAt), IsYou: m.UserID == a.User.ID, CanEdit: canEdit,
	}
}

func (h *Handler) invitesProps(a org.Actor, invs []org.Invite) members.InvitesProps {
	p := members.InvitesProps{OrgID: a.Org.ID, RoleOptions: roleOptions(a), Role: string(org.Developer)}
	for _, i := range invs {
		p.Invites = append(p.Invites, members.Invite{ID: i.ID, Email: i.Email, RoleLabel: i.Role.Label(), Expires: dateString(i.ExpiresAt)})
	}
	return p
}

// membersPage renders the whole page, with inv as the invitation section.
func (h *Handler) membersPage(c echo.Context, a org.Actor, status int, edit func(*members.InvitesProps)) error {
	ms, invs, err := h.Orgs.Members(c.Request().Context(), a)
	if err != nil {
		return err
	}
	p := members.Props{
		Shell: h.shell(c, a, PageMembers, "Members", "Invite people and choose what they can do."),
		OrgID: a.Org.ID, RoleOptions: roleOptions(a), CanManage: a.Can(org.ManageMembers),
		Invites: h.invitesProps(a, invs),
	}
	// Without JavaScript, Remove and Revoke reload the page with their
	// confirmation open.
	remove, revoke := c.QueryParam("remove"), c.QueryParam("revoke_invite")
	for _, m := range ms {
		row := memberRow(a, m)
		row.RemoveOpen = remove != "" && remove == m.UserID && (row.CanEdit || row.IsYou)
		p.Members = append(p.Members, row)
	}
	for i := range p.Invites.Invites {
		p.Invites.Invites[i].RevokeOpen = revoke != "" && revoke == p.Invites.Invites[i].ID
	}
	if edit != nil {
		edit(&p.Invites)
	}
	if isFragment(c) {
		return render(c, status, members.Invites(p.Invites))
	}
	return render(c, status, members.Page(p))
}

// Members lists members and invitations.
func (h *Handler) Members(c echo.Context) error {
	return h.membersPage(c, currentActor(c), http.StatusOK, nil)
}

// Invite creates an invitation and shows its link when it could not be mailed.
func (h *Handler) Invite(c echo.Context) error {
	a := currentActor(c)
	role, err := org.ParseRole(c.FormValue("role"))
	var res org.InviteResult
	if err == nil {
		res, err = h.Orgs.Invite(c.Request().Context(), a, c.FormValue("email"), role)
	} else {
		_, emailErr := account.NormalizeEmail(c.FormValue("email"))
		err = errs.Fields(emailErr, err) // both fields' errors at once
	}
	if err != nil {
		fe, status, err := formErrors(err)
		if err != nil {
			return err
		}
		return h.membersPage(c, a, status, func(p *members.InvitesProps) {
			p.Email, p.Role, p.Errors = c.FormValue("email"), c.FormValue("role"), fe
		})
	}
	return h.membersPage(c, a, http.StatusOK, func(p *members.InvitesProps) {
		p.Created = &members.Created{Email: res.Invite.Email, Link: res.Link, Emailed: res.Emailed}
	})
}

// RevokeInvite cancels an invitation.
func (h *Handler) RevokeInvite(c echo.Context) error {
	a := currentActor(c)
	err := h.Orgs.RevokeInvite(c.Request().Context(), a, c.Param("invite"))
	if err != nil && !errs.Is(err, errs.NotFound) {
		return err
	}
	return h.membersPage(c, a, http.StatusOK, nil)
}

// memberResult answers a change to one member: the row for HTMX, the page
// (with a flash) for plain forms.
func (h *Handler) memberResult(c echo.Context, a org.Actor, userID string, changeErr error, done string) error {
	ctx := c.Request().Context()
	if changeErr != nil && !isFragment(c) {
		return changeErr
	}
	if !isFragment(c) {
		h.flash(c, done)
		if userID == a.User.ID {
			return redirect(c, "/")
		}
		return redirect(c, "/o/"+a.Org.ID+"/members")
	}
	status, msg := http.StatusOK, ""
	if changeErr != nil {
		fe, st, err := formErrors(changeErr)
		if err != nil {
			return err
		}
		status, msg = st, firstMessage(fe)
	}
	ms, _, err := h.Orgs.Members(ctx, a)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.UserID == userID {
			row := memberRow(a, m)
			row.Error = msg
			return render(c, status, members.Row(a.Org.ID, row, roleOptions(a)))
		}
	}
	if userID == a.User.ID {
		c.Response().Header().Set("HX-Redirect", "/")
	}
	// Removed: an empty answer removes the row.
	return c.HTML(http.StatusOK, "")
}

// ChangeRole sets a member's role.
func (h *Handler) ChangeRole(c echo.Context) error {
	a := currentActor(c)
	userID := c.Param("user")
	role, err := org.ParseRole(c.FormValue("role"))
	if err == nil {
		err = h.Orgs.ChangeRole(c.Request().Context(), a, userID, role)
	}
	return h.memberResult(c, a, userID, err, "Role updated.")
}

// RemoveMember removes a member, or lets a person leave.
func (h *Handler) RemoveMember(c echo.Context) error {
	a := currentActor(c)
	userID := c.Param("user")
	err := h.Orgs.RemoveMember(c.Request().Context(), a, userID)
	msg := "Member removed."
	if userID == a.User.ID {
		msg = "You left " + a.Org.Name + "."
	}
	return h.memberResult(c, a, userID, err, msg)
}

// InvitePage shows an invitation from its link.
func (h *Handler) InvitePage(c echo.Context) error {
	c.Response().Header().Set("Referrer-Policy", "no-referrer")
	token := c.Param("token")
	prev, err := h.Orgs.PreviewInvite(c.Request().Context(), token)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return render(c, http.StatusNotFound, invite.Gone(errs.MessageOf(err)))
		}
		return err
	}
	p := invite.Props{Token: token, OrgName: prev.OrgName, RoleLabel: prev.Invite.Role.Label(), Email: prev.Invite.Email}
	if u, ok := currentUser(c); ok {
		p.SignedIn, p.UserEmail = true, u.Email
	}
	return render(c, http.StatusOK, invite.Page(p))
}

// AcceptInvite joins the organization.
func (h *Handler) AcceptInvite(c echo.Context) error {
	u, _ := currentUser(c)
	token := c.Param("token")
	o, err := h.Orgs.AcceptInvite(c.Request().Context(), u, token)
	if err != nil {
		prev, perr := h.Orgs.PreviewInvite(c.Request().Context(), token)
		if perr != nil {
			return render(c, http.StatusNotFound, invite.Gone(errs.MessageOf(perr)))
		}
		fe, status, ferr := formErrors(err)
		if ferr != nil {
			return ferr
		}
		return render(c, status, invite.Page(invite.Props{
			Token: token, OrgName: prev.OrgName, RoleLabel: prev.Invite.Role.Label(), Email: prev.Invite.Email,
			SignedIn: true, UserEmail: u.Email, Error: firstMessage(fe),
		}))
	}
	h.flash(c, "Welcome to "+o.Name+".")
	return redirect(c, "/o/"+o.ID)
}
