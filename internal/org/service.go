package org

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/clinikapi/clinikapi/internal/account"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/mail"
	"github.com/clinikapi/clinikapi/internal/random"
)

// Service is the organization capability used by the web layer.
type Service struct {
	store   Store
	audit   *audit.Log
	mailer  mail.Mailer
	baseURL string
	log     *slog.Logger
	now     func() time.Time
}

// NewService assembles the organization service.
func NewService(s Store, a *audit.Log, m mail.Mailer, baseURL string, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: s, audit: a, mailer: m, baseURL: baseURL, log: log, now: now}
}

// Actor is a signed-in user acting inside an organization.
type Actor struct {
	User account.User
	Org  Organization
	Role Role
}

// Can reports whether the actor's role grants p.
func (a Actor) Can(p Permission) bool { return a.Role.Can(p) }

// Require returns Forbidden unless the actor's role grants p.
func (a Actor) Require(p Permission) error {
	if a.Can(p) {
		return nil
	}
	return errs.E(errs.Forbidden, "Your role (%s) does not allow this. Ask an owner or admin of %s.", a.Role.Label(), a.Org.Name)
}

func (a Actor) event(action, targetType, targetID string, detail map[string]string) audit.Event {
	return audit.Event{OrgID: a.Org.ID, ActorType: audit.ActorUser, ActorID: a.User.ID, Action: action, TargetType: targetType, TargetID: targetID, Detail: detail}
}

// Create makes an organization with u as its owner.
func (s *Service) Create(ctx context.Context, u account.User, name string) (Organization, error) {
	name, err := CheckName(name)
	if err != nil {
		return Organization{}, err
	}
	o := Organization{ID: random.ID("org"), Name: name, Plan: "sandbox", CreatedAt: s.now().UTC()}
	if err := s.store.CreateOrg(ctx, o, u.ID); err != nil {
		return Organization{}, err
	}
	s.audit.Record(ctx, audit.Event{OrgID: o.ID, ActorType: audit.ActorUser, ActorID: u.ID, Action: audit.OrgCreated, TargetType: "organization", TargetID: o.ID})
	return o, nil
}

// CreateForSystem makes an organization on behalf of an operator command.
func (s *Service) CreateForSystem(ctx context.Context, ownerID, name string) (Organization, error) {
	name, err := CheckName(name)
	if err != nil {
		return Organization{}, err
	}
	o := Organization{ID: random.ID("org"), Name: name, Plan: "sandbox", CreatedAt: s.now().UTC()}
	if err := s.store.CreateOrg(ctx, o, ownerID); err != nil {
		return Organization{}, err
	}
	s.audit.Record(ctx, audit.Event{OrgID: o.ID, ActorType: audit.ActorSystem, ActorID: "cli", Action: audit.OrgCreated, TargetType: "organization", TargetID: o.ID, Detail: map[string]string{"owner": ownerID}})
	return o, nil
}

// FindOrg returns an organization by id, for operator commands (the
// dashboard reaches organizations through Act, which checks membership).
func (s *Service) FindOrg(ctx context.Context, id string) (Organization, error) {
	return s.store.FindOrg(ctx, id)
}

// Memberships lists the organizations u belongs to.
func (s *Service) Memberships(ctx context.Context, u account.User) ([]Membership, error) {
	return s.store.ListMemberships(ctx, u.ID)
}

// Act resolves u's membership in orgID. A user who is not a member gets
// NotFound, exactly as for an organization that does not exist.
func (s *Service) Act(ctx context.Context, u account.User, orgID string) (Actor, error) {
	m, err := s.store.FindMembership(ctx, orgID, u.ID)
	if err != nil {
		return Actor{}, err
	}
	return Actor{User: u, Org: m.Org, Role: m.Role}, nil
}

