package dashboard

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/org"
	auditview "github.com/clinikapi/clinikapi/views/audit"
	"github.com/clinikapi/clinikapi/views/components/form"
)

const auditPageSize = 50

const dateLayout = "2006-01-02"

// auditFilter reads the audit log's filters: actor, action, and a date
// range (UTC days, both inclusive).
func auditFilter(c echo.Context) audit.Filter {
	f := audit.Filter{Actor: c.QueryParam("actor"), Action: strings.TrimSpace(c.QueryParam("action")), Category: c.QueryParam("category"), Tenant: c.QueryParam("tenant")}
	if t, err := time.Parse(dateLayout, c.QueryParam("from")); err == nil {
		f.After = t
	}
	if t, err := time.Parse(dateLayout, c.QueryParam("to")); err == nil {
		f.Before = t.AddDate(0, 0, 1)
	}
	return f
}

// actorNames maps user ids to e-mail addresses, and API key ids to the
// keys' names, for display.
type actorNames struct {
	h     *Handler
	names map[string]string
	keys  map[string]string // loaded on the first api_key actor
}

func (n *actorNames) of(ctx context.Context, e audit.Event) string {
	if e.ActorType == audit.ActorAPIKey && e.ActorID != "" {
		if n.keys == nil {
			n.keys = map[string]string{}
			ks, err := n.h.Keys.List(ctx, e.OrgID)
			if err != nil {
				n.h.Log.WarnContext(ctx, "audit log: listing API keys failed", "err", err)
			}
			for _, k := range ks {
				n.keys[k.ID] = k.Name
			}
		}
		if name := n.keys[e.ActorID]; name != "" {
			return "API key " + name + " (" + e.ActorID + ")"
		}
		return "API key " + e.ActorID
	}
	if e.ActorType != audit.ActorUser {
		if e.ActorType == audit.ActorSystem && e.ActorID != "" {
			return "system (" + e.ActorID + ")"
		}
		return string(e.ActorType)
	}
	if name, ok := n.names[e.ActorID]; ok {
		return name
	}
	n.names[e.ActorID] = e.ActorID
	if u, err := n.h.Accounts.FindUser(ctx, e.ActorID); err == nil {
		n.names[e.ActorID] = u.Email
	}
	return n.names[e.ActorID]
}

// AuditLog lists the organization's audit trail, newest first.
func (h *Handler) AuditLog(c echo.Context) error {
	a := currentActor(c)
	ctx := c.Request().Context()
	f := auditFilter(c)
	f.Limit = auditPageSize + 1
	if b := c.QueryParam("before"); b != "" {
		if t, err := time.Parse(time.RFC3339Nano, b); err == nil {
			f.Before, f.BeforeID = t, c.QueryParam("before_id")
		}
	}
	events, err := h.Orgs.AuditLog(ctx, a, h.Audit, f)
	if err != nil {
		return err
	}
	base := "/o/" + a.Org.ID + "/audit"
	filters := url.Values{}
	for _, k := range []string{"actor", "action", "category", "tenant", "from", "to"} {
		if v := c.QueryParam(k); v != "" {
			filters.Set(k, v)
		}
	}
	p := auditview.Props{Shell: h.shell(c, a, PageAudit, "Audit log", ""),
		Filters: auditview.Filters{Action: base, Actor: f.Actor, ActionName: f.Action, From: c.QueryParam("from"), To: c.QueryParam("to"),
			Actors: h.auditActors(ctx, a), Category: f.Category, Categories: auditCategories(), Tenant: f.Tenant},
		Filtered: len(filters) > 0,
	}
	if p.Filters.Tenants, err = h.tenantOptions(ctx, a, false); err != nil {
		return err
	}
	csvQ, ndQ := url.Values{}, url.Values{}
	for k, v := range filters {
		csvQ[k], ndQ[k] = v, v
	}
	csvQ.Set("format", "csv")
	ndQ.Set("format", "ndjson")
	p.CSVHref, p.NDJSONHref = base+"/export?"+csvQ.Encode(), base+"/export?"+ndQ.Encode()
	if len(events) > auditPageSize {
		events = events[:auditPageSize]
		last := events[len(events)-1]
		more := url.Values{}
		for k, v := range filters {
			more[k] = v
		}
		more.Set("before", last.CreatedAt.UTC().Format(time.RFC3339Nano))
		more.Set("before_id", last.ID)
		p.MoreHref = base + "?" + more.Encode()
	}
	names := &actorNames{h: h, names: map[string]string{}}
	for _, e := range events {
		target := e.TargetType
		if e.TargetID != "" {
			target += " " + e.TargetID
		}
		p.Events = append(p.Events, auditview.Event{
			Time: e.CreatedAt.UTC().Format("2006-01-02 15:04:05"), Actor: names.of(ctx, e), Action: e.Action, Target: target,
			IP: e.IP, Success: e.Outcome == audit.Success, Detail: audit.DetailString(e.Detail),
		})
	}
	return render(c, http.StatusOK, auditview.Page(p))
}

