package dashboard

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/disclosure"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/views/compliance"
)

// PageAccessReport is Settings → Patient access report.
const PageAccessReport Page = "access-report"

// AuditAccessReportExported is the audit action of a report's export.
const AuditAccessReportExported = "access_report.exported"

const accessPageSize = 100

// fhirID is the form of a FHIR resource id.
var fhirID = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

// accessFilter reads the report's patient and period; a bad patient id is
// its message.
func accessFilter(c echo.Context, orgID string) (disclosure.Filter, string) {
	f := disclosure.Filter{OrgID: orgID, PatientID: strings.TrimPrefix(strings.TrimSpace(c.QueryParam("patient")), "Patient/")}
	if t, err := time.Parse(dateLayout, c.QueryParam("from")); err == nil {
		f.After = t
	}
	if t, err := time.Parse(dateLayout, c.QueryParam("to")); err == nil {
		f.Before = t.AddDate(0, 0, 1)
	}
	if f.PatientID != "" && !fhirID.MatchString(f.PatientID) {
		return f, "A patient id is 1 to 64 letters, digits, '-' or '.'."
	}
	return f, ""
}

// discloser names who a disclosure was made to: an API key (its name,
// id), a member (e-mail), the system.
func (n *actorNames) discloser(ctx context.Context, orgID string, d disclosure.Disclosure) string {
	who := n.of(ctx, audit.Event{OrgID: orgID, ActorType: audit.ActorType(d.ActorType), ActorID: d.ActorID})
	if d.BulkJob != "" {
		who += ", bulk job " + d.BulkJob
	}
	return who
}

// AccessReport shows which keys and members accessed one patient's
// resources in a period.
func (h *Handler) AccessReport(c echo.Context) error {
	a := currentActor(c)
	ctx := c.Request().Context()
	base := "/o/" + a.Org.ID + "/compliance/access"
	f, bad := accessFilter(c, a.Org.ID)
	p := compliance.Props{Shell: h.shell(c, a, PageAccessReport, "Patient access report", "Accounting of disclosures: who accessed a patient's record."),
		Action: base, Patient: c.QueryParam("patient"), From: c.QueryParam("from"), To: c.QueryParam("to"), PatientErr: bad}
	if f.PatientID == "" || bad != "" {
		status := http.StatusOK
		if bad != "" {
			status = http.StatusUnprocessableEntity
		}
		return render(c, status, compliance.Page(p))
	}
	p.Asked = true
	q := url.Values{"patient": {f.PatientID}}
	for _, k := range []string{"from", "to"} {
		if v := c.QueryParam(k); v != "" {
			q.Set(k, v)
		}
	}
	p.CSVHref = base + "/export?" + q.Encode()
	f.Limit = accessPageSize + 1
	f.BeforeSeq, _ = strconv.ParseInt(c.QueryParam("before"), 10, 64)
	es, err := h.Disclosures.List(ctx, f)
	if err != nil {
		return err
	}
	if len(es) > accessPageSize {
		es = es[:accessPageSize]
		more := url.Values{}
		for k, v := range q {
			more[k] = v
		}
		more.Set("before", strconv.FormatInt(es[len(es)-1].Seq, 10))
		p.MoreHref = base + "?" + more.Encode()
	}
	names := &actorNames{h: h, names: map[string]string{}}
	for _, e := range es {
		p.Rows = append(p.Rows, compliance.Row{Time: e.At.UTC().Format("2006-01-02 15:04:05"), Actor: names.discloser(ctx, a.Org.ID, e.Disclosure),
			Env: e.Env, Operation: e.Operation, Route: e.Route, RequestID: e.RequestID, Resources: e.Resources})
	}
	return render(c, http.StatusOK, compliance.Page(p))
}

// AccessReportExport streams one patient's report as CSV (cells guarded
// against formula injection); the export is itself audited.
func (h *Handler) AccessReportExport(c echo.Context) error {
	a := currentActor(c)
	ctx := c.Request().Context()
	f, bad := accessFilter(c, a.Org.ID)
	if bad != "" {
		return errs.FieldError("patient", "%s", bad)
	}
	if f.PatientID == "" {
		return errs.FieldError("patient", "Enter a patient id.")
	}
	h.Audit.Record(ctx, audit.Event{OrgID: a.Org.ID, ActorType: audit.ActorUser, ActorID: a.User.ID, Action: AuditAccessReportExported,
		TargetType: "Patient", TargetID: f.PatientID})
	name := "patient-access-" + f.PatientID + "-" + h.Now().UTC().Format("20060102-150405")
	res := c.Response()
	res.Header().Set("Cache-Control", "no-store")
	res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	res.Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`.csv"`)
	res.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(res)
	cw.Write([]string{"time", "patient_id", "actor_type", "actor_id", "actor", "environment", "operation", "route", "request_id", "bulk_job", "resources"})
	names := &actorNames{h: h, names: map[string]string{}}
	f.Limit = 1000
	for {
		es, err := h.Disclosures.List(ctx, f)
		if err != nil {
			h.Log.ErrorContext(ctx, "access report export failed", "err", err)
			return nil
		}
		for _, e := range es {
			row := []string{e.At.UTC().Format(audit.TimeLayout), e.PatientID, e.ActorType, e.ActorID, names.discloser(ctx, a.Org.ID, e.Disclosure),
				e.Env, e.Operation, e.Route, e.RequestID, e.BulkJob, strings.Join(e.Resources, " ")}
			for i := range row {
				row[i] = audit.GuardCell(row[i])
			}
			cw.Write(row)
		}
		cw.Flush()
		res.Flush()
		if len(es) < f.Limit {
			return nil
		}
		f.BeforeSeq = es[len(es)-1].Seq
	}
}
