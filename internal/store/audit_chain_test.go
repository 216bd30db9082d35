package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/store"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
)

// chainEvent is the i-th test event of org.
func chainEvent(org string, i int, at time.Time) audit.Event {
	return audit.Event{ID: fmt.Sprintf("aud_%s_%04d", org, i), OrgID: org, ActorType: audit.ActorAPIKey, ActorID: "key_1",
		Action: "data.read", TargetType: "Patient", TargetID: fmt.Sprintf("p%d", i), IP: "203.0.113.1", UserAgent: "ua",
		Outcome: audit.Success, Detail: map[string]string{"env": "test"}, CreatedAt: at.Add(time.Duration(i) * time.Millisecond)}
}

func verify(t *testing.T, db *store.DB) audit.VerifyReport {
	t.Helper()
	r, err := audit.Verify(context.Background(), db, 7) // small pages: the walk crosses them
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestAuditChainDetectsTampering: events appended from many writers at
// once (two connection pools on PostgreSQL, as two instances) form one
// unbroken chain per organization, retried batches are written once, and
// the verifier finds a changed, a deleted (in the middle and the newest)
// and a reordered event.
func TestAuditChainDetectsTampering(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		dsn := storetest.DatabaseURL(t, engine)
		dir := t.TempDir()
		open := func() *store.DB {
			db, err := store.Open(ctx, dsn, dir)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := db.Migrate(ctx, slog.New(slog.DiscardHandler)); err != nil {
				t.Fatal(err)
			}
			return db
		}
		db := open()
		other := db
		if engine == "postgres" {
			other = open()
		}
		now := time.Now().UTC()
		var wg sync.WaitGroup
		errc := make(chan error, 16)
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				target := db
				if w%2 == 1 {
					target = other
				}
				for b := range 5 {
					var batch []audit.Event
					for i := range 10 {
						n := w*100 + b*10 + i
						batch = append(batch, chainEvent("org_a", n, now), chainEvent("org_b", n, now))
					}
					if err := target.InsertAuditEvents(ctx, batch); err != nil {
						errc <- err
						return
					}
					if b == 2 { // a retry of a batch already written
						if err := target.InsertAuditEvents(ctx, batch); err != nil {
							errc <- err
							return
						}
					}
				}
				if err := target.InsertAuditEvent(ctx, chainEvent("", w, now)); err != nil {
					errc <- err
				}
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
		r := verify(t, db)
		if len(r.Problems) > 0 || r.Chains != 3 || r.Events != 2*400+8 {
			t.Fatalf("untouched trail: %d chains, %d events, problems %v; want 3 chains, 808 events, none", r.Chains, r.Events, r.Problems)
		}

		sqlDB := db.SQL()
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := sqlDB.ExecContext(ctx, q, args...); err != nil {
				t.Fatal(err)
			}
		}
		expect := func(what, want string) {
			t.Helper()
			r := verify(t, db)
			var all []string
			for _, p := range r.Problems {
				all = append(all, p.String())
			}
			if !strings.Contains(strings.Join(all, "\n"), want) {
				t.Fatalf("%s: problems %q, want one saying %q", what, all, want)
			}
		}
		// Changed: one field of one event of org_a.
		exec(`UPDATE audit_events SET target_id = 'someone-else' WHERE org_id = 'org_a' AND chain_seq = 10`)
		expect("a changed event", "chain org_a at position 10")
		// Deleted in the middle of org_b's chain.
		exec(`DELETE FROM audit_events WHERE org_id = 'org_b' AND chain_seq = 50`)
		expect("a deleted event", "events 50 to 50 are missing")
		// The newest event of the account chain deleted.
		exec(`DELETE FROM audit_events WHERE org_id IS NULL AND chain_seq = 8`)
		expect("the newest event deleted", "the newest ones were deleted")
		// Reordered: two events of org_b swap places (their content moves).
		exec(`UPDATE audit_events SET chain_seq = -1 WHERE org_id = 'org_b' AND chain_seq = 100`)
		exec(`UPDATE audit_events SET chain_seq = 100 WHERE org_id = 'org_b' AND chain_seq = 101`)
		exec(`UPDATE audit_events SET chain_seq = 101 WHERE org_id = 'org_b' AND chain_seq = -1`)
		expect("two events swapped", "chain org_b at position 100")
	})
}

// TestAuditChainBacklog: events written before the chain existed (no
// position) are chained, in time order, by ChainAuditBacklog.
func TestAuditChainBacklog(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := storetest.Open(t, engine)
		now := time.Now().UTC()
		for i := range 3 {
			e := chainEvent("org_old", i, now)
			if _, err := db.SQL().ExecContext(ctx, `INSERT INTO audit_events (id, org_id, actor_type, actor_id, action, target_type, target_id, ip, user_agent, outcome, detail, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, e.ID, e.OrgID, e.ActorType, e.ActorID, e.Action, e.TargetType, e.TargetID, e.IP, e.UserAgent, e.Outcome, `{"env":"test"}`, e.CreatedAt); err != nil {
				t.Fatal(err)
			}
		}
		if r := verify(t, db); r.Unchained != 3 {
			t.Fatalf("before: %d unchained, want 3", r.Unchained)
		}
		n, err := db.ChainAuditBacklog(ctx)
		if err != nil || n != 3 {
			t.Fatalf("backlog chained %d (%v), want 3", n, err)
		}
		if err := db.InsertAuditEvent(ctx, chainEvent("org_old", 9, now)); err != nil {
			t.Fatal(err)
		}
		r := verify(t, db)
		if r.Unchained != 0 || r.Events != 4 || len(r.Problems) > 0 {
			t.Fatalf("after: %+v, want 4 chained events and no problem", r)
		}
	})
}

// TestAuditBatchRetriedWithNewEvents: a batch written again after an
// uncertain failure, now beside events not yet written (and one given
// twice), writes the new ones once and leaves those already written as
// they were: the chains stay whole, nothing is written twice.
func TestAuditBatchRetriedWithNewEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		db := storetest.Open(t, engine)
		now := time.Now().UTC()
		var first []audit.Event
		for i := range 6 {
			first = append(first, chainEvent("org_a", i, now), chainEvent("org_b", i, now))
		}
		if err := db.InsertAuditEvents(ctx, first); err != nil {
			t.Fatal(err)
		}
		again := append([]audit.Event{}, first[4:]...)
		for i := 6; i < 9; i++ {
			again = append(again, chainEvent("org_a", i, now), chainEvent("org_b", i, now))
		}
		again = append(again, chainEvent("org_a", 8, now)) // given twice
		if err := db.InsertAuditEvents(ctx, again); err != nil {
			t.Fatalf("a retried batch with new events: %v", err)
		}
		r := verify(t, db)
		if len(r.Problems) > 0 || r.Chains != 2 || r.Events != 18 {
			t.Fatalf("%d chains, %d events, problems %v; want 2 chains of 9 events, none", r.Chains, r.Events, r.Problems)
		}
		var n int
		if err := db.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_events WHERE org_id = 'org_a' AND chain_seq = 9 AND id = 'aud_org_a_0008'`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("org_a's ninth event: %d rows (%v), want aud_org_a_0008 at 9", n, err)
		}
	})
}
