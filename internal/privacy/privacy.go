// Package privacy holds the data-rights rules outside the bulk API:
// closing an organization (keys revoked at once, subscription cancelled,
// PHI deleted on schedule unless an owner cancels), executing scheduled
// deletions, and deleting a person's account.
package privacy

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/clinikapi/clinikapi/internal/account"
	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/records"
	"github.com/clinikapi/clinikapi/internal/suborg"
)

// DeletionDelay is how long after closure an organization's data is
// deleted. The deletion job runs hourly, so with 29 days the deletion is
// done within the 30 days the privacy policy promises.
const DeletionDelay = 29 * 24 * time.Hour

// Audit actions of this capability.
const (
	ActionOrgClosed        = "organization.closed"
	ActionClosureCancelled = "organization.closure_cancelled"
	ActionOrgDataDeleted   = "organization.data_deleted"
	ActionAccountDeleted   = "user.account_deleted"
	ActionDeletionsRun     = "retention.scheduled_deletions"
)

// SubscriptionCanceller cancels an organization's paid subscription at
// the end of the period already paid for.
type SubscriptionCanceller interface {
	CancelAtPeriodEnd(ctx context.Context, orgID string) error
}

// NoSubscriptions is the canceller while billing is not configured: there
// is no subscription to cancel.
type NoSubscriptions struct{}

// CancelAtPeriodEnd implements SubscriptionCanceller.
func (NoSubscriptions) CancelAtPeriodEnd(context.Context, string) error { return nil }

// Closure is a closed organization awaiting (or past) deletion.
type Closure struct {
	OrgID       string
	ClosedBy    string
	ClosedAt    time.Time
	DeleteAfter time.Time
	DeletedAt   time.Time // zero until the deletion ran
}

// Store persists closures and deletes account data.
type Store interface {
	// CreateClosure records a closure; Conflict when the organization is
	// already closed.
	CreateClosure(ctx context.Context, c Closure) error
	// FindClosure returns the organization's closure; NotFound when open.
	FindClosure(ctx context.Context, orgID string) (Closure, error)
	// CancelClosure removes a closure whose deletion has not run.
	CancelClosure(ctx context.Context, orgID string) error
	// DueClosures lists closures due at now whose deletion has not run.
	DueClosures(ctx context.Context, now time.Time) ([]Closure, error)
	// DeleteOrgAccountData deletes the organization's members, invites and
	// API keys, keeps a minimal organization row (id, plan, dates) for the
	// billing records, and marks the closure deleted.
	DeleteOrgAccountData(ctx context.Context, orgID string, now time.Time) error
	// LastOwnerOf lists the organizations userID is the only owner of.
	LastOwnerOf(ctx context.Context, userID string) ([]org.Organization, error)
	// DeleteUser deletes the user, their memberships and sessions.
	DeleteUser(ctx context.Context, userID string) error
	// ListMemberships lists the organizations userID belongs to.
	ListMemberships(ctx context.Context, userID string) ([]org.Membership, error)
}

// Bulk removes an organization's (or a sub-organization's) export files
// and jobs.
type Bulk interface {
	ForgetOrg(ctx context.Context, orgID string) (int, error)
	ForgetTenant(ctx context.Context, orgID, tenant string) (int, error)
}

// Service runs the capability.
type Service struct {
	Store         Store
	Accounts      *account.Service
	Keys          *apikey.Service
	Records       *records.Service // the datastores an organization's data is in
	Bulk          Bulk
	SubOrgs       *suborg.Service // closed with the organization, or one by one
	Subscriptions SubscriptionCanceller
	Audit         *audit.Log
	Log           *slog.Logger
	Now           func() time.Time
}

// Closure returns the organization's closure, ok false when it is open.
func (s *Service) Closure(ctx context.Context, orgID string) (Closure, bool, error) {
	c, err := s.Store.FindClosure(ctx, orgID)
	if errs.Is(err, errs.NotFound) {
		return Closure{}, false, nil
	}
	return c, err == nil, err
}

