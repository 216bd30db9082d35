package web_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/config"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/random"
	"github.com/clinikapi/clinikapi/internal/records"
	"github.com/clinikapi/clinikapi/internal/resource"
	"github.com/clinikapi/clinikapi/internal/store/storetest"
	"github.com/clinikapi/clinikapi/internal/suborg"
	"github.com/clinikapi/clinikapi/internal/webhook"
)

// verifyWebhook is the docs' verifyWebhook (guides/webhooks.mdx,
// "Verifying Signatures") ported line for line, JavaScript semantics
// included: Object.fromEntries keeps the last value of a repeated key,
// kv.split('=', 2) drops what follows a second '=', Number() of a missing
// value is NaN. now stands for Date.now().
func verifyWebhook(rawBody, header, secret string, now time.Time) bool {
	const toleranceSeconds = 300
	parts := map[string]*string{}
	for _, kv := range strings.Split(header, ",") {
		s := strings.Split(kv, "=")
		if len(s) > 1 {
			v := s[1]
			parts[s[0]] = &v
		} else {
			parts[s[0]] = nil
		}
	}
	timestamp := math.NaN()
	if p := parts["t"]; p != nil {
		if *p == "" {
			timestamp = 0 // Number('') is 0
		} else if f, err := strconv.ParseFloat(*p, 64); err == nil {
			timestamp = f
		}
	}
	received := ""
	if p := parts["v1"]; p != nil {
		received = *p
	}
	if math.IsNaN(timestamp) || math.IsInf(timestamp, 0) || received == "" {
		return false
	}
	if math.Abs(math.Floor(float64(now.UnixMilli())/1000)-timestamp) > toleranceSeconds {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatFloat(timestamp, 'f', -1, 64) + "." + rawBody))
	expected := hex.EncodeToString(m.Sum(nil))
	a, b := []byte(received), []byte(expected)
	return len(a) == len(b) && subtle.ConstantTimeCompare(a, b) == 1
}

// hookRequest is one delivery a receiver got.
type hookRequest struct {
	Path   string
	Header http.Header
	Body   string
}

func (h hookRequest) payload(t *testing.T) webhook.Payload {
	t.Helper()
	var p webhook.Payload
	if err := json.Unmarshal([]byte(h.Body), &p); err != nil {
		t.Fatalf("payload %q: %v", h.Body, err)
	}
	return p
}

// receiver is a local HTTPS webhook receiver. answer gives the status of
// a request to a path (200 when nil).
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []hookRequest
	answer func(path string, n int) int
	// expect registers an endpoint's secret with a receiver that checks
	// signatures (countingReceiver).
	expect func(path, secret string)
}

func newReceiver(t testing.TB) *receiver {
	t.Helper()
	r := &receiver{}
	r.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := 0
		for _, q := range r.reqs {
			if q.Path == req.URL.Path {
				n++
			}
		}
		r.reqs = append(r.reqs, hookRequest{Path: req.URL.Path, Header: req.Header.Clone(), Body: string(body)})
		answer := r.answer
		r.mu.Unlock()
		status := 200
		if answer != nil {
			status = answer(req.URL.Path, n)
		}
		if status >= 300 && status < 400 {
			w.Header().Set("Location", "/moved-target")
		}
		w.WriteHeader(status)
		io.WriteString(w, "answer "+strconv.Itoa(status))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// url is the receiver's address under the name example.com, which its
// certificate is for (the test resolver maps it to 127.0.0.1).
func (r *receiver) url(path string) string {
	u, _ := url.Parse(r.srv.URL)
	return "https://example.com:" + u.Port() + path
}

func (r *receiver) got(path string) []hookRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []hookRequest
	for _, q := range r.reqs {
		if path == "" || q.Path == path {
			out = append(out, q)
		}
	}
	return out
}

// waitCount waits (up to 15 s) until path has n requests, and fails if it
// has more.
func (r *receiver) waitCount(t *testing.T, path string, n int) []hookRequest {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := r.got(path)
		if len(got) > n {
			t.Fatalf("%s: %d deliveries, want %d", path, len(got), n)
		}
		if len(got) == n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d deliveries after 15 s, want %d", path, len(got), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fakeDNS is the resolver of webhook hosts in tests.
type fakeDNS struct {
	mu sync.Mutex
	m  map[string][]netip.Addr
}

func (f *fakeDNS) set(host string, addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string][]netip.Addr{}
	}
	f.m[host] = nil
	for _, a := range addrs {
		f.m[host] = append(f.m[host], netip.MustParseAddr(a))
	}
}

