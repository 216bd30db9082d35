package analytics

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"
)

// Query selects an organization's aggregates.
type Query struct {
	OrgID string
	Env   string // "test", "live" or "" for both
	KeyID string // "" for every key
	// Tenant keeps the traffic of one tenant's keys: a sub-organization's
	// id, or the organization's own id for its own keys ("" for all).
	Tenant string
	From   time.Time
	To     time.Time // exclusive
	Grain  Grain
}

// Point is one bucket of a time series.
type Point struct {
	Time time.Time
	Stats
}

// Breakdown is the total of one route or one key.
type Breakdown struct {
	KeyID  string
	Env    string
	Method string
	Route  string
	Stats
}

// Overview is what the analytics page shows.
type Overview struct {
	Query  Query
	Total  Stats
	Series []Point     // one per bucket of the range, empty ones included
	Routes []Breakdown // busiest first
	Keys   []Breakdown // busiest first
}

// Ranges the page offers.
var Ranges = map[string]time.Duration{
	"1h":  time.Hour,
	"24h": 24 * time.Hour,
	"7d":  7 * 24 * time.Hour,
	"30d": 30 * 24 * time.Hour,
	"90d": 90 * 24 * time.Hour,
}

// GrainFor picks the finest grain that gives at most about 180 points over
// [from, to) and whose aggregates are still kept at from.
func GrainFor(from, to, now time.Time) Grain {
	span := to.Sub(from)
	switch {
	case span <= 3*time.Hour && !from.Before(now.Add(-MinuteRetention)):
		return Minute
	case span <= 8*24*time.Hour && !from.Before(now.Add(-HourRetention)):
		return Hour
	}
	return Day
}

// WholeBuckets is q with From and To widened to whole buckets of q.Grain:
// the window the overview's figures cover. The bucket holding To is
// included: "the last hour" ends with the current, partial minute.
// Counts from raw records shown beside those figures (errors by code)
// and links to the request log for them use the same window, so they
// add up.
func (q Query) WholeBuckets() Query {
	q.From = q.Grain.Floor(q.From)
	q.To = q.Grain.next(q.Grain.Floor(q.To))
	return q
}

// Overview aggregates q's rows into the page's figures. From and To are
// widened to whole buckets of q.Grain (WholeBuckets).
func (s *Service) Overview(ctx context.Context, q Query) (Overview, error) {
	q = q.WholeBuckets()
	// The three groupings read the same rows; the engine runs them side by
	// side on separate connections.
	var groups [3][]Row
	var errList [3]error
	var wg sync.WaitGroup
	for i, by := range []GroupBy{ByBucket, ByRoute, ByKey} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if by == ByBucket {
				groups[i], errList[i] = s.Store.QueryRollups(ctx, q, by)
			} else {
				groups[i], errList[i] = s.breakdown(ctx, q, by)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errList[:]...); err != nil {
		return Overview{}, err
	}
	return Summarize(q, groups[0], groups[1], groups[2]), nil
}

// breakdown sums q's aggregates by route or by key. The chart needs
// q.Grain, the breakdowns do not: over hourly buckets spanning whole days,
// the days in the middle are read from the daily aggregates (24 times fewer
// rows) and only the partial days at either end from the hourly ones.
func (s *Service) breakdown(ctx context.Context, q Query, by GroupBy) ([]Row, error) {
	first := Day.Floor(q.From)
	if first.Before(q.From) {
		first = Day.next(first)
	}
	last := Day.Floor(q.To)
	if q.Grain != Hour || !first.Before(last) {
		return s.Store.QueryRollups(ctx, q, by)
	}
	parts := []Query{q, q, q}
	parts[0].To = first
	parts[1].Grain, parts[1].From, parts[1].To = Day, first, last
	parts[2].From = last
	sums := newAggregator(q.Grain) // one row per route or key: every part counts at q.From
	for _, p := range parts {
		if !p.From.Before(p.To) {
			continue
		}
		rows, err := s.Store.QueryRollups(ctx, p, by)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			sums.row(q.From, r.OrgID, r.Env, r.KeyID, r.Method, r.Route).Add(r.Stats)
		}
	}
	return sums.list(), nil
}

// Summarize folds the grouped sums (see Store.QueryRollups) into an
// Overview.
func Summarize(q Query, byBucket, byRoute, byKey []Row) Overview {
	o := Overview{Query: q}
	n := 0
	for t := q.From; t.Before(q.To); t = q.Grain.next(t) {
		o.Series = append(o.Series, Point{Time: t})
		n++
	}
	for _, r := range byBucket {
		o.Total.Add(r.Stats)
		var i int
		if q.Grain == Day {
			i = int(r.Bucket.Sub(q.From).Hours() / 24)
		} else {
			i = int(r.Bucket.Sub(q.From) / q.Grain.Width())
		}
		if i >= 0 && i < n {
			o.Series[i].Add(r.Stats)
		}
	}
	for _, r := range byRoute {
		o.Routes = append(o.Routes, Breakdown{Method: r.Method, Route: r.Route, Stats: r.Stats})
	}
	for _, r := range byKey {
		o.Keys = append(o.Keys, Breakdown{KeyID: r.KeyID, Env: r.Env, Stats: r.Stats})
	}
	busiestFirst(o.Routes)
	busiestFirst(o.Keys)
	return o
}

func (g Grain) next(t time.Time) time.Time {
	if g == Day {
		return t.AddDate(0, 0, 1)
	}
	return t.Add(g.Width())
}

func busiestFirst(bs []Breakdown) {
	sort.Slice(bs, func(i, j int) bool {
		if bs[i].Requests != bs[j].Requests {
			return bs[i].Requests > bs[j].Requests
		}
		return bs[i].Method+bs[i].Route+bs[i].KeyID < bs[j].Method+bs[j].Route+bs[j].KeyID
	})
}
