package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/random"
)

// Audit actions of the dashboard's webhook operations.
const (
	ActionCreated     = "webhook.created"
	ActionDisabled    = "webhook.disabled"
	ActionEnabled     = "webhook.enabled"
	ActionDeleted     = "webhook.deleted"
	ActionRolled      = "webhook.secret_rolled"
	ActionTestSent    = "webhook.test_sent"
	ActionRedelivered = "webhook.redelivered"
)

// Endpoint is a registered webhook of an organization.
type Endpoint struct {
	ID          string
	OrgID       string
	URL         string
	Description string
	Events      []string // patterns: *, patient.*, patient.created
	Env         string   // EnvBoth, EnvLive or EnvTest
	// TenantID pins the endpoint to one tenant (a sub-organization): it
	// receives only events whose data.tenantId is that one. "" receives
	// every tenant's.
	TenantID string
	// Secret and OldSecret are sealed (see sealer); OldSecret signs too
	// until OldSecretUntil (a roll with overlap).
	Secret         string
	OldSecret      string
	OldSecretUntil time.Time
	Disabled       bool
	CreatedBy      string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Wants reports whether the endpoint receives an event.
func (e Endpoint) Wants(p Payload) bool {
	if e.Disabled || e.Env != EnvBoth && e.Env != p.Data.Environment {
		return false
	}
	if e.TenantID != "" && e.TenantID != p.Data.TenantID {
		return false
	}
	return Matches(e.Events, p.Event)
}

// Status is where a delivery stands.
type Status string

const (
	Pending   Status = "pending"   // due now or at NextAttemptAt
	Succeeded Status = "succeeded" // a 2xx answer
	Failed    Status = "failed"    // every retry failed
	Refused   Status = "refused"   // the SSRF guard refused the destination; not retried
)

// Delivery is one event for one endpoint.
type Delivery struct {
	ID            string
	EndpointID    string
	OrgID         string
	EventID       string // the payload's id, sent as X-Clinik-Delivery-Id
	Event         string
	Payload       []byte
	Status        Status
	Attempts      int // sends since it was queued (or redelivered)
	NextAttemptAt time.Time
	CreatedAt     time.Time
}

// Attempt is one send of a delivery, as the delivery log shows it.
type Attempt struct {
	ID         string
	DeliveryID string
	EndpointID string
	OrgID      string
	EventID    string
	Event      string
	Attempt    int // 1 for the first send
	At         time.Time
	Outcome    Status // Succeeded, Failed (retried when NextAttemptAt is set) or Refused
	StatusCode int    // 0 without an HTTP answer
	Latency    time.Duration
	Response   string // the start of the answer's body (ResponseExcerpt bytes at most)
	Error      string // why it failed or was refused, in words
	// NextAttemptAt is when the retry is due; zero when there is none.
	NextAttemptAt time.Time
}

// Claim is what one claim of due deliveries takes: those due at Now of
// at most Endpoints endpoints (the ones due longest first), at most
// PerEndpoint of each, oldest first, leased to Holder until Until.
type Claim struct {
	Holder      string
	Now, Until  time.Time
	PerEndpoint int
	Endpoints   int
	Endpoint    string   // when set, only this endpoint's
	Skip        []string // none of these endpoints' (the holder is sending to them)
}

// AttemptFilter selects delivery log entries, newest first.
type AttemptFilter struct {
	OrgID      string
	EndpointID string
	Event      string
	Outcome    Status
	Before     time.Time // exclusive; zero: now
	Limit      int
}

// Store keeps endpoints, deliveries and their attempts (the control
// database).
type Store interface {
	InsertWebhookEndpoint(ctx context.Context, e Endpoint) error
	WebhookEndpoints(ctx context.Context, orgID string) ([]Endpoint, error)
	// WebhookEndpoint returns one endpoint of the organization; NotFound
	// if there is none (or it is another organization's).
	WebhookEndpoint(ctx context.Context, orgID, id string) (Endpoint, error)
	SetWebhookEndpointDisabled(ctx context.Context, orgID, id string, disabled bool, now time.Time) error
	SetWebhookSecrets(ctx context.Context, orgID, id, secret, old string, oldUntil, now time.Time) error
	DeleteWebhookEndpoint(ctx context.Context, orgID, id string) error

	// InsertWebhookDeliveries stores deliveries, skipping those whose
	// endpoint already has that event (a relay repeated after a failure);
	// it reports how many are new.
	InsertWebhookDeliveries(ctx context.Context, ds []Delivery) (int, error)
	// ClaimWebhookDeliveries leases due deliveries of enabled endpoints to
	// c.Holder in one statement (see Claim); each delivery is claimed by
	// one holder.
	ClaimWebhookDeliveries(ctx context.Context, c Claim) ([]Delivery, error)
	// WebhookEndpointsByID returns the endpoints of ids that exist.
	WebhookEndpointsByID(ctx context.Context, ids []string) ([]Endpoint, error)
	// FinishWebhookAttempts records attempts, of any mix of outcomes, and
	// their deliveries' new state (pending again with the retry's time, or
	// final), releasing holder's leases, in one transaction.
	FinishWebhookAttempts(ctx context.Context, holder string, as []Attempt, now time.Time) error
	WebhookDelivery(ctx context.Context, orgID, id string) (Delivery, error)
	// RequeueWebhookDelivery makes a delivery pending and due at now with
	// a fresh schedule.
	RequeueWebhookDelivery(ctx context.Context, orgID, id string, now time.Time) error
	WebhookAttempts(ctx context.Context, f AttemptFilter) ([]Attempt, error)
	// PurgeWebhookDeliveries deletes finished deliveries (and their
	// attempts) last changed before t.
	PurgeWebhookDeliveries(ctx context.Context, before time.Time) (int64, error)
}

// Outbox is a datastore's webhook outbox (*datastore.Store).
type Outbox interface {
	WebhookEvents(ctx context.Context, limit int) ([]datastore.OutboxEvent, error)
	DeleteWebhookEvents(ctx context.Context, seqs []int64) error
}

// Actor is who manages an organization's webhooks.
type Actor struct {
	OrgID  string
	UserID string
}

func (a Actor) event(action, id string, detail map[string]string) audit.Event {
	return audit.Event{OrgID: a.OrgID, ActorType: audit.ActorUser, ActorID: a.UserID, Action: action, TargetType: "webhook", TargetID: id, Detail: detail}
}

// Service manages endpoints and moves events from the outboxes to
// deliveries; its Dispatcher sends them.
type Service struct {
	Store    Store
	Audit    *audit.Log
	Guard    *Guard
	Now      func() time.Time
	Log      *slog.Logger
	Outboxes func() []Outbox // the open datastores' outboxes
	Dispatch *Dispatcher
	// Tenants vouches for the sub-organization an endpoint is pinned to;
	// nil: endpoints can be pinned to the organization's own keys only.
	Tenants TenantChecker
	// Yield makes the relay give way to a busy API (nil: never).
	Yield   *Yield
	seal    *sealer
	once    sync.Once
	changed chan struct{}
}

// TenantChecker vouches for a sub-organization of an organization.
type TenantChecker interface {
	// CheckTenant returns nil when tenantID is an open sub-organization of
	// orgID; NotFound when it is not one of orgID's.
	CheckTenant(ctx context.Context, orgID, tenantID string) error
}

// New assembles the service; key seals signing secrets at rest.
func New(st Store, a *audit.Log, g *Guard, key []byte, now func() time.Time, log *slog.Logger, outboxes func() []Outbox, d *Dispatcher) (*Service, error) {
	s, err := newSealer(key)
	if err != nil {
		return nil, err
	}
	svc := &Service{Store: st, Audit: a, Guard: g, Now: now, Log: log, Outboxes: outboxes, Dispatch: d, seal: s}
	d.secrets = svc.secrets
	return svc, nil
}

// Input is what the create form says.
type Input struct {
	URL         string
	Description string
	Events      string // patterns separated by commas or spaces
	Env         string
	TenantID    string
}

func invalid(field, msg string) error { return errs.FieldError(field, "%s", msg) }

// MaxEndpoints bounds the endpoints of one organization.
const MaxEndpoints = 20

// Create registers an endpoint after the SSRF check of its URL and
// returns it with its signing secret, which is shown once.
func (s *Service) Create(ctx context.Context, a Actor, in Input) (Endpoint, string, error) {
	in.URL = strings.TrimSpace(in.URL)
	if err := s.Guard.Check(ctx, in.URL); err != nil {
		var rf *Refusal
		if errors.As(err, &rf) {
			return Endpoint{}, "", invalid("url", "This URL cannot receive webhooks: "+rf.Reason+".")
		}
		return Endpoint{}, "", err
	}
	patterns, problems := ParsePatterns(in.Events)
	if len(problems) > 0 {
		return Endpoint{}, "", invalid("events", "Events: "+problems[0]+".")
	}
	switch in.Env {
	case EnvBoth, EnvLive, EnvTest:
	default:
		return Endpoint{}, "", invalid("environment", "Environment must be both, live or test.")
	}
	in.TenantID = strings.TrimSpace(in.TenantID)
	// A pin names a sub-organization, or the organization itself for the
	// events of its own keys (their tenantId is the organization's id).
	if in.TenantID != "" && in.TenantID != a.OrgID {
		if s.Tenants == nil {
			return Endpoint{}, "", invalid("tenant", "This server has no sub-organizations.")
		}
		if err := s.Tenants.CheckTenant(ctx, a.OrgID, in.TenantID); err != nil {
			if errs.Is(err, errs.NotFound) {
				return Endpoint{}, "", invalid("tenant", "Choose one of this organization's sub-organizations.")
			}
			return Endpoint{}, "", err
		}
	}
	desc := strings.TrimSpace(in.Description)
	if len([]rune(desc)) > 200 {
		return Endpoint{}, "", invalid("description", "The description is longer than 200 characters.")
	}
	existing, err := s.Store.WebhookEndpoints(ctx, a.OrgID)
	if err != nil {
		return Endpoint{}, "", err
	}
	if len(existing) >= MaxEndpoints {
		return Endpoint{}, "", errs.E(errs.Conflict, "An organization can have at most %d webhooks. Delete one first.", MaxEndpoints)
	}
	now := s.Now().UTC()
	secret := NewSecret()
	e := Endpoint{
		ID: random.SortableID("wh", now), OrgID: a.OrgID, URL: in.URL, Description: desc, Events: patterns,
		Env: in.Env, TenantID: in.TenantID, Secret: s.seal.seal(secret), CreatedBy: a.UserID, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.Store.InsertWebhookEndpoint(ctx, e); err != nil {
		return Endpoint{}, "", err
	}
	env := in.Env
	if env == "" {
		env = "both"
	}
	detail := map[string]string{"events": strings.Join(patterns, " "), "env": env}
	if e.TenantID != "" {
		detail["tenant"] = e.TenantID
	}
	s.Audit.Record(ctx, a.event(ActionCreated, e.ID, detail))
	return e, secret, nil
}

// List returns the organization's endpoints, oldest first.
func (s *Service) List(ctx context.Context, orgID string) ([]Endpoint, error) {
	return s.Store.WebhookEndpoints(ctx, orgID)
}

// Endpoint returns one of the organization's endpoints.
func (s *Service) Endpoint(ctx context.Context, orgID, id string) (Endpoint, error) {
	return s.Store.WebhookEndpoint(ctx, orgID, id)
}

// SetDisabled disables an endpoint (its pending deliveries wait, and no
// new event is queued for it) or enables it again.
func (s *Service) SetDisabled(ctx context.Context, a Actor, id string, disabled bool) error {
	if err := s.Store.SetWebhookEndpointDisabled(ctx, a.OrgID, id, disabled, s.Now().UTC()); err != nil {
		return err
	}
	action := ActionEnabled
	if disabled {
		action = ActionDisabled
	}
	s.Audit.Record(ctx, a.event(action, id, nil))
	if !disabled {
		s.Dispatch.Wake()
	}
	return nil
}

// Delete removes an endpoint with its deliveries and their log.
func (s *Service) Delete(ctx context.Context, a Actor, id string) error {
	if err := s.Store.DeleteWebhookEndpoint(ctx, a.OrgID, id); err != nil {
		return err
	}
	s.Audit.Record(ctx, a.event(ActionDeleted, id, nil))
	return nil
}

// Overlaps are how long a rolled-out secret keeps signing beside the new
// one (the values parse with time.ParseDuration).
var Overlaps = []time.Duration{0, time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

// RollSecret gives an endpoint a new signing secret, returned to be shown
// once; the current one keeps signing beside it for overlap.
func (s *Service) RollSecret(ctx context.Context, a Actor, id string, overlap time.Duration) (string, error) {
	ok := false
	for _, o := range Overlaps {
		ok = ok || o == overlap
	}
	if !ok {
		return "", invalid("overlap", "Choose how long the current secret keeps signing: now, 1 hour, 24 hours or 7 days.")
	}
	e, err := s.Store.WebhookEndpoint(ctx, a.OrgID, id)
	if err != nil {
		return "", err
	}
	now := s.Now().UTC()
	secret := NewSecret()
	old, until := "", time.Time{}
	if overlap > 0 {
		old, until = e.Secret, now.Add(overlap)
	}
	if err := s.Store.SetWebhookSecrets(ctx, a.OrgID, id, s.seal.seal(secret), old, until, now); err != nil {
		return "", err
	}
	s.Audit.Record(ctx, a.event(ActionRolled, id, map[string]string{"overlap": overlap.String()}))
	return secret, nil
}

// secrets opens an endpoint's signing secrets at t: the current one, and
// the old one while its overlap lasts.
func (s *Service) secrets(e Endpoint, t time.Time) (cur, old string, err error) {
	if cur, err = s.seal.open(e.Secret); err != nil {
		return "", "", err
	}
	if e.OldSecret != "" && t.Before(e.OldSecretUntil) {
		if old, err = s.seal.open(e.OldSecret); err != nil {
			return "", "", err
		}
	}
	return cur, old, nil
}

// SendTest queues a test event (webhook.test) for one endpoint, whatever
// its event patterns, and returns its delivery.
func (s *Service) SendTest(ctx context.Context, a Actor, id string) (Delivery, error) {
	e, err := s.Store.WebhookEndpoint(ctx, a.OrgID, id)
	if err != nil {
		return Delivery{}, err
	}
	now := s.Now().UTC()
	env := e.Env
	if env == EnvBoth {
		env = EnvTest
	}
	tenant := e.TenantID
	if tenant == "" {
		tenant = a.OrgID
	}
	p := NewPayload("webhook", e.ID, "test", tenant, env, now)
	p.Event = TestEvent
	d := newDelivery(e, p, mustJSON(p), now)
	if _, err := s.Store.InsertWebhookDeliveries(ctx, []Delivery{d}); err != nil {
		return Delivery{}, err
	}
	s.Audit.Record(ctx, a.event(ActionTestSent, e.ID, map[string]string{"delivery": d.ID}))
	s.Dispatch.Wake()
	return d, nil
}

// Redeliver queues a delivery again, due now, with a fresh retry
// schedule; the receiver gets the same payload and delivery id.
func (s *Service) Redeliver(ctx context.Context, a Actor, deliveryID string) error {
	d, err := s.Store.WebhookDelivery(ctx, a.OrgID, deliveryID)
	if err != nil {
		return err
	}
	if d.Status == Pending && d.Attempts == 0 {
		return errs.E(errs.Conflict, "This delivery has not been sent yet; it is on its way.")
	}
	if err := s.Store.RequeueWebhookDelivery(ctx, a.OrgID, deliveryID, s.Now().UTC()); err != nil {
		return err
	}
	s.Audit.Record(ctx, a.event(ActionRedelivered, d.EndpointID, map[string]string{"delivery": d.ID, "event": d.Event}))
	s.Dispatch.Wake()
	return nil
}

// Attempts lists the delivery log.
func (s *Service) Attempts(ctx context.Context, f AttemptFilter) ([]Attempt, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	return s.Store.WebhookAttempts(ctx, f)
}

func newDelivery(e Endpoint, p Payload, payload []byte, now time.Time) Delivery {
	return Delivery{
		ID: random.SortableID("whd", now), EndpointID: e.ID, OrgID: e.OrgID, EventID: p.ID, Event: p.Event,
		Payload: payload, Status: Pending, NextAttemptAt: now, CreatedAt: now,
	}
}

// RelayBatch is how many outbox events one step of the relay moves.
const RelayBatch = 500

// Relay moves the webhook events of every open datastore's outbox into
// deliveries, one per endpoint that wants the event (none is made for an
// organization without endpoints), and deletes them from the outbox.
// Repeated after a failure between the two steps, or by two instances at
// once, it makes each delivery once: deliveries are unique per endpoint
// and event.
func (s *Service) Relay(ctx context.Context) error {
	_, err := s.relayAll(ctx)
	return err
}

// relayAll relays every outbox and says whether one of them held more
// than a batch (the relay is behind).
func (s *Service) relayAll(ctx context.Context) (bool, error) {
	var failed []error
	behind := false
	for _, ob := range s.Outboxes() {
		full, err := s.relay(ctx, ob)
		if err != nil {
			failed = append(failed, err)
		}
		behind = behind || full
	}
	return behind, errors.Join(failed...)
}

// relay moves one outbox's events; full when it held more than a batch.
func (s *Service) relay(ctx context.Context, ob Outbox) (full bool, err error) {
	for n := 0; ; n++ {
		evs, err := ob.WebhookEvents(ctx, RelayBatch)
		full = n > 0
		if err != nil || len(evs) == 0 {
			return full, err
		}
		endpoints := map[string][]Endpoint{}
		var ds []Delivery
		seqs := make([]int64, 0, len(evs))
		now := s.Now().UTC()
		for _, ev := range evs {
			seqs = append(seqs, ev.Seq)
			var env envelope
			var p Payload
			if err := json.Unmarshal(ev.Event, &env); err != nil || json.Unmarshal(env.Payload, &p) != nil {
				s.Log.ErrorContext(ctx, "webhook outbox: an event does not decode; dropped", "seq", ev.Seq)
				continue
			}
			eps, ok := endpoints[env.OrgID]
			if !ok {
				if eps, err = s.Store.WebhookEndpoints(ctx, env.OrgID); err != nil {
					return full, err
				}
				endpoints[env.OrgID] = eps
			}
			for _, e := range eps {
				if e.Wants(p) {
					ds = append(ds, newDelivery(e, p, env.Payload, now))
				}
			}
		}
		if len(ds) > 0 {
			k, err := s.Store.InsertWebhookDeliveries(ctx, ds)
			if err != nil {
				return full, fmt.Errorf("webhook relay: %w", err)
			}
			if k > 0 {
				s.Dispatch.Wake()
			}
		}
		if err := ob.DeleteWebhookEvents(ctx, seqs); err != nil {
			return full, err
		}
		if len(evs) < RelayBatch {
			return full, nil
		}
	}
}

// Purge deletes finished deliveries and their log older than the
// retention (RetainDeliveries).
func (s *Service) Purge(ctx context.Context) (int64, error) {
	return s.Store.PurgeWebhookDeliveries(ctx, s.Now().Add(-RetainDeliveries))
}

// RetainDeliveries is how long the delivery log keeps finished deliveries.
const RetainDeliveries = 30 * 24 * time.Hour

// Run relays and dispatches until ctx ends: the outboxes are read every
// tick and soon after a change is reported (Changed), the deliveries sent
// by the Dispatcher. Runs are at least Gap apart, so that under a stream
// of writes each moves a batch rather than one event.
func (s *Service) Run(ctx context.Context, tick time.Duration) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Dispatch.Run(ctx, tick)
	}()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		// A relay is never cancelled half-way (see app's flushers).
		behind, err := s.relayAll(context.WithoutCancel(ctx))
		if err != nil {
			s.Log.ErrorContext(ctx, "webhook relay failed; will retry", "err", err)
		}
		if !pause(ctx, t.C, s.changes(), s.Yield, behind) {
			<-done
			return
		}
	}
}

