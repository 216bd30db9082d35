package api

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/disclosure"
	"github.com/clinikapi/clinikapi/internal/idempotency"
	"github.com/clinikapi/clinikapi/internal/logging"
	"github.com/clinikapi/clinikapi/internal/plan"
	"github.com/clinikapi/clinikapi/internal/quota"
	"github.com/clinikapi/clinikapi/internal/ratelimit"
	"github.com/clinikapi/clinikapi/internal/records"
	"github.com/clinikapi/clinikapi/internal/resource"
	"github.com/clinikapi/clinikapi/internal/usage"
)

// MaxBody is the largest request body the API accepts.
const MaxBody = 1 << 20

// PlanSource tells which plan an organization is on.
type PlanSource interface {
	PlanOf(ctx context.Context, orgID string) (plan.Plan, error)
}

// Pipeline holds what the API middleware needs.
type Pipeline struct {
	Keys    *apikey.Service
	Plans   PlanSource
	Limiter ratelimit.Limiter
	Quota   *quota.Meter
	Usage   *usage.Recorder
	// Idempotency keeps the answers of writes sent with an Idempotency-Key;
	// Records reads again the resource a replayed answer holds.
	Idempotency *idempotency.Service
	Records     *records.Service
	// Overage reports whether an organization lets live traffic past its
	// pool (billed per request). Nil means never.
	Overage func(ctx context.Context, orgID string) bool
	Now     func() time.Time
}

const (
	keyPrincipal = "api.principal"
	keyPlan      = "api.plan"
	keyType      = "api.type"
)

// PrincipalOf returns who the request acts as (set by Authenticate).
func PrincipalOf(c echo.Context) apikey.Principal {
	p, _ := c.Get(keyPrincipal).(apikey.Principal)
	return p
}

var overrideHeaders = []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"}

// RejectMethodOverride refuses any method-override header: the method a
// key's scope is checked against is the real one.
func RejectMethodOverride(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		for _, h := range overrideHeaders {
			if _, ok := c.Request().Header[http.CanonicalHeaderKey(h)]; ok {
				return &Error{Status: 400, Code: "METHOD_OVERRIDE_REJECTED", Message: h + " is not accepted. Send the real HTTP method."}
			}
		}
		return next(c)
	}
}

// LimitBody refuses bodies over MaxBody, by Content-Length at once and by
// counting for chunked bodies.
func LimitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.ContentLength > MaxBody {
			return &Error{Status: 413, Code: "PAYLOAD_TOO_LARGE", Message: "The request body is larger than 1 MiB."}
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(c.Response(), r.Body, MaxBody)
		}
		return next(c)
	}
}

// Authenticate verifies the x-api-key header. Keys in the query string are
// refused, never used, and so is a request with more than one x-api-key
// header: which of them it acts as would be a guess.
func (p *Pipeline) Authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if len(c.Request().Header.Values("X-Api-Key")) > 1 {
			return &Error{Status: 400, Code: "AMBIGUOUS_API_KEY", Message: "Send exactly one x-api-key header."}
		}
		raw := c.Request().Header.Get("X-Api-Key")
		if raw == "" {
			q := c.Request().URL.Query()
			for _, k := range []string{"x-api-key", "api_key", "apiKey", "key"} {
				if q.Has(k) {
					return &Error{Status: 401, Code: "UNAUTHORIZED", Message: "API keys are accepted only in the x-api-key header, never in the URL. Rotate a key that was sent in a URL."}
				}
			}
		}
		pr, err := p.Keys.Verify(c.Request().Context(), raw)
		if err != nil {
			return err
		}
		c.Set(keyPrincipal, pr)
		return next(c)
	}
}

// Scope checks the key may use the request's method.
func Scope(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		pr := PrincipalOf(c)
		if !pr.Scope.Allows(c.Request().Method) {
			return &Error{Status: 403, Code: "INSUFFICIENT_SCOPE", Message: "This key's scope (" + string(pr.Scope) + ") does not allow " + c.Request().Method + " requests."}
		}
		return next(c)
	}
}

// AllowAddress refuses a request from outside the key's IP allowlist
// (403 IP_NOT_ALLOWED). The client address is the connection's, or with
// CLINIKAPI_TRUST_PROXY the one X-Forwarded-For names (echo's IPExtractor).
func AllowAddress(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !PrincipalOf(c).AllowsAddr(c.RealIP()) {
			return apikey.ErrIPNotAllowed
		}
		return next(c)
	}
}

