// Package datastore is the tenant-isolated FHIR R4 resource store. Every
// method takes the tenant (organization id) as a required argument; the
// backend filters every statement on it, so no caller can forget it. The
// tenant tag in meta.tag is injected on every write and cannot be changed.
package datastore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/fair"
	"github.com/clinikapi/clinikapi/internal/fhir"
	"github.com/clinikapi/clinikapi/internal/random"
)

// TenantSystem is the meta.tag system that marks a resource's organization.
const TenantSystem = "https://clinikapi.com/tenant"

// Tenant is an organization id. It is a distinct type so that it cannot be
// passed by accident where a resource id is meant.
type Tenant string

// Record is one stored version of a resource.
type Record struct {
	Type        string
	ID          string
	Version     int
	LastUpdated time.Time
	Deleted     bool
	Content     []byte // the resource JSON, with meta and the tenant tag
	// Outbox, on a write, is an event to store in the same transaction
	// (the audit event of the change; see Outbox).
	Outbox []byte
	// Webhook, on a write, is the webhook event of the change, stored in
	// the same transaction in its own outbox (WebhookBackend).
	Webhook []byte
	// Created, on a write, says it brought the resource into existence:
	// a create, an update-as-create, or an update of a deleted resource.
	Created bool
}

// Events are the events of one write.
type Events struct {
	Audit   []byte // the audit event of the change
	Webhook []byte // the webhook event of the change (internal/webhook); nil for none
}

// Outbox makes the events of a write once its record is known (its id and
// version): the audit event of the change and its webhook event, stored
// in the same transaction as the change and moved on afterwards
// (OutboxBackend, WebhookBackend). Nil writes none.
type Outbox func(rec Record) Events

// OutboxEvent is one stored event of the outbox.
type OutboxEvent struct {
	Seq   int64
	Event []byte
}

// OutboxBackend keeps the events written with changes until they are
// moved on.
type OutboxBackend interface {
	// OutboxEvents returns up to limit events, oldest first.
	OutboxEvents(ctx context.Context, limit int) ([]OutboxEvent, error)
	// DeleteOutbox deletes the events numbered seqs.
	DeleteOutbox(ctx context.Context, seqs []int64) error
}

// WebhookBackend keeps the webhook events written with changes until the
// webhook relay has turned them into deliveries.
type WebhookBackend interface {
	// WebhookEvents returns up to limit events, oldest first.
	WebhookEvents(ctx context.Context, limit int) ([]OutboxEvent, error)
	// DeleteWebhookEvents deletes the events numbered seqs.
	DeleteWebhookEvents(ctx context.Context, seqs []int64) error
}

// Backend is the SQL side of one datastore. Every method is scoped to tenant.
type Backend interface {
	// Insert stores a new resource (version 1) with its index values;
	// Conflict if the id exists.
	Insert(ctx context.Context, tenant Tenant, rec Record, idx []fhir.Value) error
	// Get returns the current version, deleted or not; NotFound if none.
	Get(ctx context.Context, tenant Tenant, typ, id string) (Record, error)
	// Replace stores rec as the next version if the current version is
	// still prev (0: the resource must not exist yet); Conflict otherwise.
	Replace(ctx context.Context, tenant Tenant, rec Record, prev int, idx []fhir.Value) error
	// History returns every version, newest first.
	History(ctx context.Context, tenant Tenant, typ, id string) ([]Record, error)
	// Search returns the page of current, non-deleted resources matching q,
	// and the total when q.CountTotal.
	Search(ctx context.Context, tenant Tenant, q Query) ([]Record, int, error)
	// Outgoing returns the references that param of the srcType resources
	// srcIDs makes (to targetType only, when set).
	Outgoing(ctx context.Context, tenant Tenant, srcType string, srcIDs []string, param, targetType string) ([]Ref, error)
	// GetMany returns the current, non-deleted resources named by refs.
	GetMany(ctx context.Context, tenant Tenant, refs []Ref) ([]Record, error)
	// Referencing returns current, non-deleted resources of srcType whose
	// param references one of targets.
	Referencing(ctx context.Context, tenant Tenant, srcType, param string, targets []Ref, limit int) ([]Record, error)
	// Analyze refreshes the query planner's statistics (after bulk loads).
	Analyze(ctx context.Context) error
	Close() error
}

// Ref names a resource.
type Ref struct{ Type, ID string }

// Validator checks a resource against the R4 schema.
type Validator interface {
	Validate(resourceType string, res fhir.Resource) []Issue
}

// Issue is one validation failure: where and which rule, never the value.
type Issue struct {
	Path       string
	Constraint string
}