func (f *fakeDNS) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if a, ok := f.m[host]; ok && len(a) > 0 {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// webhookEnv starts the program with a resolver mapping example.com to
// the receiver and trusting its certificate; loopback decides whether
// CLINIKAPI_WEBHOOK_ALLOW_LOOPBACK is on.
func webhookEnv(t testing.TB, engine string, rcv *receiver, loopback bool, vars map[string]string) (*apptest.Env, *fakeDNS) {
	t.Helper()
	dns := &fakeDNS{}
	dns.set("example.com", "127.0.0.1")
	pool := x509.NewCertPool()
	pool.AddCert(rcv.srv.Certificate())
	if vars == nil {
		vars = map[string]string{}
	}
	if loopback {
		vars["CLINIKAPI_WEBHOOK_ALLOW_LOOPBACK"] = "true"
	}
	return apptest.NewWith(t, engine, vars, app.Options{WebhookResolver: dns, WebhookRoots: pool}), dns
}

// addEndpoint registers an endpoint and returns it with its secret.
func addEndpoint(t testing.TB, env *apptest.Env, orgID string, in webhook.Input) (webhook.Endpoint, string) {
	t.Helper()
	e, secret, err := env.App.Webhooks.Create(context.Background(), webhook.Actor{OrgID: orgID, UserID: "usr_test"}, in)
	if err != nil {
		t.Fatalf("create endpoint %s: %v", in.URL, err)
	}
	return e, secret
}

// checkSigned checks a delivery's headers against the docs: both
// signatures verify with secret, the timestamp header is the V2 one, the
// event and delivery id headers match the payload.
func checkSigned(t *testing.T, h hookRequest, secret string, now time.Time) webhook.Payload {
	t.Helper()
	p := h.payload(t)
	if !verifyWebhook(h.Body, h.Header.Get("X-Clinik-Signature-V2"), secret, now) {
		t.Fatalf("X-Clinik-Signature-V2 %q does not verify with the docs' code", h.Header.Get("X-Clinik-Signature-V2"))
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(h.Body))
	if got := h.Header.Get("X-Clinik-Signature"); got != hex.EncodeToString(m.Sum(nil)) {
		t.Fatalf("X-Clinik-Signature %q is not the HMAC-SHA256 hex of the body", got)
	}
	if ts := h.Header.Get("X-Clinik-Timestamp"); !strings.HasPrefix(h.Header.Get("X-Clinik-Signature-V2"), "t="+ts+",") || ts != strconv.FormatInt(now.Unix(), 10) {
		t.Fatalf("X-Clinik-Timestamp %q, V2 %q, clock %d", ts, h.Header.Get("X-Clinik-Signature-V2"), now.Unix())
	}
	if h.Header.Get("X-Clinik-Event") != p.Event || h.Header.Get("X-Clinik-Delivery-Id") != p.ID || !strings.HasPrefix(p.ID, "evt_") {
		t.Fatalf("headers event %q delivery %q, payload %+v", h.Header.Get("X-Clinik-Event"), h.Header.Get("X-Clinik-Delivery-Id"), p)
	}
	if verifyWebhook(h.Body, h.Header.Get("X-Clinik-Signature-V2"), secret+"x", now) {
		t.Fatal("a wrong secret verifies")
	}
	if verifyWebhook(h.Body, h.Header.Get("X-Clinik-Signature-V2"), secret, now.Add(301*time.Second)) {
		t.Fatal("a delivery verifies outside the docs' 300 s tolerance")
	}
	return p
}

// TestWebhookEvents: every write path (simplified create, patch and
// delete, raw FHIR create, bulk import) sends its documented event,
// signed as the docs verify it, with ids only; deliveries are not API
// requests and use none of the quota.
func TestWebhookEvents(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		rcv := newReceiver(t)
		env, _ := webhookEnv(t, engine, rcv, true, nil)
		a, _ := twoTenants(t, env)
		_, secret := addEndpoint(t, env, a.org, webhook.Input{URL: rcv.url("/all"), Events: "*"})
		if !strings.HasPrefix(secret, "whsec_") || len(secret) < 40 {
			t.Fatalf("secret %q", secret)
		}
		now := env.Clock.Now()

		r := apiCall(t, env, "POST", "/v1/patients", a.test, jsonBody(map[string]any{"firstName": "Quentin", "lastName": "Zebrafish"}), "Content-Type", "application/json")
		if r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Raw)
		}
		id := r.Body["data"].(map[string]any)["id"].(string)
		got := rcv.waitCount(t, "/all", 1)
		p := checkSigned(t, got[0], secret, now)
		want := webhook.Data{ResourceType: "patient", ResourceID: id, Action: "created", TenantID: a.org, Environment: "test"}
		if p.Event != "patient.created" || p.Data != want {
			t.Fatalf("payload %+v, want patient.created %+v", p, want)
		}
		if ts, err := time.Parse("2006-01-02T15:04:05.000Z", p.Timestamp); err != nil || !ts.Equal(now) {
			t.Fatalf("timestamp %q, want %s", p.Timestamp, now)
		}
		if strings.Contains(got[0].Body, "Zebrafish") || strings.Contains(got[0].Body, "Quentin") {
			t.Fatalf("the payload carries PHI: %s", got[0].Body)
		}

		if r := apiCall(t, env, "PATCH", "/v1/patients/"+id, a.test, jsonBody(map[string]any{"lastName": "Okapi"}), "Content-Type", "application/json"); r.Status != 200 {
			t.Fatalf("patch: %d %s", r.Status, r.Raw)
		}
		if r := apiCall(t, env, "DELETE", "/v1/patients/"+id, a.test, nil); r.Status/100 != 2 {
			t.Fatalf("delete: %d %s", r.Status, r.Raw)
		}
		if r := fhirCall(t, env, "POST", "/v1/fhir/Observation", a.live, `{"resourceType":"Observation","status":"final","code":{"text":"heart rate"}}`); r.Status != 201 {
			t.Fatalf("fhir create: %d %s", r.Status, r.Raw)
		}
		if r := fhirCall(t, env, "PUT", "/v1/fhir/Procedure/proc-1", a.test, `{"resourceType":"Procedure","id":"proc-1","status":"completed","subject":{"reference":"Patient/x"}}`); r.Status != 201 {
			t.Fatalf("fhir update-as-create: %d %s", r.Status, r.Raw)
		}
		job := startedJob(t, bulkCall(t, env, "/v1/bulk/import", a.test, map[string]any{"resourceType": "Patient",
			"data": `{"firstName":"Ada","lastName":"One"}` + "\n" + `{"firstName":"Bo","lastName":"Two"}`}))
		if d := waitJob(t, env, a.test, job); d["status"] != "completed" {
			t.Fatalf("import: %v", d)
		}
		got = rcv.waitCount(t, "/all", 7)
		var events []string
		ids := map[string]bool{}
		for _, h := range got {
			p := checkSigned(t, h, secret, now)
			events = append(events, p.Event+"/"+p.Data.Environment)
			if ids[p.ID] {
				t.Fatalf("event id %s delivered twice", p.ID)
			}
			ids[p.ID] = true
			if p.Data.TenantID != a.org {
				t.Fatalf("tenantId %q, want %s", p.Data.TenantID, a.org)
			}
		}
		// Delivery order is not promised (the docs do not; sends to one
		// endpoint run in parallel): one of each.
		sort.Strings(events)
		wantEvents := "observation.created/live patient.created/test patient.created/test patient.created/test patient.deleted/test patient.updated/test procedure.created/test"
		if strings.Join(events, " ") != wantEvents {
			t.Fatalf("events\n%s\nwant\n%s", strings.Join(events, " "), wantEvents)
		}

		// Deliveries are not requests: the quota counts the API calls only.
		before := apiCall(t, env, "GET", "/v1/patients", a.live, nil).Header.Get("X-Quota-Used")
		for range 3 {
			if _, err := env.App.Webhooks.SendTest(context.Background(), webhook.Actor{OrgID: a.org, UserID: "usr_test"}, firstEndpoint(t, env, a.org)); err != nil {
				t.Fatal(err)
			}
		}
		rcv.waitCount(t, "/all", 10)
		after := apiCall(t, env, "GET", "/v1/patients", a.live, nil).Header.Get("X-Quota-Used")
		b, _ := strconv.Atoi(before)
		if n, _ := strconv.Atoi(after); n != b+1 || before == "" {
			t.Fatalf("X-Quota-Used %s then %s: deliveries counted against the quota", before, after)
		}
	})
}

