package account

import (
	"context"
	"testing"
	"time"
)

// TestPaceHoldsFailuresToTheTimeOfSuccesses: a failure that came back at
// once (GoTrue and an unknown e-mail) is held to the median success time;
// one that already took that long is not held longer.
func TestPaceHoldsFailuresToTheTimeOfSuccesses(t *testing.T) {
	var p pace
	start := time.Now()
	p.failure(context.Background(), start)
	if d := time.Since(start); d > 10*time.Millisecond {
		t.Fatalf("before any success a failure waited %v", d)
	}
	for _, d := range []time.Duration{30, 50, 40, 200, 45} {
		p.success(d * time.Millisecond)
	}
	if f := p.floor(); f != 45*time.Millisecond {
		t.Fatalf("floor %v, want the median 45ms", f)
	}
	start = time.Now()
	p.failure(context.Background(), start)
	if d := time.Since(start); d < 45*time.Millisecond || d > 500*time.Millisecond {
		t.Fatalf("a fast failure answered after %v, want about 45ms", d)
	}
	start = time.Now().Add(-60 * time.Millisecond) // it already took 60 ms
	p.failure(context.Background(), start)
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("a slow failure was held to %v", d)
	}
	for range 40 {
		p.success(time.Millisecond) // the ring keeps the recent ones only
	}
	if f := p.floor(); f != time.Millisecond {
		t.Fatalf("floor %v after 40 fast successes, want 1ms", f)
	}
}
