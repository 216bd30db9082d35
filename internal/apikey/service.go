package apikey

import (
	"context"
	"encoding/hex"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/memory"
	"github.com/clinikapi/clinikapi/internal/random"
)

// Audit actions of this capability.
const (
	KeyCreated    = "api_key.created"
	KeyRotated    = "api_key.rotated"
	KeyRevoked    = "api_key.revoked"
	KeyUpdated    = "api_key.updated"    // name, notes or expiry
	KeyRestricted = "api_key.restricted" // scope, resource types, allowlist or rate limit
	KeyDisabled   = "api_key.disabled"
	KeyEnabled    = "api_key.enabled"
	KeyLeaked     = "api_key.leaked" // reported leaked: rolled or revoked at once
)

// Grace periods offered when rolling a key.
var Graces = []time.Duration{0, time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

// Invalidator tells other instances that a key changed, so they drop it from
// their caches. Subscribe calls fn for every key id published anywhere
// (including here) and reset when messages may have been missed.
type Invalidator interface {
	Publish(ctx context.Context, keyID string) error
	Subscribe(ctx context.Context, fn func(keyID string), reset func()) error
}

// ChangeFeed reports keys changed by other processes on the same database
// (the SQLite control database, where the store records every change in
// its transaction). Subscribe calls fn for every key changed after it
// started and reset when changes may have been missed.
type ChangeFeed interface {
	Subscribe(ctx context.Context, fn func(keyID string), reset func()) error
}

// Service manages keys and verifies them on every API request.
type Service struct {
	store Store
	audit *audit.Log
	log   *slog.Logger
	now   func() time.Time
	cache *cache
	inval Invalidator
	// listening is closed once inval's subscription is up (Listening).
	listening  chan struct{}
	listenOnce sync.Once

	touchMu sync.Mutex
	touched map[string]time.Time

	// Tenants checks, when a key is made for a sub-organization, that it is
	// one of the organization's and open. Nil: keys are the
	// organization's only.
	Tenants TenantChecker
	// Types resolves the resource type names restrictions may use; nil
	// refuses every restriction by type.
	Types Types
	// PlanLimit is an organization's plan rate limit per minute, which a
	// key's own limit must stay below; nil: no check.
	PlanLimit func(ctx context.Context, orgID string) (int, error)
	// Uses reads keys' usage for the least-privilege hint; nil: no hint.
	Uses UseStore
	// Changes, when set, brings key changes other processes make on the
	// same database into this instance's cache beside the Invalidator
	// (Listen follows both).
	Changes ChangeFeed
}

// TenantChecker vouches for the sub-organization a new key belongs to.
type TenantChecker interface {
	// CheckTenant returns nil when tenantID is an open sub-organization of
	// orgID; NotFound when it is not one of orgID's, Conflict when closed.
	CheckTenant(ctx context.Context, orgID, tenantID string) error
}

// NewService assembles the key service. inval may be nil for one instance.
func NewService(s Store, a *audit.Log, inval Invalidator, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: s, audit: a, log: log, now: now, cache: newCache(entriesFor(memory.Default().APIKeys())), inval: inval, touched: map[string]time.Time{}, listening: make(chan struct{})}
}

// Listening is closed once this instance hears the key changes other
// instances publish (at once without an invalidation channel). The
// subscription's start empties the cache, since changes published before
// it were missed; tests wait for it so that this does not fall in the
// middle of what they count.
func (s *Service) Listening() <-chan struct{} {
	if s.inval == nil {
		done := make(chan struct{})
		close(done)
		return done
	}
	return s.listening
}

// SetCacheBudget bounds the verification cache to about bytes (the API
// key share of CLINIKAPI_CACHE_MEMORY); call it before serving.
func (s *Service) SetCacheBudget(bytes int64) {
	s.cache.mu.Lock()
	s.cache.max = entriesFor(bytes)
	s.cache.mu.Unlock()
}

// CacheStats reports the verification cache's figures.
func (s *Service) CacheStats() memory.Stats { return s.cache.stats() }

