package memory

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestGCPercent(t *testing.T) {
	for _, c := range []struct {
		headroom, live int64
		want           int
	}{
		{128 << 20, 50 << 20, 256},           // the headroom over what is live
		{1536 << 20, 50 << 20, MaxGCPercent}, // plenty of memory: at most the cap
		{64 << 20, 200 << 20, MinGCPercent},  // a live heap larger than the headroom: Go's default pace
		{128 << 20, 0, MaxGCPercent},         // nothing live measured yet
	} {
		if got := GCPercent(c.headroom, c.live); got != c.want {
			t.Errorf("GCPercent(%d MiB, %d MiB) = %d, want %d", c.headroom>>20, c.live>>20, got, c.want)
		}
	}
	if got := Budget(256 << 20).GCHeadroom(); got != 128<<20 {
		t.Errorf("GCHeadroom of 256 MiB = %d MiB, want 128", got>>20)
	}
}

// TestTuneGC: with GOGC set nothing changes; without, the pace follows the
// live heap after each collection, and a live heap larger than the
// headroom brings it back to Go's default.
func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	TuneGC(1<<30, true)
	if TunedGCPercent() != 0 || debug.SetGCPercent(100) != 100 {
		t.Fatal("TuneGC changed the pace although GOGC is set")
	}
	// A test binary's live heap is a few MiB: 64 MiB of headroom is the cap.
	TuneGC(64<<20, false)
	waitFor := func(want int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for TunedGCPercent() != want && time.Now().Before(deadline) {
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
		if got := TunedGCPercent(); got != want {
			t.Fatalf("tuned GOGC %d, want %d", got, want)
		}
		if cur := debug.SetGCPercent(want); cur != want {
			t.Fatalf("the runtime's GOGC is %d, the tuner says %d", cur, want)
		}
	}
	waitFor(MaxGCPercent)
	// 128 MiB live, twice the headroom: back to Go's default pace.
	live := make([][]byte, 0, 128)
	for range 128 {
		live = append(live, make([]byte, 1<<20))
	}
	waitFor(MinGCPercent)
	runtime.KeepAlive(live)
	live = nil
	waitFor(MaxGCPercent) // and up again once it is garbage
}
