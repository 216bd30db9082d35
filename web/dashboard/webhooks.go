package dashboard

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/webhook"
	"github.com/clinikapi/clinikapi/views/components/form"
	"github.com/clinikapi/clinikapi/views/webhooks"
)

// Pages of outbound webhooks.
const (
	PageWebhooks    Page = "webhooks"
	PageWebhookLogs Page = "webhook-logs"
)

// overlapOptions are how long a rolled-out signing secret keeps signing;
// the values parse with time.ParseDuration and match webhook.Overlaps.
var overlapOptions = []form.Option{
	{Value: "0", Label: "Stops now"},
	{Value: "1h", Label: "Signs 1 more hour"},
	{Value: "24h", Label: "Signs 24 more hours"},
	{Value: "168h", Label: "Signs 7 more days"},
}

func webhookActor(a org.Actor) webhook.Actor {
	return webhook.Actor{OrgID: a.Org.ID, UserID: a.User.ID}
}

var envLabels = map[string]string{webhook.EnvBoth: "live and test", webhook.EnvLive: "live keys only", webhook.EnvTest: "test keys only"}

// webhooksView is what a Webhooks page shows besides the list.
type webhooksView struct {
	form   webhooks.CreateForm
	secret *webhooks.Secret
	notice string
}

func (h *Handler) webhooksPage(c echo.Context, a org.Actor, status int, v webhooksView) error {
	ctx := c.Request().Context()
	list, err := h.Webhooks.List(ctx, a.Org.ID)
	if err != nil {
		return err
	}
	now := h.clock()
	p := webhooks.Props{
		Shell: h.shell(c, a, PageWebhooks, "Webhooks", "Real-time notifications of every change to your data, signed with a secret only you and ClinikAPI know."),
		OrgID: a.Org.ID, Form: v.form, Secret: v.secret, Notice: v.notice, Overlaps: overlapOptions,
		LogsHref: "/o/" + a.Org.ID + "/analytics/webhooks",
	}
	if p.Form.Events == "" {
		p.Form.Events = "*"
	}
	if p.Tenants, err = h.tenantOptions(ctx, a, true); err != nil {
		return err
	}
	tenantNames := map[string]string{}
	for _, o := range p.Tenants {
		tenantNames[o.Value] = o.Label
	}
	if len(p.Tenants) > 0 {
		p.Tenants[0].Label = "Every tenant"
	}
	for _, e := range list {
		tenant := tenantNames[e.TenantID]
		if tenant == "" {
			tenant = e.TenantID
		}
		row := webhooks.Endpoint{
			ID: e.ID, URL: e.URL, Description: e.Description, Env: envLabels[e.Env], Tenant: tenant,
			Disabled: e.Disabled, Created: dateString(e.CreatedAt),
		}
		for i, ev := range e.Events {
			if i > 0 {
				row.Events += ", "
			}
			row.Events += ev
		}
		if e.OldSecret != "" && e.OldSecretUntil.After(now) {
			row.OldSecret = "until " + e.OldSecretUntil.UTC().Format("Jan 2, 15:04 UTC")
		}
		p.Endpoints = append(p.Endpoints, row)
	}
	return render(c, status, webhooks.Page(p))
}

// WebhooksPage lists the organization's endpoints.
func (h *Handler) WebhooksPage(c echo.Context) error {
	return h.webhooksPage(c, currentActor(c), http.StatusOK, webhooksView{})
}

// CreateWebhook registers an endpoint and shows its signing secret once.
// The secret goes into this response only: never a URL, a cookie or a log.
func (h *Handler) CreateWebhook(c echo.Context) error {
	a := currentActor(c)
	f := webhooks.CreateForm{URL: c.FormValue("url"), Description: c.FormValue("description"), Events: c.FormValue("events"), Env: c.FormValue("environment"),
		Tenant: c.FormValue("tenant")}
	e, secret, err := h.Webhooks.Create(c.Request().Context(), webhookActor(a), webhook.Input{URL: f.URL, Description: f.Description, Events: f.Events, Env: f.Env, TenantID: f.Tenant})
	if err != nil {
		fe, status, err := formErrors(err)
		if err != nil {
			return err
		}
		f.Errors = fe
		return h.webhooksPage(c, a, status, webhooksView{form: f})
	}
	return h.webhooksPage(c, a, http.StatusOK, webhooksView{secret: &webhooks.Secret{Title: "Your webhook's signing secret", URL: e.URL, Secret: secret}})
}

// webhookDone ends a change to an endpoint: back to the list with a
// message, or the list with the error.
func (h *Handler) webhookDone(c echo.Context, a org.Actor, err error, msg string) error {
	if err != nil {
		_, status, ferr := formErrors(err)
		if ferr != nil {
			return ferr
		}
		return h.webhooksPage(c, a, status, webhooksView{notice: errs.MessageOf(err)})
	}
	h.flash(c, msg)
	return redirect(c, "/o/"+a.Org.ID+"/webhooks")
}

// DisableWebhook stops deliveries to an endpoint until it is enabled.
func (h *Handler) DisableWebhook(c echo.Context) error {
	a := currentActor(c)
	err := h.Webhooks.SetDisabled(c.Request().Context(), webhookActor(a), c.Param("hook"), true)
	return h.webhookDone(c, a, err, "Webhook disabled. Its pending deliveries wait until you enable it.")
}

// EnableWebhook resumes deliveries to an endpoint.
func (h *Handler) EnableWebhook(c echo.Context) error {
	a := currentActor(c)
	err := h.Webhooks.SetDisabled(c.Request().Context(), webhookActor(a), c.Param("hook"), false)
	return h.webhookDone(c, a, err, "Webhook enabled.")
}

