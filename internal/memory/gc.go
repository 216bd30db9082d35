package memory

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// The garbage collector's pace. Go's default (GOGC=100) collects whenever
// the heap has grown by as much as is live. A server's live heap is small
// beside the memory it may use (tens of MiB against a cache budget of
// hundreds), so at the default it collects several times a second under
// load: a sixth of the server's CPU in a PostgreSQL read benchmark. The
// tuner lets garbage grow to a headroom instead, never below Go's default
// pace and never past MaxGCPercent, re-computed after every collection so
// a live heap that grows (a cache filling) brings the pace back down at
// once.

// MinGCPercent and MaxGCPercent bound the tuner's GOGC.
const (
	MinGCPercent = 100
	MaxGCPercent = 500
)

// GCPercent is the GOGC that lets garbage reach headroom bytes over a live
// heap of live bytes: headroom/live in percent, from MinGCPercent to
// MaxGCPercent.
func GCPercent(headroom, live int64) int {
	if live <= 0 {
		return MaxGCPercent
	}
	p := headroom * 100 / live
	return int(min(max(p, MinGCPercent), MaxGCPercent))
}

// GCHeadroom is the garbage a process with this cache budget may let
// accumulate between collections: half the budget (128 MiB of the
// smallest default budget, 1.5 GiB of a 3 GiB one).
func (b Budget) GCHeadroom() int64 { return int64(b) / 2 }

var (
	tuneOnce sync.Once
	tuned    atomic.Int64 // the GOGC last set, 0 before the first
)

// TuneGC paces the garbage collector for a headroom of headroom bytes
// (GCPercent), after every collection, for the life of the process. It
// is for processes that serve; the first call starts it and later calls
// do nothing. An operator's GOGC wins: pass gogcSet (GOGC is in the
// environment) and nothing is tuned. GOMEMLIMIT, when set, still bounds
// the heap.
func TuneGC(headroom int64, gogcSet bool) {
	if gogcSet || headroom <= 0 {
		return
	}
	tuneOnce.Do(func() {
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		retune := func() {
			metrics.Read(sample)
			live := int64(0)
			if sample[0].Value.Kind() == metrics.KindUint64 {
				live = int64(sample[0].Value.Uint64())
			}
			p := GCPercent(headroom, live)
			if int64(p) != tuned.Load() {
				debug.SetGCPercent(p)
				tuned.Store(int64(p))
			}
		}
		retune()
		armGCHook(retune)
	})
}

// TunedGCPercent is the GOGC the tuner set last (0 when it has not run).
func TunedGCPercent() int { return int(tuned.Load()) }

// armGCHook calls f after the next collection, and again after each one
// after that: a cleanup on an object nothing refers to runs once a
// collection has found it unreachable.
func armGCHook(f func()) {
	// Holding a pointer keeps it out of the tiny allocator, whose objects
	// may share a block with others and never be found unreachable.
	sentinel := new(struct {
		p *byte
		_ [24]byte
	})
	runtime.AddCleanup(sentinel, func(struct{}) {
		f()
		armGCHook(f)
	}, struct{}{})
}