func firstEndpoint(t *testing.T, env *apptest.Env, orgID string) string {
	t.Helper()
	eps, err := env.App.Webhooks.List(context.Background(), orgID)
	if err != nil || len(eps) == 0 {
		t.Fatalf("endpoints: %v %v", eps, err)
	}
	return eps[0].ID
}

// settle lets the background relay and dispatcher run, so that a test can
// say nothing more arrived.
func settle() { time.Sleep(400 * time.Millisecond) }

// TestWebhookRetries: a failing endpoint is retried after 30 s, 2 min,
// 8 min, 32 min and 2 h on the server's clock, with the same delivery id,
// then marked failed; a 301 is a failure and is not followed; an endpoint
// that answered is not sent the event again.
func TestWebhookRetries(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		rcv := newReceiver(t)
		rcv.answer = func(path string, _ int) int {
			switch path {
			case "/fail":
				return 500
			case "/moved":
				return 301
			}
			return 200
		}
		env, _ := webhookEnv(t, engine, rcv, true, nil)
		a, _ := twoTenants(t, env)
		_, failSecret := addEndpoint(t, env, a.org, webhook.Input{URL: rcv.url("/fail"), Events: "patient.created"})
		addEndpoint(t, env, a.org, webhook.Input{URL: rcv.url("/moved"), Events: "patient.*"})
		addEndpoint(t, env, a.org, webhook.Input{URL: rcv.url("/ok"), Events: "*"})
		if r := apiCall(t, env, "POST", "/v1/patients", a.test, jsonBody(map[string]any{"firstName": "R", "lastName": "Etry"}), "Content-Type", "application/json"); r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Raw)
		}
		start := env.Clock.Now()
		rcv.waitCount(t, "/fail", 1)
		rcv.waitCount(t, "/moved", 1)
		rcv.waitCount(t, "/ok", 1)
		elapsed := time.Duration(0)
		for i, delay := range webhook.Retries {
			env.Clock.Advance(delay - time.Second)
			settle()
			rcv.waitCount(t, "/fail", i+1) // not yet
			env.Clock.Advance(time.Second)
			elapsed += delay
			got := rcv.waitCount(t, "/fail", i+2)
			rcv.waitCount(t, "/moved", i+2)
			last := got[len(got)-1]
			if ts := last.Header.Get("X-Clinik-Timestamp"); ts != strconv.FormatInt(start.Add(elapsed).Unix(), 10) {
				t.Fatalf("retry %d sent at %s, want %d (+%v)", i+1, ts, start.Add(elapsed).Unix(), elapsed)
			}
			checkSigned(t, last, failSecret, env.Clock.Now())
			if last.Header.Get("X-Clinik-Delivery-Id") != got[0].Header.Get("X-Clinik-Delivery-Id") || last.Body != got[0].Body {
				t.Fatalf("retry %d is not the same delivery", i+1)
			}
		}
		env.Clock.Advance(10 * time.Hour)
		settle()
		rcv.waitCount(t, "/fail", 6)
		rcv.waitCount(t, "/moved", 6)
		rcv.waitCount(t, "/ok", 1)
		if n := len(rcv.got("/moved-target")); n != 0 {
			t.Fatalf("the redirect was followed")
		}
		log, err := env.App.Webhooks.Attempts(context.Background(), webhook.AttemptFilter{OrgID: a.org, Outcome: webhook.Failed, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(log) != 12 {
			t.Fatalf("%d failed attempts logged, want 12", len(log))
		}
		final := 0
		for _, at := range log {
			if at.NextAttemptAt.IsZero() {
				final++
				if at.Attempt != 6 {
					t.Fatalf("final attempt is number %d, want 6", at.Attempt)
				}
			}
			if at.StatusCode == 301 && !strings.Contains(at.Error, "redirect") {
				t.Fatalf("301 logged as %q", at.Error)
			}
		}
		if final != 2 {
			t.Fatalf("%d final attempts, want 2 (one per failing endpoint)", final)
		}
	})
}

