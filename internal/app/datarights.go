package app

import (
	"context"
	"os"
	"strconv"
	"time"

	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/bulk"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/jobs"
	"github.com/clinikapi/clinikapi/internal/privacy"
	"github.com/clinikapi/clinikapi/internal/quota"
	"github.com/clinikapi/clinikapi/web/api"
)

// bulkQuota counts bulk records against organizations' monthly pools.
type bulkQuota struct {
	meter *quota.Meter
	plans api.PlanSource
	now   func() time.Time
}

func (q bulkQuota) take(ctx context.Context, orgID, env string, n int64, force bool) error {
	pl, err := q.plans.PlanOf(ctx, orgID)
	if err != nil {
		return err
	}
	d, err := q.meter.TakeN(ctx, orgID, pl, env, n, false, force)
	if err != nil || d.Allowed {
		return err
	}
	e := &errs.Error{Code: errs.RateLimited, Reason: errs.ReasonMonthlyQuota, RetryAfter: d.ResetIn(q.now()),
		Message: "This import holds " + strconv.FormatInt(n, 10) + " records, more than the " + strconv.FormatInt(d.Remaining(), 10) + " requests left in this organization's monthly pool (every record counts as a request). Import fewer records, upgrade, or wait for the pool to reset on the 1st (UTC)."}
	if d.Pool == quota.PoolSandbox {
		e.Reason = errs.ReasonSandboxQuota
	}
	return e
}

func (q bulkQuota) Reserve(ctx context.Context, orgID, env string, n int64) error {
	return q.take(ctx, orgID, env, n, false)
}

func (q bulkQuota) Count(ctx context.Context, orgID, env string, n int64) error {
	return q.take(ctx, orgID, env, n, true)
}

// dataRights builds the bulk and privacy capabilities and registers their
// retention jobs.
func (a *App) dataRights(ctx context.Context, plans api.PlanSource, subs privacy.SubscriptionCanceller) error {
	secret, err := a.DB.ServerSecret(ctx, "bulk-links")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(a.Config.ExportDir, 0o700); err != nil {
		return errs.Wrap(errs.Internal, err, "CLINIKAPI_EXPORT_DIR: cannot create %s", a.Config.ExportDir)
	}
	a.Bulk = &bulk.Service{
		Store: a.DB, Records: a.Records, Quota: bulkQuota{a.Quota, plans, a.now}, Audit: a.Audit,
		Signer: bulk.Signer{Secret: secret}, Dir: a.Config.ExportDir, Files: a.files, Log: a.Log, Now: a.now,
	}
	if subs == nil {
		// Without billing there is no subscription to cancel.
		subs = privacy.NoSubscriptions{}
	}
	a.Privacy = &privacy.Service{
		Store: a.DB, Accounts: a.Accounts, Keys: a.Keys, Records: a.Records, Bulk: a.Bulk, SubOrgs: a.SubOrgs, Subscriptions: subs,
		Audit: a.Audit, Log: a.Log, Now: a.now,
	}
	a.Jobs.Register(jobs.Job{Kind: "bulk.expire_exports", Every: 10 * time.Minute, Run: func(ctx context.Context) (jobs.Result, error) {
		n, err := a.Bulk.RemoveExpired(ctx)
		a.Audit.Record(ctx, audit.Event{ActorType: audit.ActorSystem, ActorID: "bulk.expire_exports", Action: bulk.ActionFilesRemoved,
			Outcome: outcome(err), Detail: map[string]string{"exports": strconv.Itoa(n)}})
		return jobs.Result{Summary: "removed the files of " + strconv.Itoa(n) + " expired exports", Counts: map[string]int64{"exports": int64(n)}}, err
	}})
	a.Jobs.Register(jobs.Job{Kind: "orgs.delete_scheduled", Every: time.Hour, Run: func(ctx context.Context) (jobs.Result, error) {
		orgs, res, err := a.Privacy.RunDeletions(ctx)
		a.Audit.Record(ctx, audit.Event{ActorType: audit.ActorSystem, ActorID: "orgs.delete_scheduled", Action: privacy.ActionDeletionsRun,
			Outcome: outcome(err), Detail: map[string]string{"organizations": strconv.Itoa(orgs), "resources": strconv.FormatInt(res, 10)}})
		return jobs.Result{
			Summary: "deleted the data of " + strconv.Itoa(orgs) + " closed organizations (" + strconv.FormatInt(res, 10) + " resources)",
			Counts:  map[string]int64{"organizations": int64(orgs), "resources": res},
		}, err
	}})
	return nil
}

func outcome(err error) audit.Outcome {
	if err != nil {
		return audit.Failure
	}
	return audit.Success
}
