package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/analytics"
	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/usage"
	av "github.com/clinikapi/clinikapi/views/analytics"
	"github.com/clinikapi/clinikapi/views/components/alert"
	"github.com/clinikapi/clinikapi/views/keys"
)

// keyPageView is what a key's page shows besides the key itself.
type keyPageView struct {
	details  *keys.DetailsForm
	restrict *keys.RestrictForm
	leak     *keys.LeakReport
	secret   *keys.Secret
	notice   string
	saved    string
}

// leakListMax bounds the requests the leaked-key report lists on the page.
const leakListMax = 500

func grantLabels(gs []apikey.Grant) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.Type + " (" + apikey.Scope(g.Scope).Label() + ")"
	}
	return out
}

func requestRows(rs []usage.Record) []keys.Request {
	out := make([]keys.Request, len(rs))
	for i, r := range rs {
		out[i] = keys.Request{Time: r.Time.UTC().Format(time.RFC3339), Method: r.Method, Route: r.Route, Type: r.ResourceType,
			Status: strconv.Itoa(r.Status), IP: r.ClientIP, Agent: r.UAFamily}
	}
	return out
}

// auditDetail writes an event's details in a stable order.
func auditDetail(d map[string]string) string {
	names := make([]string, 0, len(d))
	for k := range d {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		if d[k] == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(strings.ReplaceAll(k, "_", " ") + ": " + d[k])
	}
	return b.String()
}

// keyPage renders a key's own page.
func (h *Handler) keyPage(c echo.Context, a org.Actor, status int, v keyPageView) error {
	ctx := c.Request().Context()
	k, hint, err := h.Keys.Hint(ctx, a.Org.ID, c.Param("key"))
	if err != nil {
		return err
	}
	now := h.clock()
	by := &creators{h: h, ctx: ctx, names: map[string]string{}}
	row := h.keyRow(k, now, by)
	if k.OldSecretUntil.After(now) && k.RevokedAt.IsZero() {
		row.OldSecretUntil = k.OldSecretUntil.UTC().Format("Jan 2, 2006 15:04 UTC")
	}
	p := keys.KeyPageProps{
		Shell: h.shell(c, a, PageKeys, k.Name, "An API key: its restrictions, usage and history."),
		OrgID: a.Org.ID, Key: row, Notes: k.Notes, Grants: grantLabels(k.Grants), AllowIPs: k.AllowIPs,
		Editable: k.RevokedAt.IsZero(), Disabled: !k.DisabledAt.IsZero(),
		Leak: v.leak, Secret: v.secret, Notice: v.notice, Saved: v.saved,
		LeakSince: now.UTC().Add(-7 * 24 * time.Hour).Format("2006-01-02T15:04"),
	}
	if k.PerMinute > 0 {
		p.PerMinute = strconv.Itoa(k.PerMinute) + " per minute"
	}
	if v.details != nil {
		p.Details = *v.details
	} else {
		p.Details = keys.DetailsForm{Name: k.Name, Notes: k.Notes}
		if !k.ExpiresAt.IsZero() {
			p.Details.ExpiresAt = k.ExpiresAt.UTC().Format(time.DateOnly)
		}
	}
	p.Details.MinDate = now.UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	if v.restrict != nil {
		p.Restrict = *v.restrict
	} else {
		r := apikey.RestrictionsOf(k)
		p.Restrict = keys.RestrictForm{Scope: string(r.Scope), ResourceTypes: r.ResourceTypes, AllowIPs: r.AllowIPs}
		if r.PerMinute > 0 {
			p.Restrict.PerMinute = strconv.Itoa(r.PerMinute)
		}
	}
	if pl, err := h.Keys.PlanLimit(ctx, a.Org.ID); err == nil {
		p.Restrict.PlanLimit = thousands(int64(pl))
	}
	p.Hint = keys.HintView{Requests: thousands(hint.Requests), Scope: string(hint.Scope), Grants: grantLabels(hint.Grants),
		Narrower: hint.Narrower, Unused: hint.Requests == 0}

	recent, _, err := h.Analytics.RequestLog(ctx, analytics.LogFilter{OrgID: a.Org.ID, KeyID: k.ID, Limit: 20})
	if err != nil {
		return err
	}
	p.Requests = requestRows(recent)
	if len(recent) > 0 {
		p.LastUsedIP, p.LastAgent = recent[0].ClientIP, recent[0].UAFamily
	}
	if err := h.keyUsageChart(ctx, a.Org.ID, k.ID, now, &p); err != nil {
		return err
	}
	events, err := h.Audit.List(ctx, audit.Filter{OrgID: a.Org.ID, TargetID: k.ID, Limit: 50})
	if err != nil {
		return err
	}
	for _, e := range events {
		actor := "system"
		if e.ActorType == audit.ActorUser {
			actor = by.name(e.ActorID)
		}
		p.Audit = append(p.Audit, keys.AuditRow{Time: e.CreatedAt.UTC().Format(time.RFC3339), Action: e.Action, Actor: actor, Detail: auditDetail(e.Detail)})
	}
	return render(c, status, keys.KeyPage(p))
}