// TestWebhookFilters: environment pins, event patterns, a tenant pin and
// a disabled endpoint decide who receives what.
func TestWebhookFilters(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		rcv := newReceiver(t)
		env, _ := webhookEnv(t, engine, rcv, true, nil)
		a, b := twoTenants(t, env)
		addEndpoint(t, env, a.org, webhook.Input{URL: rcv.url("/live-patients"), Events: "patient.*", Env: "live"})
		addEndpoint(t, env, a.org, webhook.Input{URL: rcv.url("/obs"), Events: "observation.created"})
		addEndpoint(t, env, a.org, webhook.Input{URL: rcv.url("/test-all"), Events: "*", Env: "test"})
		// A pin names one of the organization's sub-organizations, or the
		// organization itself; another organization's id is refused.
		ctx := context.Background()
		if _, _, err := env.App.Webhooks.Create(ctx, webhook.Actor{OrgID: a.org, UserID: "usr_test"},
			webhook.Input{URL: rcv.url("/other-tenant"), Events: "*", TenantID: b.org}); errs.FieldOf(err) != "tenant" {
			t.Fatalf("a pin to another organization: %v, want a tenant field error", err)
		}
		so, err := env.App.SubOrgs.Create(ctx, suborg.Actor{OrgID: a.org}, "Clinic")
		if err != nil {
			t.Fatal(err)
		}
		subKey, err := env.App.Keys.Create(ctx, apikey.Actor{OrgID: a.org}, apikey.CreateInput{Name: "clinic", Env: apikey.Live, TenantID: so.ID})
		if err != nil {
			t.Fatal(err)
		}
		addEndpoint(t, env, a.org, webhook.Input{URL: rcv.url("/sub-tenant"), Events: "*", TenantID: so.ID})
		addEndpoint(t, env, a.org, webhook.Input{URL: rcv.url("/own-tenant"), Events: "patient.created", TenantID: a.org})
		off, _ := addEndpoint(t, env, a.org, webhook.Input{URL: rcv.url("/disabled"), Events: "*"})
		addEndpoint(t, env, b.org, webhook.Input{URL: rcv.url("/org-b"), Events: "*"})
		if err := env.App.Webhooks.SetDisabled(context.Background(), webhook.Actor{OrgID: a.org, UserID: "usr_test"}, off.ID, true); err != nil {
			t.Fatal(err)
		}
		body := jsonBody(map[string]any{"firstName": "F", "lastName": "Ilter"})
		for _, key := range []string{a.test, a.live} {
			if r := apiCall(t, env, "POST", "/v1/patients", key, body, "Content-Type", "application/json"); r.Status != 201 {
				t.Fatalf("create: %d %s", r.Status, r.Raw)
			}
			body = jsonBody(map[string]any{"firstName": "F", "lastName": "Ilter"})
		}
		if r := fhirCall(t, env, "POST", "/v1/fhir/Observation", a.test, `{"resourceType":"Observation","status":"final","code":{"text":"t"}}`); r.Status != 201 {
			t.Fatalf("observation: %d", r.Status)
		}
		if r := fhirCall(t, env, "POST", "/v1/fhir/Encounter", subKey.Secret, `{"resourceType":"Encounter","status":"finished","class":{"code":"AMB"}}`); r.Status != 201 {
			t.Fatalf("sub-organization's encounter: %d %s", r.Status, r.Raw)
		}
		if p := rcv.waitCount(t, "/sub-tenant", 1)[0].payload(t); p.Event != "encounter.created" || p.Data.TenantID != so.ID {
			t.Fatalf("the sub-organization's endpoint got %+v, want its encounter with tenantId %s", p, so.ID)
		}
		live := rcv.waitCount(t, "/live-patients", 1)
		if p := live[0].payload(t); p.Event != "patient.created" || p.Data.Environment != "live" {
			t.Fatalf("live endpoint got %+v", p)
		}
		rcv.waitCount(t, "/obs", 1)
		for _, h := range rcv.waitCount(t, "/test-all", 2) {
			if h.payload(t).Data.Environment != "test" {
				t.Fatalf("test endpoint got %s", h.Body)
			}
		}
		rcv.waitCount(t, "/own-tenant", 2)
		settle()
		for _, p := range []string{"/other-tenant", "/disabled", "/org-b"} {
			rcv.waitCount(t, p, 0)
		}
		rcv.waitCount(t, "/sub-tenant", 1) // the organization's own events never reach it
		// Enabled again, it receives what comes next.
		if err := env.App.Webhooks.SetDisabled(context.Background(), webhook.Actor{OrgID: a.org, UserID: "usr_test"}, off.ID, false); err != nil {
			t.Fatal(err)
		}
		if r := fhirCall(t, env, "POST", "/v1/fhir/Observation", a.test, `{"resourceType":"Observation","status":"final","code":{"text":"t"}}`); r.Status != 201 {
			t.Fatalf("observation: %d", r.Status)
		}
		rcv.waitCount(t, "/disabled", 1)
	})
}