// Indexer extracts search values and knows the search parameters.
type Indexer interface {
	// Extract gives every value of every search parameter of res.
	Extract(res fhir.Resource) ([]fhir.Value, error)
	// Compact drops, in place, the values of a parameter that one of its
	// SearchParam.Within parameters has too: the values to store, as
	// conditions and sorts read the rows of all of them.
	Compact(resourceType string, vals []fhir.Value) []fhir.Value
	Lookup(resourceType, code string) (fhir.SearchParam, bool)
	Types() []string
}

// InvalidError is a validation failure with its issues.
type InvalidError struct{ Issues []Issue }

func (e *InvalidError) Error() string {
	parts := make([]string, len(e.Issues))
	for i, is := range e.Issues {
		parts[i] = is.Path + ": " + is.Constraint
	}
	return "invalid resource: " + strings.Join(parts, "; ")
}

// Store is one datastore with its rules.
type Store struct {
	backend  Backend
	validate Validator
	index    Indexer
	now      func() time.Time
	// budget bounds the time of every read and search (see bounded);
	// zero: no bound beyond the caller's context.
	budget time.Duration
}

// SetBudget bounds every read and search to d (CLINIKAPI_QUERY_TIMEOUT).
func (s *Store) SetBudget(d time.Duration) { s.budget = d }

// bounded runs fn under the time budget: past it the statements are
// cancelled (SQLite interrupts them, PostgreSQL gets a cancel request)
// and the failure is overBudget's, not the database's.
func (s *Store) bounded(ctx context.Context, search bool, fn func(ctx context.Context) error) error {
	if s.budget <= 0 {
		return fn(ctx)
	}
	bctx, cancel := context.WithTimeout(ctx, s.budget)
	defer cancel()
	err := fn(bctx)
	if err != nil && ctx.Err() == nil && errors.Is(bctx.Err(), context.DeadlineExceeded) {
		return s.overBudget(search, err)
	}
	return err
}

// overBudget is the answer to a read or search that ran past the budget:
// a search is refused as too costly (its shape is the client's to
// change: SEARCH_TOO_COSTLY, 400); a read by id is never costly, so past
// the budget the database is slow (503 with Retry-After).
func (s *Store) overBudget(search bool, cause error) error {
	if search {
		return &errs.Error{Code: errs.Invalid, Reason: errs.ReasonSearchTooCostly, Err: cause,
			Message: fmt.Sprintf("The search ran past the %v time budget and was stopped. Narrow it (more selective parameters, fewer values or sort keys, no _total) and try again.", s.budget)}
	}
	return &errs.Error{Code: errs.Unavailable, RetryAfter: time.Second, Err: cause,
		Message: fmt.Sprintf("The datastore did not answer within the %v time budget. Retry shortly.", s.budget)}
}

// New wraps a backend.
func New(b Backend, v Validator, ix Indexer, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{backend: b, validate: v, index: ix, now: now}
}

// Close closes the backend.
func (s *Store) Close() error { return s.backend.Close() }

// Analyze refreshes planner statistics; bulk loads call it when done so
// searches use the index from the first query on.
func (s *Store) Analyze(ctx context.Context) error { return s.backend.Analyze(ctx) }

// IDPrefix gives server-assigned ids a readable prefix per type. FHIR ids
// allow only [A-Za-z0-9-.], so the separator is a hyphen.
var IDPrefix = map[string]string{
	"Patient": "pt", "Practitioner": "pr", "PractitionerRole": "prr", "Encounter": "enc", "Observation": "obs",
	"Medication": "med", "MedicationRequest": "rx", "Appointment": "apt", "QuestionnaireResponse": "qr",
	"Consent": "cns", "DiagnosticReport": "lab", "DocumentReference": "doc", "RiskAssessment": "ra",
	"Condition": "cnd", "AllergyIntolerance": "alg", "Immunization": "imm", "Procedure": "proc",
}

// NewID returns a fresh server-assigned id for typ, e.g. pt-5k2x…. Ids
// begin with their creation time (random.SortableID), so the rows of new
// resources are appended to the id-ordered indexes instead of landing on a
// random page of each: far fewer pages to write per commit.
func NewID(typ string, now time.Time) string {
	p := IDPrefix[typ]
	if p == "" {
		p = "r"
	}
	return strings.Replace(random.SortableID(p, now), "_", "-", 1)
}

