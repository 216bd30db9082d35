package webhook

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// finishStore records FinishWebhookAttempts calls; the first blocks until
// release is closed, so that others queue behind it.
type finishStore struct {
	Store
	mu      sync.Mutex
	calls   [][]Attempt
	release chan struct{}
	fail    error
}

func (f *finishStore) FinishWebhookAttempts(_ context.Context, _ string, as []Attempt, _ time.Time) error {
	f.mu.Lock()
	f.calls = append(f.calls, as)
	first := len(f.calls) == 1
	f.mu.Unlock()
	if first {
		<-f.release
	}
	return f.fail
}

// TestFinishCoalesces: workers that finish while a recording runs are
// recorded together in one call, every attempt once, and each worker
// hears how its own recording went.
func TestFinishCoalesces(t *testing.T) {
	for _, fail := range []error{nil, errors.New("database down")} {
		st := &finishStore{release: make(chan struct{}), fail: fail}
		d := &Dispatcher{Store: st, Holder: "inst", Now: time.Now}
		var wg sync.WaitGroup
		errs := make([]error, 6)
		run := func(i int) {
			defer wg.Done()
			errs[i] = d.finish(context.Background(), []Attempt{{ID: "a" + strconv.Itoa(i)}, {ID: "b" + strconv.Itoa(i)}})
		}
		wg.Add(1)
		go run(0)
		// Wait until the first recording runs, then queue five more.
		waitFor(&st.mu, func() bool { return len(st.calls) == 1 })
		for i := 1; i < 6; i++ {
			wg.Add(1)
			go run(i)
		}
		waitFor(&d.fmu, func() bool { return len(d.fq) == 5 })
		close(st.release)
		wg.Wait()
		if len(st.calls) != 2 || len(st.calls[0]) != 2 || len(st.calls[1]) != 10 {
			t.Fatalf("recorded in %d calls (%v), want the first alone and the five waiting together", len(st.calls), st.calls)
		}
		seen := map[string]bool{}
		for _, c := range st.calls {
			for _, a := range c {
				if seen[a.ID] {
					t.Fatalf("attempt %s recorded twice", a.ID)
				}
				seen[a.ID] = true
			}
		}
		for i, err := range errs {
			if !errors.Is(err, fail) || (fail == nil) != (err == nil) {
				t.Fatalf("worker %d got %v, want %v", i, err, fail)
			}
		}
	}
}

// waitFor polls cond, holding mu, until it holds.
func waitFor(mu *sync.Mutex, cond func() bool) {
	for {
		mu.Lock()
		ok := cond()
		mu.Unlock()
		if ok {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// TestYieldGivesWayButNeverStarves: a run waits while the API is busy,
// goes on as soon as it is not, and never waits longer than Max however
// long the API stays busy; a cancelled context ends the wait.
func TestYieldGivesWayButNeverStarves(t *testing.T) {
	ctx := context.Background()
	var busy atomic.Bool
	busy.Store(true)
	y := &Yield{Busy: busy.Load, Max: 150 * time.Millisecond}
	start := time.Now()
	if !y.wait(ctx) {
		t.Fatal("wait reported a cancelled context")
	}
	if d := time.Since(start); d < y.Max {
		t.Fatalf("gave way for %v while the API was busy, want at least Max %v", d, y.Max)
	}

	// Busy for longer than the test could last, until the API is idle.
	long := &Yield{Busy: busy.Load, Max: time.Hour}
	go func() {
		time.Sleep(50 * time.Millisecond)
		busy.Store(false)
	}()
	start = time.Now()
	long.wait(ctx)
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("stopped giving way after %v, before the API was idle", d)
	}

	busy.Store(true)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if long.wait(cancelled) {
		t.Fatal("wait went on after its context ended")
	}
	var none *Yield
	if !none.wait(ctx) || !(&Yield{Max: time.Hour}).wait(ctx) {
		t.Fatal("no Yield, or one without Busy, must not wait")
	}
}

// claimStore records when the dispatcher looks for due work.
type claimStore struct {
	Store
	mu  sync.Mutex
	at  []time.Time
	any chan struct{}
}

func (c *claimStore) ClaimWebhookDeliveries(context.Context, Claim) ([]Delivery, error) {
	c.mu.Lock()
	c.at = append(c.at, time.Now())
	c.mu.Unlock()
	select {
	case c.any <- struct{}{}:
	default:
	}
	return nil, nil
}

// TestDispatcherYieldsButKeepsLooking: while the API stays busy the
// dispatcher still looks for due work, at least Max apart; once the API is
// idle it looks at every tick again.
func TestDispatcherYieldsButKeepsLooking(t *testing.T) {
	st := &claimStore{any: make(chan struct{}, 1)}
	var busy atomic.Bool
	busy.Store(true)
	const max = 200 * time.Millisecond
	d := &Dispatcher{Store: st, Holder: "inst", Now: time.Now, MaxWorkers: 4, Batch: 4, PerEndpoint: 1,
		wake: make(chan struct{}, 1), active: map[string]bool{}, Yield: &Yield{Busy: busy.Load, Max: max}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Run(ctx, 5*time.Millisecond)
	}()
	defer func() { cancel(); <-done }()
	looks := func() []time.Time {
		st.mu.Lock()
		defer st.mu.Unlock()
		return append([]time.Time(nil), st.at...)
	}
	waitLooks := func(n int) []time.Time {
		deadline := time.Now().Add(30 * time.Second)
		for len(looks()) < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d looks for due work in 30 s, want %d: the dispatcher starves", len(looks()), n)
			}
			<-st.any
		}
		return looks()
	}
	at := waitLooks(4) // the first at once, each next after giving way
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < max {
			t.Fatalf("looks %d and %d %v apart while the API was busy, want at least %v", i-1, i, gap, max)
		}
	}
	busy.Store(false)
	n := len(looks())
	// Idle: a tick and a Gap apart, far more often than Max.
	waitLooks(n + 10)
}

// TestBatchesGrowWithABacklog: a worker's batches double while they come
// back full, up to MaxBatch, and start again from Batch after one that is
// not; a batch is leased for longer than its sends can take, so that no
// other instance claims its deliveries meanwhile.
func TestBatchesGrowWithABacklog(t *testing.T) {
	d := &Dispatcher{Batch: 32, MaxBatch: 128, PerEndpoint: 4, Lease: 2 * time.Minute}
	size, got := d.Batch, []int{}
	for range 4 {
		size = d.nextBatch(size, size)
		got = append(got, size)
	}
	if want := []int{64, 128, 128, 128}; !slices.Equal(got, want) {
		t.Fatalf("full batches grew %v, want %v", got, want)
	}
	if n := d.nextBatch(128, 127); n != 32 {
		t.Fatalf("after a batch that was not full: %d, want Batch", n)
	}
	for _, n := range []int{1, 32, 64, 128} {
		sends := time.Duration((n+d.PerEndpoint-1)/d.PerEndpoint) * SendTimeout
		if l := d.leaseFor(n); l < d.Lease || l <= sends {
			t.Fatalf("a batch of %d is leased for %v; its sends can take %v, the least lease is %v", n, l, sends, d.Lease)
		}
	}
	if l := d.leaseFor(32); l != d.Lease {
		t.Fatalf("the usual batch is leased for %v, want Lease %v", l, d.Lease)
	}
}
