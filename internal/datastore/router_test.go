package datastore_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/datastore"
)

// closingBackend counts its Close calls.
type closingBackend struct {
	datastore.Backend
	closed *atomic.Int32
}

func (b closingBackend) Close() error { b.closed.Add(1); return nil }

// TestRouterOpensWithoutBlockingOthers: while one datastore is being
// opened (creating and migrating it can take seconds), the datastores
// already open are served at once; every caller of the one being opened
// waits for that single opening, or for its own context; a failed opening
// is tried again by the next caller; one that ends after Close is closed.
func TestRouterOpensWithoutBlockingOthers(t *testing.T) {
	release := make(chan struct{})
	var opens, closed atomic.Int32
	fail := atomic.Bool{}
	r := datastore.NewRouter(func(ctx context.Context, name string) (datastore.Backend, error) {
		opens.Add(1)
		if name == "org_slow" {
			<-release
		}
		if name == "org_flaky" && fail.Swap(false) {
			return nil, errors.New("the database is not reachable")
		}
		return closingBackend{closed: &closed}, nil
	}, nil, nil, nil)
	ctx := context.Background()
	live, err := r.Named(ctx, "live")
	if err != nil {
		t.Fatal(err)
	}

	// Three callers of the slow one, one of which gives up.
	var wg sync.WaitGroup
	got := make([]*datastore.Store, 2)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := r.Named(ctx, "org_slow")
			if err != nil {
				t.Error(err)
			}
			got[i] = s
		}()
	}
	for opens.Load() < 2 { // "live" and the slow one's first caller
		time.Sleep(time.Millisecond)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := r.Named(short, "org_slow"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a caller whose context ends while the datastore opens: %v, want its context's error", err)
	}
	start := time.Now()
	if s, err := r.Named(ctx, "live"); err != nil || s != live {
		t.Fatalf("the open datastore while another opens: %v, %v", s, err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("the open datastore took %v while another opened", d)
	}
	close(release)
	wg.Wait()
	if got[0] == nil || got[0] != got[1] {
		t.Fatalf("the callers of the slow datastore got %p and %p, want one store", got[0], got[1])
	}
	if n := opens.Load(); n != 2 {
		t.Fatalf("%d openings, want 2 (live, and the slow one once)", n)
	}

	fail.Store(true)
	if _, err := r.Named(ctx, "org_flaky"); err == nil {
		t.Fatal("a failed opening returned a datastore")
	}
	if s, err := r.Named(ctx, "org_flaky"); err != nil || s == nil {
		t.Fatalf("the next caller after a failed opening: %v, want it opened", err)
	}
	if n := len(r.Open()); n != 3 {
		t.Fatalf("%d datastores open, want 3", n)
	}

	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if n := closed.Load(); n != 3 {
		t.Fatalf("%d closed, want 3", n)
	}
	if _, err := r.Named(ctx, "live"); err == nil {
		t.Fatal("a closed router opened a datastore")
	}
}
