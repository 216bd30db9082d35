package dashboard

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/disclosure"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/records"
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

// maxPicks is how many patients the picker lists.
const maxPicks = 20

// AccessReportPatients is the report's patient picker: it searches the
// organization's patients by name in one environment. The name comes in
// the form body, so it stays out of URLs and logs; the picks link to the
// report by patient id. The search is the member's access to those
// patients: audited and disclosed like any other.
func (h *Handler) AccessReportPatients(c echo.Context) error {
	a := currentActor(c)
	ctx := c.Request().Context()
	pk := compliance.Picker{Action: "/o/" + a.Org.ID + "/compliance/access/patients", Env: c.FormValue("env"), Name: strings.TrimSpace(c.FormValue("name")), Asked: true}
	switch {
	case pk.Env != records.Test && pk.Env != records.Live:
		pk.Err = "Choose the test or the live environment."
	case pk.Name == "":
		pk.Err = "Enter a name, or the start of one."
	case len(pk.Name) > 100:
		pk.Err = "A name is at most 100 characters."
	}
	status := http.StatusOK
	if pk.Err == "" {
		page, err := h.Records.Search(ctx, records.Actor{OrgID: a.Org.ID, Env: pk.Env, Type: audit.ActorUser, ID: a.User.ID},
			records.Search{Type: "Patient", Params: url.Values{"name": {pk.Name}, "_count": {strconv.Itoa(maxPicks)}, "_sort": {"family"}}})
		if err != nil {
			var e *errs.Error
			if !errors.As(err, &e) || e.Code != errs.Invalid {
				return err
			}
			pk.Err = e.Message
		}
		base := "/o/" + a.Org.ID + "/compliance/access?patient="
		for _, r := range page.Records {
			pk.Picks = append(pk.Picks, pick(r, base))
		}
		pk.More = page.Next != ""
	}
	if pk.Err != "" {
		status = http.StatusUnprocessableEntity
	}
	if isFragment(c) {
		return render(c, status, compliance.Picks(pk))
	}
	p := compliance.Props{Shell: h.shell(c, a, PageAccessReport, "Patient access report", "Accounting of disclosures: who accessed a patient's record."),
		Action: "/o/" + a.Org.ID + "/compliance/access", Picker: pk}
	return render(c, status, compliance.Page(p))
}

// pick shows one patient found: name, birth date, id, and the link to
// their report.
func pick(r datastore.Record, reportBase string) compliance.Pick {
	var p struct {
		Name []struct {
			Text   string   `json:"text"`
			Family string   `json:"family"`
			Given  []string `json:"given"`
		} `json:"name"`
		BirthDate string `json:"birthDate"`
	}
	json.Unmarshal(r.Content, &p)
	name := ""
	if len(p.Name) > 0 {
		n := p.Name[0]
		name = strings.TrimSpace(strings.Join(append(append([]string{}, n.Given...), n.Family), " "))
		if name == "" {
			name = n.Text
		}
	}
	if name == "" {
		name = "(no name)"
	}
	return compliance.Pick{ID: r.ID, Name: name, BirthDate: p.BirthDate, Href: reportBase + url.QueryEscape(r.ID)}
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
