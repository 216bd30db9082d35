// Package org holds organizations, their members and roles, and invitations.
// It decides who may do what inside an organization; every dashboard handler
// asks it before acting.
package org

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clinikapi/clinikapi/internal/errs"
)

// Organization is a customer account: it owns keys, data, usage and billing.
type Organization struct {
	ID   string // org_…
	Name string
	Plan string // sandbox, starter, pro, team, enterprise
	// RateLimitPerMin replaces the plan's API rate limit when > 0 (custom
	// Enterprise contracts).
	RateLimitPerMin int
	CreatedAt       time.Time
}

// Role is a member's role in an organization.
type Role string

const (
	Owner     Role = "owner"
	Admin     Role = "admin"
	Developer Role = "developer"
	Billing   Role = "billing"
)

// Roles lists every role, most powerful first.
var Roles = []Role{Owner, Admin, Developer, Billing}

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", errs.FieldError("role", "Choose one of the roles: owner, admin, developer, billing.")
}

// Label is the role's name for people.
func (r Role) Label() string {
	switch r {
	case Billing:
		return "Billing admin"
	default:
		if r == "" {
			return ""
		}
		return strings.ToUpper(string(r[:1])) + string(r[1:])
	}
}

// Describe says what the role may do.
func (r Role) Describe() string {
	switch r {
	case Owner:
		return "Everything, including closing the organization."
	case Admin:
		return "Keys, analytics, billing and members."
	case Developer:
		return "API keys and analytics."
	case Billing:
		return "Billing and invoices; no API keys."
	}
	return ""
}

// Permission is something a role may do.
type Permission string

const (
	ViewOverview  Permission = "overview.view"
	ManageKeys    Permission = "keys.manage"
	ViewAnalytics Permission = "analytics.view"
	ViewBilling   Permission = "billing.view"
	ManageBilling Permission = "billing.manage"
	ManageMembers Permission = "members.manage"
	ViewMembers   Permission = "members.view"
	RenameOrg     Permission = "organization.rename"
	ViewAuditLog  Permission = "audit.view"
	CloseOrg      Permission = "organization.close"
	// ViewRequestLog: the API request log (metadata only; not for billing admins).
	ViewRequestLog Permission = "requests.view"
	// ManageWebhooks: outbound webhook endpoints and their delivery log.
	ManageWebhooks Permission = "webhooks.manage"
)

var grants = map[Role][]Permission{
	Owner:     {ViewOverview, ManageKeys, ViewAnalytics, ViewBilling, ManageBilling, ManageMembers, ViewMembers, RenameOrg, ViewAuditLog, CloseOrg, ViewRequestLog, ManageWebhooks},
	Admin:     {ViewOverview, ManageKeys, ViewAnalytics, ViewBilling, ManageBilling, ManageMembers, ViewMembers, RenameOrg, ViewAuditLog, ViewRequestLog, ManageWebhooks},
	Developer: {ViewOverview, ManageKeys, ViewAnalytics, ViewBilling, ViewMembers, ViewRequestLog, ManageWebhooks},
	Billing:   {ViewOverview, ViewBilling, ManageBilling, ViewMembers},
}

// Can reports whether r grants p.
func (r Role) Can(p Permission) bool {
	for _, g := range grants[r] {
		if g == p {
			return true
		}
	}
	return false
}

// Member is a user's membership as shown in the members list.
type Member struct {
	UserID   string
	Email    string
	Name     string
	Role     Role
	JoinedAt time.Time
}

// Membership is one organization a user belongs to, with their role.
type Membership struct {
	Org  Organization
	Role Role
}

// Invite is a pending invitation. The token itself is never stored.
type Invite struct {
	ID        string // inv_…
	OrgID     string
	Email     string
	Role      Role
	TokenHash string
	InvitedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// InviteLifetime is how long an invitation link works.
const InviteLifetime = 7 * 24 * time.Hour

// Store persists organizations, memberships and invitations. Methods that
// could leave an organization without an owner refuse with errs.Conflict.
type Store interface {
	CreateOrg(ctx context.Context, o Organization, ownerID string) error
	FindOrg(ctx context.Context, id string) (Organization, error)
	RenameOrg(ctx context.Context, id, name string, now time.Time) error
	ListMemberships(ctx context.Context, userID string) ([]Membership, error)
	FindMembership(ctx context.Context, orgID, userID string) (Membership, error)
	ListMembers(ctx context.Context, orgID string) ([]Member, error)
	AddMember(ctx context.Context, orgID, userID string, role Role, now time.Time) error
	// SetMemberRole changes a role unless it would demote the last owner.
	SetMemberRole(ctx context.Context, orgID, userID string, role Role) error
	// RemoveMember removes a member unless they are the last owner.
	RemoveMember(ctx context.Context, orgID, userID string) error

	CreateInvite(ctx context.Context, inv Invite) error
	ListInvites(ctx context.Context, orgID string, now time.Time) ([]Invite, error)
	FindInviteByToken(ctx context.Context, tokenHash string) (Invite, error)
	DeleteInvite(ctx context.Context, orgID, id string) (Invite, error)
	// AcceptInvite atomically deletes the invite and adds the membership; it
	// fails with NotFound when the invite is gone or expired.
	AcceptInvite(ctx context.Context, tokenHash, userID string, now time.Time) (Invite, error)
}

// CheckName validates an organization name.
func CheckName(name string) (string, error) {
	name = strings.Join(strings.Fields(name), " ")
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return "", errs.FieldError("org_name", "Enter a name for your organization.")
	case n > 80:
		return "", errs.FieldError("org_name", "Use at most 80 characters for the organization name.")
	}
	return name, nil
}
