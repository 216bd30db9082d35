package dashboard

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/analytics"
	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/usage"
	av "github.com/clinikapi/clinikapi/views/analytics"
	"github.com/clinikapi/clinikapi/views/components/form"
)

const requestPageSize = 50

// RequestLog lists the organization's API requests, newest first, with
// filters and an opaque cursor.
func (h *Handler) RequestLog(c echo.Context) error {
	a := currentActor(c)
	ctx := c.Request().Context()
	now := h.Now().UTC()
	tr := parseRange(c, now, "")
	f := analytics.LogFilter{OrgID: a.Org.ID, Limit: requestPageSize,
		Method: strings.ToUpper(c.QueryParam("method")), Route: c.QueryParam("route"), KeyID: c.QueryParam("key"), Tenant: c.QueryParam("tenant"),
		Env: c.QueryParam("env"), Code: c.QueryParam("code"), From: tr.Start, To: tr.End,
		RequestID: strings.TrimSpace(c.QueryParam("request_id")), BeforeID: analytics.DecodeCursor(c.QueryParam("cursor"))}
	if f.Env != "test" && f.Env != "live" {
		f.Env = ""
	}
	status := c.QueryParam("status")
	if n, err := strconv.Atoi(status); err == nil && n >= 2 && n <= 5 {
		f.StatusClass = n
	} else if status == "err" {
		f.Errors = true
	} else {
		status = ""
	}
	recs, next, err := h.Analytics.RequestLog(ctx, f)
	if err != nil {
		return err
	}
	_, byID, options, err := h.orgKeys(ctx, a.Org.ID)
	if err != nil {
		return err
	}
	base := "/o/" + a.Org.ID + "/requests"
	lf := av.LogFilters{Action: base, Status: status, Method: f.Method, Route: f.Route, Key: f.KeyID, RequestID: f.RequestID,
		Env: f.Env, Code: f.Code, Range: tr.Range, From: tr.From, To: tr.To, Tenant: f.Tenant,
		Keys: append([]form.Option{{Value: "", Label: "All keys"}}, options...), Routes: []form.Option{{Value: "", Label: "Any route"}},
		Codes: []form.Option{{Value: "", Label: "Any error code"}}}
	if lf.Tenants, err = h.tenantOptions(ctx, a, true); err != nil {
		return err
	}
	// The route patterns and error codes of the last 90 days.
	all := analytics.Query{OrgID: a.Org.ID, Grain: analytics.Day, From: now.Add(-analytics.RawRetention), To: now}
	ov, err := h.Analytics.Overview(ctx, all)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	var routes []string
	for _, r := range ov.Routes {
		if !seen[r.Route] {
			seen[r.Route] = true
			routes = append(routes, r.Route)
		}
	}
	sort.Strings(routes)
	for _, r := range routes {
		lf.Routes = append(lf.Routes, form.Option{Value: r, Label: r})
	}
	codes, err := h.Analytics.ErrorCodes(ctx, all)
	if err != nil {
		return err
	}
	known := false
	for _, cc := range codes {
		lf.Codes = append(lf.Codes, form.Option{Value: cc.Code, Label: cc.Code})
		known = known || cc.Code == f.Code
	}
	if f.Code != "" && !known { // a code from a link, not seen lately
		lf.Codes = append(lf.Codes, form.Option{Value: f.Code, Label: f.Code})
	}
	p := av.LogProps{
		Shell:    h.shell(c, a, PageRequests, "Request log", "Every API request made with this organization's keys."),
		Filters:  lf,
		Filtered: status != "" || f.Method != "" || f.Route != "" || f.KeyID != "" || f.RequestID != "" || f.Env != "" || f.Code != "" || tr.Range != "" || f.Tenant != "",
	}
	for _, r := range recs {
		p.Requests = append(p.Requests, requestView(base, r, byID))
	}
	q := c.QueryParams()
	if next != "" {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		if _, preset := analytics.Ranges[tr.Range]; preset {
			// Older pages keep the window this one was read in, not one
			// that moves on with the clock.
			nq.Set("range", "custom")
			nq.Set("from", tr.From)
			nq.Set("to", tr.End.Add(time.Minute-time.Nanosecond).Format(customLayout))
		}
		nq.Set("cursor", next)
		p.NextHref = base + "?" + nq.Encode()
	}
	if q.Get("cursor") != "" {
		fq := url.Values{}
		for k, v := range q {
			fq[k] = v
		}
		fq.Del("cursor")
		p.FirstHref = base + "?" + fq.Encode()
	}
	return render(c, http.StatusOK, av.RequestLog(p))
}

// RequestDetail shows one request's metadata.
func (h *Handler) RequestDetail(c echo.Context) error {
	a := currentActor(c)
	ctx := c.Request().Context()
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return errs.E(errs.NotFound, "No such request in this organization's log.")
	}
	r, err := h.Analytics.Request(ctx, a.Org.ID, id)
	if err != nil {
		return err
	}
	_, byID, _, err := h.orgKeys(ctx, a.Org.ID)
	if err != nil {
		return err
	}
	base := "/o/" + a.Org.ID + "/requests"
	return render(c, http.StatusOK, av.RequestDetail(av.RequestDetailProps{
		Shell:   h.shell(c, a, PageRequests, "Request "+r.RequestID, ""),
		Request: requestView(base, r, byID),
		Back:    base,
	}))
}

func requestView(base string, r usage.Record, keys map[string]apikey.Key) av.Request {
	v := av.Request{
		Href: base + "/" + strconv.FormatInt(r.ID, 10), Time: r.Time.UTC().Format("2006-01-02 15:04:05.000"),
		Method: r.Method, Route: r.Route, Status: r.Status, Latency: ms(r.Latency), Key: r.KeyID, Env: r.Env,
		RequestID: r.RequestID, Code: r.Code, BytesIn: bytesString(r.BytesIn), BytesOut: bytesString(r.BytesOut),
	}
	if k, ok := keys[r.KeyID]; ok {
		v.Key, v.KeyPrefix = k.Name, k.Prefix+"…"
	}
	return v
}
