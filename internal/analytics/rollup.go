package analytics

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/jobs"
)

// Job kinds.
const (
	JobRollup = "usage.rollup"
	JobPurge  = "usage.purge"
)

// chunk is the most raw-record time one transaction rebuilds.
const chunk = time.Hour

// PurgeAction is the audit action of a retention purge.
const PurgeAction = "usage.purged"

// Service computes and reads the aggregates.
type Service struct {
	Store Store
	Audit *audit.Log
	Now   func() time.Time
}

// Rollup rebuilds the aggregates touched since the last run. It never adds
// to an aggregate: every bucket it touches is recomputed from the records
// (minutes) or the finer aggregates (hours, days) and replaced in one
// transaction, so re-running it, or running it after a crash half-way,
// never double counts. The watermark (rolled_to, last record id) is stored
// only after the aggregates are written.
func (s *Service) Rollup(ctx context.Context) (jobs.Result, error) {
	now := s.Now().UTC()
	end := Minute.Floor(now).Add(time.Minute) // the current, partial minute too
	rolledTo, lastID, err := s.Store.UsageRollupState(ctx)
	if err != nil {
		return jobs.Result{}, err
	}
	maxID, oldest, fresh, err := s.Store.UsageSince(ctx, lastID)
	if err != nil {
		return jobs.Result{}, err
	}
	// The minutes from the last run's on are rebuilt, and earlier ones
	// that records new since the last run fall in (records that arrived
	// late). No record can commit below lastID after the last run read it
	// (see Store.UsageSince), so no earlier minute needs a second look.
	from := rolledTo
	if fresh && (rolledTo.IsZero() || oldest.Before(from)) {
		from = Minute.Floor(oldest) // first run, or records that arrived late
	}
	if rolledTo.IsZero() && !fresh {
		return jobs.Result{Summary: "no usage records yet"}, nil
	}
	// Minute aggregates are rebuilt only within their own retention, from a
	// day boundary on so the hours and days above them stay whole.
	if h := Minute.Floor(now.Add(-MinuteRetention)).Add(Day.Width()); from.Before(h) {
		from = h
	}
	if !fresh {
		maxID = lastID
	}
	var records, rows int64
	for a := from; a.Before(end); a = a.Add(chunk) {
		b := min64(a.Add(chunk), end)
		list, err := s.Store.SumUsage(ctx, a, b)
		if err != nil {
			return jobs.Result{}, err
		}
		for _, r := range list {
			records += r.Requests
		}
		if err := s.Store.ReplaceRollups(ctx, Minute, a, b, list); err != nil {
			return jobs.Result{}, err
		}
		rows += int64(len(list))
	}
	// Hours from minutes, days from hours.
	for _, step := range [][2]Grain{{Hour, Minute}, {Day, Hour}} {
		g, finer := step[0], step[1]
		gFrom, gEnd := g.Floor(from), g.Floor(end.Add(-time.Nanosecond)).Add(g.Width())
		for a := gFrom; a.Before(gEnd); a = a.Add(7 * 24 * time.Hour) {
			b := min64(a.Add(7*24*time.Hour), gEnd)
			agg := newAggregator(g)
			err := s.Store.ScanRollups(ctx, finer, a, b, func(r Row) error {
				agg.row(r.Bucket, r.OrgID, r.Env, r.KeyID, r.Method, r.Route).Add(r.Stats)
				return nil
			})
			if err != nil {
				return jobs.Result{}, err
			}
			list := agg.list()
			if err := s.Store.ReplaceRollups(ctx, g, a, b, list); err != nil {
				return jobs.Result{}, err
			}
			rows += int64(len(list))
		}
	}
	if err := s.Store.SetUsageRollupState(ctx, Minute.Floor(now), maxID); err != nil {
		return jobs.Result{}, err
	}
	return jobs.Result{
		Summary: fmt.Sprintf("rolled up %d records from %s into %d aggregates", records, from.Format(time.RFC3339), rows),
		Counts:  map[string]int64{"records": records, "aggregates": rows},
	}, nil
}

func min64(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Purge deletes raw records older than RawRetention and aggregates past
// their grain's retention, and records what it deleted in the audit trail.
func (s *Service) Purge(ctx context.Context) (jobs.Result, error) {
	now := s.Now().UTC()
	cut := now.Add(-RawRetention)
	records, err := s.Store.DeleteUsageBefore(ctx, cut)
	if err != nil {
		return jobs.Result{}, err
	}
	counts := map[string]int64{"records": records}
	var aggregates int64
	for _, g := range []Grain{Minute, Hour, Day} {
		n, err := s.Store.DeleteRollupsBefore(ctx, g, g.Floor(now.Add(-g.Retention())))
		if err != nil {
			return jobs.Result{}, err
		}
		aggregates += n
	}
	counts["aggregates"] = aggregates
	if s.Audit != nil {
		s.Audit.Record(ctx, audit.Event{
			ActorType: audit.ActorSystem, ActorID: JobPurge, Action: PurgeAction, TargetType: "usage_records",
			Detail: map[string]string{
				"records_deleted":    strconv.FormatInt(records, 10),
				"aggregates_deleted": strconv.FormatInt(aggregates, 10),
				"older_than":         cut.Format(time.RFC3339),
			},
		})
	}
	return jobs.Result{
		Summary: fmt.Sprintf("deleted %d request records older than %s and %d expired aggregates", records, cut.Format(time.RFC3339), aggregates),
		Counts:  counts,
	}, nil
}

// Register adds the rollup (every 10 s) and purge (hourly) jobs to r.
func (s *Service) Register(r *jobs.Runner) {
	r.Register(jobs.Job{Kind: JobRollup, Every: 10 * time.Second, Run: s.Rollup})
	r.Register(jobs.Job{Kind: JobPurge, Every: time.Hour, Run: s.Purge})
}
