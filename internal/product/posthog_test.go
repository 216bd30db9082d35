package product_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/product"
)

// batches is a fake PostHog /batch/ endpoint.
type batches struct {
	mu  sync.Mutex
	got []map[string]any
}

func (b *batches) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var body struct {
		Batch []map[string]any `json:"batch"`
	}
	if r.URL.Path == "/batch/" && json.Unmarshal(raw, &body) == nil {
		b.mu.Lock()
		b.got = append(b.got, body.Batch...)
		b.mu.Unlock()
	}
	w.WriteHeader(http.StatusOK)
}

func (b *batches) events() []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]map[string]any(nil), b.got...)
}

func TestPostHogFlushesOnClose(t *testing.T) {
	srv := &batches{}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	ph, err := product.NewPostHog(product.PostHogOptions{APIKey: "phc_test", Host: hs.URL, Interval: time.Hour, BatchSize: 100, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ph.Capture(context.Background(), product.KeyEvent(product.KeyCreated, "usr_1", "org_1", "key_1", "test", "*"))
	ph.Capture(context.Background(), product.Event{Name: product.PageViewed}) // no person: dropped
	time.Sleep(50 * time.Millisecond)
	if n := len(srv.events()); n != 0 {
		t.Fatalf("%d messages sent before Close with a one-hour interval", n)
	}
	if err := ph.Close(); err != nil {
		t.Fatal(err)
	}
	ev := srv.events()
	var capture map[string]any
	var identified bool
	for _, m := range ev {
		switch m["event"] {
		case product.KeyCreated:
			capture = m
		case "$groupidentify":
			p := m["properties"].(map[string]any)
			identified = p["$group_type"] == "organization" && p["$group_key"] == "org_1"
		}
	}
	if capture == nil || !identified || len(ev) != 2 {
		t.Fatalf("after Close: %v; want the key event and the organization's group", ev)
	}
	props := capture["properties"].(map[string]any)
	groups, _ := props["$groups"].(map[string]any)
	if capture["distinct_id"] != "usr_1" || groups["organization"] != "org_1" || props["key_id"] != "key_1" || props["scopes_count"] != 2.0 || props["environment"] != "test" {
		t.Fatalf("captured %v", capture)
	}
}

func TestSanitize(t *testing.T) {
	got := product.Sanitize(map[string]any{
		"route":         "/o/:org/keys",
		"plan":          "pro",
		"environment":   "live",
		"email":         "a@example.com",        // not allowed
		"key_id":        "clk_live_abcdefgh",    // looks like a key: dropped
		"method":        "ann@example.com",      // e-mail in an allowed field: dropped
		"provider":      "free text, spaced",    // not a token: dropped
		"previous_plan": map[string]any{"x": 1}, // not a scalar: dropped
		"invited":       true,
		"grace_seconds": int64(3600),
	})
	want := map[string]any{"route": "/o/:org/keys", "plan": "pro", "environment": "live", "invited": true, "grace_seconds": int64(3600)}
	if len(got) != len(want) {
		t.Fatalf("Sanitize = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("Sanitize[%s] = %v, want %v", k, got[k], v)
		}
	}
}

type recorder struct{ names []string }

func (r *recorder) Capture(_ context.Context, e product.Event) {
	r.names = append(r.names, e.UserID+":"+e.Name)
}
func (r *recorder) Close() error { return nil }

type memConsent map[string]product.Choice

func (m memConsent) AnalyticsConsent(_ context.Context, id string) (product.Choice, error) {
	return m[id], nil
}
func (m memConsent) SetAnalyticsConsent(_ context.Context, id string, c product.Choice, _ time.Time) error {
	m[id] = c
	return nil
}

func TestRespectingDropsRefusals(t *testing.T) {
	store := memConsent{"usr_refused": product.Refused, "usr_granted": product.Granted}
	rec := &recorder{}
	tr := product.Respecting{Next: rec, Consents: product.NewConsents(true, store, nil, slog.New(slog.DiscardHandler), nil), Log: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	for _, id := range []string{"usr_refused", "usr_granted", "usr_unasked"} {
		tr.Capture(ctx, product.Event{Name: product.PageViewed, UserID: id})
	}
	// This browser refused: nothing, even for a person who granted elsewhere.
	tr.Capture(product.WithChoice(ctx, product.Refused), product.Event{Name: product.SignedUp, UserID: "usr_granted"})
	want := []string{"usr_granted:page viewed", "usr_unasked:page viewed"}
	if len(rec.names) != len(want) || rec.names[0] != want[0] || rec.names[1] != want[1] {
		t.Fatalf("forwarded %v, want %v", rec.names, want)
	}
}

// A choice made on another instance (straight into the store) is seen once
// the cached answer expires; one made here is seen at once.
func TestConsentsCache(t *testing.T) {
	store := memConsent{}
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	c := product.NewConsents(true, store, nil, slog.New(slog.DiscardHandler), func() time.Time { return now })
	ctx := context.Background()
	if ch, _ := c.Of(ctx, "usr_1"); ch != product.Unasked {
		t.Fatalf("first lookup = %q", ch)
	}
	store["usr_1"] = product.Refused // another instance
	if ch, _ := c.Of(ctx, "usr_1"); ch != product.Unasked {
		t.Fatalf("within the cache time = %q, want the cached answer", ch)
	}
	now = now.Add(31 * time.Second)
	if ch, _ := c.Of(ctx, "usr_1"); ch != product.Refused {
		t.Fatalf("after the cache time = %q, want refused", ch)
	}
	if _, err := product.CheckChoice("maybe"); err == nil {
		t.Fatalf("CheckChoice accepted an unknown answer")
	}
}
