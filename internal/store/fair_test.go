package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/fair"
	"github.com/clinikapi/clinikapi/internal/store"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
)

// hold is a request stopped in the work gate's hook, holding its slot
// (and a pooled connection) until release is closed.
type hold struct {
	tenant  string
	release chan struct{}
}

// holdSlots makes every request of the tenants in block stop in the work
// gate's hook with a connection of the pool taken, and announce itself on
// the returned channel.
func holdSlots(t *testing.T, d *store.Datastore, block ...string) <-chan hold {
	holds := make(chan hold, 64)
	d.WorkGate().SetHook(func(tenant string) {
		for _, b := range block {
			if tenant == b {
				conn, err := d.SQL().Conn(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				defer conn.Close()
				h := hold{tenant, make(chan struct{})}
				holds <- h
				<-h.release
				return
			}
		}
	})
	t.Cleanup(func() { d.WorkGate().SetHook(nil) })
	return holds
}

// waitingAt blocks until n requests wait at the gate (polling its figures:
// the test asserts order, never time).
func waitingAt(t *testing.T, g *fair.Gate, n int) {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); g.Stats().Waiting != n; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%d requests waiting, want %d", g.Stats().Waiting, n)
		}
	}
}

// TestFairShare: with tenant A holding every connection it may use for
// searches (its queries stopped in the gate's hook, each with a pooled
// connection taken), tenant B's read by id, search and write still
// complete; A's next search waits its turn, and with a time budget gets
// the budget's answer instead of hanging; once A's slots are freed
// everything completes.
func TestFairShare(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		d := openDatastore(t, engine)
		now := time.Now().UTC()
		for _, tenant := range []datastore.Tenant{"org_a", "org_b"} {
			for i := range 3 {
				id := fmt.Sprintf("%s-%d", tenant[4:], i)
				if err := d.Insert(ctx, tenant, datastore.Record{Type: "Patient", ID: id, Version: 1, LastUpdated: now,
					Content: []byte(`{"resourceType":"Patient","id":"` + id + `"}`)}, nil); err != nil {
					t.Fatal(err)
				}
			}
		}
		s := datastore.New(d, nil, nil, nil)
		g := d.WorkGate()
		if engine == "sqlite" && (g.Slots() != 5 || g.PerTenant() != store.DefaultSearchShare(8)) || engine == "postgres" && (g.Slots() != 15 || g.PerTenant() != store.DefaultSearchShare(20)) {
			t.Fatalf("%s work lane: %d slots, %d per tenant", engine, g.Slots(), g.PerTenant())
		}
		holds := holdSlots(t, d, "org_a")
		search := func(s *datastore.Store, tenant datastore.Tenant) chan error {
			done := make(chan error, 1)
			go func() {
				res, err := s.Search(ctx, tenant, datastore.Query{Type: "Patient", Limit: 10})
				if err == nil && len(res.Records) != 3 {
					err = fmt.Errorf("%d matches, want 3", len(res.Records))
				}
				done <- err
			}()
			return done
		}
		var held []hold
		var aDone []chan error
		for range g.PerTenant() {
			aDone = append(aDone, search(s, "org_a"))
			held = append(held, <-holds)
		}
		extra := search(s, "org_a")
		waitingAt(t, g, 1)

		// B is served beside A's full share.
		if rec, err := s.Read(ctx, "org_b", "Patient", "b-1"); err != nil || rec.ID != "b-1" {
			t.Fatalf("B's read by id: %v", err)
		}
		if err := <-search(s, "org_b"); err != nil {
			t.Fatalf("B's search: %v", err)
		}
		if err := d.Insert(ctx, "org_b", datastore.Record{Type: "Patient", ID: "b-new", Version: 1, LastUpdated: now,
			Content: []byte(`{"resourceType":"Patient","id":"b-new"}`)}, nil); err != nil {
			t.Fatalf("B's write: %v", err)
		}
		// A's own reads by id are not behind its searches either.
		if _, err := s.Read(ctx, "org_a", "Patient", "a-1"); err != nil {
			t.Fatalf("A's read by id: %v", err)
		}
		// Nor are A's writes: they take the commit lane (SQLite) or a
		// work slot of their own share (PostgreSQL), not a search slot.
		if err := d.Insert(ctx, "org_a", datastore.Record{Type: "Observation", ID: "a-obs", Version: 1, LastUpdated: now,
			Content: []byte(`{"resourceType":"Observation","id":"a-obs"}`)}, nil); err != nil {
			t.Fatalf("A's write beside its full search share: %v", err)
		}
		select {
		case err := <-extra:
			t.Fatalf("A's search past its share ran: %v", err)
		default:
		}
		if st := g.Stats(); st.Waiting != 1 || st.Held != g.PerTenant() {
			t.Fatalf("gate figures %+v, want A's share held and its extra search waiting", st)
		}

		// Under a time budget, A's search that cannot get a slot in time
		// is answered as one past the budget.
		bounded := datastore.New(d, nil, nil, nil)
		bounded.SetBudget(50 * time.Millisecond)
		if err := <-search(bounded, "org_a"); errs.ReasonOf(err) != errs.ReasonSearchTooCostly {
			t.Fatalf("A's search waiting past the budget: %v, want SEARCH_TOO_COSTLY", err)
		}
		if st := s.QueueStats(); st.TimedOut != 1 {
			t.Fatalf("queue figures %+v, want the timed-out wait counted", st)
		}

		for _, h := range held {
			close(h.release)
		}
		// The extra search now gets a slot and is stopped in the hook too.
		h := <-holds
		close(h.release)
		for _, done := range append(aDone, extra) {
			if err := <-done; err != nil {
				t.Fatalf("A's search: %v", err)
			}
		}
	})
}

// TestFairShareRoundRobin: when the work lane is full, waiting searches
// are served one tenant at a time in turn (A B C A), not in arrival order
// (A A B C).
func TestFairShareRoundRobin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		d := openDatastore(t, engine)
		d.SetTenantShare(1000) // A may take the whole lane
		g := d.WorkGate()
		holds := holdSlots(t, d, "org_a", "org_b", "org_c")
		var done []chan error
		search := func(tenant datastore.Tenant) {
			ch := make(chan error, 1)
			done = append(done, ch)
			go func() {
				_, _, err := d.Search(ctx, tenant, datastore.Query{Type: "Patient", Limit: 10})
				ch <- err
			}()
		}
		var held []hold
		for range g.Slots() {
			search("org_a")
			held = append(held, <-holds)
		}
		for i, tenant := range []datastore.Tenant{"org_a", "org_a", "org_b", "org_c"} {
			search(tenant)
			waitingAt(t, g, i+1) // fixes the arrival order
		}
		var order []string
		for range 4 {
			close(held[0].release) // one slot frees: exactly one request gets it
			held = held[1:]
			h := <-holds
			order = append(order, h.tenant)
			held = append(held, h)
		}
		if fmt.Sprint(order) != "[org_a org_b org_c org_a]" {
			t.Fatalf("served %v, want [org_a org_b org_c org_a]", order)
		}
		for _, h := range held {
			close(h.release)
		}
		for _, ch := range done {
			if err := <-ch; err != nil {
				t.Fatal(err)
			}
		}
	})
}