// TestWebhookSSRFAtSaveAndDelivery: a URL that resolves to a loopback
// address is refused when saved; a name that resolved to a public address
// when saved and to 127.0.0.1 at delivery is refused at delivery, logged
// with its reason and not retried.
func TestWebhookSSRFAtSaveAndDelivery(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		rcv := newReceiver(t)
		env, dns := webhookEnv(t, engine, rcv, false, nil)
		a, _ := twoTenants(t, env)
		actor := webhook.Actor{OrgID: a.org, UserID: "usr_test"}
		_, _, err := env.App.Webhooks.Create(context.Background(), actor, webhook.Input{URL: rcv.url("/x"), Events: "*"})
		if err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Fatalf("saving a URL that resolves to 127.0.0.1: %v, want a loopback refusal", err)
		}
		dns.set("rebind.example.net", "93.184.216.34")
		e, _ := addEndpoint(t, env, a.org, webhook.Input{URL: "https://rebind.example.net:" + strings.Split(rcv.url(""), ":")[2] + "/hook", Events: "*"})
		dns.set("rebind.example.net", "127.0.0.1")
		if r := apiCall(t, env, "POST", "/v1/patients", a.test, jsonBody(map[string]any{"firstName": "S", "lastName": "Srf"}), "Content-Type", "application/json"); r.Status != 201 {
			t.Fatalf("create: %d", r.Status)
		}
		var log []webhook.Attempt
		waitFor(t, "the refused attempt", func() bool {
			log, err = env.App.Webhooks.Attempts(context.Background(), webhook.AttemptFilter{OrgID: a.org, EndpointID: e.ID})
			return err == nil && len(log) == 1
		})
		if log[0].Outcome != webhook.Refused || !strings.Contains(log[0].Error, "127.0.0.1") || !strings.Contains(log[0].Error, "loopback") || !log[0].NextAttemptAt.IsZero() {
			t.Fatalf("attempt %+v, want refused (loopback, 127.0.0.1), no retry", log[0])
		}
		env.Clock.Advance(3 * time.Hour)
		settle()
		log, _ = env.App.Webhooks.Attempts(context.Background(), webhook.AttemptFilter{OrgID: a.org, EndpointID: e.ID})
		if len(log) != 1 || len(rcv.got("")) != 0 {
			t.Fatalf("%d attempts, %d requests received: a refused delivery was retried or sent", len(log), len(rcv.got("")))
		}
	})
}

