// Package audit records who did what, to which target, from where, and with
// what outcome. Every state change in ClinikAPI writes an Event.
package audit

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/clinikapi/clinikapi/internal/random"
)

// ActorType says what kind of principal acted.
type ActorType string

const (
	ActorUser   ActorType = "user"
	ActorSystem ActorType = "system" // operator commands and background jobs
	ActorAPIKey ActorType = "api_key"
	ActorNone   ActorType = "anonymous" // e.g. a failed sign-in for an unknown account
)

// Outcome says whether the action succeeded.
type Outcome string

const (
	Success Outcome = "success"
	Failure Outcome = "failure"
)

// Action names. Later capabilities add theirs next to their code.
const (
	UserSignedUp        = "user.signed_up"
	UserSignedIn        = "user.signed_in"
	UserSignInFailed    = "user.sign_in_failed"
	UserSignedOut       = "user.signed_out"
	UserPasswordReset   = "user.password_reset"
	UserPasswordChanged = "user.password_changed"
	AuditLogExported    = "audit_log.exported"
	UserProfileUpdated  = "user.profile_updated"
	OrgCreated          = "organization.created"
	OrgRenamed          = "organization.renamed"
	MemberInvited       = "member.invited"
	InviteRevoked       = "member.invite_revoked"
	InviteAccepted      = "member.invite_accepted"
	MemberRoleChanged   = "member.role_changed"
	MemberRemoved       = "member.removed"
)

// Event is one audit record. It never holds secrets or PHI; Detail holds short
// non-sensitive facts such as {"role": "admin"}.
type Event struct {
	ID         string
	OrgID      string // empty for events outside an organization (sign-in)
	ActorType  ActorType
	ActorID    string
	Action     string
	TargetType string
	TargetID   string
	IP         string
	UserAgent  string
	Outcome    Outcome
	Detail     map[string]string
	CreatedAt  time.Time
	// The event's place in its organization's hash chain (chain.go), set
	// when it is written.
	Seq      int64  `json:",omitempty"`
	PrevHash string `json:",omitempty"`
	Hash     string `json:",omitempty"`
}

// Filter selects events for listing, newest first.
type Filter struct {
	OrgID string
	// WithMembers also selects account events (sign-ins, password changes)
	// of the organization's current members, which belong to no organization.
	WithMembers bool
	// Action matches action names by prefix: "member.invited", or
	// "member." for every member event.
	Action string
	// Category keeps the events of one Categories entry ("" for all).
	Category string
	Actor    string
	// Tenant keeps the events of one sub-organization (its id): what its
	// keys did, and what was done to it and to its keys.
	Tenant   string
	TargetID string    // "" for every target
	Before   time.Time // exclusive; zero means now
	// BeforeID, with Before, continues a listing exactly after the event
	// (Before, BeforeID): events at the same instant with a smaller id follow.
	BeforeID string
	After    time.Time // inclusive; zero means no lower bound
	Limit    int
}

// Store persists events.
type Store interface {
	InsertAuditEvent(ctx context.Context, e Event) error
	ListAuditEvents(ctx context.Context, f Filter) ([]Event, error)
}

// Origin is where a request came from; the web layer puts it in the context.
type Origin struct {
	IP        string
	UserAgent string
}

type originKey struct{}

// WithOrigin returns ctx carrying o.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// OriginFrom returns the origin carried by ctx.
func OriginFrom(ctx context.Context) Origin {
	o, _ := ctx.Value(originKey{}).(Origin)
	return o
}

// Log is the audit trail.
type Log struct {
	store Store
	log   *slog.Logger
	now   func() time.Time

	mu      sync.Mutex
	pending []Event // RecordAsync events waiting for Flush
}

// New returns a Log writing to store.
func New(store Store, log *slog.Logger, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{store: store, log: log, now: now}
}

// Prepare fills in what Record would (id, time, outcome, origin) for an
// event written by the caller: in the same transaction as the change it
// records (billing), or first to a datastore's outbox and later with Write
// (data changes).
func (l *Log) Prepare(ctx context.Context, e Event) Event { return l.complete(ctx, e) }

