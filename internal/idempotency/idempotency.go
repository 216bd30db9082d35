// Package idempotency makes retries of writes safe, with Stripe's
// semantics: the first POST or PATCH that carries an Idempotency-Key has
// its answer kept for 24 hours per organization and environment; a retry
// with the same key and the same request gets that answer again without a
// second write; the same key with another request is refused; a retry
// that arrives while the first still runs waits for its answer.
package idempotency

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/clinikapi/clinikapi/internal/errs"
)

// Header is the request header that carries the key.
const Header = "Idempotency-Key"

// ReplayedHeader marks an answer that is a replay of a kept one.
const ReplayedHeader = "Idempotent-Replayed"

// TTL is how long an answer is kept.
const TTL = 24 * time.Hour

// MaxKeyLength bounds a key (Stripe's limit).
const MaxKeyLength = 255

// Scope is whose keys a key is one of.
type Scope struct {
	OrgID string
	Env   string
	Key   string
}

// Answer is a kept response.
type Answer struct {
	Status  int
	Headers map[string]string // the headers a replay repeats (Content-Type, Location, ETag…)
	Body    []byte
	// Resource names the resource the answer holds ("Type/id"), if any: a
	// replay reads it again first (tenant-checked and audited), so that
	// the answer of a resource deleted since is never replayed.
	Resource string
}

// Entry is a key's row.
type Entry struct {
	Scope
	Fingerprint string
	Done        bool // false while the first request runs
	Answer      Answer
	CreatedAt   time.Time
}

// Store keeps the entries.
type Store interface {
	// ClaimIdempotencyKey inserts a pending entry for e.Scope unless one
	// exists that was created after expiredBefore (or, if pending, after
	// staleBefore); claimed reports whether e is now the key's entry, and
	// otherwise the existing entry is returned.
	ClaimIdempotencyKey(ctx context.Context, e Entry, expiredBefore, staleBefore time.Time) (cur Entry, claimed bool, err error)
	// FindIdempotencyKey returns the entry of a key created after
	// expiredBefore, if there is one.
	FindIdempotencyKey(ctx context.Context, s Scope, expiredBefore time.Time) (Entry, bool, error)
	// CompleteIdempotencyKeys keeps the answers of claimed keys, in one
	// write: the pending entry of the same fingerprint becomes done, or
	// (claims kept in memory) the entry is written, replacing an expired
	// one.
	CompleteIdempotencyKeys(ctx context.Context, done []Entry, expiredBefore time.Time) error
	// ReleaseIdempotencyKey forgets a pending key (its request failed on
	// the server's side or was abandoned), so that a retry runs anew.
	ReleaseIdempotencyKey(ctx context.Context, s Scope) error
	// IdempotencyKeys lists up to limit keys with an entry created after
	// since.
	IdempotencyKeys(ctx context.Context, since time.Time, limit int) ([]Scope, error)
	// PurgeIdempotencyKeys deletes the entries created before t.
	PurgeIdempotencyKeys(ctx context.Context, before time.Time) (int64, error)
}

// Service applies the rules.
type Service struct {
	Store Store
	Now   func() time.Time
	// Wait is how long a retry waits for the first request's answer
	// before it is refused as in use; Poll how often it looks.
	Wait, Poll time.Duration
	// Stale is how long a pending entry may stay pending before a retry
	// takes it over (its instance stopped mid-request).
	Stale time.Duration
	// Local keeps claims in this process instead of the database: right
	// when one instance alone serves the database (the embedded SQLite
	// store, which refuses a second server), and a write fewer per
	// request. Answers are written to the database either way.
	Local bool

	mu      sync.Mutex
	flushMu sync.Mutex       // one Flush at a time
	pending map[Scope]string // Local: claimed keys and their fingerprints
	done    map[Scope]Entry  // answers not yet written (Flush writes them)
	// known (Local) holds every key the database may have an entry of:
	// those it had when Load ran, and those answered since, with when.
	// A key not in it needs no look-up. Nil until Load: look every key up.
	known map[Scope]time.Time
}

