package stripemock

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Sub is the state a test says Stripe holds for one subscription.
type Sub struct {
	Customer          string
	OrgID             string // metadata org_id
	Status            string
	Price             string // the first item's price id
	PeriodEnd         int64  // the items' current_period_end (unix), 0 to keep stripe-mock's
	CancelAtPeriodEnd bool
}

// Subscriptions stands in front of stripe-mock: stripe-mock answers every
// request (it validates them and keeps no state), and a read of a
// subscription the test has Set comes back as stripe-mock's response with
// that state laid over it. It is how a test says what Stripe holds.
type Subscriptions struct {
	URL string

	mu    sync.Mutex
	subs  map[string]Sub
	reads map[string]int
}

// StartSubscriptions starts stripe-mock and the layer in front of it until
// the test ends.
func StartSubscriptions(t testing.TB) *Subscriptions {
	t.Helper()
	target, err := url.Parse(Start(t))
	if err != nil {
		t.Fatal(err)
	}
	s := &Subscriptions{subs: map[string]Sub{}, reads: map[string]int{}}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Header.Del("Accept-Encoding") // the body is rewritten
		},
		ModifyResponse: s.overlay,
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Set makes Stripe hold sub under id.
func (s *Subscriptions) Set(id string, sub Sub) {
	s.mu.Lock()
	s.subs[id] = sub
	s.mu.Unlock()
}

// Reads is how many times subscription id was read.
func (s *Subscriptions) Reads(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads[id]
}

func (s *Subscriptions) overlay(res *http.Response) error {
	r := res.Request
	id, ok := strings.CutPrefix(r.URL.Path, "/v1/subscriptions/")
	if r.Method != http.MethodGet || !ok || strings.Contains(id, "/") || res.StatusCode != http.StatusOK {
		return nil
	}
	s.mu.Lock()
	sub, set := s.subs[id]
	s.reads[id]++
	s.mu.Unlock()
	if !set {
		return nil
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	v["id"], v["customer"], v["status"], v["cancel_at_period_end"] = id, sub.Customer, sub.Status, sub.CancelAtPeriodEnd
	v["metadata"] = map[string]any{"org_id": sub.OrgID}
	if items, ok := v["items"].(map[string]any); ok {
		if data, ok := items["data"].([]any); ok {
			for i, it := range data {
				item, _ := it.(map[string]any)
				if item == nil {
					continue
				}
				if sub.PeriodEnd != 0 {
					item["current_period_end"] = sub.PeriodEnd
				}
				if price, ok := item["price"].(map[string]any); ok && i == 0 {
					price["id"], price["lookup_key"] = sub.Price, nil
				}
			}
		}
	}
	out, err := json.Marshal(v)
	if err != nil {
		return err
	}
	res.Body = io.NopCloser(bytes.NewReader(out))
	res.ContentLength = int64(len(out))
	res.Header.Set("Content-Length", strconv.Itoa(len(out)))
	return nil
}