// complete fills the id, time, outcome and, from ctx, the origin of e.
func (l *Log) complete(ctx context.Context, e Event) Event {
	if e.CreatedAt.IsZero() {
		e.CreatedAt = l.now().UTC()
	}
	if e.ID == "" {
		e.ID = random.SortableID("aud", e.CreatedAt)
	}
	if e.Outcome == "" {
		e.Outcome = Success
	}
	if e.IP == "" && e.UserAgent == "" {
		o := OriginFrom(ctx)
		e.IP, e.UserAgent = o.IP, truncate(o.UserAgent, 512)
	}
	return e
}

// Write writes prepared events now; an event already written (same id) is
// written once.
func (l *Log) Write(ctx context.Context, es []Event) error {
	if bs, ok := l.store.(BatchStore); ok {
		for len(es) > 0 {
			n := min(len(es), BatchSize)
			if err := bs.InsertAuditEvents(ctx, es[:n]); err != nil {
				return err
			}
			es = es[n:]
		}
		return nil
	}
	for _, e := range es {
		if err := l.store.InsertAuditEvent(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// Record writes e, filling id, time, origin and outcome. A failure to write
// is logged, not returned: the action it describes has already happened.
func (l *Log) Record(ctx context.Context, e Event) {
	e = l.complete(ctx, e)
	if err := l.store.InsertAuditEvent(context.WithoutCancel(ctx), e); err != nil {
		l.log.ErrorContext(ctx, "audit: write failed", "action", e.Action, "err", err)
	}
}

// RecordAsync queues e for the next Flush: for API data operations, which
// must not wait for the audit write. Flush runs every second and at shutdown.
func (l *Log) RecordAsync(ctx context.Context, e Event) {
	e = l.complete(ctx, e)
	l.mu.Lock()
	l.pending = append(l.pending, e)
	l.mu.Unlock()
}

// Flush writes the queued events; ones that fail stay queued.
func (l *Log) Flush(ctx context.Context) error {
	l.mu.Lock()
	batch := l.pending
	if len(batch) == 0 {
		l.mu.Unlock()
		return nil
	}
	// Room for as many as this flush writes, so the queue does not grow
	// from nothing again under load.
	l.pending = make([]Event, 0, len(batch))
	l.mu.Unlock()
	if bs, ok := l.store.(BatchStore); ok {
		for len(batch) > 0 {
			n := min(len(batch), BatchSize)
			if err := bs.InsertAuditEvents(ctx, batch[:n]); err != nil {
				l.mu.Lock()
				l.pending = append(batch, l.pending...)
				l.mu.Unlock()
				return err
			}
			batch = batch[n:]
		}
		return nil
	}
	for i, e := range batch {
		if err := l.store.InsertAuditEvent(ctx, e); err != nil {
			l.mu.Lock()
			l.pending = append(batch[i:], l.pending...)
			l.mu.Unlock()
			return err
		}
	}
	return nil
}

// BatchSize is the most events one InsertAuditEvents call writes.
const BatchSize = 200

// BatchStore writes many events in one statement.
type BatchStore interface {
	InsertAuditEvents(ctx context.Context, es []Event) error
}

// List returns events matching f, newest first.
func (l *Log) List(ctx context.Context, f Filter) ([]Event, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	return l.store.ListAuditEvents(ctx, f)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Categories group action names for the audit log's filter: each maps to
// the prefixes of its actions.
var Categories = []struct {
	ID, Label string
	Prefixes  []string
}{
	{"data", "Data access", []string{"data.", "bulk."}},
	{"keys", "API keys", []string{"api_key."}},
	{"members", "Members and organization", []string{"member.", "organization."}},
	{"billing", "Billing", []string{"billing."}},
	{"security", "Sign-in and security", []string{"user.", "audit_log.", "access_report."}},
}

// CategoryPrefixes returns the action prefixes of category id (nil when
// there is no such category).
func CategoryPrefixes(id string) []string {
	for _, c := range Categories {
		if c.ID == id {
			return c.Prefixes
		}
	}
	return nil
}