// Load reads which keys the database holds (Local), so that a request
// with a key never seen before needs no look-up. Beyond max keys it keeps
// looking every key up.
func (s *Service) Load(ctx context.Context, max int) error {
	if !s.Local {
		return nil
	}
	scopes, err := s.Store.IdempotencyKeys(ctx, s.Now().Add(-TTL), max+1)
	if err != nil || len(scopes) > max {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.known = make(map[Scope]time.Time, len(scopes))
	for _, sc := range scopes {
		s.known[sc] = s.Now()
	}
	return nil
}

// Fingerprint identifies a request: method, path and body.
func Fingerprint(method, path string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(method))
	h.Write([]byte{0})
	h.Write([]byte(path))
	h.Write([]byte{0})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// CheckKey checks a key's form: 1 to 255 printable ASCII characters.
func CheckKey(key string) error {
	ok := key != "" && len(key) <= MaxKeyLength
	for i := 0; ok && i < len(key); i++ {
		ok = key[i] >= 0x21 && key[i] <= 0x7e
	}
	if !ok {
		return &errs.Error{Code: errs.Invalid, Reason: errs.ReasonValidation, Field: Header,
			Message: "The Idempotency-Key header must be 1 to 255 printable ASCII characters without spaces (a UUID is a good key)."}
	}
	return nil
}

// Begin starts a request with a key. It returns the kept answer to replay
// (replay true), or claims the key for this request (replay false: run
// it, then Complete or Release). A key in use by another request that
// does not finish within Wait is Conflict (IDEMPOTENCY_KEY_IN_USE); a key
// used for another request is Invalid (IDEMPOTENCY_KEY_REUSED).
func (s *Service) Begin(ctx context.Context, sc Scope, fingerprint string) (a Answer, replay bool, err error) {
	if err := CheckKey(sc.Key); err != nil {
		return Answer{}, false, err
	}
	waitUntil := time.Now().Add(s.Wait) // a bound on latency: wall time, not the app clock
	for {
		cur, claimed, found, err := s.claim(ctx, sc, fingerprint)
		switch {
		case err != nil:
			return Answer{}, false, err
		case claimed:
			return Answer{}, false, nil
		case found && cur.Fingerprint != fingerprint:
			return Answer{}, false, reused()
		case found && cur.Done:
			return cur.Answer, true, nil
		}
		// The first request with this key is still running.
		if !time.Now().Before(waitUntil) {
			return Answer{}, false, &errs.Error{Code: errs.Conflict, Reason: errs.ReasonIdempotencyInUse,
				Message: "A request with this Idempotency-Key is still being processed. Retry in a moment to get its answer."}
		}
		t := time.NewTimer(s.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return Answer{}, false, ctx.Err()
		case <-t.C:
		}
	}
}

// claim claims sc for a request, or returns the key's entry (found; a
// pending one has Done false).
func (s *Service) claim(ctx context.Context, sc Scope, fingerprint string) (cur Entry, claimed, found bool, err error) {
	now := s.Now()
	s.mu.Lock()
	if e, ok := s.done[sc]; ok && e.CreatedAt.After(now.Add(-TTL)) {
		s.mu.Unlock()
		return e, false, true, nil // answered, not yet written
	}
	if !s.Local {
		s.mu.Unlock()
		cur, claimed, err := s.Store.ClaimIdempotencyKey(ctx, Entry{Scope: sc, Fingerprint: fingerprint, CreatedAt: now}, now.Add(-TTL), now.Add(-s.Stale))
		return cur, claimed, !claimed, err
	}
	if fp, ok := s.pending[sc]; ok {
		s.mu.Unlock()
		return Entry{Scope: sc, Fingerprint: fp}, false, true, nil
	}
	if s.pending == nil {
		s.pending = map[Scope]string{}
	}
	s.pending[sc] = fingerprint // held while the database is asked
	if _, maybe := s.known[sc]; s.known != nil && !maybe {
		s.mu.Unlock()
		return Entry{}, true, false, nil // the database has no entry of it
	}
	s.mu.Unlock()
	e, ok, err := s.Store.FindIdempotencyKey(ctx, sc, now.Add(-TTL))
	if err != nil || ok {
		s.mu.Lock()
		delete(s.pending, sc)
		s.mu.Unlock()
		return e, false, ok, err
	}
	return Entry{}, true, false, nil
}

// Complete keeps the answer of a request that claimed its key (the caller
// releases it instead when there is no answer to keep: a server failure,
// or a client that went away before anything was written). The answer is
// served from memory at once and written by the next Flush, off the
// request path.
func (s *Service) Complete(sc Scope, fingerprint string, a Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		s.done = map[Scope]Entry{}
	}
	s.done[sc] = Entry{Scope: sc, Fingerprint: fingerprint, Done: true, Answer: a, CreatedAt: s.Now()}
	delete(s.pending, sc)
	if s.known != nil {
		s.known[sc] = s.Now()
	}
}

// Flush writes the kept answers not written yet; on failure they stay
// for the next one. Flushes take turns (the periodic one and one at
// shutdown or from a test would otherwise write the same answers at
// once), and a batch is written in key order, so two writing overlapping
// keys — two instances, on PostgreSQL — wait for each other instead of
// deadlocking on each other's rows.
func (s *Service) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	batch := make([]Entry, 0, len(s.done))
	for _, e := range s.done {
		batch = append(batch, e)
	}
	s.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	slices.SortFunc(batch, func(a, b Entry) int {
		return cmp.Or(strings.Compare(a.OrgID, b.OrgID), strings.Compare(a.Env, b.Env), strings.Compare(a.Key, b.Key))
	})
	if err := s.Store.CompleteIdempotencyKeys(ctx, batch, s.Now().Add(-TTL)); err != nil {
		return err
	}
	s.mu.Lock()
	for _, e := range batch {
		if cur, ok := s.done[e.Scope]; ok && cur.Fingerprint == e.Fingerprint {
			delete(s.done, e.Scope)
		}
	}
	s.mu.Unlock()
	return nil
}

// Release forgets a claimed key whose request did not finish.
func (s *Service) Release(ctx context.Context, sc Scope) error {
	if s.Local {
		s.mu.Lock()
		delete(s.pending, sc)
		s.mu.Unlock()
		return nil
	}
	return s.Store.ReleaseIdempotencyKey(context.WithoutCancel(ctx), sc)
}

// Purge deletes the entries older than TTL (a retention job), and forgets
// them in memory.
func (s *Service) Purge(ctx context.Context) (int64, error) {
	before := s.Now().Add(-TTL)
	s.mu.Lock()
	for sc, at := range s.known {
		if at.Before(before) {
			delete(s.known, sc)
		}
	}
	s.mu.Unlock()
	return s.Store.PurgeIdempotencyKeys(ctx, before)
}

func reused() error {
	return &errs.Error{Code: errs.Invalid, Reason: errs.ReasonIdempotencyReused, Field: Header,
		Message: "This Idempotency-Key was already used for another request (another method, path or body) in the last 24 hours. Use a new key for a new request."}
}
