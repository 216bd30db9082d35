package webhook

import (
	"context"
	"errors"
	"strconv"
	"sync"
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
