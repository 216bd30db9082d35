package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/product"
)

// postHog is a fake PostHog ingestion host: it keeps every /batch/ body as
// sent and every message in it.
type postHog struct {
	mu   sync.Mutex
	raw  []string
	msgs []map[string]any
	srv  *httptest.Server
}

func newPostHog(t *testing.T) *postHog {
	p := &postHog{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/batch/" {
			t.Errorf("PostHog asked for %s %s; only /batch/ is expected", r.Method, r.URL.Path)
		}
		var body struct {
			Batch []map[string]any `json:"batch"`
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Errorf("batch body is not JSON: %v", err)
		}
		p.mu.Lock()
		p.raw = append(p.raw, string(raw))
		p.msgs = append(p.msgs, body.Batch...)
		p.mu.Unlock()
		w.Write([]byte(`{"status":1}`))
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *postHog) messages() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]map[string]any(nil), p.msgs...)
}

// capture is one captured event, flattened for assertions.
type capture struct {
	Event, DistinctID, Org string
	Props                  map[string]any
}

func (p *postHog) captures() []capture {
	var out []capture
	for _, m := range p.messages() {
		if m["type"] != "capture" {
			continue
		}
		props, _ := m["properties"].(map[string]any)
		groups, _ := props["$groups"].(map[string]any)
		org, _ := groups["organization"].(string)
		id, _ := m["distinct_id"].(string)
		ev, _ := m["event"].(string)
		out = append(out, capture{Event: ev, DistinctID: id, Org: org, Props: props})
	}
	return out
}

// walkJSON calls fn with every key and every string value in v.
func walkJSON(v any, fn func(string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			fn(k)
			walkJSON(e, fn)
		}
	case []any:
		for _, e := range x {
			walkJSON(e, fn)
		}
	case string:
		fn(x)
	}
}

func accountID(t *testing.T, env *apptest.Env, email string) string {
	t.Helper()
	u, err := env.App.DB.FindUserByEmail(context.Background(), email)
	if err != nil {
		t.Fatalf("user %s: %v", email, err)
	}
	return u.ID
}

