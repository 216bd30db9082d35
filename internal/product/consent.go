package product

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/errs"
)

// Choice is a person's answer to the analytics banner.
type Choice string

const (
	Unasked Choice = ""        // no answer yet: the banner is shown
	Granted Choice = "granted" // events are captured
	Refused Choice = "refused" // no event at all for this person
)

// ParseChoice reads a choice from a form or cookie value; anything else is Unasked.
func ParseChoice(s string) Choice {
	switch Choice(s) {
	case Granted, Refused:
		return Choice(s)
	}
	return Unasked
}

// CheckChoice reads a choice from a form, refusing anything but the two answers.
func CheckChoice(s string) (Choice, error) {
	if c := ParseChoice(s); c != Unasked {
		return c, nil
	}
	return Unasked, errs.FieldError("analytics", "Choose whether to allow product analytics.")
}

// ConsentChanged is the audit action for a changed analytics choice.
const ConsentChanged = "user.analytics_consent_changed"

// ConsentStore keeps each person's choice.
type ConsentStore interface {
	// AnalyticsConsent returns the stored choice, Unasked when there is none.
	AnalyticsConsent(ctx context.Context, userID string) (Choice, error)
	SetAnalyticsConsent(ctx context.Context, userID string, c Choice, at time.Time) error
}

// Consents remembers who refused product analytics. Lookups are cached
// briefly per instance; the instance where a choice is made forgets its
// cached answer at once, and the browser that made it carries the choice in
// its cookie, so it is respected there immediately and everywhere within TTL.
type Consents struct {
	// Enabled is true when product analytics are configured: the banner and
	// the Account page choice are shown only then.
	Enabled bool

	store ConsentStore
	audit *audit.Log
	log   *slog.Logger
	now   func() time.Time
	ttl   time.Duration

	mu    sync.Mutex
	cache map[string]cachedChoice
}

type cachedChoice struct {
	choice Choice
	until  time.Time
}

// cacheLimit bounds the cache; past it the cache starts over.
const cacheLimit = 10000

// NewConsents assembles the consent service.
func NewConsents(enabled bool, s ConsentStore, a *audit.Log, log *slog.Logger, now func() time.Time) *Consents {
	if now == nil {
		now = time.Now
	}
	return &Consents{Enabled: enabled, store: s, audit: a, log: log, now: now, ttl: 30 * time.Second, cache: map[string]cachedChoice{}}
}

// Of returns the person's stored choice.
func (c *Consents) Of(ctx context.Context, userID string) (Choice, error) {
	now := c.now()
	c.mu.Lock()
	hit, ok := c.cache[userID]
	c.mu.Unlock()
	if ok && now.Before(hit.until) {
		return hit.choice, nil
	}
	ch, err := c.store.AnalyticsConsent(ctx, userID)
	if err != nil {
		return Unasked, err
	}
	c.remember(userID, ch, now)
	return ch, nil
}

func (c *Consents) remember(userID string, ch Choice, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.cache) >= cacheLimit {
		c.cache = map[string]cachedChoice{}
	}
	c.cache[userID] = cachedChoice{choice: ch, until: now.Add(c.ttl)}
}

// Set records the person's choice and audits the change. how says where it
// was made ("banner", "account", "earlier_choice").
func (c *Consents) Set(ctx context.Context, userID string, ch Choice, how string) error {
	if _, err := CheckChoice(string(ch)); err != nil {
		return err
	}
	now := c.now().UTC()
	if err := c.store.SetAnalyticsConsent(ctx, userID, ch, now); err != nil {
		return err
	}
	c.remember(userID, ch, now)
	c.audit.Record(ctx, audit.Event{
		ActorType: audit.ActorUser, ActorID: userID, Action: ConsentChanged, TargetType: "user", TargetID: userID,
		Detail: map[string]string{"choice": string(ch), "via": how},
	})
	return nil
}

// Respecting drops every event of a person who refused analytics, whether
// the refusal is carried by the request (this browser's choice) or stored
// for the person (made in another browser, or before this session). When
// the stored choice cannot be read, the event is dropped.
type Respecting struct {
	Next     Tracker
	Consents *Consents
	Log      *slog.Logger
}

// Capture forwards e unless its person refused.
func (r Respecting) Capture(ctx context.Context, e Event) {
	if e.UserID == "" || ChoiceFrom(ctx) == Refused {
		return
	}
	ch, err := r.Consents.Of(ctx, e.UserID)
	if err != nil {
		r.Log.WarnContext(ctx, "analytics consent lookup failed; event dropped", "event", e.Name, "err", err)
		return
	}
	if ch == Refused {
		return
	}
	r.Next.Capture(ctx, e)
}

// Close flushes the wrapped tracker.
func (r Respecting) Close() error { return r.Next.Close() }

type ctxKey int

const (
	keyChoice ctxKey = iota
	keyBanner
)

// WithChoice carries the requesting person's effective choice.
func WithChoice(ctx context.Context, c Choice) context.Context {
	return context.WithValue(ctx, keyChoice, c)
}

// ChoiceFrom returns the choice carried by ctx, Unasked when none.
func ChoiceFrom(ctx context.Context) Choice {
	c, _ := ctx.Value(keyChoice).(Choice)
	return c
}

// WithBanner marks the request as one whose page should ask the question.
func WithBanner(ctx context.Context) context.Context {
	return context.WithValue(ctx, keyBanner, true)
}

// ShowBanner reports whether the page should show the analytics banner.
func ShowBanner(ctx context.Context) bool {
	b, _ := ctx.Value(keyBanner).(bool)
	return b
}