// Listen keeps this instance's cache in step with the other instances and
// processes until ctx ends.
func (s *Service) Listen(ctx context.Context) error {
	var subs []func(fn func(string), reset func()) error
	if s.inval != nil {
		subs = append(subs, func(fn func(string), reset func()) error {
			return s.inval.Subscribe(ctx, fn, func() {
				reset()
				s.listenOnce.Do(func() { close(s.listening) })
			})
		})
	}
	if s.Changes != nil {
		subs = append(subs, func(fn func(string), reset func()) error { return s.Changes.Subscribe(ctx, fn, reset) })
	}
	errc := make(chan error, len(subs))
	for _, sub := range subs {
		go func() { errc <- sub(s.cache.dropKey, s.cache.reset) }()
	}
	var first error
	for range subs {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Actor is who manages keys: a user of the organization, or the system.
type Actor struct {
	OrgID  string
	UserID string // "" for operator commands
}

func (a Actor) event(action, keyID string, detail map[string]string) audit.Event {
	e := audit.Event{OrgID: a.OrgID, ActorType: audit.ActorUser, ActorID: a.UserID, Action: action, TargetType: "api_key", TargetID: keyID, Detail: detail}
	if a.UserID == "" {
		e.ActorType, e.ActorID = audit.ActorSystem, "cli"
	}
	return e
}

// CreateInput is what a new key needs.
type CreateInput struct {
	Name      string
	Env       Env
	Scope     Scope
	ExpiresAt time.Time // zero: never
	// TenantID makes the key a sub-organization's ("" for the
	// organization itself).
	TenantID string
	Notes    string
	// Restrictions, in the text forms ParseGrants and ParseAllowlist read.
	ResourceTypes string
	AllowIPs      string
	PerMinute     int
}

// Restrictions are the changeable limits of a key, as people write them.
type Restrictions struct {
	Scope         Scope
	ResourceTypes string // "Patient:read, appointments:*"; "" for every type
	AllowIPs      string // "203.0.113.0/24 2001:db8::/32"; "" for any address
	PerMinute     int    // 0: the organization's limit only
}

// restrictions validates r into the key's fields.
func (s *Service) restrictions(ctx context.Context, orgID string, r Restrictions, k *Key) error {
	scope, err := ParseScope(string(r.Scope))
	if err != nil {
		return err
	}
	var grants []Grant
	if strings.TrimSpace(r.ResourceTypes) != "" {
		if s.Types == nil {
			return errs.FieldError("resource_types", "This server cannot restrict keys by resource type.")
		}
		if grants, err = ParseGrants(r.ResourceTypes, s.Types); err != nil {
			return err
		}
	}
	ips, err := ParseAllowlist(r.AllowIPs)
	if err != nil {
		return err
	}
	if r.PerMinute < 0 {
		return errs.FieldError("per_minute", "Enter a rate limit of 1 or more requests per minute, or leave it empty.")
	}
	if r.PerMinute > 0 && s.PlanLimit != nil {
		max, err := s.PlanLimit(ctx, orgID)
		if err != nil {
			return err
		}
		if r.PerMinute >= max {
			return errs.FieldError("per_minute", "Choose a limit below the plan's %d requests per minute (the organization's limit applies anyway).", max)
		}
	}
	k.Scope, k.Grants, k.AllowIPs, k.PerMinute = scope, grants, ips, r.PerMinute
	return nil
}

// RestrictionsOf is the editable form of a key's restrictions.
func RestrictionsOf(k Key) Restrictions {
	return Restrictions{Scope: k.Scope, ResourceTypes: FormatGrants(k.Grants), AllowIPs: strings.Join(k.AllowIPs, ", "), PerMinute: k.PerMinute}
}

func restrictionDetail(k Key) map[string]string {
	return map[string]string{"prefix": k.Prefix, "scope": string(k.Scope), "resource_types": FormatGrants(k.Grants),
		"ip_allowlist": strings.Join(k.AllowIPs, ","), "per_minute": itoa(k.PerMinute)}
}

func itoa(n int) string { return strconv.Itoa(n) }

func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", errs.FieldError("name", "Give the key a name, such as the service that will use it.")
	case utf8.RuneCountInString(name) > 80:
		return "", errs.FieldError("name", "Use at most 80 characters for the name.")
	}
	return name, nil
}