// ValidID reports whether s is a valid FHIR id: [A-Za-z0-9\-\.]{1,64}.
// "." and "..", which the FHIR pattern allows, are refused too: they are
// path segments, never ids.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 64 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// notFound is the one answer for missing, deleted and other tenants'
// resources (the caller can tell deleted apart through Gone).
func notFound(typ string) error {
	return errs.E(errs.NotFound, "%s not found.", typ)
}

// ErrGone marks a read of a deleted resource (404 on simplified routes,
// 410 on raw FHIR).
var ErrGone = &errs.Error{Code: errs.NotFound, Message: "The resource was deleted.", Reason: errs.ReasonGone}

// Limits on what one resource may hold, so that no write costs the
// datastore (and its other tenants) out of proportion: items of any one
// array, and values the search index keeps for a resource.
const (
	MaxArrayItems  = 1000
	MaxIndexValues = 10000
)

// arrayLimits reports the arrays of res longer than MaxArrayItems (the
// first few), by FHIR path. The path is only spelled out for a report.
func arrayLimits(typ string, res fhir.Resource) []Issue {
	type step struct {
		key string // element name, or "" for an index
		i   int
	}
	var out []Issue
	var path []step
	spell := func() string {
		var b strings.Builder
		b.WriteString(typ)
		for _, s := range path {
			if s.key != "" {
				b.WriteString("." + s.key)
			} else {
				b.WriteString("[" + strconv.Itoa(s.i) + "]")
			}
		}
		return b.String()
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if len(out) >= 5 {
					return
				}
				path = append(path, step{key: k})
				walk(e)
				path = path[:len(path)-1]
			}
		case []any:
			if len(x) > MaxArrayItems {
				out = append(out, Issue{Path: spell(), Constraint: "has " + strconv.Itoa(len(x)) + " items; at most " + strconv.Itoa(MaxArrayItems) + " are allowed"})
				return
			}
			for i, e := range x {
				path = append(path, step{i: i})
				walk(e)
				path = path[:len(path)-1]
			}
		}
	}
	walk(map[string]any(res))
	return out
}

