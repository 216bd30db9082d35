// Package records owns every data operation on FHIR resources, for every
// entry point: the raw FHIR routes (/v1/fhir), the contract's simplified
// routes (/v1/patients, …), bulk import and export, and the deletion of a
// closed organization's data. It decides, in one place, which datastore an
// organization's data of an environment lives in; it validates simplified
// bodies against the contract and converts them to and from FHIR; it keeps
// versions (If-Match) and records one audit event per operation, with the
// action names below. It has no HTTP in it: handlers decode, call it, and
// encode what it returns.
package records

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/disclosure"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/fhir"
	"github.com/clinikapi/clinikapi/internal/plan"
	"github.com/clinikapi/clinikapi/internal/resource"
	"github.com/clinikapi/clinikapi/internal/webhook"
)

// Audit actions of data operations.
const (
	ActionCreate  = "data.create"
	ActionRead    = "data.read"
	ActionUpdate  = "data.update"
	ActionPatch   = "data.patch"
	ActionDelete  = "data.delete"
	ActionSearch  = "data.search"
	ActionHistory = "data.history"
)

// Environments of API keys, and so of datastores.
const (
	Test = "test"
	Live = "live"
)

// Plans tells which plan an organization is on.
type Plans interface {
	PlanOf(ctx context.Context, orgID string) (plan.Plan, error)
}

// Actor is who acts, on which organization's data of which environment.
type Actor struct {
	// OrgID is the organization: its plan routes the datastore.
	OrgID string
	// Tenant is the sub-organization whose tenant the data is under; ""
	// for the organization's own.
	Tenant string
	Env    string // Test or Live
	Type   audit.ActorType
	ID     string // key id, user id
	// BulkJob names the bulk job the operation is part of (audit detail).
	BulkJob string
	// Readable, when set, says which resource types the actor may read
	// (an API key restricted to some types): _revinclude of other types is
	// not run and included resources of other types are left out.
	Readable func(typ string) bool
}

// narrow drops the reverse includes whose source type the actor may not
// read, before the search runs.
func (a Actor) narrow(q *datastore.Query) {
	if a.Readable == nil {
		return
	}
	q.RevInclude = slices.DeleteFunc(q.RevInclude, func(inc datastore.Include) bool { return !a.Readable(inc.Source) })
}

// keep leaves out the included resources of types the actor may not read
// (an _include can point at any type): never leaked, not even counted.
func (a Actor) keep(res *datastore.Result) {
	if a.Readable == nil {
		return
	}
	res.Included = slices.DeleteFunc(res.Included, func(r datastore.Record) bool { return !a.Readable(r.Type) })
}

// Service runs the data operations.
type Service struct {
	Data      *datastore.Router
	Plans     Plans
	Placement Placements // where live data is; from the plan when nil
	Contract  *resource.Contract
	Index     datastore.Indexer
	Normalize func(string) string
	Cursors   datastore.Cursors
	Audit     *audit.Log
	// Disclosures, if not nil, records which patients' resources each
	// operation read or wrote (the accounting of disclosures).
	Disclosures *disclosure.Log
	Now         func() time.Time
	// Names lists the datastores that exist (opened or not).
	Names func(ctx context.Context) ([]string, error)
	// Changed, when set, is called after every committed change (it
	// wakes the webhook relay); it must not block.
	Changed func()
}

// Placements tells which datastore an organization's live data is in:
// "live" (the shared one) or its dedicated one ("org_…"). It follows the
// plan once a move has copied the data (see Mover).
type Placements interface {
	LiveDatastore(ctx context.Context, orgID string) (string, error)
}

// Datastore returns where an organization's data of an environment lives
// and the tenant it is kept under: test data in the shared test
// datastore; live data where Placement says, which is the shared live
// datastore, or the organization's dedicated one on a plan that has it
// (Enterprise) once its data has been moved there (Mover). This is the
// one place that decides it.
func (s *Service) Datastore(ctx context.Context, orgID, env string) (*datastore.Store, datastore.Tenant, error) {
	if orgID == "" {
		return nil, "", errs.E(errs.Internal, "records: no organization")
	}
	name := datastore.Name(Test, orgID, false)
	switch env {
	case Live:
		var err error
		if name, err = s.liveDatastore(ctx, orgID); err != nil {
			return nil, "", err
		}
	case Test:
	default:
		return nil, "", errs.E(errs.Internal, "records: unknown environment %q", env)
	}
	st, err := s.Data.Named(ctx, name)
	return st, datastore.Tenant(orgID), err
}

