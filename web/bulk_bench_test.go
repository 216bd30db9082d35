package web_test

import (
	"context"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/bulk"
	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/seed"
)

// BenchmarkBulkExport exports 10k and 100k resources (patients with an
// encounter and two observations each) and reports records/s and the
// memory the export holds: the high-water of the live heap (as measured by
// each GC) above the live heap before it, and the peak heap in use (which
// also holds garbage awaiting the next GC, so it follows GOGC). The export
// streams page by page, so neither should grow with the export's size.
//
//	go test -run '^$' -bench BulkExport -benchtime 1x -timeout 30m ./web/
func BenchmarkBulkExport(b *testing.B) {
	for _, resources := range []int{10_000, 100_000} {
		b.Run(strconv.Itoa(resources), func(b *testing.B) {
			env := apptest.New(b, "sqlite", nil)
			ctx := context.Background()
			_, o, err := env.App.CreateUser(ctx, "bench@example.com", "bench password", "", "Bench")
			if err != nil {
				b.Fatal(err)
			}
			ds, err := env.App.Data.For(ctx, "test", o.ID, false)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := seed.Run(ctx, ds, datastore.Tenant(o.ID), resources/4, 4, nil); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			var peak, peakLive uint64
			live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
			for range b.N {
				env.Clock.Advance(time.Hour) // the hourly bulk limit
				runtime.GC()
				var base runtime.MemStats
				runtime.ReadMemStats(&base)
				metrics.Read(live)
				baseLive := live[0].Value.Uint64()
				var high, highLive atomic.Uint64
				stop := make(chan struct{})
				done := make(chan struct{})
				go func() {
					defer close(done)
					t := time.NewTicker(5 * time.Millisecond)
					defer t.Stop()
					var m runtime.MemStats
					l := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
					for {
						select {
						case <-stop:
							return
						case <-t.C:
							runtime.ReadMemStats(&m)
							if m.HeapInuse > high.Load() {
								high.Store(m.HeapInuse)
							}
							metrics.Read(l)
							if v := l[0].Value.Uint64(); v > highLive.Load() {
								highLive.Store(v)
							}
						}
					}
				}()
				start := time.Now()
				j, err := env.App.Bulk.StartExport(ctx, bulk.Actor{OrgID: o.ID, Env: "test", Type: audit.ActorSystem, ID: "bench"}, bulk.ExportRequest{})
				if err != nil {
					b.Fatal(err)
				}
				for {
					env.App.Bulk.Work(ctx)
					got, err := env.App.Bulk.Job(ctx, o.ID, j.ID)
					if err != nil {
						b.Fatal(err)
					}
					if got.Status == bulk.Completed || got.Status == bulk.Failed {
						if got.Status == bulk.Failed || got.Processed != resources {
							b.Fatalf("export: %s, %d of %d records, %v", got.Status, got.Processed, resources, got.Errors)
						}
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
				elapsed := time.Since(start)
				close(stop)
				<-done
				if h := high.Load(); h > base.HeapInuse && h-base.HeapInuse > peak {
					peak = h - base.HeapInuse
				}
				if h := highLive.Load(); h > baseLive && h-baseLive > peakLive {
					peakLive = h - baseLive
				}
				b.ReportMetric(float64(resources)/elapsed.Seconds(), "records/s")
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-inuse-MiB")
			b.ReportMetric(float64(peakLive)/(1<<20), "peak-live-heap-MiB")
		})
	}
}
