package app

import (
	"context"
	"runtime"
	"strconv"
	"time"

	"github.com/clinikapi/clinikapi/internal/jobs"
	outbound "github.com/clinikapi/clinikapi/internal/webhook"
)

// webhooks builds outbound webhooks: the SSRF guard (loopback only with
// CLINIKAPI_WEBHOOK_ALLOW_LOOPBACK), the dispatcher, the relay from the
// datastores' outboxes, and the retention job of the delivery log.
func (a *App) webhooks(ctx context.Context, opt Options) error {
	guard := &outbound.Guard{Resolver: opt.WebhookResolver, AllowLoopback: a.Config.WebhookAllowLoopback}
	key, err := a.DB.ServerSecret(ctx, "webhook-secrets")
	if err != nil {
		return err
	}
	d := outbound.NewDispatcher(a.DB, guard, opt.WebhookRoots, a.now, a.Log)
	outboxes := func() []outbound.Outbox {
		open := a.Data.Open()
		out := make([]outbound.Outbox, len(open))
		for i, st := range open {
			out[i] = st
		}
		return out
	}
	a.Webhooks, err = outbound.New(a.DB, a.Audit, guard, key, a.now, a.Log, outboxes, d)
	if err != nil {
		return err
	}
	a.Webhooks.Tenants = a.SubOrgs // set before: sub-organizations come first
	// Deliveries give way to API requests while every core has one.
	busy := func() bool { return a.registry.InFlight() >= int64(runtime.GOMAXPROCS(0)) }
	y := &outbound.Yield{Busy: busy, Max: outbound.MaxDefer}
	a.Webhooks.Yield, d.Yield = y, y
	a.Records.Changed = a.Webhooks.Changed
	a.Jobs.Register(jobs.Job{Kind: "retention.webhook_deliveries", Every: 24 * time.Hour, Run: func(ctx context.Context) (jobs.Result, error) {
		n, err := a.Webhooks.Purge(ctx)
		return jobs.Result{Summary: "deleted " + strconv.FormatInt(n, 10) + " finished webhook deliveries older than 30 days", Counts: map[string]int64{"deliveries": n}}, err
	}})
	return nil
}
