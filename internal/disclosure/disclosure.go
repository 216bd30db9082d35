// Package disclosure keeps the accounting of disclosures: which API key (or
// member, or bulk job) read, found in a search, included, exported or wrote
// which patient's resources, when, and through which route. It is the
// answer to HIPAA's question "who accessed this patient's record?". A
// disclosure holds ids only, never content: the patient id, the resource
// references ("Observation/abc"), the actor, the request id and the route
// pattern.
//
// A resource belongs to the patients of its compartment: a Patient to
// itself, any other resource to every Patient it references (subject,
// patient, beneficiary, …: any "Patient/…" reference in it).
package disclosure

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Operations of disclosures.
const (
	Read    = "read"    // read by id, a version, the history
	Search  = "search"  // a match of a search
	Include = "include" // brought along by _include / _revinclude
	Export  = "export"  // written to a bulk export file
	Create  = "create"
	Update  = "update"
	Patch   = "patch"
	Delete  = "delete"
)

// Operations lists them, for the report's filter.
var Operations = []string{Read, Search, Include, Export, Create, Update, Patch, Delete}

// Disclosure is what one request (or job) disclosed of one patient in one
// operation.
type Disclosure struct {
	OrgID     string
	PatientID string
	At        time.Time
	Env       string // test or live
	ActorType string // api_key, user, system
	ActorID   string // key id, user id
	RequestID string // req_… of the API request ("" for jobs)
	Route     string // route pattern, e.g. GET /v1/fhir/:type/:id
	Operation string
	BulkJob   string
	Resources []string // Type/id of the patient's resources it touched
}

// Filter selects one patient's disclosures in a period, newest first.
type Filter struct {
	OrgID     string
	PatientID string
	After     time.Time // inclusive; zero: no lower bound
	Before    time.Time // exclusive; zero: no upper bound
	// BeforeSeq continues a listing after the disclosure numbered so.
	BeforeSeq int64
	Limit     int
}

// Entry is a stored disclosure and its number (for paging).
type Entry struct {
	Seq int64
	Disclosure
}

// Store persists disclosures.
type Store interface {
	InsertDisclosures(ctx context.Context, ds []Disclosure) error
	ListDisclosures(ctx context.Context, f Filter) ([]Entry, error)
}

// BatchSize is the most disclosures one InsertDisclosures call writes
// (all or none, in one commit).
const BatchSize = 5000

// Request is what the API tier knows of the request a disclosure is part
// of; it travels in the context.
type Request struct {
	ID    string
	Route string
}

type requestKey struct{}

