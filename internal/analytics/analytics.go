// Package analytics turns the raw usage records (package usage) into the
// figures the dashboard charts: per-minute, per-hour and per-day aggregates
// per organization, environment, key and route pattern, with latency
// histograms over fixed buckets so percentiles come from the buckets. It
// also owns the retention of raw records and aggregates, and the request
// log's filters and cursor.
package analytics

import (
	"context"
	"time"

	"github.com/clinikapi/clinikapi/internal/usage"
)

// NumBuckets is the number of latency buckets of a histogram.
const NumBuckets = 16

// Bounds are the inclusive upper bounds, in microseconds, of the latency
// buckets 0..14; bucket 15 holds everything slower. Doubling from 250 µs to
// about 4 s keeps every percentile within a factor of two.
var Bounds = [NumBuckets - 1]int64{250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 512000, 1024000, 2048000, 4096000}

// BucketOf returns the bucket a latency of us microseconds falls in.
func BucketOf(us int64) int {
	for i, b := range Bounds {
		if us <= b {
			return i
		}
	}
	return NumBuckets - 1
}

// Grain is the width of an aggregate's time bucket.
type Grain string

const (
	Minute Grain = "m"
	Hour   Grain = "h"
	Day    Grain = "d"
)

// Width is the duration of one bucket of g.
func (g Grain) Width() time.Duration {
	switch g {
	case Minute:
		return time.Minute
	case Hour:
		return time.Hour
	}
	return 24 * time.Hour
}

// Floor returns the start of the bucket of g holding t (UTC).
func (g Grain) Floor(t time.Time) time.Time {
	t = t.UTC()
	if g == Day {
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	}
	return t.Truncate(g.Width())
}

// Retention: raw request records (the request log) are kept 90 days, as the
// privacy policy says. Aggregates hold no request-level data; minute
// aggregates are kept 14 days, hourly ones 90 days, daily ones 400 days.
const (
	RawRetention    = 90 * 24 * time.Hour
	MinuteRetention = 14 * 24 * time.Hour
	HourRetention   = 90 * 24 * time.Hour
	DayRetention    = 400 * 24 * time.Hour
)

// Retention returns how long aggregates of g are kept.
func (g Grain) Retention() time.Duration {
	switch g {
	case Minute:
		return MinuteRetention
	case Hour:
		return HourRetention
	}
	return DayRetention
}

// Stats are the additive figures of a set of requests.
type Stats struct {
	Requests      int64
	S2xx          int64 // 1xx–3xx count as success too
	S4xx          int64
	S5xx          int64
	RateLimited   int64 // 429 RATE_LIMITED
	QuotaRejected int64 // 429 MONTHLY_QUOTA_EXCEEDED / SANDBOX_QUOTA_EXCEEDED
	BytesIn       int64
	BytesOut      int64
	LatencyUS     int64 // sum, for the mean
	Hist          [NumBuckets]int64
}

// Error codes of usage records that count as rejections.
const (
	CodeRateLimited  = "RATE_LIMITED"
	CodeMonthlyQuota = "MONTHLY_QUOTA_EXCEEDED"
	CodeSandboxQuota = "SANDBOX_QUOTA_EXCEEDED"
)

// AddRecord counts one request.
func (s *Stats) AddRecord(r usage.Record) {
	s.Requests++
	switch {
	case r.Status >= 500:
		s.S5xx++
	case r.Status >= 400:
		s.S4xx++
	default:
		s.S2xx++
	}
	switch r.Code {
	case CodeRateLimited:
		s.RateLimited++
	case CodeMonthlyQuota, CodeSandboxQuota:
		s.QuotaRejected++
	}
	s.BytesIn += r.BytesIn
	s.BytesOut += r.BytesOut
	us := r.Latency.Microseconds()
	s.LatencyUS += us
	s.Hist[BucketOf(us)]++
}

// Add adds o to s.
func (s *Stats) Add(o Stats) {
	s.Requests += o.Requests
	s.S2xx += o.S2xx
	s.S4xx += o.S4xx
	s.S5xx += o.S5xx
	s.RateLimited += o.RateLimited
	s.QuotaRejected += o.QuotaRejected
	s.BytesIn += o.BytesIn
	s.BytesOut += o.BytesOut
	s.LatencyUS += o.LatencyUS
	for i := range s.Hist {
		s.Hist[i] += o.Hist[i]
	}
}

// Errors counts failed requests (4xx and 5xx).
func (s Stats) Errors() int64 { return s.S4xx + s.S5xx }

// ErrorRate is the share of failed requests, 0..1.
func (s Stats) ErrorRate() float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.Errors()) / float64(s.Requests)
}