// ResourceScope finds the resource type a request uses (the :type of a
// raw FHIR route, the declared type of a simplified one) and refuses it,
// 403 INSUFFICIENT_SCOPE naming the type, when the key is restricted to
// other types or to another scope for this one.
func ResourceScope(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		typ := requestType(c)
		if typ == "" {
			return next(c)
		}
		c.Set(keyType, typ)
		if !PrincipalOf(c).AllowsType(typ, c.Request().Method) {
			return apikey.InsufficientScope(typ, c.Request().Method)
		}
		return next(c)
	}
}

// requestType is the resource type of a /v1 route ("" when it has none).
func requestType(c echo.Context) string {
	route := strings.TrimPrefix(c.Path(), "/v1/")
	seg, _, _ := strings.Cut(route, "/")
	if seg == "fhir" {
		if t := c.Param("type"); t != "metadata" {
			return t
		}
		return ""
	}
	if d, ok := resource.ByPath(seg); ok {
		return d.Type
	}
	return ""
}

// RateLimit applies the key's own per-minute limit, if it has one, and the
// plan's across all of an organization's keys, and reports the tighter of
// the two in X-RateLimit-* headers.
func (p *Pipeline) RateLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		pr := PrincipalOf(c)
		pl, err := p.Plans.PlanOf(ctx, pr.OrgID)
		if err != nil {
			return err
		}
		c.Set(keyPlan, pl)
		var keyRes ratelimit.Result
		if n := pr.PerMinute(); n > 0 {
			if keyRes, err = p.Limiter.Allow(ctx, "api:key:"+pr.KeyID, n, time.Minute); err != nil {
				return err
			}
			if !keyRes.Allowed {
				setRateLimitHeaders(c.Response().Header(), keyRes)
				return &Error{Status: 429, Code: "RATE_LIMITED",
					Message: "Rate limit of " + strconv.Itoa(keyRes.Limit) + " requests per minute reached for this key (its own limit, below the organization's). Retry after the Retry-After seconds.",
					Headers: map[string]string{"Retry-After": strconv.Itoa(max(1, seconds(keyRes.RetryAfter)))}}
			}
		}
		res, err := p.Limiter.Allow(ctx, "api:org:"+pr.OrgID, pl.PerMinute, time.Minute)
		if err != nil {
			return err
		}
		if keyRes.Limit > 0 && res.Allowed && keyRes.Remaining < res.Remaining {
			setRateLimitHeaders(c.Response().Header(), keyRes)
		} else {
			setRateLimitHeaders(c.Response().Header(), res)
		}
		if !res.Allowed {
			return &Error{Status: 429, Code: "RATE_LIMITED",
				Message: "Rate limit of " + strconv.Itoa(res.Limit) + " requests per minute reached for this organization (" + pl.Name + " plan). Retry after the Retry-After seconds.",
				Headers: map[string]string{"Retry-After": strconv.Itoa(max(1, seconds(res.RetryAfter)))}}
		}
		return next(c)
	}
}

// MonthlyQuota counts the request against the organization's monthly pool and
// reports the pools in X-Quota-* (and X-Sandbox-* for test traffic on paid
// plans) headers.
func (p *Pipeline) MonthlyQuota(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		pr := PrincipalOf(c)
		pl, _ := c.Get(keyPlan).(plan.Plan)
		overage := p.Overage != nil && p.Overage(ctx, pr.OrgID)
		d, err := p.Quota.Take(ctx, pr.OrgID, pl, string(pr.Env), overage)
		if err != nil {
			return err
		}
		now := p.Now()
		h := c.Response().Header()
		if d.Pool == quota.PoolSandbox {
			setSandboxHeaders(h, d)
			live, err := p.Quota.Peek(ctx, pr.OrgID, pl, quota.PoolLive)
			if err != nil {
				return err
			}
			setQuotaHeaders(h, live, now)
		} else {
			setQuotaHeaders(h, d, now)
		}
		if !d.Allowed {
			e := &Error{Status: 429, Code: "MONTHLY_QUOTA_EXCEEDED",
				Message: "This organization used all " + strconv.FormatInt(d.Limit, 10) + " requests included in its " + pl.Name + " plan this month. The pool resets on the 1st (UTC); " + map[bool]string{true: "upgrade or turn on overage billing to continue.", false: "upgrade to a paid plan to continue (the Sandbox plan has no overage billing)."}[pl.PriceUSD > 0],
				Headers: map[string]string{"Retry-After": strconv.Itoa(max(1, seconds(d.ResetIn(now))))}}
			if d.Pool == quota.PoolSandbox {
				e.Code = "SANDBOX_QUOTA_EXCEEDED"
				e.Message = "This organization used all " + strconv.FormatInt(d.Limit, 10) + " test-key requests of its sandbox pool this month. The pool resets on the 1st (UTC)."
			}
			return e
		}
		return next(c)
	}
}

