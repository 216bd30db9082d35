package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/random"
)

// Retries are the delays before each retry of a failed delivery
// (guides/webhooks.mdx, "Retry Policy"): the first send, then five
// retries; when the last fails the delivery is failed.
var Retries = []time.Duration{30 * time.Second, 2 * time.Minute, 8 * time.Minute, 32 * time.Minute, 2 * time.Hour}

// Limits of one send.
const (
	SendTimeout     = 10 * time.Second // the whole request, connection included
	ResponseExcerpt = 512              // bytes of the answer kept in the log
	drainLimit      = 64 << 10         // bytes read of an answer, so the connection can be reused
)

// Dispatcher sends due deliveries. Each look for work claims, in one
// statement, the due deliveries of every endpoint this instance is not
// already sending to (a batch of each, with a lease), and gives each
// endpoint's batch to a worker of its own (at most MaxWorkers at once),
// which sends them with at most PerEndpoint requests in flight, records
// the attempts in one transaction, and goes on claiming that endpoint's
// deliveries while its batches come back full: a slow receiver holds its
// own worker only.
type Dispatcher struct {
	Store  Store
	Guard  *Guard
	Client *http.Client
	Now    func() time.Time
	Log    *slog.Logger
	// Holder names this instance in leases.
	Holder      string
	PerEndpoint int
	// Batch is how many of an endpoint's deliveries a claim takes; a
	// worker whose batches come back full (a backlog) doubles it, up to
	// MaxBatch, so that claims and finishes, one round trip each per
	// batch, keep up with a stream.
	Batch      int
	MaxBatch   int
	MaxWorkers int
	// Lease is the least a claim leases its deliveries for; a larger
	// batch is leased for as long as its sends can take (see leaseFor).
	Lease time.Duration
	// Yield makes looks for due work give way to a busy API (nil: never).
	Yield *Yield

	secrets func(e Endpoint, t time.Time) (cur, old string, err error)
	wake    chan struct{}
	mu      sync.Mutex
	active  map[string]bool
	wg      sync.WaitGroup
	// behind is set when a worker's batch came back full: the next look
	// for work does not give way to the API.
	behind atomic.Bool

	// The attempts waiting to be recorded (see finish).
	fmu      sync.Mutex
	fq       []finishing
	flushing bool
}

type finishing struct {
	as   []Attempt
	done chan error
}