// Percentile estimates the p-th percentile (0 < p ≤ 1) latency from the
// histogram, interpolating linearly inside the bucket that holds it. The
// slowest bucket has no upper bound; its lower bound doubled stands in.
func (s Stats) Percentile(p float64) time.Duration {
	var total int64
	for _, n := range s.Hist {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := p * float64(total)
	var seen float64
	for i, n := range s.Hist {
		if n == 0 {
			continue
		}
		if seen+float64(n) >= rank {
			lo, hi := bucketRange(i)
			frac := (rank - seen) / float64(n)
			us := float64(lo) + frac*float64(hi-lo)
			return time.Duration(us) * time.Microsecond
		}
		seen += float64(n)
	}
	_, hi := bucketRange(NumBuckets - 1)
	return time.Duration(hi) * time.Microsecond
}

// bucketRange returns the bounds (µs) of bucket i.
func bucketRange(i int) (lo, hi int64) {
	if i > 0 {
		lo = Bounds[i-1]
	}
	if i < len(Bounds) {
		return lo, Bounds[i]
	}
	return lo, 2 * lo
}

// Row is one aggregate: the requests of one organization, environment, key
// and route (method + pattern) in one time bucket.
type Row struct {
	Grain  Grain
	Bucket time.Time
	OrgID  string
	Env    string
	KeyID  string
	Method string
	Route  string
	Stats
}

type rowKey struct {
	bucket                       time.Time
	org, env, key, method, route string
}

// aggregator sums rows by bucket and dimensions.
type aggregator struct {
	grain Grain
	rows  map[rowKey]*Row
}

func newAggregator(g Grain) *aggregator { return &aggregator{grain: g, rows: map[rowKey]*Row{}} }

func (a *aggregator) row(t time.Time, org, env, key, method, route string) *Row {
	b := a.grain.Floor(t)
	k := rowKey{b, org, env, key, method, route}
	r := a.rows[k]
	if r == nil {
		r = &Row{Grain: a.grain, Bucket: b, OrgID: org, Env: env, KeyID: key, Method: method, Route: route}
		a.rows[k] = r
	}
	return r
}

func (a *aggregator) list() []Row {
	out := make([]Row, 0, len(a.rows))
	for _, r := range a.rows {
		out = append(out, *r)
	}
	return out
}

// GroupBy says how QueryRollups groups.
type GroupBy int

const (
	ByBucket GroupBy = iota
	ByRoute
	ByKey
)

// Store is what analytics needs from the database.
type Store interface {
	// UsageRollupState returns where the rollup got to (zero time when it
	// never ran) and the highest record id it had seen.
	UsageRollupState(ctx context.Context) (rolledTo time.Time, lastID int64, err error)
	SetUsageRollupState(ctx context.Context, rolledTo time.Time, lastID int64) error
	// UsageSince returns the highest record id and the oldest created_at
	// among records with an id above afterID; ok is false when none. Every
	// record with an id up to maxID has committed: none can appear below
	// it later, whatever the number of instances writing records.
	UsageSince(ctx context.Context, afterID int64) (maxID int64, oldest time.Time, ok bool, err error)
	// SumUsage returns the minute aggregates (grain Minute) of every
	// record created in [from, to), any org, each as Stats.AddRecord would
	// count its records, summed by the database: the records stay there.
	SumUsage(ctx context.Context, from, to time.Time) ([]Row, error)
	// ScanRollups calls fn for every aggregate of grain g in [from, to).
	ScanRollups(ctx context.Context, g Grain, from, to time.Time, fn func(Row) error) error
	// ReplaceRollups deletes the aggregates of grain g in [from, to) and
	// inserts rows, in one transaction.
	ReplaceRollups(ctx context.Context, g Grain, from, to time.Time, rows []Row) error
	// QueryRollups sums q's organization's aggregates of q.Grain in
	// [q.From, q.To), filtered by environment and key, grouped by bucket,
	// by route (method and pattern) or by key; fields outside the grouping
	// are blank.
	QueryRollups(ctx context.Context, q Query, by GroupBy) ([]Row, error)
	// DeleteUsageBefore deletes raw records created before t.
	DeleteUsageBefore(ctx context.Context, t time.Time) (int64, error)
	// DeleteRollupsBefore deletes aggregates of g whose bucket is before t.
	DeleteRollupsBefore(ctx context.Context, g Grain, t time.Time) (int64, error)
	// ListUsage lists one organization's records, newest first.
	ListUsage(ctx context.Context, f LogFilter) ([]usage.Record, error)
	// FindUsage returns one of an organization's records.
	FindUsage(ctx context.Context, orgID string, id int64) (usage.Record, error)
	// CountUsageCodes counts q's organization's records created in
	// [q.From, q.To) that carry an error code, by code (q.Grain is unused).
	CountUsageCodes(ctx context.Context, q Query) ([]CodeCount, error)
}