// RecordUsage writes one usage record per authenticated request, whatever
// its outcome, after the response is written. The record is buffered: the
// request never waits for the database. Every refused request's record
// carries the error code its answer did: an error returned through the
// chain, one answered inside it (WriteError) and a replayed error answer
// (idempotency).
func (p *Pipeline) RecordUsage(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		// Data operations attribute what they disclose to this request.
		r := c.Request()
		c.SetRequest(r.WithContext(disclosure.WithRequest(r.Context(), &disclosure.Request{ID: logging.RequestID(r.Context()), Route: r.Method + " " + c.Path()})))
		record := func(status int, code string) {
			r := c.Request()
			pr := PrincipalOf(c)
			typ, _ := c.Get(keyType).(string)
			p.Usage.Add(usage.Record{
				Time: p.Now(), OrgID: pr.OrgID, KeyID: pr.KeyID, Env: string(pr.Env),
				Method: r.Method, Route: c.Path(), Status: status, Latency: time.Since(start),
				BytesIn: max(0, r.ContentLength), BytesOut: c.Response().Size, RequestID: logging.RequestID(r.Context()), Code: code,
				ResourceType: typ, ClientIP: c.RealIP(), UAFamily: usage.AgentFamily(r.UserAgent()),
			})
		}
		code := ""
		if err := next(c); err != nil {
			code = toError(err).Code
			c.Error(err)
		} else if s, ok := c.Get(keyErrorCode).(string); ok {
			code = s // an error answered inside the handler chain
		}
		record(c.Response().Status, code)
		return nil
	}
}

func seconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

// NotFound answers routes the API does not serve.
func NotFound(c echo.Context) error {
	return &Error{Status: 404, Code: "NOT_FOUND", Message: "No such endpoint. See /v1/metadata for what this server supports."}
}

// OrgPlans reads organizations' plans through a short-lived cache, so the
// rate limiter does not query the database on every request; and with
// them where their live data is (LiveDatastore).
type OrgPlans struct {
	// Lookup returns the organization's plan id, its rate-limit override
	// (0: the plan's limit) and its live datastore.
	Lookup func(ctx context.Context, orgID string) (OrgPlan, error)
	Now    func() time.Time
	TTL    time.Duration

	mu    sync.Mutex
	cache map[string]cachedPlan
}

// OrgPlan is what OrgPlans looks up of an organization.
type OrgPlan struct {
	Plan          string
	PerMinute     int
	LiveDatastore string
}

type cachedPlan struct {
	p    plan.Plan
	live string
	at   time.Time
}

func (o *OrgPlans) get(ctx context.Context, orgID string) (cachedPlan, error) {
	now := o.Now()
	o.mu.Lock()
	if o.cache == nil {
		o.cache = map[string]cachedPlan{}
	}
	c, ok := o.cache[orgID]
	o.mu.Unlock()
	if ok && now.Sub(c.at) < o.TTL {
		return c, nil
	}
	row, err := o.Lookup(ctx, orgID)
	if err != nil {
		return cachedPlan{}, err
	}
	p := plan.Of(row.Plan)
	if row.PerMinute > 0 {
		p.PerMinute = row.PerMinute
	}
	c = cachedPlan{p: p, live: row.LiveDatastore, at: now}
	o.mu.Lock()
	if len(o.cache) >= maxCachedPlans {
		// Bounded: expired entries go first, then everything.
		for id, old := range o.cache {
			if now.Sub(old.at) >= o.TTL {
				delete(o.cache, id)
			}
		}
		if len(o.cache) >= maxCachedPlans {
			clear(o.cache)
		}
	}
	o.cache[orgID] = c
	o.mu.Unlock()
	return c, nil
}

// maxCachedPlans bounds the organizations whose plan is kept (about 200
// bytes each): a cache of a few seconds needs only the active ones.
const maxCachedPlans = 10_000

// PlanOf implements PlanSource.
func (o *OrgPlans) PlanOf(ctx context.Context, orgID string) (plan.Plan, error) {
	c, err := o.get(ctx, orgID)
	return c.p, err
}

// LiveDatastore returns the name of the datastore the organization's live
// data is in (records.Placements).
func (o *OrgPlans) LiveDatastore(ctx context.Context, orgID string) (string, error) {
	c, err := o.get(ctx, orgID)
	return c.live, err
}

// Forget drops an organization's cached plan (after a plan change).
func (o *OrgPlans) Forget(orgID string) {
	o.mu.Lock()
	delete(o.cache, orgID)
	o.mu.Unlock()
}

// ForgetAll drops every cached plan (after missed invalidations). The map
// stays: a lookup in flight stores into it once it has read the plan.
func (o *OrgPlans) ForgetAll() {
	o.mu.Lock()
	clear(o.cache)
	o.mu.Unlock()
}
