// Package jobs runs periodic background work in-process: analytics rollups,
// retention purges, scheduled deletions. Each kind runs at most once at a
// time across every instance, guarded by a lease row in the database; the
// time of the last run is stored there too, so a restart does not re-run
// work that is not yet due. Every run's outcome is kept for operators.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/clinikapi/clinikapi/internal/random"
)

// Job is one kind of periodic work.
type Job struct {
	Kind  string        // stable name, e.g. "usage.rollup"
	Every time.Duration // how long after the end of one run the next is due
	// Run does the work. It returns a short summary of what it did, such
	// as counts; never PHI.
	Run func(ctx context.Context) (Result, error)
}

// Result is what a run reports.
type Result struct {
	Summary string           // e.g. "rolled up 1,204 records"
	Counts  map[string]int64 // machine-readable figures, e.g. {"deleted": 3}
}

// Run is the stored outcome of the last run of a kind.
type Run struct {
	Kind       string
	Holder     string // the instance that ran it
	StartedAt  time.Time
	FinishedAt time.Time // zero while running
	OK         bool
	Summary    string
	Error      string
}

// Store keeps the leases and the last run of each kind.
type Store interface {
	// AcquireJobLease takes the lease on kind for holder until leaseUntil,
	// but only when no other holder's lease is still valid at now and the
	// last run finished at or before dueBefore (or never ran). It reports
	// whether the lease was taken.
	AcquireJobLease(ctx context.Context, kind, holder string, now, leaseUntil, dueBefore time.Time) (bool, error)
	// FinishJob stores the outcome of holder's run and releases the lease.
	FinishJob(ctx context.Context, r Run) error
	// JobRuns lists the last run of every kind that has run.
	JobRuns(ctx context.Context) ([]Run, error)
}

// Runner runs registered jobs when they are due.
type Runner struct {
	store  Store
	log    *slog.Logger
	now    func() time.Time
	holder string
	// Lease is how long a run may take before another instance may assume
	// it died and take over.
	Lease time.Duration
	// Tick is how often due jobs are looked for.
	Tick time.Duration

	mu   sync.Mutex
	jobs map[string]Job
	busy map[string]bool
}

// New returns a Runner identified by a random holder id.
func New(s Store, log *slog.Logger, now func() time.Time) *Runner {
	if now == nil {
		now = time.Now
	}
	return &Runner{
		store: s, log: log, now: now, holder: random.ID("inst"),
		Lease: 15 * time.Minute, Tick: 5 * time.Second,
		jobs: map[string]Job{}, busy: map[string]bool{},
	}
}

// Register adds a job kind. Registering the same kind twice panics: kinds
// are program constants.
func (r *Runner) Register(j Job) {
	if j.Kind == "" || j.Every <= 0 || j.Run == nil {
		panic("jobs: a job needs a kind, an interval and a function")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.jobs[j.Kind]; dup {
		panic("jobs: kind registered twice: " + j.Kind)
	}
	r.jobs[j.Kind] = j
}

// Kinds lists the registered kinds, sorted.
func (r *Runner) Kinds() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.jobs))
	for k := range r.jobs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Start looks for due jobs every Tick until ctx ends, running each due kind
// in its own goroutine. It returns a function that stops the loop and waits
// for runs in progress.
func (r *Runner) Start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(r.Tick)
		defer t.Stop()
		for {
			for _, kind := range r.Kinds() {
				if !r.claimLocal(kind) {
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer r.releaseLocal(kind)
					if _, _, err := r.runIfDue(ctx, kind, false); err != nil && ctx.Err() == nil {
						r.log.Error("background job could not start", "job", kind, "err", err)
					}
				}()
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}

// ErrUnknown is returned by RunNow for a kind that was never registered.
var ErrUnknown = errors.New("jobs: unknown job kind")

// ErrBusy is returned by RunNow when another run of the kind holds the lease.
var ErrBusy = errors.New("jobs: another run of this job is in progress")

// RunNow runs kind at once, whether or not it is due (operators, tests).
// It still takes the lease, so it never overlaps another instance's run.
func (r *Runner) RunNow(ctx context.Context, kind string) (Run, error) {
	if !r.claimLocal(kind) {
		return Run{}, ErrBusy
	}
	defer r.releaseLocal(kind)
	run, ran, err := r.runIfDue(ctx, kind, true)
	if err != nil {
		return run, err
	}
	if !ran {
		return run, ErrBusy
	}
	if !run.OK {
		return run, errors.New(run.Error)
	}
	return run, nil
}

// Status lists the last run of every kind.
func (r *Runner) Status(ctx context.Context) ([]Run, error) {
	return r.store.JobRuns(ctx)
}

func (r *Runner) claimLocal(kind string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.busy[kind] {
		return false
	}
	r.busy[kind] = true
	return true
}

func (r *Runner) releaseLocal(kind string) {
	r.mu.Lock()
	delete(r.busy, kind)
	r.mu.Unlock()
}

// runIfDue takes the lease when kind is due (or force is set), runs it and
// stores the outcome. ran reports whether it ran.
func (r *Runner) runIfDue(ctx context.Context, kind string, force bool) (run Run, ran bool, err error) {
	r.mu.Lock()
	j, ok := r.jobs[kind]
	r.mu.Unlock()
	if !ok {
		return Run{}, false, ErrUnknown
	}
	now := r.now()
	dueBefore := now.Add(-j.Every)
	if force {
		dueBefore = now.Add(time.Hour) // any finished run counts as due
	}
	got, err := r.store.AcquireJobLease(ctx, kind, r.holder, now, now.Add(r.Lease), dueBefore)
	if err != nil || !got {
		return Run{}, false, err
	}
	run = Run{Kind: kind, Holder: r.holder, StartedAt: now}
	res, runErr := safeRun(ctx, j)
	run.FinishedAt = r.now()
	run.OK = runErr == nil
	run.Summary = res.Summary
	if runErr != nil {
		run.Error = runErr.Error()
		r.log.Error("background job failed", "job", kind, "err", runErr, "took", run.FinishedAt.Sub(now).String())
	} else {
		r.log.Info("background job finished", "job", kind, "summary", res.Summary, "took", run.FinishedAt.Sub(now).String())
	}
	// The outcome is stored even when ctx ended (shutdown), so the lease is
	// released and the next start knows where things stand.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.store.FinishJob(fctx, run); err != nil {
		return run, true, err
	}
	return run, true, nil
}

// safeRun turns a panicking job into a failed run.
func safeRun(ctx context.Context, j Job) (res Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("job panicked: %v", p)
		}
	}()
	return j.Run(ctx)
}