// DatastoreOf is Datastore for an actor: the organization's datastore of
// the environment, and the actor's tenant in it (its sub-organization's,
// or the organization's).
func (s *Service) DatastoreOf(ctx context.Context, a Actor) (*datastore.Store, datastore.Tenant, error) {
	st, tenant, err := s.Datastore(ctx, a.OrgID, a.Env)
	if a.Tenant != "" {
		tenant = datastore.Tenant(a.Tenant)
	}
	return st, tenant, err
}

// liveDatastore names the datastore of the organization's live data.
func (s *Service) liveDatastore(ctx context.Context, orgID string) (string, error) {
	if s.Placement != nil {
		name, err := s.Placement.LiveDatastore(ctx, orgID)
		if err != nil || name != "" {
			return name, err
		}
	}
	pl, err := s.Plans.PlanOf(ctx, orgID)
	if err != nil {
		return "", err
	}
	return wantLive(orgID, pl), nil
}

// wantLive names the datastore the organization's plan puts its live
// data in; a move takes the data there when it is elsewhere.
func wantLive(orgID string, pl plan.Plan) string { return datastore.Name(Live, orgID, pl.Dedicated) }

// Datastores lists every datastore that may hold an organization's data:
// the shared test and live ones, and its dedicated one if its plan has one
// or it exists (a plan that changed since, as when a closed organization's
// subscription ended before its data is deleted, or data on its way
// between the two).
func (s *Service) Datastores(ctx context.Context, orgID string) ([]*datastore.Store, error) {
	names := []string{datastore.Name(Test, orgID, false), datastore.Name(Live, orgID, false)}
	pl, err := s.Plans.PlanOf(ctx, orgID)
	if err != nil {
		return nil, err
	}
	dedicated := datastore.Name(Live, orgID, true)
	if wantLive(orgID, pl) == dedicated {
		names = append(names, dedicated)
	} else if s.Names != nil {
		existing, err := s.Names(ctx)
		if err != nil {
			return nil, err
		}
		if slices.Contains(existing, dedicated) {
			names = append(names, dedicated)
		}
	}
	out := make([]*datastore.Store, 0, len(names))
	for _, n := range names {
		st, err := s.Data.Named(ctx, n)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// envDetails are the audit details of data operations, one per environment,
// shared (read-only) by every event rather than made for each request.
var envDetails = map[string]map[string]string{Test: {"env": Test}, Live: {"env": Live}}

// event is the audit event of a data operation: actor, operation,
// resource type and id, never content.
func (s *Service) event(a Actor, action, typ, id string) audit.Event {
	detail, ok := envDetails[a.Env]
	if !ok || a.BulkJob != "" || a.Tenant != "" {
		detail = map[string]string{"env": a.Env}
		if a.BulkJob != "" {
			detail["bulkJob"] = a.BulkJob
		}
		if a.Tenant != "" {
			detail["tenant"] = a.Tenant
		}
	}
	return audit.Event{OrgID: a.OrgID, ActorType: a.Type, ActorID: a.ID, Action: action, TargetType: typ, TargetID: id, Detail: detail}
}

// audit records a read: queued, written in the next batch.
func (s *Service) audit(ctx context.Context, a Actor, action, typ, id string) {
	s.Audit.RecordAsync(ctx, s.event(a, action, typ, id))
}

// disclose records what an operation disclosed of recs: for each
// patient whose compartment one is in, the actor, operation and references.
func (s *Service) disclose(ctx context.Context, a Actor, op string, recs []datastore.Record) {
	if s.Disclosures == nil || len(recs) == 0 {
		return
	}
	rs := make([]disclosure.Resource, len(recs))
	for i, r := range recs {
		rs[i] = disclosure.Resource{Type: r.Type, ID: r.ID, Content: r.Content}
	}
	s.Disclosures.Record(ctx, disclosure.Disclosure{OrgID: a.OrgID, Env: a.Env, ActorType: string(a.Type), ActorID: a.ID,
		Operation: op, BulkJob: a.BulkJob}, rs...)
}

// DiscloseExport records resources written to a bulk export by a.
func (s *Service) DiscloseExport(ctx context.Context, a Actor, recs []datastore.Record) {
	s.disclose(ctx, a, disclosure.Export, recs)
}

// outbox makes the events of a change, stored in the change's own
// transaction (datastore.Outbox): its audit event, moved to the audit log
// by RelayAudit, and its webhook event (ids only), moved to deliveries by
// the webhook relay. A change is never without its events, nor an event
// without its change. tenant is the tenant the record is stored under,
// the webhook's data.tenantId.
func (s *Service) outbox(ctx context.Context, a Actor, tenant datastore.Tenant, action string) datastore.Outbox {
	return func(rec datastore.Record) datastore.Events {
		e := s.Audit.Prepare(ctx, s.event(a, action, rec.Type, rec.ID))
		b, err := json.Marshal(e)
		if err != nil {
			panic("records: an audit event does not encode: " + err.Error()) // plain strings and a time
		}
		change := webhook.Updated
		switch {
		case rec.Deleted:
			change = webhook.Deleted
		case rec.Created:
			change = webhook.Created
		}
		return datastore.Events{Audit: b, Webhook: webhook.Change(a.OrgID, string(tenant), a.Env, rec.Type, rec.ID, change, rec.LastUpdated)}
	}
}

// changed reports a committed change (see Changed).
func (s *Service) changed() {
	if s.Changed != nil {
		s.Changed()
	}
}

// RelayAudit moves the audit events of changes from the outboxes of the
// open datastores into the audit log. An event written again after a
// failure between the two steps is written once (events carry their ids).
func (s *Service) RelayAudit(ctx context.Context) error {
	var failed []error
	for _, st := range s.Data.Open() {
		if err := s.relay(ctx, st); err != nil {
			failed = append(failed, err) // the others are relayed all the same
		}
	}
	return errors.Join(failed...)
}

func (s *Service) relay(ctx context.Context, st *datastore.Store) error {
	{
		for {
			evs, err := st.OutboxEvents(ctx, audit.BatchSize)
			if err != nil || len(evs) == 0 {
				if err != nil {
					return err
				}
				break
			}
			batch := make([]audit.Event, 0, len(evs))
			seqs := make([]int64, 0, len(evs))
			for _, ev := range evs {
				var e audit.Event
				if err := json.Unmarshal(ev.Event, &e); err != nil {
					return fmt.Errorf("records: audit outbox event %d: %w", ev.Seq, err)
				}
				batch = append(batch, e)
				seqs = append(seqs, ev.Seq)
			}
			if err := s.Audit.Write(ctx, batch); err != nil {
				return err
			}
			if err := st.DeleteOutbox(ctx, seqs); err != nil {
				return err
			}
		}
	}
	return nil
}

// committed is the context a write runs under once it starts: a client
// that gives up before the write starts gets its cancellation and nothing
// is written; once it has started, the write runs to its end (stored and
// audited, or failed) whatever the client does, so that no change is left
// half-known.
func committed(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if err := ctx.Err(); err != nil {
		return ctx, func() {}, err
	}
	// Not cancelled by the client, but bounded: a write stuck behind a
	// lock or a lost connection gives up after WriteBudget.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), WriteBudget)
	return wctx, cancel, nil
}

// WriteBudget bounds how long one write may take once started.
const WriteBudget = 30 * time.Second

// Read returns the current version of a resource. A deleted one is
// NotFound with reason GONE.
func (s *Service) Read(ctx context.Context, a Actor, typ, id string) (datastore.Record, error) {
	st, tenant, err := s.DatastoreOf(ctx, a)
	if err != nil {
		return datastore.Record{}, err
	}
	rec, err := st.Read(ctx, tenant, typ, id)
	if err != nil {
		if errs.ReasonOf(err) == errs.ReasonGone {
			return rec, &errs.Error{Code: errs.NotFound, Reason: errs.ReasonGone, Message: typ + "/" + id + " was deleted."}
		}
		return rec, err
	}
	s.audit(ctx, a, ActionRead, typ, id)
	s.disclose(ctx, a, disclosure.Read, []datastore.Record{rec})
	return rec, nil
}

// Create stores a new FHIR resource with a server-assigned id.
func (s *Service) Create(ctx context.Context, a Actor, res fhir.Resource) (datastore.Record, error) {
	return s.create(ctx, a, res, invalidFHIR)
}

// create stores res with its audit event; invalid words a validation
// failure for the route it came through.
func (s *Service) create(ctx context.Context, a Actor, res fhir.Resource, invalid func(error) error) (datastore.Record, error) {
	ctx, done, err := committed(ctx)
	if err != nil {
		return datastore.Record{}, err
	}
	defer done()
	st, tenant, err := s.DatastoreOf(ctx, a)
	if err != nil {
		return datastore.Record{}, err
	}
	rec, err := st.Create(ctx, tenant, res, s.outbox(ctx, a, tenant, ActionCreate))
	if err != nil {
		return rec, invalid(err)
	}
	s.disclose(ctx, a, disclosure.Create, []datastore.Record{rec})
	s.changed()
	return rec, nil
}

// Update replaces a resource (creating it with that id when it does not
// exist: created reports so). match > 0 requires that version.
func (s *Service) Update(ctx context.Context, a Actor, typ, id string, res fhir.Resource, match int) (rec datastore.Record, created bool, err error) {
	ctx, done, err := committed(ctx)
	if err != nil {
		return rec, false, err
	}
	defer done()
	st, tenant, err := s.DatastoreOf(ctx, a)
	if err != nil {
		return rec, false, err
	}
	rec, created, err = st.Update(ctx, tenant, typ, id, res, match, s.outbox(ctx, a, tenant, ActionUpdate))
	if err != nil {
		return rec, false, invalidFHIR(err)
	}
	s.disclose(ctx, a, disclosure.Update, []datastore.Record{rec})
	s.changed()
	return rec, created, nil
}

// Patch applies a JSON Patch (RFC 6902) to a resource. The tenant tag and
// meta are restored by the datastore afterwards, whatever the patch did.
func (s *Service) Patch(ctx context.Context, a Actor, typ, id string, patch []byte, match int) (datastore.Record, error) {
	ctx, done, err := committed(ctx)
	if err != nil {
		return datastore.Record{}, err
	}
	defer done()
	st, tenant, err := s.DatastoreOf(ctx, a)
	if err != nil {
		return datastore.Record{}, err
	}
	cur, err := st.Read(ctx, tenant, typ, id)
	if err != nil {
		return cur, err
	}
	patched, err := ApplyPatch(cur.Content, patch)
	if err != nil {
		return cur, err
	}
	if match > 0 && match != cur.Version {
		return cur, errs.E(errs.Conflict, "Version conflict: the resource is at version %d, not %d.", cur.Version, match)
	}
	if before, err := datastore.Decode(cur); err == nil && reflect.DeepEqual(before, patched) {
		return cur, nil // nothing changes: no new version
	}
	if match == 0 {
		match = cur.Version // the patch was computed against this version
	}
	rec, _, err := st.Update(ctx, tenant, typ, id, patched, match, s.outbox(ctx, a, tenant, ActionPatch))
	if err != nil {
		return rec, invalidFHIR(err)
	}
	s.disclose(ctx, a, disclosure.Patch, []datastore.Record{rec})
	s.changed()
	return rec, nil
}

// Delete marks a resource deleted; deleting a deleted one is NotFound with
// reason GONE.
func (s *Service) Delete(ctx context.Context, a Actor, typ, id string, match int) error {
	ctx, done, err := committed(ctx)
	if err != nil {
		return err
	}
	defer done()
	st, tenant, err := s.DatastoreOf(ctx, a)
	if err != nil {
		return err
	}
	// The deleted resource's patients, read before it goes.
	cur, _ := st.Read(ctx, tenant, typ, id)
	if err := st.Delete(ctx, tenant, typ, id, match, s.outbox(ctx, a, tenant, ActionDelete)); err != nil {
		if errs.ReasonOf(err) == errs.ReasonGone {
			return &errs.Error{Code: errs.NotFound, Reason: errs.ReasonGone, Message: typ + "/" + id + " was already deleted."}
		}
		return err
	}
	if cur.ID != "" {
		s.disclose(ctx, a, disclosure.Delete, []datastore.Record{cur})
	}
	s.changed()
	return nil
}

// History returns every version of a resource, newest first.
func (s *Service) History(ctx context.Context, a Actor, typ, id string) ([]datastore.Record, error) {
	st, tenant, err := s.DatastoreOf(ctx, a)
	if err != nil {
		return nil, err
	}
	recs, err := st.History(ctx, tenant, typ, id)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, a, ActionHistory, typ, id)
	s.disclose(ctx, a, disclosure.Read, recs)
	return recs, nil
}

// ReadVersion returns one version of a resource (FHIR vread); a version
// that records the deletion is NotFound with reason GONE.
func (s *Service) ReadVersion(ctx context.Context, a Actor, typ, id string, version int) (datastore.Record, error) {
	st, tenant, err := s.DatastoreOf(ctx, a)
	if err != nil {
		return datastore.Record{}, err
	}
	recs, err := st.History(ctx, tenant, typ, id)
	if err != nil {
		return datastore.Record{}, err
	}
	for _, r := range recs {
		if r.Version != version {
			continue
		}
		if r.Deleted {
			return datastore.Record{}, &errs.Error{Code: errs.NotFound, Reason: errs.ReasonGone, Message: typ + "/" + id + " version " + strconv.Itoa(version) + " records its deletion."}
		}
		s.audit(ctx, a, ActionRead, typ, id)
		s.disclose(ctx, a, disclosure.Read, []datastore.Record{r})
		return r, nil
	}
	return datastore.Record{}, errs.E(errs.NotFound, "%s/%s has no version %d.", typ, id, version)
}

// Search is a search of one resource type.
type Search struct {
	Type   string
	Params url.Values // FHIR search parameters (_cursor is read from Cursor)
	// Key identifies the query as the client sent it, for binding paging
	// cursors (with the tenant and the environment); "" is Type?Params.
	Key string
	// Cursor continues an earlier page. A cursor that was not made for
	// this tenant, environment and Key is INVALID_CURSOR, or with Lenient
	// the first page.
	Cursor  string
	Lenient bool
}

// Page is a page of search results, and the cursor of the next one.
type Page struct {
	datastore.Result
	Query datastore.Query
	Next  string // "" when there is no next page
}

// QueryKey identifies a search for cursor binding: the type and the
// parameters other than the cursor, in order.
func QueryKey(typ string, params url.Values) string {
	p := url.Values{}
	for k, v := range params {
		if k != "_cursor" {
			p[k] = v
		}
	}
	return typ + "?" + p.Encode()
}

// Search runs a search inside the actor's tenant.
func (s *Service) Search(ctx context.Context, a Actor, q Search) (Page, error) {
	st, tenant, err := s.DatastoreOf(ctx, a)
	if err != nil {
		return Page{}, err
	}
	query, err := datastore.ParseQuery(s.Index, s.Normalize, q.Type, q.Params)
	if err != nil {
		return Page{}, err
	}
	key := q.Key
	if key == "" {
		key = QueryKey(q.Type, q.Params)
	}
	bind := a.Env + "|" + key
	if q.Cursor != "" {
		off, ok := s.Cursors.Decode(tenant, bind, q.Cursor)
		switch {
		case ok:
			query.Offset = off
		case !q.Lenient:
			return Page{}, &errs.Error{Code: errs.Invalid, Reason: errs.ReasonInvalidCursor,
				Message: "The paging cursor is not valid for this search. Start again without _cursor."}
		}
	}
	a.narrow(&query)
	res, err := st.Search(ctx, tenant, query)
	if err != nil {
		return Page{}, err
	}
	a.keep(&res)
	s.audit(ctx, a, ActionSearch, q.Type, "")
	s.disclose(ctx, a, disclosure.Search, res.Records)
	s.disclose(ctx, a, disclosure.Include, res.Included)
	p := Page{Result: res, Query: query}
	if res.HasMore {
		p.Next = s.Cursors.Encode(tenant, bind, query.Offset+query.Limit)
	}
	return p, nil
}

// invalidFHIR turns a datastore validation failure (the resource is not
// valid R4) into VALIDATION_ERROR listing the FHIR paths.
func invalidFHIR(err error) error {
	var inv *datastore.InvalidError
	if !errors.As(err, &inv) {
		return err
	}
	e := &errs.Error{Code: errs.Invalid, Reason: errs.ReasonValidation, Message: "The resource is not valid FHIR R4."}
	for _, is := range inv.Issues {
		e.Issues = append(e.Issues, errs.Issue{Type: "invalid", Diagnostics: is.Path + ": " + is.Constraint, Expression: is.Path})
	}
	return e
}

// Includes keeps the _revinclude (rev) or _include values that name a
// reference search parameter of a known type that can point at (or, for
// _include, start from) typ; the others are dropped, since the official
// SDK asks for Type:subject and Type:patient of every type.
func (s *Service) Includes(typ string, vals []string, rev bool) []string {
	var out []string
	known := s.Index.Types()
	isKnown := func(t string) bool { _, ok := slices.BinarySearch(known, t); return ok }
	for _, v := range vals {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || len(parts) > 3 || !isKnown(parts[0]) || !rev && parts[0] != typ {
			continue
		}
		if len(parts) == 3 && (!isKnown(parts[2]) || rev && parts[2] != typ) {
			continue
		}
		sp, ok := s.Index.Lookup(parts[0], parts[1])
		if !ok || sp.Type != fhir.Reference || slices.Contains(out, v) {
			continue
		}
		if rev && len(sp.Targets) > 0 && !slices.Contains(sp.Targets, typ) && !slices.Contains(sp.Targets, "Resource") {
			continue // e.g. Encounter:patient when reading a Practitioner
		}
		out = append(out, v)
	}
	return out
}