func checkNotes(notes string) (string, error) {
	notes = strings.TrimSpace(notes)
	if utf8.RuneCountInString(notes) > 1000 {
		return "", errs.FieldError("notes", "Use at most 1,000 characters for the notes.")
	}
	return notes, nil
}

// Created is a new or rolled key with its secret, shown exactly once.
type Created struct {
	Key    Key
	Secret string
}

// CheckCreate checks every field of a new key at once (errs.Fields): the
// name, environment, scope and expiry (after now).
func CheckCreate(in CreateInput, now time.Time) error {
	var expiryErr error
	_, nameErr := checkName(in.Name)
	_, envErr := ParseEnv(string(in.Env))
	_, scopeErr := ParseScope(string(in.Scope))
	if !in.ExpiresAt.IsZero() && !in.ExpiresAt.After(now) {
		expiryErr = errs.FieldError("expires_at", "Choose an expiry date in the future, or none.")
	}
	return errs.Fields(nameErr, envErr, scopeErr, expiryErr)
}

// Create makes a key.
func (s *Service) Create(ctx context.Context, a Actor, in CreateInput) (Created, error) {
	now := s.now().UTC()
	if err := CheckCreate(in, now); err != nil {
		return Created{}, err
	}
	name := strings.TrimSpace(in.Name)
	notes, err := checkNotes(in.Notes)
	if err != nil {
		return Created{}, err
	}
	var k Key
	if err := s.restrictions(ctx, a.OrgID, Restrictions{Scope: in.Scope, ResourceTypes: in.ResourceTypes, AllowIPs: in.AllowIPs, PerMinute: in.PerMinute}, &k); err != nil {
		return Created{}, err
	}
	if in.TenantID != "" {
		if s.Tenants == nil {
			return Created{}, errs.FieldError("tenant", "This server has no sub-organizations.")
		}
		if err := s.Tenants.CheckTenant(ctx, a.OrgID, in.TenantID); err != nil {
			return Created{}, err
		}
	}
	raw, hash, prefix, last4 := Generate(in.Env)
	createdBy := a.UserID
	if createdBy == "" {
		createdBy = "system"
	}
	k.ID, k.OrgID, k.TenantID, k.Name, k.Env, k.Prefix, k.Last4, k.Notes = random.ID("key"), a.OrgID, in.TenantID, name, in.Env, prefix, last4, notes
	k.CreatedBy, k.CreatedAt, k.ExpiresAt = createdBy, now, in.ExpiresAt.UTC()
	if err := s.store.CreateKey(ctx, k, Secret{Hash: hash, KeyID: k.ID, CreatedAt: now}); err != nil {
		return Created{}, err
	}
	d := restrictionDetail(k)
	d["env"] = string(k.Env)
	if k.TenantID != "" {
		d["tenant"] = k.TenantID
	}
	s.audit.Record(ctx, a.event(KeyCreated, k.ID, d))
	return Created{Key: k, Secret: raw}, nil
}

// List returns the organization's keys, newest first.
func (s *Service) List(ctx context.Context, orgID string) ([]Key, error) {
	return s.store.ListKeys(ctx, orgID)
}

// Roll issues a new secret for the key; the old one keeps working for grace.
func (s *Service) Roll(ctx context.Context, a Actor, keyID string, grace time.Duration) (Created, error) {
	valid := false
	for _, g := range Graces {
		valid = valid || g == grace
	}
	if !valid {
		return Created{}, errs.FieldError("grace", "Choose how long the old secret keeps working: now, 1 hour, 24 hours or 7 days.")
	}
	k, err := s.store.FindKey(ctx, a.OrgID, keyID)
	if err != nil {
		return Created{}, err
	}
	if !k.RevokedAt.IsZero() {
		return Created{}, errs.E(errs.Conflict, "This key was revoked; create a new one instead.")
	}
	now := s.now().UTC()
	raw, hash, prefix, last4 := Generate(k.Env)
	if err := s.store.RotateKey(ctx, a.OrgID, keyID, Secret{Hash: hash, KeyID: keyID, CreatedAt: now}, prefix, last4, now.Add(grace)); err != nil {
		return Created{}, err
	}
	s.changed(ctx, keyID)
	k.Prefix, k.Last4 = prefix, last4
	s.audit.Record(ctx, a.event(KeyRotated, keyID, map[string]string{"prefix": prefix, "grace": grace.String()}))
	return Created{Key: k, Secret: raw}, nil
}