func TestPostHogEvents(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		ph := newPostHog(t)
		env := apptest.New(t, engine, map[string]string{"POSTHOG_API_KEY": "phc_project", "POSTHOG_HOST": ph.srv.URL})
		const phi = "Zebediah Quux-Marlowe"

		// Alice never answers the banner: her events are captured.
		alice := env.Browser()
		r := alice.Get("/signup")
		if !strings.Contains(r.Body, `data-testid="analytics-consent"`) {
			t.Fatalf("no analytics banner on the sign-up page")
		}
		orgA := alice.SignUp("Alice Anders", "alice@example.com", pw, "Alpha Clinic")
		aliceID := accountID(t, env, "alice@example.com")
		keysURL := "/o/" + orgA + "/keys"
		r = alice.Post(keysURL, url.Values{"name": {"backend"}, "env": {"test"}, "scope": {"*"}})
		secret := shownSecret(t, "create key", r, testSecret)
		created := apiCall(t, env, "POST", "/v1/patients", secret, strings.NewReader(`{"firstName":"Zebediah","lastName":"Quux-Marlowe","gender":"male"}`),
			"Content-Type", "application/json")
		if created.Status != http.StatusCreated && created.Status != http.StatusOK {
			t.Fatalf("create patient: %d %s", created.Status, created.Raw)
		}
		keyID := keyIDs(alice.Get(keysURL))[0]
		r = alice.Post(keysURL+"/"+keyID+"/roll", url.Values{"grace": {"1h"}})
		rolled := shownSecret(t, "roll key", r, testSecret)
		wantStatus(t, "revoke", alice.Post(keysURL+"/"+keyID+"/revoke", nil), http.StatusOK)
		wantText(t, "switch to Starter", alice.Post("/o/"+orgA+"/billing/plan", url.Values{"plan": {"starter"}}), "now on the Starter plan")
		if !strings.Contains(alice.Get("/account").Body, `data-testid="analytics-setting"`) {
			t.Fatalf("no analytics choice on the Account page")
		}
		alice.Get("/o/" + orgA + "/keys?env=live")

		// Bob refuses on the sign-up page, before he has an account: nothing
		// about him is ever captured, in this browser or after signing in
		// elsewhere.
		bob := env.Browser()
		bob.Get("/signup")
		wantStatus(t, "refuse signed out", bob.Post("/analytics-consent", url.Values{"analytics": {"refused"}}), http.StatusOK)
		if bob.Cookie("clinik_analytics") != "refused" {
			t.Fatalf("refusal cookie = %q", bob.Cookie("clinik_analytics"))
		}
		orgB := bob.SignUp("Bob Brown", "bob@example.com", pw, "Bravo Clinic")
		bobID := accountID(t, env, "bob@example.com")
		if strings.Contains(bob.Get("/o/"+orgB).Body, `data-testid="analytics-consent"`) {
			t.Fatalf("the banner is shown again after refusing")
		}
		bob.Post("/o/"+orgB+"/keys", url.Values{"name": {"b"}, "env": {"live"}, "scope": {"read"}})
		if ch, _ := env.App.Consents.Of(context.Background(), bobID); ch != product.Refused {
			t.Fatalf("Bob's refusal made before signing up was not stored for him: %q", ch)
		}
		bob2 := env.Browser()
		bob2.SignIn("bob@example.com", pw)
		bob2.Get("/o/" + orgB + "/members")
		if bob2.Cookie("clinik_analytics") != "refused" {
			t.Fatalf("Bob's stored refusal did not follow him to another browser")
		}

		// Carol accepts, then refuses from the Account page: events stop,
		// in this browser and in another one.
		carol := env.Browser()
		orgC := carol.SignUp("Carol Chen", "carol@example.com", pw, "Charlie Clinic")
		carolID := accountID(t, env, "carol@example.com")
		carol.Headers["HX-Request"] = "true"
		r = carol.Post("/analytics-consent", url.Values{"analytics": {"granted"}})
		delete(carol.Headers, "HX-Request")
		if r.Status != http.StatusOK || strings.TrimSpace(r.Body) != "" {
			t.Fatalf("banner answer with HTMX: %d %q; want 200 and nothing (the banner goes)", r.Status, r.Body)
		}
		carol.Get("/o/" + orgC + "/settings")
		r = carol.Post("/analytics-consent", url.Values{"analytics": {"refused"}, "via": {"account"}})
		wantText(t, "refused on the account page", r, "Product analytics are off for you", "You refused product analytics")
		carol.Post("/o/"+orgC+"/keys", url.Values{"name": {"c"}, "env": {"test"}, "scope": {"write"}})
		carol.Get("/o/" + orgC + "/members")
		carol2 := env.Browser()
		carol2.SignIn("carol@example.com", pw)
		carol2.Get("/o/" + orgC + "/audit")
		wantStatus(t, "bad choice", carol.Post("/analytics-consent", url.Values{"analytics": {"maybe"}}), http.StatusUnprocessableEntity)

		// The consent changes are audited.
		evs, err := env.App.DB.ListAuditEvents(context.Background(), audit.Filter{Action: product.ConsentChanged, Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		var carolChanges []string
		for _, e := range evs {
			if e.ActorID == carolID {
				carolChanges = append(carolChanges, e.Detail["choice"]+"/"+e.Detail["via"])
			}
		}
		sort.Strings(carolChanges)
		if len(carolChanges) != 2 || carolChanges[0] != "granted/banner" || carolChanges[1] != "refused/account" {
			t.Fatalf("Carol's audited consent changes = %v", carolChanges)
		}

		// The last page view is still buffered: Close must send it.
		alice.Get("/o/" + orgA + "/members")
		if err := env.App.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}

		got := ph.captures()
		has := func(id, event, org, route string) bool {
			for _, c := range got {
				if c.DistinctID == id && c.Event == event && c.Org == org && (route == "" || c.Props["route"] == route) {
					return true
				}
			}
			return false
		}
		for _, w := range []struct{ event, org, route string }{
			{product.SignedUp, "", ""},
			{product.OrgCreated, orgA, ""},
			{product.KeyCreated, orgA, ""},
			{product.KeyRotated, orgA, ""},
			{product.KeyRevoked, orgA, ""},
			{product.PlanChanged, orgA, ""},
			{product.PageViewed, orgA, "/o/:org"},
			{product.PageViewed, orgA, "/o/:org/keys"},
			{product.PageViewed, "", "/account"},
			{product.PageViewed, orgA, "/o/:org/members"}, // flushed by Close
		} {
			if !has(aliceID, w.event, w.org, w.route) {
				t.Errorf("no %q (org %q, route %q) for Alice among %d events: %+v", w.event, w.org, w.route, len(got), got)
			}
		}
		for _, c := range got {
			if c.DistinctID == aliceID && strings.HasPrefix(c.Event, "api key") && (c.Props["key_id"] != keyID || c.Props["environment"] != "test") {
				t.Errorf("key event %+v; want key id %s in test", c, keyID)
			}
			if c.Event == product.KeyCreated && c.DistinctID == aliceID && c.Props["scopes_count"] != 2.0 {
				t.Errorf("full-access key: scopes_count %v, want 2", c.Props["scopes_count"])
			}
			if c.DistinctID == aliceID && c.Event == product.PlanChanged &&
				(c.Props["previous_plan"] != "sandbox" || c.Props["plan"] != "starter" || c.Props["source"] != "development") {
				t.Errorf("plan change as sent to PostHog: %+v; want previous_plan sandbox, plan starter, source development", c)
			}
			if c.DistinctID == bobID || c.Org == orgB {
				t.Errorf("captured %+v for Bob, who refused", c)
			}
			if c.DistinctID == carolID && !(c.Event == product.SignedUp || c.Event == product.OrgCreated ||
				(c.Event == product.PageViewed && (c.Props["route"] == "/o/:org" || c.Props["route"] == "/o/:org/settings"))) {
				t.Errorf("captured %+v for Carol after she refused", c)
			}
		}
		if !has(carolID, product.PageViewed, orgC, "/o/:org/settings") {
			t.Errorf("Carol's page view while she allowed analytics is missing")
		}
		describedStarter := false
		for _, m := range ph.messages() {
			p, _ := m["properties"].(map[string]any)
			if m["event"] == "$groupidentify" && p["$group_key"] == orgB {
				t.Errorf("Bob's organization was described to PostHog: %v", m)
			}
			if set, _ := p["$group_set"].(map[string]any); m["event"] == "$groupidentify" && p["$group_key"] == orgA && set["plan"] == "starter" {
				describedStarter = true
			}
		}
		if !describedStarter {
			t.Errorf("Alice's organization was not described with its new plan after the plan change")
		}

		// Nothing anywhere in what was sent is a secret, an e-mail, a name
		// or resource content.
		forbidden := []string{secret, rolled, secret[:len("clk_test_")+4], "clk_", "@", "alice@example.com", "Alice Anders", "Alpha Clinic",
			"Zebediah", "Quux-Marlowe", phi, "?env=", "/o/" + orgA}
		for _, raw := range ph.raw {
			var v any
			if err := json.Unmarshal([]byte(raw), &v); err != nil {
				t.Fatal(err)
			}
			walkJSON(v, func(s string) {
				for _, f := range forbidden {
					if strings.Contains(s, f) {
						t.Errorf("PostHog received %q, which contains %q", s, f)
					}
				}
			})
		}
	})
}

// Without POSTHOG_API_KEY nothing is asked and nothing is sent.
func TestPostHogOff(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	if _, ok := env.App.Product.(product.Nop); !ok {
		t.Fatalf("tracker without a key = %T, want product.Nop", env.App.Product)
	}
	b := env.Browser()
	if strings.Contains(b.Get("/signup").Body, "analytics-consent") {
		t.Fatalf("banner shown although analytics are not configured")
	}
	b.SignUp("Dan Dale", "dan@example.com", pw, "Delta Clinic")
	if r := b.Get("/account"); strings.Contains(r.Body, "analytics-consent") || strings.Contains(r.Body, "analytics-setting") {
		t.Fatalf("analytics banner or setting shown although analytics are not configured")
	}
}
