package store_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/jobs"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
)

// TestJobRunner runs the job runner against each engine: due times survive
// a restart, two instances never run one kind at once, and failures and
// panics are stored as failed runs.
func TestJobRunner(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := storetest.Open(t, engine)
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		var mu sync.Mutex
		now := t0
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

		var runs atomic.Int32
		job := jobs.Job{Kind: "test.count", Every: time.Hour, Run: func(context.Context) (jobs.Result, error) {
			runs.Add(1)
			return jobs.Result{Summary: "counted"}, nil
		}}
		a := jobs.New(db, log, clock)
		a.Register(job)
		stop := a.Start(ctx)
		waitFor(t, func() bool { return runs.Load() == 1 })
		stop()

		// A second instance (a restart) does not re-run work that is not due.
		b := jobs.New(db, log, clock)
		b.Register(job)
		b.Tick = 10 * time.Millisecond
		stop = b.Start(ctx)
		time.Sleep(100 * time.Millisecond)
		if got := runs.Load(); got != 1 {
			t.Fatalf("runs before due = %d, want 1", got)
		}
		advance(time.Hour)
		waitFor(t, func() bool { return runs.Load() == 2 })
		stop()

		st, err := b.Status(ctx)
		if err != nil || len(st) != 1 || st[0].Kind != "test.count" || !st[0].OK || st[0].Summary != "counted" || !st[0].FinishedAt.Equal(now.Truncate(time.Microsecond)) {
			t.Fatalf("Status = %+v, %v; want one successful run finished at %v", st, err, now)
		}

		// A held lease keeps the other instance out until it expires.
		release := make(chan struct{})
		started := make(chan struct{})
		slow := jobs.Job{Kind: "test.slow", Every: time.Minute, Run: func(context.Context) (jobs.Result, error) {
			close(started)
			<-release
			return jobs.Result{}, nil
		}}
		c1, c2 := jobs.New(db, log, clock), jobs.New(db, log, clock)
		c1.Register(slow)
		c2.Register(slow)
		done := make(chan error, 1)
		go func() { _, err := c1.RunNow(ctx, "test.slow"); done <- err }()
		<-started
		if _, err := c2.RunNow(ctx, "test.slow"); !errors.Is(err, jobs.ErrBusy) {
			t.Fatalf("RunNow while another instance holds the lease: %v, want ErrBusy", err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatalf("first RunNow: %v", err)
		}

		// Failures and panics are stored, and the lease is released.
		fails := jobs.Job{Kind: "test.fail", Every: time.Minute, Run: func(context.Context) (jobs.Result, error) {
			return jobs.Result{}, errors.New("disk full")
		}}
		panics := jobs.Job{Kind: "test.panic", Every: time.Minute, Run: func(context.Context) (jobs.Result, error) { panic("boom") }}
		c2.Register(fails)
		c2.Register(panics)
		if _, err := c2.RunNow(ctx, "test.fail"); err == nil || err.Error() != "disk full" {
			t.Fatalf("failing job: %v, want disk full", err)
		}
		if _, err := c2.RunNow(ctx, "test.panic"); err == nil {
			t.Fatalf("panicking job returned no error")
		}
		if _, err := c2.RunNow(ctx, "test.fail"); err == nil || errors.Is(err, jobs.ErrBusy) {
			t.Fatalf("re-running a failed job: %v, want its own error (the lease must be free)", err)
		}
		if _, err := c2.RunNow(ctx, "test.none"); !errors.Is(err, jobs.ErrUnknown) {
			t.Fatalf("unknown kind: %v", err)
		}
		st, _ = c2.Status(ctx)
		byKind := map[string]jobs.Run{}
		for _, r := range st {
			byKind[r.Kind] = r
		}
		if r := byKind["test.panic"]; r.OK || r.Error == "" {
			t.Fatalf("panic run stored as %+v, want a failure", r)
		}
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