// Revoke stops the key at once, on every instance. Revoking a revoked key
// changes nothing.
func (s *Service) Revoke(ctx context.Context, a Actor, keyID string) (Key, error) {
	if k, err := s.store.FindKey(ctx, a.OrgID, keyID); err != nil || !k.RevokedAt.IsZero() {
		return k, err
	}
	k, err := s.store.RevokeKey(ctx, a.OrgID, keyID, s.now().UTC())
	if err != nil {
		return Key{}, err
	}
	s.changed(ctx, keyID)
	s.audit.Record(ctx, a.event(KeyRevoked, keyID, map[string]string{"prefix": k.Prefix}))
	return k, nil
}

// changed drops the key from this instance's cache and tells the others.
func (s *Service) changed(ctx context.Context, keyID string) {
	s.cache.dropKey(keyID)
	if s.inval != nil {
		if err := s.inval.Publish(context.WithoutCancel(ctx), keyID); err != nil {
			s.log.ErrorContext(ctx, "api key: cache invalidation not published; other instances catch up within the cache TTL", "key", keyID, "err", err)
		}
	}
}

// Verify checks a presented key and returns who it acts as. Errors carry the
// API error code as their Reason and never contain the key.
func (s *Service) Verify(ctx context.Context, raw string) (Principal, error) {
	if _, err := Parse(raw); err != nil {
		return Principal{}, err
	}
	hash := digest(raw)
	now := s.now()
	e, ok := s.cache.get(hash, now)
	if !ok {
		gen := s.cache.generation()
		sec, k, err := s.store.FindSecret(ctx, hex.EncodeToString(hash[:]))
		switch {
		case errs.Is(err, errs.NotFound):
			e = entry{missing: true}
		case err != nil:
			return Principal{}, err
		default:
			e = entry{
				p:             Principal{KeyID: k.ID, OrgID: k.OrgID, TenantID: k.TenantID, Env: k.Env, Scope: k.Scope, Prefix: k.Prefix, Limits: newLimits(k)},
				keyExpires:    k.ExpiresAt,
				secretExpires: sec.ExpiresAt,
				revoked:       !k.RevokedAt.IsZero(),
				disabled:      !k.DisabledAt.IsZero(),
			}
		}
		s.cache.put(hash, e, now, gen)
	}
	switch {
	case e.missing:
		return Principal{}, ErrInvalid
	case e.revoked:
		return Principal{}, ErrRevoked
	case e.disabled:
		return Principal{}, ErrDisabled
	case !e.keyExpires.IsZero() && !now.Before(e.keyExpires):
		return Principal{}, ErrExpired
	case !e.secretExpires.IsZero() && !now.Before(e.secretExpires):
		return Principal{}, ErrExpired
	}
	if t := now.UnixNano(); e.touched == nil || t-e.touched.Load() >= int64(touchEvery) || t < e.touched.Load() { // (or the clock went back)
		if e.touched != nil {
			e.touched.Store(t)
		}
		s.touch(e.p.KeyID, now)
	}
	return e.p, nil
}

// touchEvery is how often, at most, requests with one key note its last
// use (last used is approximate: it is written coalesced anyway).
const touchEvery = time.Second

func (s *Service) touch(keyID string, at time.Time) {
	s.touchMu.Lock()
	s.touched[keyID] = at
	s.touchMu.Unlock()
}

// FlushLastUsed writes the coalesced last-used times. The usage worker calls
// it periodically and at shutdown.
func (s *Service) FlushLastUsed(ctx context.Context) error {
	s.touchMu.Lock()
	batch := s.touched
	s.touched = make(map[string]time.Time, len(batch))
	s.touchMu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	return s.store.TouchKeys(ctx, batch)
}
