package app

import (
	"runtime"
	"sync"
	"time"

	"github.com/clinikapi/clinikapi/internal/fair"
	"github.com/clinikapi/clinikapi/internal/metrics"
)

// metrics builds the operator metrics registry with the program's gauges:
// buffers waiting to be written, the read caches, and the Go runtime's
// memory and goroutines.
func (a *App) metrics() *metrics.Registry {
	r := metrics.New()
	usage := a.Usage
	r.Gauge("clinikapi_usage_buffer_depth", "Usage records buffered in memory, waiting to be written.", func() float64 {
		return float64(usage.Pending())
	})
	r.Gauge("clinikapi_datastores_open", "FHIR datastores this instance has open.", func() float64 {
		return float64(len(a.Data.Open()))
	})
	cache := func(bytes bool) float64 {
		var n float64
		for _, s := range a.Data.Open() {
			e, b := s.CacheSize()
			if bytes {
				n += float64(b)
			} else {
				n += float64(e)
			}
		}
		return n
	}
	r.Gauge("clinikapi_read_cache_bytes", "Bytes of resources held by the read caches of the open datastores.", func() float64 { return cache(true) })
	r.Gauge("clinikapi_read_cache_entries", "Resources held by the read caches of the open datastores.", func() float64 { return cache(false) })
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
	r.Gauge("go_goroutines", "Goroutines that currently exist.", func() float64 { return float64(runtime.NumGoroutine()) })
	mem := memStats()
	r.Gauge("go_memstats_heap_inuse_bytes", "Bytes in in-use heap spans.", func() float64 { return float64(mem().HeapInuse) })
	r.Gauge("go_memstats_heap_alloc_bytes", "Bytes of allocated heap objects.", func() float64 { return float64(mem().HeapAlloc) })
	r.Gauge("go_memstats_sys_bytes", "Bytes of memory obtained from the operating system.", func() float64 { return float64(mem().Sys) })
	r.Gauge("go_gc_cycles_total", "Completed garbage-collection cycles.", func() float64 { return float64(mem().NumGC) })
	return r
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