// Gap is the least time between two runs of the relay, or of the
// dispatcher's look for due work.
const Gap = 50 * time.Millisecond

// MaxDefer is how long background delivery gives way to a busy API at
// most (see Yield).
const MaxDefer = time.Second

// Yield gives background delivery a lower priority than API requests:
// deliveries run on the same cores as the requests that make them. While
// Busy reports the API saturated, the relay and the dispatcher wait
// before their next run, but never longer than Max, and not at all after
// a run that found itself behind (more than a batch waiting: an outbox
// of more than RelayBatch events, a worker whose batches came back
// full): a burst of writes is delivered after it, up to Max later, while
// under sustained load delivery takes its full share again as soon as a
// backlog builds, drains everything due (a relay reads the outbox until
// it is empty, a worker claims its endpoint's deliveries while its
// batches come back full) and only then gives way again, so the backlog
// does not grow for being deferred. A nil Yield, or a nil Busy, never
// waits.
type Yield struct {
	Busy func() bool
	Max  time.Duration
}

// yieldPoll is how often a waiting run looks whether the API is still busy.
const yieldPoll = 10 * time.Millisecond

// wait waits while the API is busy, for at most y.Max; false when ctx
// ended.
func (y *Yield) wait(ctx context.Context) bool {
	if y == nil || y.Busy == nil || !y.Busy() {
		return ctx.Err() == nil
	}
	deadline := time.Now().Add(y.Max)
	t := time.NewTimer(yieldPoll)
	defer t.Stop()
	for y.Busy() && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			t.Reset(yieldPoll)
		}
	}
	return ctx.Err() == nil
}

// pause waits for the next tick or wake-up, then Gap more, then while the
// API is busy (y) unless the last run was behind; false when ctx ended.
func pause(ctx context.Context, tick <-chan time.Time, wake <-chan struct{}, y *Yield, behind bool) bool {
	select {
	case <-ctx.Done():
		return false
	case <-tick:
	case <-wake:
	}
	t := time.NewTimer(Gap)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	}
	if behind {
		return true
	}
	return y.wait(ctx)
}

// Changed reports a committed change of a resource: the relay runs soon.
// It never blocks.
func (s *Service) Changed() {
	select {
	case s.changes() <- struct{}{}:
	default:
	}
}

func (s *Service) changes() chan struct{} {
	s.once.Do(func() { s.changed = make(chan struct{}, 1) })
	return s.changed
}