// NewDispatcher makes a dispatcher whose client dials through g and
// trusts roots (nil: the system's).
func NewDispatcher(st Store, g *Guard, roots *x509.CertPool, now func() time.Time, log *slog.Logger) *Dispatcher {
	tr := &http.Transport{
		Proxy:                 nil, // never through a proxy: the guard must see the real destination
		DialContext:           g.DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: SendTimeout,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &Dispatcher{
		Store: st, Guard: g, Now: now, Log: log,
		Client: &http.Client{Transport: tr, Timeout: SendTimeout,
			// Redirects are not followed: a 3xx is a failed delivery.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		Holder: random.ID("inst"), PerEndpoint: 4, Batch: 32, MaxBatch: 128, MaxWorkers: 32, Lease: 2 * time.Minute,
		wake: make(chan struct{}, 1), active: map[string]bool{},
	}
}

// Wake makes the dispatcher look for work now rather than at its next tick.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run dispatches until ctx ends, looking for due deliveries every tick
// and whenever woken, then waits for the workers.
func (d *Dispatcher) Run(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		d.Step(ctx)
		if !pause(ctx, t.C, d.wake, d.Yield, d.behind.Swap(false)) {
			d.wg.Wait()
			return
		}
	}
}

// Step claims due deliveries for the endpoints without a worker, within
// MaxWorkers, and starts a worker for each; it does not wait for them.
func (d *Dispatcher) Step(ctx context.Context) {
	d.mu.Lock()
	free := d.MaxWorkers - len(d.active)
	skip := make([]string, 0, len(d.active))
	for id := range d.active {
		skip = append(skip, id)
	}
	d.mu.Unlock()
	if free <= 0 {
		return
	}
	now := d.Now().UTC()
	batch, err := d.Store.ClaimWebhookDeliveries(ctx, Claim{Holder: d.Holder, Now: now, Until: now.Add(d.leaseFor(d.Batch)),
		PerEndpoint: d.Batch, Endpoints: free, Skip: skip})
	if err != nil {
		if ctx.Err() == nil {
			d.Log.ErrorContext(ctx, "webhooks: claiming due deliveries failed; will retry", "err", err)
		}
		return
	}
	if len(batch) == 0 {
		return
	}
	groups := map[string][]Delivery{}
	var ids []string
	for _, del := range batch {
		if _, ok := groups[del.EndpointID]; !ok {
			ids = append(ids, del.EndpointID)
		}
		groups[del.EndpointID] = append(groups[del.EndpointID], del)
	}
	eps, err := d.Store.WebhookEndpointsByID(ctx, ids)
	if err != nil {
		// The leases run out and the next look sees them again.
		d.Log.ErrorContext(ctx, "webhooks: reading endpoints failed", "err", err)
		return
	}
	byID := make(map[string]Endpoint, len(eps))
	for _, e := range eps {
		byID[e.ID] = e
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range ids {
		group := groups[id]
		e, ok := byID[id]
		// Deleted meanwhile (its deliveries went with it); an endpoint
		// is only ever sent its own organization's deliveries.
		if !ok || e.OrgID != group[0].OrgID || d.active[id] {
			continue
		}
		d.active[id] = true
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.work(ctx, e, group)
			d.mu.Lock()
			delete(d.active, id)
			d.mu.Unlock()
		}()
	}
}

// Wait waits for the workers started so far.
func (d *Dispatcher) Wait() { d.wg.Wait() }

// leaseFor is how long a batch of n deliveries is leased: at least
// Lease, and longer than its sends can take, PerEndpoint at a time, each
// within SendTimeout, so that no other instance claims a delivery of it
// while it is being sent.
func (d *Dispatcher) leaseFor(n int) time.Duration {
	per := max(1, d.PerEndpoint)
	rounds := (n + per - 1) / per
	return max(d.Lease, time.Duration(rounds)*SendTimeout+30*time.Second)
}

// nextBatch is the size of a worker's next claim after one of size came
// back with got deliveries: twice as large while they come back full.
func (d *Dispatcher) nextBatch(size, got int) int {
	if got < size {
		return d.Batch
	}
	return max(d.Batch, min(2*size, d.MaxBatch))
}

// work sends a batch of an endpoint's deliveries, and the next while
// batches come back full, until none is left or ctx ends.
func (d *Dispatcher) work(ctx context.Context, e Endpoint, batch []Delivery) {
	size := d.Batch
	for {
		attempts := make([]Attempt, len(batch))
		sem := make(chan struct{}, max(1, d.PerEndpoint))
		var wg sync.WaitGroup
		for i, del := range batch {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				attempts[i] = d.send(ctx, e, del)
			}()
		}
		wg.Wait()
		// Recorded even when ctx ended meanwhile: the sends happened.
		if err := d.finish(context.WithoutCancel(ctx), attempts); err != nil {
			d.Log.ErrorContext(ctx, "webhooks: recording attempts failed; they will be sent again", "endpoint", e.ID, "err", err)
			return
		}
		if len(batch) < size || ctx.Err() != nil {
			return
		}
		d.behind.Store(true)
		size = d.nextBatch(size, len(batch))
		now := d.Now().UTC()
		var err error
		batch, err = d.Store.ClaimWebhookDeliveries(ctx, Claim{Holder: d.Holder, Now: now, Until: now.Add(d.leaseFor(size)),
			PerEndpoint: size, Endpoints: 1, Endpoint: e.ID})
		if err != nil {
			d.Log.ErrorContext(ctx, "webhooks: claiming deliveries failed; will retry", "endpoint", e.ID, "err", err)
			return
		}
		if len(batch) == 0 {
			return
		}
		// Read again: its secret may have been rolled meanwhile.
		fresh, err := d.Store.WebhookEndpoint(ctx, e.OrgID, e.ID)
		if err != nil {
			// Deleted meanwhile, or the database failed: the leases run
			// out and the next worker sees.
			if !errs.Is(err, errs.NotFound) {
				d.Log.ErrorContext(ctx, "webhooks: reading an endpoint failed", "endpoint", e.ID, "err", err)
			}
			return
		}
		e = fresh
	}
}