// keyUsageChart is the key's requests per day over the last 30 days.
func (h *Handler) keyUsageChart(ctx context.Context, orgID, keyID string, now time.Time, p *keys.KeyPageProps) error {
	from := analytics.Day.Floor(now.Add(-apikey.HintWindow))
	ov, err := h.Analytics.Overview(ctx, analytics.Query{OrgID: orgID, KeyID: keyID, Grain: analytics.Day, From: from, To: now})
	if err != nil {
		return err
	}
	var times []time.Time
	for _, pt := range ov.Series {
		times = append(times, pt.Time)
	}
	ticks := av.TimeTicks(times, analytics.Day.Width(), 0, "Jan 2")
	var pts []av.StackPoint
	for i, pt := range ov.Series {
		pts = append(pts, av.StackPoint{Label: ticks[i], Values: []int64{pt.S2xx, pt.S4xx, pt.S5xx},
			Title: fmt.Sprintf("%s: %s requests", pt.Time.Format("Jan 2"), thousands(pt.Requests))})
	}
	p.UsageTotal = thousands(ov.Total.Requests)
	p.Usage = av.Stacked(av.Wide, "chart-key-usage", "Requests per day by status class", p.UsageTotal+" requests in the last 30 days", pts, av.StatusFills, av.StatusLegend)
	return nil
}

// KeyPage shows one key.
func (h *Handler) KeyPage(c echo.Context) error {
	return h.keyPage(c, currentActor(c), http.StatusOK, keyPageView{})
}

// backToKey answers a change made on a key's page: the page again.
func (h *Handler) backToKey(c echo.Context, a org.Actor, msg string) error {
	h.flash(c, msg)
	return redirect(c, "/o/"+a.Org.ID+"/keys/"+c.Param("key"))
}

// keyChangeFailed shows a failed change on the page, or the error page
// for what is not a form error.
func (h *Handler) keyChangeFailed(c echo.Context, a org.Actor, err error, v keyPageView, fe *map[string]string) error {
	errsByField, status, ferr := formErrors(err)
	if ferr != nil {
		return ferr
	}
	if fe != nil {
		*fe = errsByField
	}
	if len(errsByField) == 0 || fe == nil {
		v.notice = errs.MessageOf(err)
	}
	return h.keyPage(c, a, status, v)
}

// EditKey renames a key and changes its notes and expiry.
func (h *Handler) EditKey(c echo.Context) error {
	a := currentActor(c)
	f := keys.DetailsForm{Name: c.FormValue("name"), Notes: c.FormValue("notes"), ExpiresAt: strings.TrimSpace(c.FormValue("expires_at"))}
	d := apikey.Details{Name: f.Name, Notes: f.Notes}
	var err error
	if f.ExpiresAt != "" {
		if d.ExpiresAt, err = time.Parse(time.DateOnly, f.ExpiresAt); err != nil {
			err = errs.FieldError("expires_at", "Enter the expiry as a date (YYYY-MM-DD), or leave it empty.")
		}
	}
	if err == nil {
		_, err = h.Keys.Edit(c.Request().Context(), apiKeyActor(a), c.Param("key"), d)
	}
	if err != nil {
		return h.keyChangeFailed(c, a, err, keyPageView{details: &f}, (*map[string]string)(&f.Errors))
	}
	return h.backToKey(c, a, "Key saved.")
}

