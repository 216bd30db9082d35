package store

import (
	"context"
	"testing"
	"time"
)

// TestGatherWaitsForWritersAtWork: a batch waits, up to its delay, for the
// writers that hold write slots but have not queued yet, so concurrent
// writers share one commit instead of splitting into alternating cohorts;
// a lone writer, or writers all queued already, never wait.
func TestGatherWaitsForWritersAtWork(t *testing.T) {
	job := func() *writeJob { return &writeJob{done: make(chan error, 1)} }
	newC := func(writers int, delay time.Duration) *committer {
		return &committer{jobs: make(chan *writeJob, 16), stop: make(chan struct{}), delay: delay,
			writers: func() int { return writers }}
	}

	// A lone writer: its batch goes at once, however long the delay.
	c := newC(1, time.Hour)
	start := time.Now()
	if b := c.gather(job()); len(b) != 1 || time.Since(start) > 10*time.Second {
		t.Fatalf("lone writer: batch of %d after %s", len(b), time.Since(start))
	}

	// Three writers, all queued: no wait either.
	c = newC(3, time.Hour)
	c.jobs <- job()
	c.jobs <- job()
	start = time.Now()
	if b := c.gather(job()); len(b) != 3 || time.Since(start) > 10*time.Second {
		t.Fatalf("all queued: batch of %d after %s", len(b), time.Since(start))
	}

	// Three writers at work, two queueing a little later: one batch of three.
	c = newC(3, time.Hour)
	go func() {
		time.Sleep(20 * time.Millisecond)
		c.jobs <- job()
		time.Sleep(20 * time.Millisecond)
		c.jobs <- job()
	}()
	start = time.Now()
	if b := c.gather(job()); len(b) != 3 || time.Since(start) < 40*time.Millisecond {
		t.Fatalf("writers at work: batch of %d after %s, want 3 after 40ms", len(b), time.Since(start))
	}

	// A writer at work that never queues: the batch goes after the delay.
	c = newC(2, 50*time.Millisecond)
	start = time.Now()
	if b := c.gather(job()); len(b) != 1 || time.Since(start) < 50*time.Millisecond || time.Since(start) > 10*time.Second {
		t.Fatalf("writer that never queues: batch of %d after %s, want 1 after the 50ms delay", len(b), time.Since(start))
	}

	// Closing: the batch goes at once.
	c = newC(2, time.Hour)
	close(c.stop)
	start = time.Now()
	if b := c.gather(job()); len(b) != 1 || time.Since(start) > 10*time.Second {
		t.Fatalf("closing: batch of %d after %s", len(b), time.Since(start))
	}
}

type testPending struct{ pending }

// TestBatcherSpill: beside a running batch, another starts only once
// spill requests wait; until then they queue for the running one's next
// turn, in one batch.
func TestBatcherSpill(t *testing.T) {
	release := make(chan struct{})
	started := make(chan int, 8)
	b := &batcher[*testPending]{maxBatches: 2, size: 8, spill: 3,
		answer: func(_ context.Context, live []*testPending) {
			started <- len(live)
			<-release
		}}
	submit := func() *testPending {
		p := &testPending{newPending(context.Background())}
		go b.submit(p)
		return p
	}
	running := func() int {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.running
	}
	queued := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			b.mu.Lock()
			q := len(b.queue)
			b.mu.Unlock()
			if q == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d queued, want %d", q, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	first := submit()
	if n := <-started; n != 1 {
		t.Fatalf("first batch of %d", n)
	}
	ps := []*testPending{first, submit(), submit()}
	queued(2) // two waiting, fewer than spill: no second batch
	if r := running(); r != 1 {
		t.Fatalf("%d batches running with 2 waiting, want 1", r)
	}
	ps = append(ps, submit()) // the third waiting: a second batch takes all three
	if n := <-started; n != 3 {
		t.Fatalf("spilled batch of %d, want 3", n)
	}
	if r := running(); r != 2 {
		t.Fatalf("%d batches running, want 2", r)
	}
	close(release)
	for _, p := range ps {
		if err := p.wait(); err != nil {
			t.Fatal(err)
		}
	}
}