// WithRequest returns ctx carrying r.
func WithRequest(ctx context.Context, r *Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestFrom returns the request carried by ctx (zero when none).
func RequestFrom(ctx context.Context) Request {
	if r, ok := ctx.Value(requestKey{}).(*Request); ok && r != nil {
		return *r
	}
	return Request{}
}

// Log buffers disclosures and writes them in batches behind the request,
// like usage records: the request path never waits for the database.
type Log struct {
	store Store
	log   *slog.Logger
	now   func() time.Time

	mu      sync.Mutex
	pending []Disclosure
	paused  atomic.Bool // the load test measures the cost of recording
}

// Pause stops (true) or resumes recording. Only the load test does this,
// to measure what recording costs in one run; a server never pauses.
func (l *Log) Pause(paused bool) { l.paused.Store(paused) }

// New returns a Log writing to store.
func New(store Store, log *slog.Logger, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{store: store, log: log, now: now}
}

// Resource is a resource a disclosure is about: its reference and content
// (read for the patient references, never stored).
type Resource struct {
	Type, ID string
	Content  []byte
}

// Record queues the disclosure of resources in one operation: one
// Disclosure per patient whose compartment they are in. Resources in no
// patient's compartment (a Practitioner, an Organization) disclose no
// patient and are left out.
func (l *Log) Record(ctx context.Context, base Disclosure, rs ...Resource) {
	if len(rs) == 0 || l.paused.Load() {
		return
	}
	if base.At.IsZero() {
		base.At = l.now().UTC()
	}
	if base.RequestID == "" && base.Route == "" {
		r := RequestFrom(ctx)
		base.RequestID, base.Route = r.ID, r.Route
	}
	var out []Disclosure
	if len(rs) == 1 { // a read: one reference, each patient once (Patients)
		r := rs[0]
		refs := []string{r.Type + "/" + r.ID} // shared: never changed after this
		for _, p := range Patients(r.Type, r.ID, r.Content) {
			d := base
			d.PatientID, d.Resources = p, refs
			out = append(out, d)
		}
		l.queue(out)
		return
	}
	at := map[string]int{} // patient → index in out
	for _, r := range rs {
		ref := r.Type + "/" + r.ID
		for _, p := range Patients(r.Type, r.ID, r.Content) {
			i, ok := at[p]
			if !ok {
				d := base
				d.PatientID = p
				d.Resources = nil
				out = append(out, d)
				i = len(out) - 1
				at[p] = i
			}
			if !slices.Contains(out[i].Resources, ref) {
				out[i].Resources = append(out[i].Resources, ref)
			}
		}
	}
	l.queue(out)
}

// queue adds ds to what the next Flush writes.
func (l *Log) queue(ds []Disclosure) {
	if len(ds) == 0 {
		return
	}
	l.mu.Lock()
	l.pending = append(l.pending, ds...)
	l.mu.Unlock()
}

// Flush writes the queued disclosures; ones that fail stay queued.
func (l *Log) Flush(ctx context.Context) error {
	l.mu.Lock()
	batch := l.pending
	// Room for as many as this flush writes, so the queue does not
	// grow from nothing again under load.
	l.pending = make([]Disclosure, 0, max(256, len(batch)))
	l.mu.Unlock()
	for len(batch) > 0 {
		n := min(len(batch), BatchSize)
		if err := l.store.InsertDisclosures(ctx, batch[:n]); err != nil {
			l.mu.Lock()
			l.pending = append(batch, l.pending...)
			l.mu.Unlock()
			return err
		}
		batch = batch[n:]
	}
	return nil
}

// List returns a patient's disclosures matching f, newest first.
func (l *Log) List(ctx context.Context, f Filter) ([]Entry, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	return l.store.ListDisclosures(ctx, f)
}

// refMarker starts a relative reference to a Patient in stored FHIR JSON
// (which the datastore writes compactly: no space after the colon).
var refMarker = []byte(`"reference":"`)

// Patients returns the patients whose compartment a resource is in: a
// Patient itself, and every Patient a reference in the resource names
// ("Patient/123", or an absolute URL ending in /Patient/123, a version
// suffix dropped). The content is scanned, not decoded.
func Patients(typ, id string, content []byte) []string {
	var out []string
	if typ == "Patient" && id != "" {
		out = append(out, id)
	}
	rest := content
	for {
		i := bytes.Index(rest, refMarker)
		if i < 0 {
			return out
		}
		rest = rest[i+len(refMarker):]
		end := bytes.IndexByte(rest, '"')
		if end < 0 {
			return out
		}
		ref := string(rest[:end])
		rest = rest[end:]
		if p := patientOf(ref); p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
}

// patientOf returns the id a reference names if it is a Patient's.
func patientOf(ref string) string {
	if h := strings.Index(ref, "/_history/"); h >= 0 {
		ref = ref[:h]
	}
	var rest string
	if after, ok := strings.CutPrefix(ref, "Patient/"); ok {
		rest = after
	} else if i := strings.LastIndex(ref, "/Patient/"); i >= 0 && strings.Contains(ref[:i], "://") {
		rest = ref[i+len("/Patient/"):]
	} else {
		return ""
	}
	if rest == "" || strings.ContainsAny(rest, "/?#") || len(rest) > 64 {
		return ""
	}
	return rest
}
