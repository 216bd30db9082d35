package dashboard

import (
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/audit"
	auditview "github.com/clinikapi/clinikapi/views/audit"
)

const auditPageSize = 50

// AuditLog lists the organization's audit trail, newest first.
func (h *Handler) AuditLog(c echo.Context) error {
	a := currentActor(c)
	ctx := c.Request().Context()
	f := audit.Filter{Limit: auditPageSize + 1}
	if b := c.QueryParam("before"); b != "" {
		if t, err := time.Parse(time.RFC3339Nano, b); err == nil {
			f.Before = t
		}
	}
	events, err := h.Orgs.AuditLog(ctx, a, h.Audit, f)
	if err != nil {
		return err
	}
	p := auditview.Props{Shell: h.shell(c, a, PageAudit, "Audit log", "")}
	if len(events) > auditPageSize {
		events = events[:auditPageSize]
		p.MoreHref = "/o/" + a.Org.ID + "/audit?before=" + events[len(events)-1].CreatedAt.UTC().Format(time.RFC3339Nano)
	}
	names := map[string]string{}
	for _, e := range events {
		actor := string(e.ActorType)
		if e.ActorType == audit.ActorUser {
			if _, ok := names[e.ActorID]; !ok {
				names[e.ActorID] = e.ActorID
				if u, err := h.Accounts.FindUser(ctx, e.ActorID); err == nil {
					names[e.ActorID] = u.Email
				}
			}
			actor = names[e.ActorID]
		}
		target := e.TargetType
		if e.TargetID != "" {
			target += " " + e.TargetID
		}
		p.Events = append(p.Events, auditview.Event{
			Time: e.CreatedAt.UTC().Format("2006-01-02 15:04:05"), Actor: actor, Action: e.Action, Target: target,
			IP: e.IP, Success: e.Outcome == audit.Success, Detail: detailString(e.Detail),
		})
	}
	return render(c, http.StatusOK, auditview.Page(p))
}

func detailString(d map[string]string) string {
	if len(d) == 0 {
		return ""
	}
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + d[k]
	}
	return strings.Join(parts, " ")
}