// Rename changes the organization's name.
func (s *Service) Rename(ctx context.Context, a Actor, name string) (Organization, error) {
	if err := a.Require(RenameOrg); err != nil {
		return Organization{}, err
	}
	name, err := CheckName(name)
	if err != nil {
		return Organization{}, err
	}
	if err := s.store.RenameOrg(ctx, a.Org.ID, name, s.now().UTC()); err != nil {
		return Organization{}, err
	}
	s.audit.Record(ctx, a.event(audit.OrgRenamed, "organization", a.Org.ID, nil))
	o := a.Org
	o.Name = name
	return o, nil
}

// Members lists the members and pending invitations.
func (s *Service) Members(ctx context.Context, a Actor) ([]Member, []Invite, error) {
	if err := a.Require(ViewMembers); err != nil {
		return nil, nil, err
	}
	ms, err := s.store.ListMembers(ctx, a.Org.ID)
	if err != nil {
		return nil, nil, err
	}
	var invs []Invite
	if a.Can(ManageMembers) {
		if invs, err = s.store.ListInvites(ctx, a.Org.ID, s.now().UTC()); err != nil {
			return nil, nil, err
		}
	}
	return ms, invs, nil
}

// InviteResult says how the invitation reaches the invitee. When Emailed is
// false (no mail server configured) the inviter is shown Link to pass on.
type InviteResult struct {
	Invite  Invite
	Link    string
	Emailed bool
}

// Invite invites email with role. Only owners may invite owners.
func (s *Service) Invite(ctx context.Context, a Actor, email string, role Role) (InviteResult, error) {
	if err := a.Require(ManageMembers); err != nil {
		return InviteResult{}, err
	}
	email, err := account.NormalizeEmail(email)
	var roleErr error
	if role == Owner && a.Role != Owner {
		roleErr = errs.FieldError("role", "Only an owner can invite another owner.")
	}
	if err := errs.Fields(err, roleErr); err != nil {
		return InviteResult{}, err
	}
	members, err := s.store.ListMembers(ctx, a.Org.ID)
	if err != nil {
		return InviteResult{}, err
	}
	for _, m := range members {
		if strings.EqualFold(m.Email, email) {
			return InviteResult{}, errs.FieldError("email", "%s is already a member.", email)
		}
	}
	token := random.Token()
	now := s.now().UTC()
	inv := Invite{ID: random.ID("inv"), OrgID: a.Org.ID, Email: email, Role: role, TokenHash: random.Hash(token), InvitedBy: a.User.ID, CreatedAt: now, ExpiresAt: now.Add(InviteLifetime)}
	if err := s.store.CreateInvite(ctx, inv); err != nil {
		return InviteResult{}, err
	}
	link := s.baseURL + "/invites/" + token
	delivered, err := s.mailer.Send(ctx, mail.Message{
		To:      email,
		Subject: fmt.Sprintf("%s invited you to %s on ClinikAPI", a.User.DisplayName(), a.Org.Name),
		Body: fmt.Sprintf("%s invited you to join %s on ClinikAPI as %s.\n\nAccept the invitation (the link works once and expires in 7 days):\n%s\n",
			a.User.DisplayName(), a.Org.Name, role.Label(), link),
	})
	if err != nil {
		s.log.WarnContext(ctx, "invitation e-mail failed; showing the link instead", "invite", inv.ID, "err", err)
	}
	s.audit.Record(ctx, a.event(audit.MemberInvited, "invite", inv.ID, map[string]string{"role": string(role)}))
	return InviteResult{Invite: inv, Link: link, Emailed: delivered}, nil
}

// RevokeInvite cancels a pending invitation.
func (s *Service) RevokeInvite(ctx context.Context, a Actor, inviteID string) error {
	if err := a.Require(ManageMembers); err != nil {
		return err
	}
	inv, err := s.store.DeleteInvite(ctx, a.Org.ID, inviteID)
	if err != nil {
		return err
	}
	s.audit.Record(ctx, a.event(audit.InviteRevoked, "invite", inv.ID, nil))
	return nil
}

// InvitePreview is what the invitation page shows before accepting.
type InvitePreview struct {
	Invite  Invite
	OrgName string
}

