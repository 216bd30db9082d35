package app

import (
	"runtime"
	"sync"
	"time"

	"github.com/clinikapi/clinikapi/internal/fair"
	"github.com/clinikapi/clinikapi/internal/memory"
	"github.com/clinikapi/clinikapi/internal/metrics"
	"github.com/clinikapi/clinikapi/internal/store"
)

// metrics builds the operator metrics registry with the program's gauges:
// buffers waiting to be written, the caches against their shares of the
// process's cache memory budget, and (besides the Go runtime and process
// collectors of metrics.New) the count of garbage collections.
func (a *App) metrics() *metrics.Registry {
	r := metrics.New()
	usage := a.Usage
	r.Gauge("clinikapi_usage_buffer_depth", "Usage records buffered in memory, waiting to be written.", func() float64 {
		return float64(usage.Pending())
	})
	r.Gauge("clinikapi_datastores_open", "FHIR datastores this instance has open.", func() float64 {
		return float64(len(a.Data.Open()))
	})
	r.Gauge("clinikapi_read_cache_bytes", "Bytes of resources held by the read cache of the open SQLite datastores.", func() float64 {
		return float64(a.ReadCache.Stats().Bytes)
	})
	r.Gauge("clinikapi_read_cache_entries", "Resources held by the read cache of the open SQLite datastores.", func() float64 {
		return float64(a.ReadCache.Stats().Entries)
	})
	r.Caches(a.Config.CacheMemory, a.CacheStats)
	queues := func() (s fair.Stats) {
		for _, d := range a.Data.Open() {
			s = s.Add(d.QueueStats())
		}
		return s
	}
	r.Gauge("clinikapi_datastore_queue_waiting", "Datastore requests waiting now for their tenant's turn at the connections (or commit batches).", func() float64 {
		return float64(queues().Waiting)
	})
	r.Gauge("clinikapi_datastore_queue_waits", "Datastore requests that had to wait for their turn, since start.", func() float64 {
		return float64(queues().Waits)
	})
	r.Gauge("clinikapi_datastore_queue_wait_seconds", "Time datastore requests spent waiting for their turn, summed since start.", func() float64 {
		return queues().WaitTotal.Seconds()
	})
	r.Gauge("clinikapi_datastore_queue_timeouts", "Datastore requests whose time budget or client ended while they waited for their turn, since start.", func() float64 {
		return float64(queues().TimedOut)
	})
	mem := memStats()
	r.Counter("go_gc_cycles_total", "Completed garbage-collection cycles.", func() float64 { return float64(mem().NumGC) })
	return r
}

// CacheStats reports the figures of every cache that shares the cache
// memory budget.
func (a *App) CacheStats() []memory.Stats {
	rc := a.ReadCache.Stats()
	if a.ReadCache == nil {
		rc.Budget = 0 // turned off (CLINIKAPI_READ_CACHE_MB=0)
	}
	pages := store.SQLitePageStats()
	if a.Config.DatabaseURL != "" {
		pages.Budget = 0 // no SQLite database: PostgreSQL caches pages itself
	}
	return []memory.Stats{rc, pages, a.Keys.CacheStats()}
}

// memStats reads the runtime's memory statistics at most once a second,
// however many gauges read them in one scrape.
func memStats() func() runtime.MemStats {
	var mu sync.Mutex
	var at time.Time
	var m runtime.MemStats
	return func() runtime.MemStats {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(at) > time.Second {
			runtime.ReadMemStats(&m)
			at = time.Now()
		}
		return m
	}
}
