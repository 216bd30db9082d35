package app

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/billing"
	"github.com/clinikapi/clinikapi/internal/config"
	"github.com/clinikapi/clinikapi/internal/jobs"
	"github.com/clinikapi/clinikapi/web/api"
)

// planPrefix marks plan invalidations on the key-invalidation channel
// (PostgreSQL NOTIFY or Redis): "plan:<org id>". Key caches ignore them, as
// no key has such an id.
const planPrefix = "plan:"

// OverageJob is the background job that reports overage to Stripe.
const OverageJob = "billing.overage"

// newBilling builds billing with Stripe when STRIPE_SECRET_KEY is set and
// development billing otherwise. Plan and overage changes drop the API
// tier's cached plan here at once and on the other instances through inval.
func (a *App) newBilling(cfg config.Config, plans *api.OrgPlans, inval apikey.Invalidator) {
	var gw billing.Gateway = billing.Development{}
	if cfg.Stripe.Enabled() {
		gw = billing.NewStripe(billing.StripeConfig{SecretKey: cfg.Stripe.SecretKey, APIURL: cfg.Stripe.APIURL, MeterEvent: cfg.Stripe.MeterEvent})
	}
	if cfg.Stripe.WebhookSecret != "" {
		a.StripeWebhook = billing.StripeWebhook{Secret: cfg.Stripe.WebhookSecret}
	}
	a.planInval = inval
	a.Billing = billing.NewService(a.DB, gw, a.Audit, a.Product, a.Log, billing.Options{
		Prices: cfg.Stripe.Prices,
		Now:    a.now,
		Invalidate: func(ctx context.Context, orgID string) {
			a.planChanged(ctx, orgID)
			// A plan with another datastore moves the live data there.
			a.Mover.Wake()
		},
	})
	a.forgetPlan = func(orgID string) {
		if orgID == "" {
			plans.ForgetAll()
		} else {
			plans.Forget(orgID)
		}
		a.Billing.Forget(orgID)
	}
	a.Jobs.Register(jobs.Job{Kind: OverageJob, Every: time.Minute, Run: func(ctx context.Context) (jobs.Result, error) {
		n, err := a.Billing.ReportOverage(ctx)
		return jobs.Result{Summary: "reported " + strconv.FormatInt(n, 10) + " overage requests", Counts: map[string]int64{"requests": n}}, err
	}})
}

// planChanged drops the organization's cached plan and live datastore
// here at once and on the other instances through the invalidation channel.
func (a *App) planChanged(ctx context.Context, orgID string) {
	a.forgetPlan(orgID)
	if a.planInval != nil {
		if err := a.planInval.Publish(context.WithoutCancel(ctx), planPrefix+orgID); err != nil {
			a.Log.WarnContext(ctx, "publishing a plan change failed; other instances catch up within 10 s", "err", err)
		}
	}
}

// listenPlans drops cached plans when another instance changes one.
func (a *App) listenPlans(ctx context.Context) error {
	if a.planInval == nil {
		return nil
	}
	return a.planInval.Subscribe(ctx, func(msg string) {
		if orgID, ok := strings.CutPrefix(msg, planPrefix); ok {
			a.forgetPlan(orgID)
		}
	}, func() { a.forgetPlan("") })
}