// PreviewInvite looks up an invitation by its token.
func (s *Service) PreviewInvite(ctx context.Context, token string) (InvitePreview, error) {
	gone := errs.E(errs.NotFound, "This invitation is invalid, was already used, or has expired. Ask for a new one.")
	if token == "" || len(token) > 128 {
		return InvitePreview{}, gone
	}
	inv, err := s.store.FindInviteByToken(ctx, random.Hash(token))
	if errs.Is(err, errs.NotFound) || (err == nil && !s.now().Before(inv.ExpiresAt)) {
		return InvitePreview{}, gone
	}
	if err != nil {
		return InvitePreview{}, err
	}
	o, err := s.store.FindOrg(ctx, inv.OrgID)
	if err != nil {
		return InvitePreview{}, err
	}
	return InvitePreview{Invite: inv, OrgName: o.Name}, nil
}

// AcceptInvite makes u a member. The invitation must be for u's e-mail.
func (s *Service) AcceptInvite(ctx context.Context, u account.User, token string) (Organization, error) {
	p, err := s.PreviewInvite(ctx, token)
	if err != nil {
		return Organization{}, err
	}
	if !strings.EqualFold(p.Invite.Email, u.Email) {
		return Organization{}, errs.E(errs.Forbidden, "This invitation was sent to another e-mail address. Sign in with that address to accept it.")
	}
	if _, err := s.store.FindMembership(ctx, p.Invite.OrgID, u.ID); err == nil {
		return Organization{}, errs.E(errs.Conflict, "You are already a member of %s.", p.OrgName)
	}
	inv, err := s.store.AcceptInvite(ctx, random.Hash(token), u.ID, s.now().UTC())
	if err != nil {
		return Organization{}, err
	}
	s.audit.Record(ctx, audit.Event{OrgID: inv.OrgID, ActorType: audit.ActorUser, ActorID: u.ID, Action: audit.InviteAccepted, TargetType: "invite", TargetID: inv.ID, Detail: map[string]string{"role": string(inv.Role)}})
	return s.store.FindOrg(ctx, inv.OrgID)
}

// ChangeRole sets a member's role. Only owners may grant or take away the
// owner role, and the last owner stays an owner.
func (s *Service) ChangeRole(ctx context.Context, a Actor, userID string, role Role) error {
	if err := a.Require(ManageMembers); err != nil {
		return err
	}
	target, err := s.store.FindMembership(ctx, a.Org.ID, userID)
	if err != nil {
		return err
	}
	if (role == Owner || target.Role == Owner) && a.Role != Owner {
		return errs.E(errs.Forbidden, "Only an owner can grant or change the owner role.")
	}
	if target.Role == role {
		return nil
	}
	if err := s.store.SetMemberRole(ctx, a.Org.ID, userID, role); err != nil {
		return err
	}
	s.audit.Record(ctx, a.event(audit.MemberRoleChanged, "user", userID, map[string]string{"from": string(target.Role), "to": string(role)}))
	return nil
}

// RemoveMember removes a member; any member may remove themselves (leave).
func (s *Service) RemoveMember(ctx context.Context, a Actor, userID string) error {
	if userID != a.User.ID {
		if err := a.Require(ManageMembers); err != nil {
			return err
		}
	}
	target, err := s.store.FindMembership(ctx, a.Org.ID, userID)
	if err != nil {
		return err
	}
	if target.Role == Owner && a.Role != Owner {
		return errs.E(errs.Forbidden, "Only an owner can remove an owner.")
	}
	if err := s.store.RemoveMember(ctx, a.Org.ID, userID); err != nil {
		return err
	}
	s.audit.Record(ctx, a.event(audit.MemberRemoved, "user", userID, map[string]string{"role": string(target.Role)}))
	return nil
}

// AuditLog lists the organization's audit events.
func (s *Service) AuditLog(ctx context.Context, a Actor, l *audit.Log, f audit.Filter) ([]audit.Event, error) {
	if err := a.Require(ViewAuditLog); err != nil {
		return nil, err
	}
	f.OrgID, f.WithMembers = a.Org.ID, true
	return l.List(ctx, f)
}
