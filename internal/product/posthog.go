package product

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/posthog/posthog-go"
)

// GroupOrganization is the PostHog group type events are grouped by.
const GroupOrganization = "organization"

// DefaultHost is PostHog's US cloud ingestion host.
const DefaultHost = "https://us.i.posthog.com"

// PostHogOptions configure the PostHog tracker.
type PostHogOptions struct {
	APIKey    string // the project API key (phc_…), not a personal key
	Host      string // ingestion host; DefaultHost when empty
	Interval  time.Duration
	BatchSize int
	Transport http.RoundTripper // tests; http.DefaultTransport when nil
	Log       *slog.Logger
}

// PostHog sends events to PostHog with posthog-go: the distinct id is the
// user id and events are grouped by organization id. Properties pass through
// Sanitize, so nothing outside its allow-list ever leaves the server.
type PostHog struct {
	client posthog.Client
	log    *slog.Logger

	mu   sync.Mutex
	seen map[string]bool // organizations identified by this instance
}

// NewPostHog starts a PostHog client; Close flushes it.
func NewPostHog(o PostHogOptions) (*PostHog, error) {
	if o.Host == "" {
		o.Host = DefaultHost
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	c, err := posthog.NewWithConfig(o.APIKey, posthog.Config{
		Endpoint:  strings.TrimRight(o.Host, "/"),
		Interval:  o.Interval,
		BatchSize: o.BatchSize,
		Transport: o.Transport,
		Logger:    phLogger{o.Log},
		// The server's own address is not where the person is.
		DefaultEventProperties: posthog.NewProperties().Set("$geoip_disable", true),
	})
	if err != nil {
		return nil, fmt.Errorf("POSTHOG: %w", err)
	}
	return &PostHog{client: c, log: o.Log, seen: map[string]bool{}}, nil
}

// Capture queues the event; sending happens in the background.
func (p *PostHog) Capture(ctx context.Context, e Event) {
	if e.UserID == "" || e.Name == "" {
		return
	}
	props := Sanitize(e.Props)
	msg := posthog.Capture{DistinctId: e.UserID, Event: e.Name, Properties: posthog.Properties(props)}
	if e.OrgID != "" {
		msg.Groups = posthog.NewGroups().Set(GroupOrganization, e.OrgID)
		p.identifyOrg(ctx, e, props)
	}
	if err := p.client.Enqueue(msg); err != nil {
		p.log.WarnContext(ctx, "product event not queued", "event", e.Name, "err", err)
	}
}

// identifyOrg describes the organization group the first time this instance
// sees it, and again when its plan changes. Only the plan is sent: the
// organization's name is the customer's words and stays here.
func (p *PostHog) identifyOrg(ctx context.Context, e Event, props map[string]any) {
	p.mu.Lock()
	first := !p.seen[e.OrgID]
	if first {
		if len(p.seen) >= cacheLimit {
			p.seen = map[string]bool{}
		}
		p.seen[e.OrgID] = true
	}
	p.mu.Unlock()
	plan, hasPlan := props["plan"]
	if !first && !hasPlan {
		return
	}
	gp := posthog.NewProperties()
	if hasPlan {
		gp.Set("plan", plan)
	}
	if err := p.client.Enqueue(posthog.GroupIdentify{Type: GroupOrganization, Key: e.OrgID, Properties: gp}); err != nil {
		p.log.WarnContext(ctx, "organization group not queued", "err", err)
	}
}

// Close sends what is buffered and stops the client.
func (p *PostHog) Close() error { return p.client.Close() }

// allowedProps are the only property names that leave the server, each a
// plain fact: ids, enums, counts, route patterns.
var allowedProps = map[string]bool{
	"route":         true, // a route pattern such as /o/:org/keys, never a concrete URL
	"environment":   true, // test | live
	"scope":         true, // read | write | *
	"scopes_count":  true,
	"key_id":        true,
	"grace_seconds": true,
	"expires":       true,
	"plan":          true, // a plan id: sandbox | starter | pro | team | enterprise
	"previous_plan": true,
	"source":        true, // what changed the plan: development | stripe | operator
	"interval":      true, // billing interval
	"method":        true, // sign-up method: password | oauth
	"provider":      true, // identity provider: builtin | supabase
	"invited":       true,
}

// safeValue: short tokens made of letters, digits and a few separators; no
// '@' (e-mail), no spaces (free text), no query strings.
var safeValue = regexp.MustCompile(`^[A-Za-z0-9_:/.*\-]{0,64}$`)

// Sanitize keeps only allow-listed properties whose values are numbers,
// booleans or short safe tokens, and drops anything that looks like an API
// key secret or an e-mail address even then.
func Sanitize(in map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range in {
		if !allowedProps[k] {
			continue
		}
		switch x := v.(type) {
		case bool, int, int64, int32, uint, uint32, uint64, float64:
			out[k] = x
		case string:
			if safeValue.MatchString(x) && !strings.Contains(x, "clk_") && !strings.Contains(x, "?") {
				out[k] = x
			}
		}
	}
	return out
}

// phLogger routes posthog-go's messages to slog.
type phLogger struct{ log *slog.Logger }

func (l phLogger) Logf(format string, args ...any) {
	l.log.Info("posthog: " + fmt.Sprintf(format, args...))
}

func (l phLogger) Errorf(format string, args ...any) {
	l.log.Error("posthog: " + fmt.Sprintf(format, args...))
}