// auditActors lists who can be filtered on: the members, and the system.
func (h *Handler) auditActors(ctx context.Context, a org.Actor) []form.Option {
	out := []form.Option{{Value: "", Label: "Anyone"}}
	ms, _, err := h.Orgs.Members(ctx, a)
	if err != nil {
		h.Log.WarnContext(ctx, "audit log: listing members failed", "err", err)
		return out
	}
	for _, m := range ms {
		out = append(out, form.Option{Value: m.UserID, Label: m.Email})
	}
	return out
}

// auditExportBatch is how many events each query of an export reads.
const auditExportBatch = 500

// AuditExport streams the filtered audit trail as CSV or NDJSON. The
// export itself is recorded in the trail first.
func (h *Handler) AuditExport(c echo.Context) error {
	a := currentActor(c)
	ctx := c.Request().Context()
	format := c.QueryParam("format")
	if format != "csv" && format != "ndjson" {
		return errs.FieldError("format", "Choose csv or ndjson.")
	}
	f := auditFilter(c)
	detail := map[string]string{"format": format}
	for _, k := range []string{"actor", "action", "category", "tenant", "from", "to"} {
		if v := c.QueryParam(k); v != "" {
			detail[k] = v
		}
	}
	h.Audit.Record(ctx, audit.Event{OrgID: a.Org.ID, ActorType: audit.ActorUser, ActorID: a.User.ID, Action: audit.AuditLogExported,
		TargetType: "organization", TargetID: a.Org.ID, Detail: detail})

	name := "audit-log-" + a.Org.ID + "-" + h.Now().UTC().Format("20060102-150405")
	res := c.Response()
	res.Header().Set("Cache-Control", "no-store")
	if format == "csv" {
		res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
		res.Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`.csv"`)
	} else {
		res.Header().Set(echo.HeaderContentType, "application/x-ndjson")
		res.Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`.ndjson"`)
	}
	res.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(res)
	enc := json.NewEncoder(res)
	if format == "csv" {
		cw.Write(audit.ExportColumns)
	}
	names := &actorNames{h: h, names: map[string]string{}}
	f.Limit = auditExportBatch
	for {
		events, err := h.Orgs.AuditLog(ctx, a, h.Audit, f)
		if err != nil {
			// Headers are gone; end the stream where it is.
			h.Log.ErrorContext(ctx, "audit export failed", "err", err)
			return nil
		}
		for _, e := range events {
			r := audit.Export(e, names.of(ctx, e))
			if format == "csv" {
				cw.Write(r.CSV())
			} else {
				enc.Encode(r)
			}
		}
		cw.Flush()
		res.Flush()
		if len(events) < f.Limit {
			return nil
		}
		last := events[len(events)-1]
		f.Before, f.BeforeID = last.CreatedAt, last.ID
	}
}

// auditCategories are the choices of the audit log's category filter.
func auditCategories() []form.Option {
	out := []form.Option{{Value: "", Label: "All events"}}
	for _, c := range audit.Categories {
		out = append(out, form.Option{Value: c.ID, Label: c.Label})
	}
	return out
}
