package billing

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/clinikapi/clinikapi/internal/plan"
	"github.com/clinikapi/clinikapi/internal/quota"
)

// Identifier is the meter-event identifier of one overage batch: the same
// organization, month and batch number always give the same identifier, so
// Stripe counts a retried batch once.
func Identifier(orgID, period string, seq int) string {
	return "ovg_" + orgID + "_" + period + "_" + strconv.Itoa(seq)
}

// ReportOverage sends the live requests past each overage-enabled
// organization's pool that were not reported yet, one meter event per
// organization. A batch is stored as pending before it is sent and resent
// unchanged after a failure. It returns how many requests were reported.
func (s *Service) ReportOverage(ctx context.Context) (int64, error) {
	if !s.gw.Configured() {
		return 0, nil
	}
	states, err := s.store.OverageOrgs(ctx)
	if err != nil {
		return 0, err
	}
	now := s.opt.Now()
	// Last month's final requests are reported in the first run after the
	// pools reset, stamped inside last month.
	prev, prevEnd := quota.Period(now.UTC().AddDate(0, 0, -now.UTC().Day()))
	cur, _ := quota.Period(now)
	var total int64
	var firstErr error
	for _, st := range states {
		for _, pe := range []struct {
			period string
			at     time.Time
		}{{prev, prevEnd.Add(-time.Second)}, {cur, now}} {
			n, err := s.reportOrg(ctx, st, pe.period, pe.at)
			total += n
			if err != nil && firstErr == nil {
				firstErr = fmt.Errorf("overage for %s: %w", st.OrgID, err)
			}
		}
	}
	return total, firstErr
}

func (s *Service) reportOrg(ctx context.Context, st State, period string, at time.Time) (int64, error) {
	if st.CustomerID == "" {
		return 0, nil
	}
	o, err := s.store.FindOrg(ctx, st.OrgID)
	if err != nil {
		return 0, err
	}
	p := plan.Of(o.Plan)
	ov, err := s.store.OverageState(ctx, st.OrgID, period)
	if err != nil {
		return 0, err
	}
	if ov.Pending == 0 {
		if !Paid(p) || p.Unlimited {
			return 0, nil
		}
		used, err := s.store.AddQuota(ctx, st.OrgID, period, quota.PoolLive, 0)
		if err != nil {
			return 0, err
		}
		over := used - p.Included
		if over <= ov.Reported {
			return 0, nil
		}
		ov.Pending = over - ov.Reported
		if err := s.store.SaveOverage(ctx, ov); err != nil {
			return 0, err
		}
	}
	if err := s.gw.ReportUsage(ctx, st.CustomerID, Identifier(st.OrgID, period, ov.Seq+1), ov.Pending, at); err != nil {
		return 0, err
	}
	sent := ov.Pending
	ov.Reported, ov.Seq, ov.Pending = ov.Reported+sent, ov.Seq+1, 0
	return sent, s.store.SaveOverage(ctx, ov)
}

// ReportedOverage returns what was billed as overage this month.
func (s *Service) ReportedOverage(ctx context.Context, orgID, period string) (Overage, error) {
	return s.store.OverageState(ctx, orgID, period)
}

// PoolUsage is one monthly pool's use.
type PoolUsage struct {
	Pool      string // quota.PoolAll, PoolLive or PoolSandbox
	Used      int64
	Limit     int64 // 0 with Unlimited
	Unlimited bool
}

// Usage returns this month's use of the organization's pools under plan p,
// as merged into the database (at most a second behind the API tier).
func (s *Service) Usage(ctx context.Context, orgID string, p plan.Plan) ([]PoolUsage, error) {
	period, _ := quota.Period(s.opt.Now())
	pools := []string{quota.PoolLive, quota.PoolSandbox}
	if p.SharedPool {
		pools = []string{quota.PoolAll}
	}
	var out []PoolUsage
	for _, pool := range pools {
		used, err := s.store.AddQuota(ctx, orgID, period, pool, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, PoolUsage{Pool: pool, Used: used, Limit: p.Included, Unlimited: p.Unlimited})
	}
	return out, nil
}