// RestrictKey sets a key's scope, resource types, allowlist and own limit.
func (h *Handler) RestrictKey(c echo.Context) error {
	a := currentActor(c)
	f := keys.RestrictForm{Scope: c.FormValue("scope"), ResourceTypes: c.FormValue("resource_types"), AllowIPs: c.FormValue("ip_allowlist"), PerMinute: strings.TrimSpace(c.FormValue("per_minute"))}
	r := apikey.Restrictions{Scope: apikey.Scope(f.Scope), ResourceTypes: f.ResourceTypes, AllowIPs: f.AllowIPs}
	var err error
	if f.PerMinute != "" {
		if r.PerMinute, err = strconv.Atoi(f.PerMinute); err != nil || r.PerMinute < 1 {
			err = errs.FieldError("per_minute", "Enter a rate limit of 1 or more requests per minute, or leave it empty.")
		}
	}
	if err == nil {
		_, err = h.Keys.Restrict(c.Request().Context(), apiKeyActor(a), c.Param("key"), r, "")
	}
	if err != nil {
		return h.keyChangeFailed(c, a, err, keyPageView{restrict: &f}, (*map[string]string)(&f.Errors))
	}
	return h.backToKey(c, a, "Restrictions saved. They hold from the next request on.")
}

// ApplyKeyHint restricts a key to what its last 30 days of usage needed.
func (h *Handler) ApplyKeyHint(c echo.Context) error {
	a := currentActor(c)
	if _, err := h.Keys.ApplyHint(c.Request().Context(), apiKeyActor(a), c.Param("key")); err != nil {
		return h.keyChangeFailed(c, a, err, keyPageView{}, nil)
	}
	return h.backToKey(c, a, "The key is restricted to what it used in the last 30 days.")
}

// DisableKey disables or enables a key (disabled=true|false).
func (h *Handler) DisableKey(c echo.Context) error {
	a := currentActor(c)
	disabled := c.FormValue("disabled") != "false"
	if _, err := h.Keys.SetDisabled(c.Request().Context(), apiKeyActor(a), c.Param("key"), disabled); err != nil {
		return h.keyChangeFailed(c, a, err, keyPageView{}, nil)
	}
	if disabled {
		return h.backToKey(c, a, "Key disabled: its requests are refused (KEY_DISABLED) until you enable it.")
	}
	return h.backToKey(c, a, "Key enabled.")
}

// LeakedKey answers "I leaked this key": the leaked secret stops at once
// (a roll without grace, or a revoke), and the page lists every request
// made with the key since the chosen time.
func (h *Handler) LeakedKey(c echo.Context) error {
	a := currentActor(c)
	ctx := c.Request().Context()
	since, perr := time.Parse("2006-01-02T15:04", strings.TrimSpace(c.FormValue("since")))
	if perr != nil {
		return h.keyPage(c, a, http.StatusUnprocessableEntity, keyPageView{notice: "Choose since when the key may have been leaked (a date and time, UTC)."})
	}
	do := apikey.LeakResponse(c.FormValue("response"))
	cr, err := h.Keys.Leaked(ctx, apiKeyActor(a), c.Param("key"), do, since)
	if err != nil {
		return h.keyChangeFailed(c, a, err, keyPageView{}, nil)
	}
	rep := &keys.LeakReport{Since: since.UTC().Format("Jan 2, 2006 15:04 UTC"), Response: string(do)}
	var rs []usage.Record
	f := analytics.LogFilter{OrgID: a.Org.ID, KeyID: c.Param("key"), From: since}
	if rep.More, err = h.Analytics.EachRequest(ctx, f, leakListMax, func(r usage.Record) error {
		rs = append(rs, r)
		return nil
	}); err != nil {
		return err
	}
	rep.Requests = requestRows(rs)
	if rep.More {
		q := url.Values{"key": {c.Param("key")}, "range": {"custom"}, "from": {since.UTC().Format(customLayout)},
			"to": {h.clock().UTC().Add(time.Minute).Format(customLayout)}}
		rep.MoreHref, rep.Listed = "/o/"+a.Org.ID+"/requests?"+q.Encode(), thousands(leakListMax)
	}
	v := keyPageView{leak: rep}
	if do == apikey.LeakRoll {
		v.secret = h.secretView("New secret for "+cr.Key.Name, cr)
		v.secret.Note, v.secret.NoteKind = "The leaked secret stopped working. Deploy this one wherever the key is used.", alert.Warning
	} else {
		v.saved = "Key revoked. Requests with it are refused from now on."
	}
	return h.keyPage(c, a, http.StatusOK, v)
}
