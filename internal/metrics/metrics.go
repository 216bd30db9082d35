// Package metrics keeps operator metrics in memory and writes them in the
// Prometheus text exposition format (version 0.0.4): HTTP request counts
// and latency by route class, gauges such as the usage buffer depth, and
// the background jobs' last results.
package metrics

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clinikapi/clinikapi/internal/jobs"
)

// Bounds are the latency histogram's upper bounds, in seconds.
var Bounds = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

type histogram struct {
	counts []uint64 // per bound, not cumulative; last is +Inf
	sum    float64
	count  uint64
}

type gauge struct {
	name, help string
	read       func() float64
}

// Registry holds the metrics.
type Registry struct {
	mu       sync.Mutex
	requests map[[2]string]uint64 // class, status class → count
	latency  map[string]*histogram
	gauges   []gauge
}

// New returns an empty Registry.
func New() *Registry {
	return &Registry{requests: map[[2]string]uint64{}, latency: map[string]*histogram{}}
}

// Class names the kind of route a path belongs to.
func Class(path string) string {
	switch {
	case strings.HasPrefix(path, "/v1/fhir"):
		return "fhir"
	case strings.HasPrefix(path, "/v1/"), path == "/v1":
		return "api"
	case strings.HasPrefix(path, "/static/"):
		return "static"
	case path == "/health", path == "/ready", path == "/metrics":
		return "ops"
	case strings.HasPrefix(path, "/webhooks/"):
		return "webhook"
	}
	return "dashboard"
}

// Observe counts one request.
func (r *Registry) Observe(class string, status int, d time.Duration) {
	sc := strconv.Itoa(status/100) + "xx"
	s := d.Seconds()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests[[2]string{class, sc}]++
	h := r.latency[class]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(Bounds)+1)}
		r.latency[class] = h
	}
	i := sort.SearchFloat64s(Bounds, s)
	h.counts[i]++
	h.sum += s
	h.count++
}

// Gauge adds a gauge read at each scrape.
func (r *Registry) Gauge(name, help string, read func() float64) {
	r.mu.Lock()
	r.gauges = append(r.gauges, gauge{name, help, read})
	r.mu.Unlock()
}

// Write writes every metric, and the jobs' last runs, to w.
func (r *Registry) Write(w io.Writer, runs []jobs.Run) error {
	var b strings.Builder
	r.mu.Lock()
	b.WriteString("# HELP clinikapi_http_requests_total HTTP requests answered, by route class and status class.\n# TYPE clinikapi_http_requests_total counter\n")
	keys := make([][2]string, 0, len(r.requests))
	for k := range r.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
	for _, k := range keys {
		fmt.Fprintf(&b, "clinikapi_http_requests_total{class=%q,code=%q} %d\n", k[0], k[1], r.requests[k])
	}
	b.WriteString("# HELP clinikapi_http_request_duration_seconds HTTP request latency by route class.\n# TYPE clinikapi_http_request_duration_seconds histogram\n")
	classes := make([]string, 0, len(r.latency))
	for c := range r.latency {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	for _, c := range classes {
		h := r.latency[c]
		var cum uint64
		for i, bound := range Bounds {
			cum += h.counts[i]
			fmt.Fprintf(&b, "clinikapi_http_request_duration_seconds_bucket{class=%q,le=%q} %d\n", c, strconv.FormatFloat(bound, 'g', -1, 64), cum)
		}
		cum += h.counts[len(Bounds)]
		fmt.Fprintf(&b, "clinikapi_http_request_duration_seconds_bucket{class=%q,le=\"+Inf\"} %d\n", c, cum)
		fmt.Fprintf(&b, "clinikapi_http_request_duration_seconds_sum{class=%q} %s\n", c, strconv.FormatFloat(h.sum, 'g', -1, 64))
		fmt.Fprintf(&b, "clinikapi_http_request_duration_seconds_count{class=%q} %d\n", c, h.count)
	}
	gauges := append([]gauge(nil), r.gauges...)
	r.mu.Unlock()
	for _, g := range gauges {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", g.name, g.help, g.name, g.name, strconv.FormatFloat(g.read(), 'g', -1, 64))
	}
	b.WriteString("# HELP clinikapi_job_last_success Whether the last run of a background job succeeded (1) or failed (0).\n# TYPE clinikapi_job_last_success gauge\n")
	for _, run := range runs {
		ok := 0
		if run.OK {
			ok = 1
		}
		fmt.Fprintf(&b, "clinikapi_job_last_success{kind=%q} %d\n", run.Kind, ok)
	}
	b.WriteString("# HELP clinikapi_job_last_finished_timestamp_seconds When the last run of a background job finished (0 while running).\n# TYPE clinikapi_job_last_finished_timestamp_seconds gauge\n")
	for _, run := range runs {
		var ts int64
		if !run.FinishedAt.IsZero() {
			ts = run.FinishedAt.Unix()
		}
		fmt.Fprintf(&b, "clinikapi_job_last_finished_timestamp_seconds{kind=%q} %d\n", run.Kind, ts)
	}
	b.WriteString("# HELP clinikapi_job_last_duration_seconds How long the last run of a background job took.\n# TYPE clinikapi_job_last_duration_seconds gauge\n")
	for _, run := range runs {
		var d float64
		if !run.FinishedAt.IsZero() {
			d = run.FinishedAt.Sub(run.StartedAt).Seconds()
		}
		fmt.Fprintf(&b, "clinikapi_job_last_duration_seconds{kind=%q} %s\n", run.Kind, strconv.FormatFloat(d, 'g', -1, 64))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
