package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/clinikapi/clinikapi/internal/quota"
	"github.com/clinikapi/clinikapi/internal/ratelimit"
)

// The API sets a dozen headers on every response. They are written with
// their canonical keys (what http.Header.Set computes on every call), and
// the values of one group share one backing array: one allocation a group
// instead of two a header. Each value slice has capacity 1, so a later
// Header.Add copies instead of writing into a neighbour.

// headerValues stores vals under keys (same length) in h.
func headerValues(h http.Header, keys []string, vals []string) {
	for i, k := range keys {
		h[k] = vals[i : i+1 : i+1]
	}
}

var rateLimitKeys = []string{"X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset"}

// setRateLimitHeaders reports the organization's rolling rate limit.
func setRateLimitHeaders(h http.Header, res ratelimit.Result) {
	headerValues(h, rateLimitKeys, []string{
		strconv.Itoa(res.Limit), strconv.Itoa(res.Remaining), strconv.Itoa(seconds(res.ResetAfter)),
	})
}

var (
	quotaKeys        = []string{"X-Quota-Limit", "X-Quota-Used", "X-Quota-Remaining", "X-Quota-Billable", "X-Quota-Reset"}
	quotaOverageKeys = append(quotaKeys[:len(quotaKeys):len(quotaKeys)], "X-Quota-Overage")
	sandboxKeys      = []string{"X-Sandbox-Limit", "X-Sandbox-Used", "X-Sandbox-Remaining"}
)

const unlimited = "unlimited"

// limitAndRemaining renders a pool's limit and what is left of it.
func limitAndRemaining(d quota.Decision) (string, string) {
	if d.Unlimited {
		return unlimited, unlimited
	}
	return strconv.FormatInt(d.Limit, 10), strconv.FormatInt(d.Remaining(), 10)
}

// setQuotaHeaders reports the monthly pool d counts against: X-Quota-Limit,
// -Used, -Remaining ("unlimited" on Enterprise), -Billable (this request
// is billed as overage), -Reset (seconds) and, past the pool with overage
// billing on, -Overage.
func setQuotaHeaders(h http.Header, d quota.Decision, now time.Time) {
	limit, remaining := limitAndRemaining(d)
	billable := strconv.FormatBool(d.Billable && !d.Unlimited)
	reset := strconv.Itoa(int(d.ResetIn(now).Seconds()))
	if d.Overage > 0 && !d.Unlimited {
		headerValues(h, quotaOverageKeys, []string{limit, strconv.FormatInt(d.Used, 10), remaining, billable, reset, strconv.FormatInt(d.Overage, 10)})
		return
	}
	headerValues(h, quotaKeys, []string{limit, strconv.FormatInt(d.Used, 10), remaining, billable, reset})
}

// setSandboxHeaders reports the sandbox pool of test traffic on paid plans.
func setSandboxHeaders(h http.Header, d quota.Decision) {
	limit, remaining := limitAndRemaining(d)
	headerValues(h, sandboxKeys, []string{limit, strconv.FormatInt(d.Used, 10), remaining})
}
