package app

import (
	"context"
	"sync"
	"time"

	"github.com/clinikapi/clinikapi/internal/store"
)

// flusher is a periodic write-behind task: usage records, quota counters,
// key last-used times.
type flusher struct {
	name  string
	every time.Duration
	flush func(context.Context) error
}

func (a *App) flushers() []flusher {
	return []flusher{
		{"usage records", time.Second, a.Usage.Flush},
		{"quota counters", time.Second, a.Quota.Flush},
		{"key last-used", 15 * time.Second, a.Keys.FlushLastUsed},
		{"audit outbox", time.Second, a.Records.RelayAudit},
		{"webhook outbox", 5 * time.Second, a.Webhooks.Relay}, // also run at once on every change (Webhooks.Run)
		{"audit events", time.Second, a.Audit.Flush},
		{"disclosures", time.Second, a.Disclosures.Flush},
		{"idempotency answers", 100 * time.Millisecond, a.Idempotency.Flush},
	}
}

// Start runs the background work until Close: the write-behind flushers and
// the key-cache invalidation listener and the periodic jobs.
func (a *App) Start(ctx context.Context) {
	// Open every datastore there is, so that audit events a stopped
	// instance left in an outbox reach the audit log now, not when the
	// datastore is next used.
	if names, err := store.DatastoreNames(ctx, a.Config.DatabaseURL, a.Config.DataDir); err != nil {
		a.Log.Error("listing the datastores failed; their audit outboxes are relayed once they are used", "err", err)
	} else {
		for _, name := range names {
			if _, err := a.Data.Named(ctx, name); err != nil {
				a.Log.Error("opening a datastore failed", "datastore", name, "err", err)
			}
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, f := range a.flushers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(f.every)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					// A flush is never cancelled half-way: a write that
					// commits while its context is cancelled reports an
					// error, and the retry would write it twice.
					if err := f.flush(context.WithoutCancel(ctx)); err != nil {
						a.Log.Error("background flush failed; will retry", "task", f.name, "err", err)
					}
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.Keys.Listen(ctx); err != nil && ctx.Err() == nil {
			a.Log.Error("api key invalidation listener stopped", "err", err)
		}
	}()
	if a.CacheSync != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.CacheSync.Run(ctx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.listenSessions(ctx); err != nil && ctx.Err() == nil {
			a.Log.Error("session revocation listener stopped", "err", err)
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.listenPlans(ctx); err != nil && ctx.Err() == nil {
			a.Log.Error("plan invalidation listener stopped", "err", err)
		}
	}()
	// The bulk worker runs beside the listeners, which block until
	// shutdown when PostgreSQL or Redis carry invalidations.
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.Bulk.Run(ctx, time.Second)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.Webhooks.Run(ctx, 200*time.Millisecond)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.Mover.Run(ctx, time.Second)
	}()
	stopJobs := a.Jobs.Start(ctx)
	a.stopWorkers = func() {
		cancel()
		stopJobs()
		wg.Wait()
	}
}

// Flush writes everything buffered now (shutdown, tests).
func (a *App) Flush(ctx context.Context) error {
	var first error
	for _, f := range a.flushers() {
		if err := f.flush(ctx); err != nil {
			a.Log.Error("flush failed", "task", f.name, "err", err)
			if first == nil {
				first = err
			}
		}
	}
	return first
}
