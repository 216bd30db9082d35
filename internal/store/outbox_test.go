package store_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
)

// TestOutboxIsTheWritesTransaction: a write's event is stored exactly when
// the write is — with concurrent writes batched into shared commits, and a
// write that fails (a version conflict) stores none — and the outbox hands
// its events out in order until they are deleted.
func TestOutboxIsTheWritesTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		d := openDatastore(t, engine)
		now := time.Now().UTC()
		rec := func(id string, v int, event string) datastore.Record {
			return datastore.Record{Type: "Patient", ID: id, Version: v, LastUpdated: now,
				Content: []byte(`{"resourceType":"Patient","id":"` + id + `"}`), Outbox: []byte(event), Webhook: []byte(event)}
		}
		if err := d.Insert(ctx, "org_a", rec("shared", 1, `"create shared"`), nil); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := d.Replace(ctx, "org_a", rec("shared", 2, `"update shared"`), 1, nil)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case !errs.Is(err, errs.Conflict):
					t.Errorf("replace %d: %v", i, err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d updates of one version won, want 1", wins)
		}
		// A write without an event stores none.
		if err := d.Insert(ctx, "org_a", rec("quiet", 1, ""), nil); err != nil {
			t.Fatal(err)
		}
		evs, err := d.OutboxEvents(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 || string(evs[0].Event) != `"create shared"` || string(evs[1].Event) != `"update shared"` || evs[0].Seq >= evs[1].Seq {
			t.Fatalf("outbox = %s, want the create then the one update that won", events(evs))
		}
		// The webhook outbox is the same transaction's: the 19 updates
		// that lost (rolled back) left no webhook event either.
		wh, err := d.WebhookEvents(ctx, 100)
		if err != nil || len(wh) != 2 || string(wh[0].Event) != `"create shared"` || string(wh[1].Event) != `"update shared"` {
			t.Fatalf("webhook outbox = %s (%v), want the create then the one update that won", events(wh), err)
		}
		if err := d.DeleteWebhookEvents(ctx, []int64{wh[0].Seq, wh[1].Seq}); err != nil {
			t.Fatal(err)
		}
		if wh, _ = d.WebhookEvents(ctx, 100); len(wh) != 0 {
			t.Fatalf("webhook outbox after deleting both: %s", events(wh))
		}
		if err := d.DeleteOutbox(ctx, []int64{evs[0].Seq}); err != nil {
			t.Fatal(err)
		}
		if evs, _ = d.OutboxEvents(ctx, 100); len(evs) != 1 || string(evs[0].Event) != `"update shared"` {
			t.Fatalf("after deleting the first: %s", events(evs))
		}
	})
}

func events(evs []datastore.OutboxEvent) string {
	var out []string
	for _, e := range evs {
		out = append(out, strconv.FormatInt(e.Seq, 10)+":"+string(e.Event))
	}
	return "[" + strings.Join(out, " ") + "]"
}
