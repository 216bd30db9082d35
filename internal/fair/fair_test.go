package fair

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
)

// waitFor blocks until n requests wait at g (no sleeps: it polls the
// figures the gate keeps, yielding in between).
func waitFor(t *testing.T, g *Gate, n int) {
	t.Helper()
	for i := 0; g.Stats().Waiting != n; i++ {
		if i > 50_000_000 {
			t.Fatalf("%d requests waiting, want %d", g.Stats().Waiting, n)
		}
		runtime.Gosched()
	}
}

// TestRoundRobin: with the only slot taken by A, requests queued A1 A2 A3
// B1 C1 are served A1 B1 C1 A2 A3 — each tenant in turn —, not in arrival
// order.
func TestRoundRobin(t *testing.T) {
	g := New(1, 1)
	first, err := g.Acquire(context.Background(), "A")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	queued := 0
	for _, r := range []struct{ tenant, name string }{{"A", "A1"}, {"A", "A2"}, {"A", "A3"}, {"B", "B1"}, {"C", "C1"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, err := g.Acquire(context.Background(), r.tenant)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, r.name)
			mu.Unlock()
			release()
		}()
		queued++
		waitFor(t, g, queued) // fixes the arrival order
	}
	first()
	wg.Wait()
	want := []string{"A1", "B1", "C1", "A2", "A3"}
	if len(order) != len(want) {
		t.Fatalf("served %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("served %v, want %v", order, want)
		}
	}
	if s := g.Stats(); s.Held != 0 || s.Waiting != 0 || s.Waits != 5 || len(g.tenants) != 0 {
		t.Fatalf("after all released: %+v, %d tenants kept", s, len(g.tenants))
	}
}

// TestPerTenantLimit: a tenant at its limit waits while another tenant
// takes the free slots at once; a waiting request whose context ends gets
// its error and holds nothing.
func TestPerTenantLimit(t *testing.T) {
	g := New(4, 2)
	var held []func()
	for range 2 {
		r, err := g.Acquire(context.Background(), "A")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := g.Acquire(ctx, "A")
		done <- err
	}()
	waitFor(t, g, 1)
	// B is not behind A's third request.
	for range 2 {
		r, err := g.Acquire(context.Background(), "B")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, r)
	}
	if s := g.Stats(); s.Held != 4 || s.Waiting != 1 {
		t.Fatalf("figures %+v, want 4 held and 1 waiting", s)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
	for _, r := range held {
		r()
		r() // a second release is a no-op
	}
	if s := g.Stats(); s.Held != 0 || s.Waiting != 0 || s.TimedOut != 1 || len(g.tenants) != 0 {
		t.Fatalf("after all released: %+v, %d tenants kept", s, len(g.tenants))
	}
	// An ended context with a free slot still gets the slot's answer
	// at once; with none free, the context's error without waiting.
	r, err := g.Acquire(ctx, "A")
	if err != nil {
		t.Fatalf("free slot, ended context: %v", err)
	}
	r()
}

// TestLending: a lending gate lets a tenant alone take every slot; once
// another tenant waits, the next freed slot is that tenant's, before the
// first tenant's own waiting request.
func TestLending(t *testing.T) {
	g := NewLending(4, 1)
	var held []func()
	for range 4 {
		r, err := g.Acquire(context.Background(), "A")
		if err != nil {
			t.Fatalf("A alone past its share: %v", err)
		}
		held = append(held, r)
	}
	got := make(chan string)
	var wg sync.WaitGroup
	for i, tenant := range []string{"A", "B"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := g.Acquire(context.Background(), tenant)
			if err != nil {
				t.Error(err)
				return
			}
			got <- tenant
			r()
		}()
		waitFor(t, g, i+1)
	}
	held[0]()
	if first := <-got; first != "B" {
		t.Fatalf("freed slot went to %s, want B (under its share)", first)
	}
	held[1]()
	if second := <-got; second != "A" {
		t.Fatalf("next freed slot went to %s, want A (lent)", second)
	}
	for _, r := range held[2:] {
		r()
	}
	wg.Wait()
	if s := g.Stats(); s.Held != 0 || s.Waiting != 0 {
		t.Fatalf("after all released: %+v", s)
	}
}
