// Package suborg is the sub-organizations capability: an organization (a
// platform that serves many clinics) gives each clinic its own tenant under
// its one account. A sub-organization has its own id (sub_…), name and API
// keys; data written with its keys lives under its own tenant, which the
// datastore keeps apart from the parent's and every sibling's. Plan, rate
// limit, monthly pool, billing and datastore routing stay the parent's.
// Closing one (package privacy) schedules the deletion of its data.
package suborg

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/random"
)

// Audit actions of this capability (and of closing one, in privacy).
const (
	ActionCreated     = "organization.suborg_created"
	ActionRenamed     = "organization.suborg_renamed"
	ActionClosed      = "organization.suborg_closed"
	ActionReopened    = "organization.suborg_reopened"
	ActionDataDeleted = "organization.suborg_data_deleted"
)

// MaxPerOrg bounds how many sub-organizations an organization has.
const MaxPerOrg = 1000

// SubOrg is a sub-organization.
type SubOrg struct {
	ID        string // sub_…
	OrgID     string // the parent organization
	Name      string
	CreatedBy string // user id, or "system"
	CreatedAt time.Time
	UpdatedAt time.Time
	// ClosedAt is when it was closed (archived); zero while open. Its keys
	// were revoked then and its data is deleted at DeleteAfter.
	ClosedAt    time.Time
	ClosedBy    string
	WithOrg     bool // closed because the parent organization was
	DeleteAfter time.Time
	DeletedAt   time.Time // zero until its data was deleted
}

// Open reports whether it takes new keys and requests.
func (s SubOrg) Open() bool { return s.ClosedAt.IsZero() }

// Status is what the dashboard shows.
func (s SubOrg) Status() string {
	switch {
	case !s.DeletedAt.IsZero():
		return "deleted"
	case !s.ClosedAt.IsZero():
		return "archived"
	}
	return "active"
}

// Store persists sub-organizations.
type Store interface {
	CreateSubOrg(ctx context.Context, s SubOrg) error
	// FindSubOrg returns orgID's sub-organization id; NotFound when it is
	// not one of orgID's.
	FindSubOrg(ctx context.Context, orgID, id string) (SubOrg, error)
	// ListSubOrgs lists orgID's sub-organizations, oldest first.
	ListSubOrgs(ctx context.Context, orgID string) ([]SubOrg, error)
	RenameSubOrg(ctx context.Context, orgID, id, name string, now time.Time) error
	// CloseSubOrg marks it closed (Conflict when it already is).
	CloseSubOrg(ctx context.Context, orgID, id, by string, withOrg bool, now, deleteAfter time.Time) error
	// ReopenSubOrg undoes a closure whose deletion has not run (Conflict
	// otherwise).
	ReopenSubOrg(ctx context.Context, orgID, id string, now time.Time) error
	// DueSubOrgs lists the closed sub-organizations whose deletion is due
	// and has not run.
	DueSubOrgs(ctx context.Context, now time.Time) ([]SubOrg, error)
	// DeleteSubOrgAccountData deletes its API keys and kept idempotent
	// answers, keeps the row (id and dates; the name becomes "Deleted
	// sub-organization") for the audit trail, and marks it deleted.
	DeleteSubOrgAccountData(ctx context.Context, orgID, id string, now time.Time) error
}

// Actor is who manages sub-organizations: a member (the route checked the
// permission), or the system for operator commands.
type Actor struct {
	OrgID  string
	UserID string // "" for operator commands
}

// Event is the audit event of an action on sub-organization id.
func (a Actor) Event(action, id string, detail map[string]string) audit.Event {
	e := audit.Event{OrgID: a.OrgID, ActorType: audit.ActorUser, ActorID: a.UserID, Action: action, TargetType: "sub_org", TargetID: id, Detail: detail}
	if a.UserID == "" {
		e.ActorType, e.ActorID = audit.ActorSystem, "cli"
	}
	return e
}

// Service runs the capability.
type Service struct {
	Store Store
	Audit *audit.Log
	Now   func() time.Time
}

// CheckName validates a sub-organization's name.
func CheckName(name string) (string, error) {
	name = strings.Join(strings.Fields(name), " ")
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return "", errs.FieldError("name", "Enter a name for the sub-organization, such as the clinic it serves.")
	case n > 80:
		return "", errs.FieldError("name", "Use at most 80 characters for the name.")
	}
	return name, nil
}

// Create makes a sub-organization of the actor's organization.
func (s *Service) Create(ctx context.Context, a Actor, name string) (SubOrg, error) {
	name, err := CheckName(name)
	if err != nil {
		return SubOrg{}, err
	}
	all, err := s.Store.ListSubOrgs(ctx, a.OrgID)
	if err != nil {
		return SubOrg{}, err
	}
	if len(all) >= MaxPerOrg {
		return SubOrg{}, errs.E(errs.Conflict, "An organization has at most %d sub-organizations.", MaxPerOrg)
	}
	now := s.Now().UTC()
	by := a.UserID
	if by == "" {
		by = "system"
	}
	so := SubOrg{ID: random.ID("sub"), OrgID: a.OrgID, Name: name, CreatedBy: by, CreatedAt: now, UpdatedAt: now}
	if err := s.Store.CreateSubOrg(ctx, so); err != nil {
		return SubOrg{}, err
	}
	s.Audit.Record(ctx, a.Event(ActionCreated, so.ID, nil))
	return so, nil
}

// Rename renames an open sub-organization.
func (s *Service) Rename(ctx context.Context, a Actor, id, name string) (SubOrg, error) {
	name, err := CheckName(name)
	if err != nil {
		return SubOrg{}, err
	}
	so, err := s.Store.FindSubOrg(ctx, a.OrgID, id)
	if err != nil {
		return SubOrg{}, err
	}
	if !so.Open() {
		return SubOrg{}, errs.E(errs.Conflict, "This sub-organization is archived; restore it before renaming it.")
	}
	now := s.Now().UTC()
	if err := s.Store.RenameSubOrg(ctx, a.OrgID, id, name, now); err != nil {
		return SubOrg{}, err
	}
	s.Audit.Record(ctx, a.Event(ActionRenamed, id, nil))
	so.Name, so.UpdatedAt = name, now
	return so, nil
}

// List returns the organization's sub-organizations, oldest first.
func (s *Service) List(ctx context.Context, orgID string) ([]SubOrg, error) {
	return s.Store.ListSubOrgs(ctx, orgID)
}

// Find returns one of the organization's sub-organizations.
func (s *Service) Find(ctx context.Context, orgID, id string) (SubOrg, error) {
	if !strings.HasPrefix(id, "sub_") {
		return SubOrg{}, errs.E(errs.NotFound, "Sub-organization not found.")
	}
	return s.Store.FindSubOrg(ctx, orgID, id)
}

// CheckTenant implements apikey.TenantChecker: keys are made only for the
// organization's own, open sub-organizations.
func (s *Service) CheckTenant(ctx context.Context, orgID, tenantID string) error {
	so, err := s.Find(ctx, orgID, tenantID)
	if errs.Is(err, errs.NotFound) {
		return errs.FieldError("tenant", "Choose one of this organization's sub-organizations.")
	}
	if err != nil {
		return err
	}
	if !so.Open() {
		return errs.E(errs.Conflict, "The sub-organization %s is archived: it takes no new keys.", so.Name)
	}
	return nil
}