// TestWebhookSecretRoll: a roll with overlap signs with both secrets (the
// docs' code, which reads the last v1, keeps verifying with the old one);
// after the overlap only the new one signs.
func TestWebhookSecretRoll(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		rcv := newReceiver(t)
		env, _ := webhookEnv(t, engine, rcv, true, nil)
		a, _ := twoTenants(t, env)
		e, old := addEndpoint(t, env, a.org, webhook.Input{URL: rcv.url("/roll"), Events: "*"})
		actor := webhook.Actor{OrgID: a.org, UserID: "usr_test"}
		fresh, err := env.App.Webhooks.RollSecret(context.Background(), actor, e.ID, time.Hour)
		if err != nil || fresh == old {
			t.Fatalf("roll: %v", err)
		}
		if _, err := env.App.Webhooks.SendTest(context.Background(), actor, e.ID); err != nil {
			t.Fatal(err)
		}
		h := rcv.waitCount(t, "/roll", 1)[0]
		now := env.Clock.Now()
		if !verifyWebhook(h.Body, h.Header.Get("X-Clinik-Signature-V2"), old, now) || !webhook.Verify(h.Header.Get("X-Clinik-Signature-V2"), []byte(h.Body), fresh, now, 5*time.Minute) {
			t.Fatalf("during the overlap both secrets must verify: %s", h.Header.Get("X-Clinik-Signature-V2"))
		}
		if p := h.payload(t); p.Event != webhook.TestEvent || p.Data.ResourceID != e.ID {
			t.Fatalf("test event %+v", p)
		}
		env.Clock.Advance(time.Hour)
		if _, err := env.App.Webhooks.SendTest(context.Background(), actor, e.ID); err != nil {
			t.Fatal(err)
		}
		h = rcv.waitCount(t, "/roll", 2)[1]
		checkSigned(t, h, fresh, env.Clock.Now())
		if webhook.Verify(h.Header.Get("X-Clinik-Signature-V2"), []byte(h.Body), old, env.Clock.Now(), 5*time.Minute) {
			t.Fatal("the old secret still signs after its overlap")
		}
	})
}

