package analytics

import (
	"context"
	"sort"
	"time"
)

// Query selects an organization's aggregates.
type Query struct {
	OrgID string
	Env   string // "test", "live" or "" for both
	KeyID string // "" for every key
	From  time.Time
	To    time.Time // exclusive
	Grain Grain
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

// Overview aggregates q's rows into the page's figures. From and To are
// widened to whole buckets of q.Grain.
func (s *Service) Overview(ctx context.Context, q Query) (Overview, error) {
	// The bucket holding To is included: "the last hour" ends with the
	// current, partial minute.
	q.From = q.Grain.Floor(q.From)
	q.To = q.Grain.next(q.Grain.Floor(q.To))
	rows, err := s.Store.QueryRollups(ctx, q)
	if err != nil {
		return Overview{}, err
	}
	return Summarize(q, rows), nil
}

// Summarize folds rows (all inside q's range) into an Overview.
func Summarize(q Query, rows []Row) Overview {
	o := Overview{Query: q}
	n := 0
	for t := q.From; t.Before(q.To); t = q.Grain.next(t) {
		o.Series = append(o.Series, Point{Time: t})
		n++
	}
	index := func(t time.Time) int {
		if q.Grain == Day {
			return int(t.Sub(q.From).Hours() / 24)
		}
		return int(t.Sub(q.From) / q.Grain.Width())
	}
	routes := map[[2]string]*Breakdown{}
	keys := map[string]*Breakdown{}
	for _, r := range rows {
		o.Total.Add(r.Stats)
		if i := index(r.Bucket); i >= 0 && i < n {
			o.Series[i].Add(r.Stats)
		}
		rk := [2]string{r.Method, r.Route}
		b := routes[rk]
		if b == nil {
			b = &Breakdown{Method: r.Method, Route: r.Route}
			routes[rk] = b
		}
		b.Add(r.Stats)
		k := keys[r.KeyID]
		if k == nil {
			k = &Breakdown{KeyID: r.KeyID, Env: r.Env}
			keys[r.KeyID] = k
		}
		k.Add(r.Stats)
	}
	o.Routes = sorted(routes)
	o.Keys = sorted(keys)
	return o
}

func (g Grain) next(t time.Time) time.Time {
	if g == Day {
		return t.AddDate(0, 0, 1)
	}
	return t.Add(g.Width())
}

func sorted[K comparable](m map[K]*Breakdown) []Breakdown {
	out := make([]Breakdown, 0, len(m))
	for _, b := range m {
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Requests != out[j].Requests {
			return out[i].Requests > out[j].Requests
		}
		return out[i].Method+out[i].Route+out[i].KeyID < out[j].Method+out[j].Route+out[j].KeyID
	})
	return out
}