// CloseOrg closes the actor's organization: the owner confirms with their
// password and the organization's name. Every key is revoked at once, the
// subscription is cancelled at period end, and all PHI is scheduled for
// deletion.
func (s *Service) CloseOrg(ctx context.Context, a org.Actor, password, confirmName string) (Closure, error) {
	if err := a.Require(org.CloseOrg); err != nil {
		return Closure{}, err
	}
	if _, closed, err := s.Closure(ctx, a.Org.ID); err != nil || closed {
		if err == nil {
			err = errs.E(errs.Conflict, "This organization is already closed.")
		}
		return Closure{}, err
	}
	var nameErr error
	if strings.TrimSpace(confirmName) != a.Org.Name {
		nameErr = errs.FieldError("confirm_name", "Type the organization's name exactly as shown to confirm.")
	}
	// The password is checked either way, so that both mistakes show at once.
	if err := errs.Fields(nameErr, s.Accounts.Reauthenticate(ctx, a.User, password)); err != nil {
		return Closure{}, err
	}
	now := s.Now().UTC()
	c := Closure{OrgID: a.Org.ID, ClosedBy: a.User.ID, ClosedAt: now, DeleteAfter: now.Add(DeletionDelay)}
	if err := s.Store.CreateClosure(ctx, c); err != nil {
		return Closure{}, err
	}
	revoked, err := s.revokeKeys(ctx, apikey.Actor{OrgID: a.Org.ID, UserID: a.User.ID}, nil)
	if err != nil {
		return Closure{}, err
	}
	subOrgs, err := s.closeSubOrgs(ctx, a, c)
	if err != nil {
		return Closure{}, err
	}
	sub := "cancelled"
	if err := s.Subscriptions.CancelAtPeriodEnd(ctx, a.Org.ID); err != nil {
		sub = "cancel_failed"
		s.Log.ErrorContext(ctx, "closing organization: cancelling the subscription failed; cancel it in Stripe", "org", a.Org.ID, "err", err)
	}
	s.Audit.Record(ctx, audit.Event{OrgID: a.Org.ID, ActorType: audit.ActorUser, ActorID: a.User.ID, Action: ActionOrgClosed,
		TargetType: "organization", TargetID: a.Org.ID, Detail: map[string]string{
			"keysRevoked": strconv.Itoa(revoked), "subscription": sub, "deleteAfter": c.DeleteAfter.Format(time.RFC3339),
			"subOrgsClosed": strconv.Itoa(subOrgs),
		}})
	return c, nil
}