// TestWebhookTwoInstances: two servers on one PostgreSQL database, both
// dispatching: every attempt is sent once, not once per instance — the
// first attempts, and the retries of an endpoint that failed them.
func TestWebhookTwoInstances(t *testing.T) {
	if os.Getenv(storetest.EnvPostgres) == "" {
		t.Skip(storetest.EnvPostgres + " is not set")
	}
	const n = 40
	rcv := newReceiver(t)
	rcv.answer = func(path string, seen int) int {
		if path == "/retry" && seen < n { // every first attempt fails
			return 500
		}
		return 200
	}
	dbURL, prefix := storetest.DatabaseURL(t, "postgres"), random.ID("test")+":"
	vars := func() map[string]string {
		return map[string]string{"DATABASE_URL": dbURL, "CLINIKAPI_REDIS_PREFIX": prefix}
	}
	one, _ := webhookEnv(t, "postgres", rcv, true, vars())
	two, _ := webhookEnv(t, "postgres", rcv, true, vars())
	orgID, key := newOrgWithKey(t, one, "two@example.com", "*")
	setPlan(t, one, orgID, "team")
	addEndpoint(t, one, orgID, webhook.Input{URL: rcv.url("/once"), Events: "*"})
	addEndpoint(t, one, orgID, webhook.Input{URL: rcv.url("/retry"), Events: "*"})
	for i := range n {
		env := one
		if i%2 == 1 {
			env = two
		}
		if r := apiCall(t, env, "POST", "/v1/patients", key.Secret, jsonBody(map[string]any{"firstName": "T", "lastName": "Wo"}), "Content-Type", "application/json"); r.Status != 201 {
			t.Fatalf("create %d: %d %s", i, r.Status, r.Raw)
		}
	}
	rcv.waitCount(t, "/once", n)
	rcv.waitCount(t, "/retry", n)
	settle()
	got := rcv.waitCount(t, "/once", n)
	seen := map[string]bool{}
	for _, h := range got {
		id := h.Header.Get("X-Clinik-Delivery-Id")
		if seen[id] {
			t.Fatalf("delivery %s sent twice", id)
		}
		seen[id] = true
	}
	first := map[string]bool{}
	for _, h := range rcv.waitCount(t, "/retry", n) {
		first[h.Header.Get("X-Clinik-Delivery-Id")] = true
	}
	if len(first) != n {
		t.Fatalf("%d distinct first attempts on the failing endpoint, want %d", len(first), n)
	}
	// Both instances see the first retry fall due.
	one.Clock.Advance(webhook.Retries[0])
	two.Clock.Advance(webhook.Retries[0])
	rcv.waitCount(t, "/retry", 2*n)
	settle()
	retries := map[string]int{}
	for _, h := range rcv.waitCount(t, "/retry", 2*n)[n:] {
		id := h.Header.Get("X-Clinik-Delivery-Id")
		if !first[id] {
			t.Fatalf("retry of unknown delivery %s", id)
		}
		if retries[id]++; retries[id] > 1 {
			t.Fatalf("retry of delivery %s sent twice", id)
		}
	}
	rcv.waitCount(t, "/once", n) // delivered ones are not sent again
	log, err := one.App.Webhooks.Attempts(context.Background(), webhook.AttemptFilter{OrgID: orgID, Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 3*n {
		t.Fatalf("%d attempts logged, want %d (one per send)", len(log), 3*n)
	}
}

var secretRE = regexp.MustCompile(`whsec_[a-z0-9]+`)

// TestWebhooksDashboard: create an endpoint (its secret shown once), send
// a test event that verifies with that secret, see it in the delivery log
// and redeliver it (same delivery id), roll, disable, enable and delete;
// bad URLs are refused with the reason; every action is audited.
func TestWebhooksDashboard(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		rcv := newReceiver(t)
		env, _ := webhookEnv(t, engine, rcv, true, nil)
		b := env.Browser()
		orgID := b.SignUp("Owner", "hooks@example.com", pw, "Hooks Org")
		base := "/o/" + orgID + "/webhooks"
		if r := b.Get(base); r.Status != 200 || !strings.Contains(apptest.Text(r.Body), "No webhooks yet") {
			t.Fatalf("empty page: %d %s", r.Status, apptest.Text(r.Body))
		}
		for _, bad := range []struct{ url, want string }{
			{"http://example.com/hook", "https://"},
			{"https://user:pw@example.com/hook", "credentials"},
			{"https://10.0.0.8/hook", "private"},
			{"https://metadata.google.internal/x", "internal name"},
		} {
			r := b.Post(base, url.Values{"url": {bad.url}, "events": {"*"}})
			if r.Status != 422 || !strings.Contains(apptest.Text(r.Body), bad.want) {
				t.Fatalf("%s: %d, want 422 saying %q\n%s", bad.url, r.Status, bad.want, apptest.Text(r.Body))
			}
		}
		if r := b.Post(base, url.Values{"url": {rcv.url("/dash")}, "events": {"patient.read"}}); r.Status != 422 || !strings.Contains(r.Body, "patient.created") {
			t.Fatalf("bad pattern: %d", r.Status)
		}
		r := b.Post(base, url.Values{"url": {rcv.url("/dash")}, "events": {"patient.*, lab.created"}, "environment": {"live"}, "description": {"paging"}})
		secret := secretRE.FindString(r.Body)
		if r.Status != 200 || secret == "" {
			t.Fatalf("create: %d, secret %q\n%s", r.Status, secret, apptest.Text(r.Body))
		}
		page := b.Get(base)
		if strings.Contains(page.Body, secret) || !strings.Contains(page.Body, rcv.url("/dash")) || !strings.Contains(apptest.Text(page.Body), "patient.*, lab.created") {
			t.Fatalf("list: secret shown again or endpoint missing\n%s", apptest.Text(page.Body))
		}
		id := regexp.MustCompile(`/webhooks/(wh_[A-Za-z0-9]+)/test`).FindStringSubmatch(page.Body)
		if id == nil {
			t.Fatalf("no test button\n%s", page.Body)
		}
		hook := id[1]
		if r := b.Post(base+"/"+hook+"/test", nil); r.Status != 200 || !strings.Contains(apptest.Text(r.Body), "Test event queued") {
			t.Fatalf("test: %d %s", r.Status, apptest.Text(r.Body))
		}
		h := rcv.waitCount(t, "/dash", 1)[0]
		p := checkSigned(t, h, secret, env.Clock.Now())
		if p.Event != "webhook.test" || p.Data.Environment != "live" || p.Data.TenantID != orgID {
			t.Fatalf("test event %+v", p)
		}
		logs := "/o/" + orgID + "/analytics/webhooks"
		var log *apptest.Response
		waitFor(t, "the log entry", func() bool {
			log = b.Get(logs)
			return strings.Contains(log.Body, "webhook.test") && strings.Contains(log.Body, "succeeded")
		})
		if !strings.Contains(log.Body, p.ID) || !strings.Contains(log.Body, "answer 200") {
			t.Fatalf("log row lacks the event id or the response excerpt\n%s", apptest.Text(log.Body))
		}
		if f := b.Get(logs + "?status=failed"); !strings.Contains(apptest.Text(f.Body), "No matching deliveries") {
			t.Fatalf("status filter: %s", apptest.Text(f.Body))
		}
		if f := b.Get(logs + "?event=patient.created"); strings.Contains(f.Body, "webhook.test</div>") {
			t.Fatalf("event filter kept another event")
		}
		if f := b.Get(logs + "?endpoint=" + hook); !strings.Contains(f.Body, p.ID) {
			t.Fatalf("endpoint filter dropped the endpoint's delivery")
		}
		re := regexp.MustCompile(`/analytics/webhooks/(whd_[A-Za-z0-9]+)/redeliver`).FindStringSubmatch(log.Body)
		if re == nil {
			t.Fatal("no redeliver button")
		}
		if r := b.Post(logs+"/"+re[1]+"/redeliver", nil); r.Status != 200 || !strings.Contains(apptest.Text(r.Body), "queued again") {
			t.Fatalf("redeliver: %d %s", r.Status, apptest.Text(r.Body))
		}
		again := rcv.waitCount(t, "/dash", 2)[1]
		if again.Header.Get("X-Clinik-Delivery-Id") != p.ID || again.Body != h.Body {
			t.Fatalf("redelivery is not the same delivery: %s", again.Header.Get("X-Clinik-Delivery-Id"))
		}

		r = b.Post(base+"/"+hook+"/roll", url.Values{"overlap": {"1h"}})
		rolled := secretRE.FindString(r.Body)
		if r.Status != 200 || rolled == "" || rolled == secret {
			t.Fatalf("roll: %d %q", r.Status, rolled)
		}
		if r := b.Post(base+"/"+hook+"/disable", nil); r.Status != 200 || !strings.Contains(apptest.Text(r.Body), "disabled") {
			t.Fatalf("disable: %d", r.Status)
		}
		if r := b.Post(base+"/"+hook+"/enable", nil); r.Status != 200 || !strings.Contains(apptest.Text(r.Body), "enabled") {
			t.Fatalf("enable: %d", r.Status)
		}
		if r := b.Post(base+"/"+hook+"/delete", nil); r.Status != 422 {
			t.Fatalf("delete without confirmation: %d", r.Status)
		}
		if r := b.Post(base+"/"+hook+"/delete", url.Values{"confirm": {"yes"}}); r.Status != 200 || !strings.Contains(apptest.Text(r.Body), "No webhooks yet") {
			t.Fatalf("delete: %d %s", r.Status, apptest.Text(r.Body))
		}
		if r := b.Post(base+"/"+hook+"/test", nil); r.Status != 404 {
			t.Fatalf("test of a deleted webhook: %d", r.Status)
		}
		// Another organization's member cannot touch it.
		other := env.Browser()
		other.SignUp("Other", "other-hooks@example.com", pw, "Other Org")
		if r := other.Post(base, url.Values{"url": {rcv.url("/x")}, "events": {"*"}}); r.Status != 404 && r.Status != 403 {
			t.Fatalf("another organization's webhooks: %d", r.Status)
		}
		if err := env.App.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		events, err := env.App.Audit.List(context.Background(), audit.Filter{OrgID: orgID, Action: "webhook.", Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range events {
			actions = append([]string{e.Action}, actions...)
			if e.ActorType != audit.ActorUser || e.ActorID == "" || strings.Contains(e.Detail["events"]+e.Detail["delivery"], "whsec_") {
				t.Fatalf("audit event %+v", e)
			}
		}
		// One of each (the test clock stands still, so they share a time).
		sort.Strings(actions)
		want := "webhook.created webhook.deleted webhook.disabled webhook.enabled webhook.redelivered webhook.secret_rolled webhook.test_sent"
		if strings.Join(actions, " ") != want {
			t.Fatalf("audit\n%s\nwant\n%s", strings.Join(actions, " "), want)
		}
		if strings.Contains(env.Logs.String(), secret) || strings.Contains(env.Logs.String(), rolled) {
			t.Fatal("a signing secret reached the server log")
		}
	})
}

// TestWebhookCrashChild is the server TestWebhookDeliveredAfterCrash
// crashes: it commits a create and exits at once, before any background
// work (the relay, the dispatcher) has run, and without closing.
func TestWebhookCrashChild(t *testing.T) {
	dir := os.Getenv("CLINIKAPI_TEST_CRASH_DIR")
	if dir == "" {
		t.Skip("run by TestWebhookDeliveredAfterCrash")
	}
	ctx := context.Background()
	cfg, err := config.Load(config.FromMap(map[string]string{"CLINIKAPI_DATA_DIR": dir, "DATABASE_URL": os.Getenv("CLINIKAPI_TEST_CRASH_DB")}))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{Server: true})
	if err != nil {
		t.Fatal(err)
	}
	var def *resource.Def
	for _, d := range resource.All {
		if d.Path == "patients" {
			def = d
		}
	}
	rec, err := a.Records.CreateSimple(ctx, records.Actor{OrgID: os.Getenv("CLINIKAPI_TEST_CRASH_ORG"), Env: records.Test, Type: audit.ActorAPIKey, ID: "key_crash"},
		def, map[string]any{"firstName": "Crash", "lastName": "Test"})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("CREATED " + rec.ID)
	os.Exit(0) // the crash: the event is only in the datastore's outbox
}

// TestWebhookDeliveredAfterCrash: a server that dies right after
// committing a change, before sending anything, loses no event: the next
// server to start delivers it.
func TestWebhookDeliveredAfterCrash(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		rcv := newReceiver(t)
		vars := map[string]string{"CLINIKAPI_DATA_DIR": t.TempDir(), "DATABASE_URL": storetest.DatabaseURL(t, engine)}
		first, _ := webhookEnv(t, engine, rcv, true, vars)
		orgID := first.Browser().SignUp("", "crash@example.com", pw, "Crash Org")
		addEndpoint(t, first, orgID, webhook.Input{URL: rcv.url("/crash"), Events: "patient.created"})
		if err := first.App.Close(); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestWebhookCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "CLINIKAPI_TEST_CRASH_DIR="+vars["CLINIKAPI_DATA_DIR"], "CLINIKAPI_TEST_CRASH_DB="+vars["DATABASE_URL"], "CLINIKAPI_TEST_CRASH_ORG="+orgID)
		out, err := cmd.CombinedOutput()
		m := regexp.MustCompile(`CREATED (\S+)`).FindStringSubmatch(string(out))
		if err != nil || m == nil {
			t.Fatalf("crashing server: %v\n%s", err, out)
		}
		if n := len(rcv.got("")); n != 0 {
			t.Fatalf("%d deliveries before the restart", n)
		}
		webhookEnv(t, engine, rcv, true, vars)
		got := rcv.waitCount(t, "/crash", 1)
		if p := got[0].payload(t); p.Event != "patient.created" || p.Data.ResourceID != m[1] {
			t.Fatalf("after the restart: %+v, want patient.created of %s", p, m[1])
		}
	})
}
