package web_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

// TestReadAfterWriteAcrossInstances writes on one instance and reads on
// the other on the very next request, from several clients at once (so
// reads by id are answered in shared statements), while other clients
// keep reading the same resources on both instances (so each holds them
// in its read cache): every read returns the version just written, and
// both instances do serve reads from their caches. Stale reads counted:
// none allowed.
func TestReadAfterWriteAcrossInstances(t *testing.T) {
	one, two := twoInstances(t, nil)
	_, k := newOrgWithKey(t, one, "raw@example.com", apikey.ScopeAll)
	// Enough rate limit for the load (each instance counts alone here).
	if err := one.App.DB.SetOrgLimits(context.Background(), k.Key.OrgID, "enterprise", 1_000_000_000, time.Now()); err != nil {
		t.Fatal(err)
	}
	const clients, writes = 8, 15
	var stale, checked atomic.Int64
	hits := func() uint64 { return one.App.ReadCache.Stats().Hits + two.App.ReadCache.Stats().Hits }
	hitsBefore := hits()
	// Readers keep every resource in both caches.
	load, stopLoad := context.WithCancel(context.Background())
	var readers sync.WaitGroup
	for _, env := range []*apptest.Env{one, two} {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for n := 0; load.Err() == nil; n++ {
				req, _ := http.NewRequestWithContext(load, "GET", env.Server.URL+fmt.Sprintf("/v1/fhir/Patient/raw-%d", n%clients), nil)
				req.Header.Set("x-api-key", k.Secret)
				if res, err := http.DefaultClient.Do(req); err == nil {
					res.Body.Close()
				}
			}
		}()
	}
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("raw-%d", c)
			for n := 1; n <= writes; n++ {
				a, b := one, two
				if n%2 == 0 {
					a, b = two, one
				}
				body := fmt.Sprintf(`{"resourceType":"Patient","id":%q,"name":[{"family":"V%d"}]}`, id, n)
				w := fhirCall(t, a, "PUT", "/v1/fhir/Patient/"+id, k.Secret, body)
				if w.Status != 200 && w.Status != 201 {
					t.Errorf("PUT %s: %d %s", id, w.Status, w.Raw)
					return
				}
				r := fhirCall(t, b, "GET", "/v1/fhir/Patient/"+id, k.Secret, "")
				checked.Add(1)
				meta, _ := r.Body["meta"].(map[string]any)
				if r.Status != 200 || meta["versionId"] != fmt.Sprint(n) || r.Header.Get("ETag") != fmt.Sprintf(`W/"%d"`, n) {
					stale.Add(1)
					t.Errorf("read of %s on the other instance after writing version %d: %d, meta %v, ETag %s", id, n, r.Status, meta, r.Header.Get("ETag"))
				}
			}
		}()
	}
	wg.Wait()
	stopLoad()
	readers.Wait()
	if checked.Load() != clients*writes || stale.Load() != 0 {
		t.Fatalf("%d reads checked, %d stale", checked.Load(), stale.Load())
	}
	if hits() == hitsBefore {
		t.Fatal("neither instance served a read from its cache")
	}
}
