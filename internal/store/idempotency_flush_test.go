package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/idempotency"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
)

// TestIdempotencyFlushesAtOnce: flushes running at the same time (the
// periodic one beside one at shutdown) write every kept answer, and never
// fail on each other — two of them once deadlocked on PostgreSQL,
// upserting the same keys in different orders.
func TestIdempotencyFlushesAtOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := storetest.Open(t, engine)
		s := &idempotency.Service{Store: db, Now: time.Now}
		for round := range 10 {
			for i := range 40 {
				sc := idempotency.Scope{OrgID: "org_1", Env: "test", Key: fmt.Sprintf("k-%d-%d", round, i)}
				s.Complete(sc, "fp", idempotency.Answer{Status: 201, Body: []byte(`{}`)})
			}
			var wg sync.WaitGroup
			errc := make(chan error, 4)
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errc <- s.Flush(ctx)
				}()
			}
			wg.Wait()
			close(errc)
			for err := range errc {
				if err != nil {
					t.Fatalf("round %d: concurrent flush: %v", round, err)
				}
			}
		}
		for _, key := range []string{"k-0-0", "k-9-39"} {
			e, ok, err := db.FindIdempotencyKey(ctx, idempotency.Scope{OrgID: "org_1", Env: "test", Key: key}, time.Now().Add(-time.Hour))
			if err != nil || !ok || !e.Done || e.Answer.Status != 201 {
				t.Fatalf("%s: %+v, %v, %v; want its kept answer", key, e, ok, err)
			}
		}
	})
}