// closeSubOrgs closes the organization's open sub-organizations with it
// (their keys were revoked with the organization's).
func (s *Service) closeSubOrgs(ctx context.Context, a org.Actor, c Closure) (int, error) {
	if s.SubOrgs == nil {
		return 0, nil
	}
	all, err := s.SubOrgs.List(ctx, a.Org.ID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, so := range all {
		if !so.Open() {
			continue
		}
		if err := s.SubOrgs.Store.CloseSubOrg(ctx, a.Org.ID, so.ID, a.User.ID, true, c.ClosedAt, c.DeleteAfter); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// revokeKeys revokes the organization's active keys, or only those of
// the sub-organization tenant when it is not nil.
func (s *Service) revokeKeys(ctx context.Context, a apikey.Actor, tenant *string) (int, error) {
	keys, err := s.Keys.List(ctx, a.OrgID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range keys {
		if !k.RevokedAt.IsZero() || tenant != nil && k.TenantID != *tenant {
			continue
		}
		if _, err := s.Keys.Revoke(ctx, a, k.ID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// CancelClosure reopens a closed organization before its data is deleted.
// Revoked keys stay revoked; the owner creates new ones.
func (s *Service) CancelClosure(ctx context.Context, a org.Actor) error {
	if err := a.Require(org.CloseOrg); err != nil {
		return err
	}
	c, closed, err := s.Closure(ctx, a.Org.ID)
	switch {
	case err != nil:
		return err
	case !closed:
		return errs.E(errs.Conflict, "This organization is not closed.")
	case !c.DeletedAt.IsZero():
		return errs.E(errs.Conflict, "This organization's data was already deleted.")
	}
	if err := s.Store.CancelClosure(ctx, a.Org.ID); err != nil {
		return err
	}
	if s.SubOrgs != nil {
		// The sub-organizations closed with it reopen with it; those
		// archived before stay archived.
		all, err := s.SubOrgs.List(ctx, a.Org.ID)
		if err != nil {
			return err
		}
		for _, so := range all {
			if so.WithOrg && so.DeletedAt.IsZero() {
				if err := s.SubOrgs.Store.ReopenSubOrg(ctx, a.Org.ID, so.ID, s.Now().UTC()); err != nil {
					return err
				}
			}
		}
	}
	s.Audit.Record(ctx, audit.Event{OrgID: a.Org.ID, ActorType: audit.ActorUser, ActorID: a.User.ID, Action: ActionClosureCancelled, TargetType: "organization", TargetID: a.Org.ID})
	return nil
}

// RunDeletions executes the closures that are due: every resource, version
// and index row of the organization in every datastore, its export files
// and jobs, its members, invites and keys. It returns counts for the job
// runner; each organization's deletion is audited.
func (s *Service) RunDeletions(ctx context.Context) (orgs int, resources int64, err error) {
	now := s.Now().UTC()
	due, err := s.Store.DueClosures(ctx, now)
	if err != nil {
		return 0, 0, err
	}
	for _, c := range due {
		n, err := s.deleteOrg(ctx, c.OrgID, now)
		if err != nil {
			return orgs, resources, err
		}
		orgs++
		resources += n
	}
	if s.SubOrgs == nil {
		return orgs, resources, nil
	}
	dueSubs, err := s.SubOrgs.Store.DueSubOrgs(ctx, now)
	if err != nil {
		return orgs, resources, err
	}
	for _, so := range dueSubs {
		n, err := s.deleteSubOrg(ctx, so, now)
		if err != nil {
			return orgs, resources, err
		}
		orgs++
		resources += n
	}
	return orgs, resources, nil
}

// purge deletes every resource, version and index row of the tenants in
// every datastore that may hold the organization's data.
func (s *Service) purge(ctx context.Context, orgID string, tenants []string) (int64, int, error) {
	stores, err := s.Records.Datastores(ctx, orgID)
	if err != nil {
		return 0, 0, err
	}
	var total int64
	for _, ds := range stores {
		for _, t := range tenants {
			n, err := ds.Purge(ctx, datastore.Tenant(t))
			if err != nil {
				return total, len(stores), err
			}
			total += n
		}
	}
	return total, len(stores), nil
}

// deleteSubOrg deletes a closed sub-organization's data: its tenant in
// the parent's datastores, its export files and jobs, its keys.
func (s *Service) deleteSubOrg(ctx context.Context, so suborg.SubOrg, now time.Time) (int64, error) {
	total, stores, err := s.purge(ctx, so.OrgID, []string{so.ID})
	if err != nil {
		return total, err
	}
	jobs, err := s.Bulk.ForgetTenant(ctx, so.OrgID, so.ID)
	if err != nil {
		return total, err
	}
	if err := s.SubOrgs.Store.DeleteSubOrgAccountData(ctx, so.OrgID, so.ID, now); err != nil {
		return total, err
	}
	s.Audit.Record(ctx, audit.Event{OrgID: so.OrgID, ActorType: audit.ActorSystem, ActorID: "orgs.delete_scheduled", Action: suborg.ActionDataDeleted,
		TargetType: "sub_org", TargetID: so.ID, Detail: map[string]string{
			"resources": strconv.FormatInt(total, 10), "bulkJobs": strconv.Itoa(jobs), "datastores": strconv.Itoa(stores),
		}})
	return total, nil
}

// CloseSubOrg archives one of the actor's sub-organizations: its keys are
// revoked at once, it takes no new ones, and its data is deleted after
// DeletionDelay unless it is restored before.
func (s *Service) CloseSubOrg(ctx context.Context, a suborg.Actor, id string) (suborg.SubOrg, error) {
	so, err := s.SubOrgs.Find(ctx, a.OrgID, id)
	if err != nil {
		return suborg.SubOrg{}, err
	}
	now := s.Now().UTC()
	by := a.UserID
	if by == "" {
		by = "system"
	}
	so.ClosedAt, so.ClosedBy, so.DeleteAfter = now, by, now.Add(DeletionDelay)
	if err := s.SubOrgs.Store.CloseSubOrg(ctx, a.OrgID, id, by, false, now, so.DeleteAfter); err != nil {
		return suborg.SubOrg{}, err
	}
	revoked, err := s.revokeKeys(ctx, apikey.Actor{OrgID: a.OrgID, UserID: a.UserID}, &so.ID)
	if err != nil {
		return suborg.SubOrg{}, err
	}
	s.Audit.Record(ctx, a.Event(suborg.ActionClosed, id, map[string]string{
		"keysRevoked": strconv.Itoa(revoked), "deleteAfter": so.DeleteAfter.Format(time.RFC3339)}))
	return so, nil
}

// ReopenSubOrg restores an archived sub-organization before its data is
// deleted. Its revoked keys stay revoked; new ones are made.
func (s *Service) ReopenSubOrg(ctx context.Context, a suborg.Actor, id string) (suborg.SubOrg, error) {
	so, err := s.SubOrgs.Find(ctx, a.OrgID, id)
	if err != nil {
		return suborg.SubOrg{}, err
	}
	if _, closed, err := s.Closure(ctx, a.OrgID); err != nil || closed {
		if err == nil {
			err = errs.E(errs.Conflict, "The organization is closed: reopen it first.")
		}
		return suborg.SubOrg{}, err
	}
	if err := s.SubOrgs.Store.ReopenSubOrg(ctx, a.OrgID, id, s.Now().UTC()); err != nil {
		return suborg.SubOrg{}, err
	}
	s.Audit.Record(ctx, a.Event(suborg.ActionReopened, id, nil))
	so.ClosedAt, so.DeleteAfter, so.ClosedBy, so.WithOrg = time.Time{}, time.Time{}, "", false
	return so, nil
}

func (s *Service) deleteOrg(ctx context.Context, orgID string, now time.Time) (int64, error) {
	tenants := []string{orgID}
	if s.SubOrgs != nil {
		all, err := s.SubOrgs.List(ctx, orgID)
		if err != nil {
			return 0, err
		}
		for _, so := range all {
			tenants = append(tenants, so.ID)
		}
	}
	total, stores, err := s.purge(ctx, orgID, tenants)
	if err != nil {
		return total, err
	}
	jobs, err := s.Bulk.ForgetOrg(ctx, orgID)
	if err != nil {
		return total, err
	}
	if err := s.Store.DeleteOrgAccountData(ctx, orgID, now); err != nil {
		return total, err
	}
	s.Audit.Record(ctx, audit.Event{OrgID: orgID, ActorType: audit.ActorSystem, ActorID: "orgs.delete_scheduled", Action: ActionOrgDataDeleted,
		TargetType: "organization", TargetID: orgID, Detail: map[string]string{
			"resources": strconv.FormatInt(total, 10), "bulkJobs": strconv.Itoa(jobs), "datastores": strconv.Itoa(stores),
			"subOrgs": strconv.Itoa(len(tenants) - 1),
		}})
	return total, nil
}

// DeleteAccount deletes the signed-in person's account: they leave every
// organization (refused while they are the last owner of one), their
// built-in account is deleted or their Supabase sessions ended, and the
// audit trail keeps their user id only.
func (s *Service) DeleteAccount(ctx context.Context, u account.User, t account.Tokens, password string) error {
	owned, err := s.Store.LastOwnerOf(ctx, u.ID)
	if err != nil {
		return err
	}
	if len(owned) > 0 {
		names := make([]string, len(owned))
		for i, o := range owned {
			names[i] = o.Name
		}
		return errs.E(errs.Conflict, "You are the last owner of %s. Make another member an owner, or close the organization and wait for its deletion, before deleting your account.", strings.Join(names, ", "))
	}
	if err := s.Accounts.Reauthenticate(ctx, u, password); err != nil {
		return err
	}
	if s.Accounts.ProviderName() != "builtin" {
		if err := s.Accounts.SignOutEverywhere(ctx, t); err != nil {
			s.Log.WarnContext(ctx, "deleting account: signing out of the identity provider failed", "err", err)
		}
	}
	// Each organization's log keeps the departure (the memberships go
	// with the user).
	ms, err := s.Store.ListMemberships(ctx, u.ID)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteUser(ctx, u.ID); err != nil {
		return err
	}
	s.Audit.Record(ctx, audit.Event{ActorType: audit.ActorUser, ActorID: u.ID, Action: ActionAccountDeleted, TargetType: "user", TargetID: u.ID})
	for _, m := range ms {
		s.Audit.Record(ctx, audit.Event{OrgID: m.Org.ID, ActorType: audit.ActorUser, ActorID: u.ID, Action: ActionAccountDeleted, TargetType: "user", TargetID: u.ID,
			Detail: map[string]string{"role": string(m.Role)}})
	}
	return nil
}
