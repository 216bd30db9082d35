// Package metrics keeps the operator metrics and serves them through the
// Prometheus client library: HTTP request counts and latency by route
// class, gauges such as the usage buffer depth, the caches' figures
// against the process's cache memory budget, the background jobs' last
// results, and the Go runtime's and the process's own collectors
// (go_memstats_*, go_gc_*, process_resident_memory_bytes, …).
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/clinikapi/clinikapi/internal/jobs"
	"github.com/clinikapi/clinikapi/internal/memory"
)

// Bounds are the latency histogram's upper bounds, in seconds.
var Bounds = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// Registry holds the metrics.
type Registry struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inFlight atomic.Int64
}

// New returns a Registry with the request metrics and the Go runtime and
// process collectors.
func New() *Registry {
	r := &Registry{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clinikapi_http_requests_total",
			Help: "HTTP requests answered, by route class and status class.",
		}, []string{"class", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "clinikapi_http_request_duration_seconds",
			Help:    "HTTP request latency by route class.",
			Buckets: Bounds,
		}, []string{"class"}),
	}
	r.reg.MustRegister(r.requests, r.latency,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.Gauge("clinikapi_http_requests_in_flight", "HTTP requests being answered now.", func() float64 { return float64(r.InFlight()) })
	return r
}

// Begin counts a request being answered until its End.
func (r *Registry) Begin() { r.inFlight.Add(1) }

// End ends what Begin began.
func (r *Registry) End() { r.inFlight.Add(-1) }

// InFlight is the number of requests being answered now (background
// work such as webhook delivery gives way while it is high).
func (r *Registry) InFlight() int64 { return r.inFlight.Load() }

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
	r.requests.WithLabelValues(class, strconv.Itoa(status/100)+"xx").Inc()
	r.latency.WithLabelValues(class).Observe(d.Seconds())
}

// Gauge adds a gauge read at each scrape.
func (r *Registry) Gauge(name, help string, read func() float64) {
	r.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, read))
}

// Counter adds a counter read at each scrape.
func (r *Registry) Counter(name, help string, read func() float64) {
	r.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, read))
}

// Caches adds the figures of the process's caches, read at each scrape,
// labelled by cache kind (memory.Stats.Kind), and the budget they share.
func (r *Registry) Caches(budget memory.Budget, read func() []memory.Stats) {
	r.reg.MustRegister(&cacheCollector{budget: budget, read: read})
	r.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "clinikapi_cache_memory_budget_bytes",
		Help: "The memory every cache of the process shares (CLINIKAPI_CACHE_MEMORY).",
	}, func() float64 { return float64(budget) }))
}

var (
	cacheBytes     = prometheus.NewDesc("clinikapi_cache_bytes", "Bytes a cache holds now (estimated for the Go caches; SQLite's heap for its page caches).", []string{"cache"}, nil)
	cacheBudget    = prometheus.NewDesc("clinikapi_cache_budget_bytes", "A cache's share of CLINIKAPI_CACHE_MEMORY.", []string{"cache"}, nil)
	cacheEntries   = prometheus.NewDesc("clinikapi_cache_entries", "Entries a cache holds now.", []string{"cache"}, nil)
	cacheHits      = prometheus.NewDesc("clinikapi_cache_hits_total", "Lookups a cache answered.", []string{"cache"}, nil)
	cacheMisses    = prometheus.NewDesc("clinikapi_cache_misses_total", "Lookups a cache could not answer.", []string{"cache"}, nil)
	cacheEvictions = prometheus.NewDesc("clinikapi_cache_evictions_total", "Entries a cache dropped to stay within its budget.", []string{"cache"}, nil)
)

type cacheCollector struct {
	budget memory.Budget
	read   func() []memory.Stats
}

func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cacheBytes, cacheBudget, cacheEntries, cacheHits, cacheMisses, cacheEvictions} {
		ch <- d
	}
}

func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.read() {
		ch <- prometheus.MustNewConstMetric(cacheBytes, prometheus.GaugeValue, float64(s.Bytes), s.Kind)
		ch <- prometheus.MustNewConstMetric(cacheBudget, prometheus.GaugeValue, float64(s.Budget), s.Kind)
		ch <- prometheus.MustNewConstMetric(cacheEntries, prometheus.GaugeValue, float64(s.Entries), s.Kind)
		ch <- prometheus.MustNewConstMetric(cacheHits, prometheus.CounterValue, float64(s.Hits), s.Kind)
		ch <- prometheus.MustNewConstMetric(cacheMisses, prometheus.CounterValue, float64(s.Misses), s.Kind)
		ch <- prometheus.MustNewConstMetric(cacheEvictions, prometheus.CounterValue, float64(s.Evictions), s.Kind)
	}
}

var (
	jobSuccess  = prometheus.NewDesc("clinikapi_job_last_success", "Whether the last run of a background job succeeded (1) or failed (0).", []string{"kind"}, nil)
	jobFinished = prometheus.NewDesc("clinikapi_job_last_finished_timestamp_seconds", "When the last run of a background job finished (0 while running).", []string{"kind"}, nil)
	jobDuration = prometheus.NewDesc("clinikapi_job_last_duration_seconds", "How long the last run of a background job took.", []string{"kind"}, nil)
)

// jobCollector reports the jobs' last runs as read for one scrape.
type jobCollector []jobs.Run

func (j jobCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- jobSuccess
	ch <- jobFinished
	ch <- jobDuration
}

func (j jobCollector) Collect(ch chan<- prometheus.Metric) {
	for _, run := range j {
		ok, ts, d := 0.0, 0.0, 0.0
		if run.OK {
			ok = 1
		}
		if !run.FinishedAt.IsZero() {
			ts = float64(run.FinishedAt.Unix())
			d = run.FinishedAt.Sub(run.StartedAt).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(jobSuccess, prometheus.GaugeValue, ok, run.Kind)
		ch <- prometheus.MustNewConstMetric(jobFinished, prometheus.GaugeValue, ts, run.Kind)
		ch <- prometheus.MustNewConstMetric(jobDuration, prometheus.GaugeValue, d, run.Kind)
	}
}

// Handler serves every metric, and the jobs' last runs, in the format the
// scraper asks for (the text format by default). Callers check access
// first.
func (r *Registry) Handler(runs []jobs.Run) http.Handler {
	scrape := prometheus.NewRegistry()
	scrape.MustRegister(jobCollector(runs))
	return promhttp.HandlerFor(prometheus.Gatherers{r.reg, scrape}, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