// finish records attempts. Workers that finish while a recording runs
// are recorded together in the next, one transaction for all of them:
// on SQLite the pages the attempts share are written once.
func (d *Dispatcher) finish(ctx context.Context, as []Attempt) error {
	me := finishing{as: as, done: make(chan error, 1)}
	d.fmu.Lock()
	d.fq = append(d.fq, me)
	if d.flushing {
		d.fmu.Unlock()
		return <-me.done
	}
	d.flushing = true
	for len(d.fq) > 0 {
		batch := d.fq
		d.fq = nil
		d.fmu.Unlock()
		var all []Attempt
		for _, f := range batch {
			all = append(all, f.as...)
		}
		err := d.Store.FinishWebhookAttempts(ctx, d.Holder, all, d.Now().UTC())
		for _, f := range batch {
			f.done <- err
		}
		d.fmu.Lock()
	}
	d.flushing = false
	d.fmu.Unlock()
	return <-me.done
}

// send makes one attempt of a delivery and says what came of it and what
// comes next.
func (d *Dispatcher) send(ctx context.Context, e Endpoint, del Delivery) Attempt {
	now := d.Now().UTC()
	a := Attempt{
		ID: random.SortableID("wha", now), DeliveryID: del.ID, EndpointID: e.ID, OrgID: e.OrgID,
		EventID: del.EventID, Event: del.Event, Attempt: del.Attempts + 1, At: now,
	}
	retry := func() {
		a.Outcome = Failed
		if del.Attempts < len(Retries) {
			a.NextAttemptAt = now.Add(Retries[del.Attempts])
		}
	}
	if _, err := d.Guard.CheckURL(e.URL); err != nil {
		a.Outcome, a.Error = Refused, refusalReason(err)
		return a
	}
	cur, old, err := d.secrets(e, now)
	if err != nil {
		d.Log.ErrorContext(ctx, "webhooks: a signing secret does not open", "endpoint", e.ID, "err", err)
		a.Error = "the signing secret could not be read"
		retry()
		return a
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(del.Payload))
	if err != nil {
		a.Outcome, a.Error = Refused, "the URL is not valid"
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ClinikAPI-Webhooks/1.0")
	req.Header.Set(HeaderEvent, del.Event)
	req.Header.Set(HeaderDeliveryID, del.EventID)
	Sign(req.Header, del.Payload, now, cur, old)
	start := time.Now()
	res, err := d.Client.Do(req)
	a.Latency = time.Since(start)
	if err != nil {
		var rf *Refusal
		if errors.As(err, &rf) {
			a.Outcome, a.Error = Refused, rf.Reason
			return a
		}
		a.Error = sendError(err)
		retry()
		return a
	}
	excerpt, _ := io.ReadAll(io.LimitReader(res.Body, ResponseExcerpt))
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, drainLimit))
	res.Body.Close()
	a.StatusCode, a.Response = res.StatusCode, cleanExcerpt(excerpt)
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		a.Outcome = Succeeded
		return a
	}
	a.Error = "HTTP " + strconv.Itoa(res.StatusCode)
	if res.StatusCode >= 300 && res.StatusCode < 400 {
		a.Error += " (redirects are not followed; register the final URL)"
	}
	retry()
	return a
}

func refusalReason(err error) string {
	var rf *Refusal
	if errors.As(err, &rf) {
		return rf.Reason
	}
	return "the URL is not valid"
}

// sendError words a failed request without its URL (which may carry a
// token in its query).
func sendError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return "timed out after " + SendTimeout.String()
	case strings.Contains(err.Error(), "connection refused"):
		return "connection refused"
	case strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "x509:"):
		return "TLS handshake failed: " + lastPart(err.Error())
	}
	return lastPart(err.Error())
}

func lastPart(s string) string {
	if i := strings.LastIndex(s, ": "); i >= 0 && i+2 < len(s) {
		s = s[i+2:]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// cleanExcerpt keeps the printable text of the start of an answer.
func cleanExcerpt(b []byte) string {
	var out strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		switch {
		case r == utf8.RuneError && n <= 1:
			out.WriteRune('\uFFFD')
		case r == '\n' || r == '\t' || r >= ' ' && r != 0x7f:
			out.WriteRune(r)
		}
	}
	return out.String()
}
