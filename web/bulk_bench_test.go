package web_test

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/bulk"
	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/seed"
)

// BenchmarkBulkExport exports 10k and 100k resources (patients with an
// encounter and two observations each) and reports records/s, then exports
// once more while a sampler forces a GC every 20 ms and reads the heap
// still allocated after it: the memory the export holds above the heap
// before it (the highest and the median reading). The export streams page by page, so that
// figure should not grow with the export's size. peak-heap-inuse-MiB is the
// peak heap in use during the timed run, garbage included (it follows GOGC).
//
//	go test -run '^$' -bench BulkExport -benchtime 1x -timeout 30m ./web/
func BenchmarkBulkExport(b *testing.B) {
	for _, resources := range []int{10_000, 100_000} {
		b.Run(strconv.Itoa(resources), func(b *testing.B) {
			env := apptest.New(b, "sqlite", nil)
			ctx := context.Background()
			_, o, err := env.App.CreateUser(ctx, "bench@example.com", pw, "", "Bench")
			if err != nil {
				b.Fatal(err)
			}
			ds, _, err := env.App.Records.Datastore(ctx, o.ID, "test")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := seed.Run(ctx, ds, datastore.Tenant(o.ID), resources/4, 4, nil); err != nil {
				b.Fatal(err)
			}
			export := func() {
				env.Clock.Advance(time.Hour) // the hourly bulk limit
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
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			// sample runs export with a sampler every interval and returns
			// the highest and the median reading of read above the reading
			// before.
			sample := func(interval time.Duration, gc bool, read func(*runtime.MemStats) uint64) (uint64, uint64) {
				runtime.GC()
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				base := read(&m)
				var readings []uint64
				stop, done := make(chan struct{}), make(chan struct{})
				go func() {
					defer close(done)
					t := time.NewTicker(interval)
					defer t.Stop()
					var m runtime.MemStats
					for {
						select {
						case <-stop:
							return
						case <-t.C:
							if gc {
								runtime.GC()
							}
							runtime.ReadMemStats(&m)
							readings = append(readings, max(read(&m), base)-base)
						}
					}
				}()
				export()
				close(stop)
				<-done
				if len(readings) == 0 {
					return 0, 0
				}
				slices.Sort(readings)
				return readings[len(readings)-1], readings[len(readings)/2]
			}
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				inuse, _ := sample(5*time.Millisecond, false, func(m *runtime.MemStats) uint64 { return m.HeapInuse })
				b.ReportMetric(float64(resources)/time.Since(start).Seconds(), "records/s")
				b.ReportMetric(float64(inuse)/(1<<20), "peak-heap-inuse-MiB")
			}
			b.StopTimer()
			retained, median := sample(20*time.Millisecond, true, func(m *runtime.MemStats) uint64 { return m.HeapAlloc })
			b.ReportMetric(float64(retained)/(1<<20), "max-retained-heap-MiB")
			b.ReportMetric(float64(median)/(1<<20), "median-retained-heap-MiB")
		})
	}
}