// prepare checks and completes a resource for writing: type, id, meta
// (versionId, lastUpdated), the tenant tag (any client tag of the tenant
// system is dropped), validation and index extraction.
func (s *Store) prepare(tenant Tenant, res fhir.Resource, typ, id string, version int, now time.Time) ([]byte, []fhir.Value, error) {
	if tenant == "" {
		return nil, nil, errs.E(errs.Internal, "datastore: no tenant")
	}
	rt, _ := res["resourceType"].(string)
	if rt != typ {
		return nil, nil, &InvalidError{Issues: []Issue{{Path: "resourceType", Constraint: "must be " + typ}}}
	}
	res["id"] = id
	meta, _ := res["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	meta["versionId"] = strconv.Itoa(version)
	meta["lastUpdated"] = now.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	var tags []any
	if old, ok := meta["tag"].([]any); ok {
		for _, t := range old {
			if m, ok := t.(map[string]any); ok && m["system"] == TenantSystem {
				continue // a client cannot set, change or forge the tenant tag
			}
			tags = append(tags, t)
		}
	}
	tags = append(tags, map[string]any{"system": TenantSystem, "code": string(tenant)})
	meta["tag"] = tags
	// Nor can a security label claim the tenant system (another
	// organization's id in it would look like a tenant mark).
	if old, ok := meta["security"].([]any); ok {
		var labels []any
		for _, l := range old {
			if m, ok := l.(map[string]any); ok && m["system"] == TenantSystem {
				continue
			}
			labels = append(labels, l)
		}
		if len(labels) == 0 {
			delete(meta, "security")
		} else {
			meta["security"] = labels
		}
	}
	res["meta"] = meta
	if issues := arrayLimits(typ, res); len(issues) > 0 {
		return nil, nil, &InvalidError{Issues: issues}
	}
	if issues := s.validate.Validate(typ, res); len(issues) > 0 {
		return nil, nil, &InvalidError{Issues: issues}
	}
	idx, err := s.index.Extract(res)
	if err != nil {
		return nil, nil, err
	}
	if len(idx) > MaxIndexValues {
		return nil, nil, &InvalidError{Issues: []Issue{{Path: typ,
			Constraint: "holds " + strconv.Itoa(len(idx)) + " searchable values; at most " + strconv.Itoa(MaxIndexValues) + " are allowed per resource"}}}
	}
	b, err := json.Marshal(res)
	return b, s.index.Compact(typ, idx), err
}

// Create stores a new resource with a server-assigned id, and ob's event
// in the same transaction.
func (s *Store) Create(ctx context.Context, tenant Tenant, res fhir.Resource, ob Outbox) (Record, error) {
	typ, _ := res["resourceType"].(string)
	if typ == "" {
		return Record{}, &InvalidError{Issues: []Issue{{Path: "resourceType", Constraint: "is required"}}}
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	id := NewID(typ, now)
	b, idx, err := s.prepare(tenant, res, typ, id, 1, now)
	if err != nil {
		return Record{}, err
	}
	rec := Record{Type: typ, ID: id, Version: 1, LastUpdated: now, Content: b, Created: true}
	rec.events(ob)
	err = s.backend.Insert(ctx, tenant, rec, idx)
	rec.Outbox, rec.Webhook = nil, nil
	return rec, err
}

// events fills in the events ob makes of the write rec.
func (rec *Record) events(ob Outbox) {
	if ob == nil {
		return
	}
	ev := ob(*rec)
	rec.Outbox, rec.Webhook = ev.Audit, ev.Webhook
}

// Read returns the current version; deleted resources give ErrGone.
func (s *Store) Read(ctx context.Context, tenant Tenant, typ, id string) (Record, error) {
	if !ValidID(id) {
		return Record{}, notFound(typ)
	}
	var rec Record
	err := s.bounded(ctx, false, func(ctx context.Context) (err error) {
		rec, err = s.backend.Get(ctx, tenant, typ, id)
		return err
	})
	if errs.Is(err, errs.NotFound) {
		return Record{}, notFound(typ)
	}
	if err == nil && rec.Deleted {
		return Record{}, ErrGone
	}
	return rec, err
}

// Update replaces a resource. ifMatch > 0 requires that version to be the
// current one (409 otherwise). Updating a resource that does not exist
// creates it with the client's id (FHIR update-as-create) unless it was
// deleted, which also recreates it.
func (s *Store) Update(ctx context.Context, tenant Tenant, typ, id string, res fhir.Resource, ifMatch int, ob Outbox) (Record, bool, error) {
	if !ValidID(id) {
		return Record{}, false, &InvalidError{Issues: []Issue{{Path: "id", Constraint: "must match [A-Za-z0-9-.]{1,64}"}}}
	}
	if bodyID, ok := res["id"].(string); ok && bodyID != id {
		return Record{}, false, &InvalidError{Issues: []Issue{{Path: typ + ".id", Constraint: "must equal the id in the URL"}}}
	}
	cur, err := s.backend.Get(ctx, tenant, typ, id)
	prev := 0
	switch {
	case err == nil:
		prev = cur.Version
	case !errs.Is(err, errs.NotFound):
		return Record{}, false, err
	}
	if ifMatch > 0 && ifMatch != prev {
		return Record{}, false, errs.E(errs.Conflict, "Version conflict: the resource is at version %d, not %d.", prev, ifMatch)
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	b, idx, err := s.prepare(tenant, res, typ, id, prev+1, now)
	if err != nil {
		return Record{}, false, err
	}
	rec := Record{Type: typ, ID: id, Version: prev + 1, LastUpdated: now, Content: b, Created: prev == 0 || cur.Deleted}
	rec.events(ob)
	if err := s.backend.Replace(ctx, tenant, rec, prev, idx); err != nil {
		return Record{}, false, err
	}
	rec.Outbox, rec.Webhook = nil, nil
	return rec, rec.Created, nil
}

// Delete marks a resource deleted (history is kept). Deleting a missing or
// already deleted resource is NotFound.
func (s *Store) Delete(ctx context.Context, tenant Tenant, typ, id string, ifMatch int, ob Outbox) error {
	cur, err := s.Read(ctx, tenant, typ, id)
	if err != nil {
		return err
	}
	if ifMatch > 0 && ifMatch != cur.Version {
		return errs.E(errs.Conflict, "Version conflict: the resource is at version %d, not %d.", cur.Version, ifMatch)
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	rec := Record{Type: typ, ID: id, Version: cur.Version + 1, LastUpdated: now, Deleted: true, Content: cur.Content}
	rec.events(ob)
	return s.backend.Replace(ctx, tenant, rec, cur.Version, nil)
}

// History returns every version of a resource, newest first.
func (s *Store) History(ctx context.Context, tenant Tenant, typ, id string) ([]Record, error) {
	if !ValidID(id) {
		return nil, notFound(typ)
	}
	var h []Record
	err := s.bounded(ctx, false, func(ctx context.Context) (err error) {
		h, err = s.backend.History(ctx, tenant, typ, id)
		return err
	})
	if err == nil && len(h) == 0 {
		return nil, notFound(typ)
	}
	return h, err
}

// QueueStats reports how the datastore's tenants waited for their turn
// at its connections (internal/fair; zero when its backend keeps no such
// turns).
func (s *Store) QueueStats() fair.Stats {
	if q, ok := s.backend.(interface{ QueueStats() fair.Stats }); ok {
		return q.QueueStats()
	}
	return fair.Stats{}
}

// OutboxEvents returns up to limit events of the outbox, oldest first
// (none when the backend keeps no outbox).
func (s *Store) OutboxEvents(ctx context.Context, limit int) ([]OutboxEvent, error) {
	ob, ok := s.backend.(OutboxBackend)
	if !ok {
		return nil, nil
	}
	return ob.OutboxEvents(ctx, limit)
}

// DeleteOutbox deletes the outbox events numbered seqs.
func (s *Store) DeleteOutbox(ctx context.Context, seqs []int64) error {
	ob, ok := s.backend.(OutboxBackend)
	if !ok {
		return nil
	}
	return ob.DeleteOutbox(ctx, seqs)
}

// WebhookEvents returns up to limit webhook events of the outbox, oldest
// first (none when the backend keeps no such outbox).
func (s *Store) WebhookEvents(ctx context.Context, limit int) ([]OutboxEvent, error) {
	ob, ok := s.backend.(WebhookBackend)
	if !ok {
		return nil, nil
	}
	return ob.WebhookEvents(ctx, limit)
}

// DeleteWebhookEvents deletes the webhook events numbered seqs.
func (s *Store) DeleteWebhookEvents(ctx context.Context, seqs []int64) error {
	ob, ok := s.backend.(WebhookBackend)
	if !ok {
		return nil
	}
	return ob.DeleteWebhookEvents(ctx, seqs)
}

// Decode parses a stored record's content.
func Decode(rec Record) (fhir.Resource, error) {
	var r fhir.Resource
	err := json.Unmarshal(rec.Content, &r)
	return r, err
}

// Result is a page of search results.
type Result struct {
	Records  []Record // the matches, in order
	Included []Record // _include and _revinclude resources
	Total    int      // -1 when not counted
	HasMore  bool
}

// MaxIncluded bounds the resources one page may include.
const MaxIncluded = 1000

// Search runs q inside tenant, with includes resolved inside it too, all
// of it within the time budget.
func (s *Store) Search(ctx context.Context, tenant Tenant, q Query) (Result, error) {
	if tenant == "" {
		return Result{}, errs.E(errs.Internal, "datastore: no tenant")
	}
	var res Result
	err := s.bounded(ctx, true, func(ctx context.Context) (err error) {
		res, err = s.search(ctx, tenant, q)
		return err
	})
	return res, err
}

func (s *Store) search(ctx context.Context, tenant Tenant, q Query) (Result, error) {
	res := Result{Total: -1}
	page := q
	if q.SummaryCount {
		page.Limit = 0
	} else {
		page.Limit = q.Limit + 1
	}
	recs, total, err := s.backend.Search(ctx, tenant, page)
	if err != nil {
		return Result{}, err
	}
	if q.CountTotal {
		res.Total = total
	}
	if len(recs) > q.Limit {
		recs, res.HasMore = recs[:q.Limit], true
	}
	res.Records = recs
	if len(recs) == 0 || q.SummaryCount {
		return res, nil
	}
	ids := make([]string, len(recs))
	refs := make([]Ref, len(recs))
	for i, r := range recs {
		ids[i], refs[i] = r.ID, Ref{Type: r.Type, ID: r.ID}
	}
	seen := map[Ref]bool{}
	for _, r := range refs {
		seen[r] = true
	}
	add := func(rs []Record) {
		for _, r := range rs {
			k := Ref{r.Type, r.ID}
			if !seen[k] && len(res.Included) < MaxIncluded {
				seen[k] = true
				res.Included = append(res.Included, r)
			}
		}
	}
	for _, inc := range q.Include {
		targets, err := s.backend.Outgoing(ctx, tenant, q.Type, ids, inc.Param, inc.Target)
		if err != nil {
			return Result{}, err
		}
		got, err := s.backend.GetMany(ctx, tenant, targets)
		if err != nil {
			return Result{}, err
		}
		add(got)
	}
	for _, inc := range q.RevInclude {
		targets := refs
		if inc.Target != "" && inc.Target != q.Type {
			continue
		}
		got, err := s.backend.Referencing(ctx, tenant, inc.Source, inc.Param, targets, MaxIncluded)
		if err != nil {
			return Result{}, err
		}
		add(got)
	}
	return res, nil
}
