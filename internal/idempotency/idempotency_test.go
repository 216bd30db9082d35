package idempotency

import (
	"context"
	"testing"
	"time"
)

// memStore is a Store in memory that counts look-ups.
type memStore struct {
	rows  map[Scope]Entry
	finds int
}

func (m *memStore) ClaimIdempotencyKey(ctx context.Context, e Entry, expired, stale time.Time) (Entry, bool, error) {
	panic("a local service claims in memory")
}
func (m *memStore) FindIdempotencyKey(ctx context.Context, s Scope, expired time.Time) (Entry, bool, error) {
	m.finds++
	e, ok := m.rows[s]
	return e, ok && !e.CreatedAt.Before(expired), nil
}
func (m *memStore) CompleteIdempotencyKeys(ctx context.Context, done []Entry, expired time.Time) error {
	for _, e := range done {
		m.rows[e.Scope] = e
	}
	return nil
}
func (m *memStore) ReleaseIdempotencyKey(ctx context.Context, s Scope) error { return nil }
func (m *memStore) IdempotencyKeys(ctx context.Context, since time.Time, limit int) ([]Scope, error) {
	var out []Scope
	for sc, e := range m.rows {
		if !e.CreatedAt.Before(since) {
			out = append(out, sc)
		}
	}
	return out, nil
}
func (m *memStore) PurgeIdempotencyKeys(ctx context.Context, before time.Time) (int64, error) {
	return 0, nil
}

// TestLocalKnowsItsKeys: after Load, a key the database never had needs no
// look-up, while one it had (an answer from before a restart) and one
// answered since are found and replayed.
func TestLocalKnowsItsKeys(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	old := Scope{OrgID: "org_a", Env: "test", Key: "before-restart"}
	st := &memStore{rows: map[Scope]Entry{old: {Scope: old, Fingerprint: "f0", Done: true, Answer: Answer{Status: 201, Body: []byte("kept")}, CreatedAt: now.Add(-time.Hour)}}}
	s := &Service{Store: st, Now: func() time.Time { return now }, Wait: time.Second, Poll: time.Millisecond, Stale: time.Minute, Local: true}
	if err := s.Load(ctx, 100); err != nil {
		t.Fatal(err)
	}
	a, replay, err := s.Begin(ctx, old, "f0")
	if err != nil || !replay || string(a.Body) != "kept" {
		t.Fatalf("the answer from before the restart: %v %v %q", err, replay, a.Body)
	}
	finds := st.finds
	fresh := Scope{OrgID: "org_a", Env: "test", Key: "new"}
	if _, replay, err := s.Begin(ctx, fresh, "f1"); err != nil || replay {
		t.Fatalf("a new key: %v %v", err, replay)
	}
	if st.finds != finds {
		t.Fatalf("a key the database never had was looked up (%d look-ups)", st.finds-finds)
	}
	s.Complete(fresh, "f1", Answer{Status: 201, Body: []byte("one")})
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	a, replay, err = s.Begin(ctx, fresh, "f1")
	if err != nil || !replay || string(a.Body) != "one" {
		t.Fatalf("a key answered since: %v %v %q", err, replay, a.Body)
	}
	if _, _, err := s.Begin(ctx, fresh, "other"); err == nil {
		t.Fatal("the same key with another request was accepted")
	}
}