// DeleteWebhook removes an endpoint with its delivery log.
func (h *Handler) DeleteWebhook(c echo.Context) error {
	a := currentActor(c)
	if c.FormValue("confirm") != "yes" {
		return h.webhooksPage(c, a, http.StatusUnprocessableEntity, webhooksView{notice: "Tick the box to confirm the deletion."})
	}
	err := h.Webhooks.Delete(c.Request().Context(), webhookActor(a), c.Param("hook"))
	return h.webhookDone(c, a, err, "Webhook deleted.")
}

// SendTestWebhook queues a webhook.test event for an endpoint.
func (h *Handler) SendTestWebhook(c echo.Context) error {
	a := currentActor(c)
	_, err := h.Webhooks.SendTest(c.Request().Context(), webhookActor(a), c.Param("hook"))
	return h.webhookDone(c, a, err, "Test event queued. It appears in the delivery log within seconds.")
}

// RollWebhookSecret gives an endpoint a new signing secret, shown once;
// the current one keeps signing beside it for the chosen overlap.
func (h *Handler) RollWebhookSecret(c echo.Context) error {
	a := currentActor(c)
	overlap, perr := time.ParseDuration(c.FormValue("overlap"))
	if perr != nil {
		overlap = -1 // refused by the service with the choices
	}
	ctx := c.Request().Context()
	secret, err := h.Webhooks.RollSecret(ctx, webhookActor(a), c.Param("hook"), overlap)
	if err != nil {
		return h.webhookDone(c, a, err, "")
	}
	e, err := h.Webhooks.Endpoint(ctx, a.Org.ID, c.Param("hook"))
	if err != nil {
		return err
	}
	note := "The previous secret stopped signing. Deploy the new one now."
	if overlap > 0 {
		note = "Until " + h.clock().UTC().Add(overlap).Format("Jan 2, 2006 15:04 UTC") + " deliveries carry a signature with each secret (two v1= values, the new one first), so either verifies; X-Clinik-Signature stays on the previous secret until then."
	}
	return h.webhooksPage(c, a, http.StatusOK, webhooksView{secret: &webhooks.Secret{Title: "New signing secret", URL: e.URL, Secret: secret, Note: note}})
}

// WebhookLogs is Analytics → Webhook logs: every attempt, filtered by
// endpoint, event and status, newest first.
func (h *Handler) WebhookLogs(c echo.Context) error {
	return h.webhookLogs(c, currentActor(c), http.StatusOK, "")
}

func (h *Handler) webhookLogs(c echo.Context, a org.Actor, status int, notice string) error {
	ctx := c.Request().Context()
	base := "/o/" + a.Org.ID + "/analytics/webhooks"
	q := c.QueryParams()
	f := webhook.AttemptFilter{OrgID: a.Org.ID, EndpointID: q.Get("endpoint"), Event: q.Get("event"), Outcome: webhook.Status(q.Get("status")), Limit: 50}
	if b, err := time.Parse(time.RFC3339Nano, q.Get("before")); err == nil {
		f.Before = b
	}
	list, err := h.Webhooks.List(ctx, a.Org.ID)
	if err != nil {
		return err
	}
	urls := map[string]string{}
	filters := webhooks.LogFilters{Action: base, Endpoint: f.EndpointID, Event: f.Event, Outcome: string(f.Outcome),
		Endpoints: []form.Option{{Value: "", Label: "All endpoints"}}}
	for _, e := range list {
		urls[e.ID] = e.URL
		filters.Endpoints = append(filters.Endpoints, form.Option{Value: e.ID, Label: e.URL})
	}
	attempts, err := h.Webhooks.Attempts(ctx, f)
	if err != nil {
		return err
	}
	p := webhooks.LogProps{
		Shell:   h.shell(c, a, PageWebhookLogs, "Webhook logs", "Every delivery attempt to your endpoints, with the answer it got."),
		Filters: filters, Filtered: f.EndpointID != "" || f.Event != "" || f.Outcome != "", Notice: notice,
	}
	for _, at := range attempts {
		row := webhooks.Attempt{
			Time: at.At.UTC().Format("2006-01-02 15:04:05"), Endpoint: urls[at.EndpointID], Event: at.Event, EventID: at.EventID,
			Attempt: at.Attempt, Outcome: string(at.Outcome), Status: "—", Latency: latencyString(at.Latency),
			Response: at.Response, Error: at.Error, RedeliverHref: base + "/" + at.DeliveryID + "/redeliver",
		}
		if at.StatusCode != 0 {
			row.Status = strconv.Itoa(at.StatusCode)
		}
		if !at.NextAttemptAt.IsZero() {
			row.Next = at.NextAttemptAt.UTC().Format("15:04:05")
		}
		p.Attempts = append(p.Attempts, row)
	}
	if len(attempts) == f.Limit {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("before", attempts[len(attempts)-1].At.UTC().Format(time.RFC3339Nano))
		p.NextHref = base + "?" + next.Encode()
	}
	return render(c, status, webhooks.Log(p))
}

func latencyString(d time.Duration) string {
	if d <= 0 {
		return "—"
	}
	if d < time.Millisecond {
		return "<1 ms"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
}

// RedeliverWebhook sends a delivery again (same payload and delivery id),
// with a fresh retry schedule.
func (h *Handler) RedeliverWebhook(c echo.Context) error {
	a := currentActor(c)
	if err := h.Webhooks.Redeliver(c.Request().Context(), webhookActor(a), c.Param("delivery")); err != nil {
		_, status, ferr := formErrors(err)
		if ferr != nil {
			return ferr
		}
		return h.webhookLogs(c, a, status, errs.MessageOf(err))
	}
	h.flash(c, "Delivery queued again. The new attempt appears here within seconds.")
	return redirect(c, "/o/"+a.Org.ID+"/analytics/webhooks")
}
