// Package usage records one row per authenticated API request — who, which
// route pattern, status, latency, bytes — buffered in memory and written in
// batches off the request path, and flushed at shutdown.
package usage

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Record is one API request. It holds metadata only: the route pattern, not
// the path (no ids), and nothing of the request or response bodies.
type Record struct {
	ID        int64 // assigned by the store
	Time      time.Time
	OrgID     string
	KeyID     string
	Env       string
	Method    string
	Route     string
	Status    int
	Latency   time.Duration
	BytesIn   int64
	BytesOut  int64
	RequestID string
	Code      string // error code of a refused request (RATE_LIMITED, …); "" otherwise
	// ResourceType is the FHIR type the request used ("" for none, e.g.
	// a bulk job's status); ClientIP the client address; UAFamily the
	// user agent's product name (curl, node, …), never the full string.
	ResourceType string
	ClientIP     string
	UAFamily     string
}

// Store persists records.
type Store interface {
	InsertUsage(ctx context.Context, rs []Record) error
}

// Recorder buffers records and writes them in batches.
type Recorder struct {
	store Store
	log   *slog.Logger

	mu      sync.Mutex
	pending []Record
}

// BatchSize is the most records one InsertUsage call writes (all or
// none): a second's worth of a busy instance's requests, in one commit.
const BatchSize = 5000

// NewRecorder returns a Recorder writing to s.
func NewRecorder(s Store, log *slog.Logger) *Recorder {
	return &Recorder{store: s, log: log, pending: make([]Record, 0, 1024)}
}

// Add buffers r. It never blocks on the database.
func (r *Recorder) Add(rec Record) {
	r.mu.Lock()
	r.pending = append(r.pending, rec)
	r.mu.Unlock()
}

// Pending reports how many records wait to be written.
func (r *Recorder) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

// Flush writes everything buffered. Records that fail to write are kept for
// the next attempt.
func (r *Recorder) Flush(ctx context.Context) error {
	r.mu.Lock()
	batch := r.pending
	r.pending = make([]Record, 0, max(1024, len(batch)))
	r.mu.Unlock()
	for len(batch) > 0 {
		n := min(BatchSize, len(batch))
		if err := r.store.InsertUsage(ctx, batch[:n]); err != nil {
			r.mu.Lock()
			r.pending = append(batch, r.pending...)
			r.mu.Unlock()
			return err
		}
		batch = batch[n:]
	}
	return nil
}
