package datastore

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"time"
)

// Opener opens the backend of the datastore called name ("test", "live" or
// "org_…" for a dedicated one), creating it on first use.
type Opener func(ctx context.Context, name string) (Backend, error)

// Router opens the datastores by name and keeps them open: "test" (the
// shared test datastore), "live" (the shared live one) and "org_…" (an
// organization's dedicated one). Which one a request uses is the records
// service's decision (internal/records), made in one place.
type Router struct {
	open     Opener
	validate Validator
	index    Indexer
	now      func() time.Time
	budget   time.Duration

	mu      sync.RWMutex
	stores  map[string]*Store
	opening map[string]*opening // datastores being opened, by name
	closed  bool
}

// opening is a datastore being opened: callers that want it meanwhile
// wait for done, then find it in stores (or err).
type opening struct {
	done chan struct{}
	err  error
}

// NewRouter returns a Router that opens datastores with open.
func NewRouter(open Opener, v Validator, ix Indexer, now func() time.Time) *Router {
	return &Router{open: open, validate: v, index: ix, now: now, stores: map[string]*Store{}, opening: map[string]*opening{}}
}

// SetBudget bounds every read and search of the datastores the router
// opens (see Store.SetBudget); call it before the first one is opened.
func (r *Router) SetBudget(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.budget = d
	for _, s := range r.stores {
		s.SetBudget(d)
	}
}

// Name is the name of the datastore of env: the shared one, or with
// dedicated the organization's own live one.
func Name(env, orgID string, dedicated bool) string {
	if env == "live" && dedicated {
		return strings.ToLower(orgID) // org_… is a valid SQL schema name
	}
	if env == "live" {
		return "live"
	}
	return "test"
}

// Named returns the datastore called name ("test", "live", "org_…"),
// opening it on first use. An open datastore is found under a read lock;
// opening one (creating and migrating it may take seconds) holds no lock,
// so requests to the datastores already open go on meanwhile, and the
// callers that want the same one wait for that one opening (or their
// ctx). A failed opening is tried again by the next caller.
func (r *Router) Named(ctx context.Context, name string) (*Store, error) {
	r.mu.RLock()
	s, ok := r.stores[name]
	r.mu.RUnlock()
	if ok {
		return s, nil
	}
	r.mu.Lock()
	if s, ok := r.stores[name]; ok {
		r.mu.Unlock()
		return s, nil
	}
	if r.closed {
		r.mu.Unlock()
		return nil, errors.New("datastore: the router is closed")
	}
	if o, ok := r.opening[name]; ok {
		r.mu.Unlock()
		select {
		case <-o.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if o.err != nil {
			return nil, o.err
		}
		return r.Named(ctx, name)
	}
	o := &opening{done: make(chan struct{})}
	r.opening[name] = o
	r.mu.Unlock()

	// Not cut short by this caller's ctx ending: others may be waiting.
	b, err := r.open(context.WithoutCancel(ctx), name)
	r.mu.Lock()
	delete(r.opening, name)
	switch {
	case err != nil:
		o.err = err
	case r.closed:
		// Closed meanwhile: what was opened is closed at once.
		_ = b.Close()
		o.err = errors.New("datastore: the router is closed")
	default:
		s = New(b, r.validate, r.index, r.now)
		s.SetBudget(r.budget)
		r.stores[name] = s
	}
	r.mu.Unlock()
	close(o.done)
	if o.err != nil {
		return nil, o.err
	}
	return s, nil
}

// Open lists the datastores opened so far.
func (r *Router) Open() []*Store {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Store, 0, len(r.stores))
	for _, s := range r.stores {
		out = append(out, s)
	}
	return out
}

// Close closes every open datastore.
func (r *Router) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	var first error
	for name, s := range r.stores {
		if err := s.Close(); err != nil && first == nil {
			first = err
		}
		delete(r.stores, name)
	}
	return first
}

// Cursors makes opaque paging cursors bound to a tenant and a query: a
// cursor replayed by another tenant, or for another query, is refused.
type Cursors struct{ Secret []byte }

// Encode returns the cursor for offset.
func (c Cursors) Encode(tenant Tenant, queryKey string, offset int) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(offset))
	mac := c.mac(tenant, queryKey, b[:])
	return base64.RawURLEncoding.EncodeToString(append(b[:], mac[:16]...))
}

// Decode returns the offset of a cursor, ok false when it is malformed or
// was made for another tenant or query.
func (c Cursors) Decode(tenant Tenant, queryKey, cursor string) (int, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(raw) != 24 {
		return 0, false
	}
	mac := c.mac(tenant, queryKey, raw[:8])
	if !hmac.Equal(mac[:16], raw[8:]) {
		return 0, false
	}
	off := binary.BigEndian.Uint64(raw[:8])
	if off > 1<<31 {
		return 0, false
	}
	return int(off), true
}

func (c Cursors) mac(tenant Tenant, queryKey string, offset []byte) []byte {
	h := hmac.New(sha256.New, c.Secret)
	h.Write([]byte(tenant))
	h.Write([]byte{0})
	h.Write([]byte(queryKey))
	h.Write([]byte{0})
	h.Write(offset)
	return h.Sum(nil)
}
