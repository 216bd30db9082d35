package dashboard

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/bulk"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/plan"
	"github.com/clinikapi/clinikapi/internal/quota"
	"github.com/clinikapi/clinikapi/views/components/alert"
	"github.com/clinikapi/clinikapi/views/components/form"
	privacyview "github.com/clinikapi/clinikapi/views/privacy"
)

// PagePrivacy is Settings → Data & privacy.
const PagePrivacy Page = "privacy"

const privacyJobs = 20

func (h *Handler) privacyPath(a org.Actor) string { return "/o/" + a.Org.ID + "/privacy" }

// jobView turns a bulk job into its row on the page.
func (h *Handler) jobView(a org.Actor, j bulk.Job) privacyview.Job {
	v := privacyview.Job{
		ID: j.ID, Kind: string(j.Kind), Env: j.Env, Status: string(j.Status), Percent: j.Percent(),
		Processed: j.Processed, Total: j.Total, Errors: j.Errors, Created: j.CreatedAt.UTC().Format("2006-01-02 15:04"),
		Active:  j.Status == bulk.Pending || j.Status == bulk.Processing,
		PollURL: h.privacyPath(a) + "/jobs/" + j.ID,
	}
	if j.Downloadable(h.Now()) {
		v.ExpiresIn = untilText(j.ExpiresAt.Sub(h.Now()))
		for _, f := range j.Files {
			v.Files = append(v.Files, privacyview.File{Type: f.Type, Count: f.Count, Size: sizeText(f.Bytes),
				Href: h.privacyPath(a) + "/jobs/" + j.ID + "/" + f.Name})
		}
	} else if j.Kind == bulk.Export && j.Status == bulk.Completed {
		v.Expired = true
	}
	return v
}

func untilText(d time.Duration) string {
	m := int(d.Minutes()) + 1
	if m >= 60 {
		return "1 hour"
	}
	return strconv.Itoa(m) + " min"
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	case n >= 1<<10:
		return strconv.FormatInt(n>>10, 10) + " KB"
	}
	return strconv.FormatInt(n, 10) + " B"
}

func (h *Handler) privacyPage(c echo.Context, status int, exportErr string, closeErrors form.Errors) error {
	a := currentActor(c)
	ctx := c.Request().Context()
	jobs, err := h.Bulk.Jobs(ctx, a.Org.ID, privacyJobs)
	if err != nil {
		return err
	}
	cl, closed, err := h.Privacy.Closure(ctx, a.Org.ID)
	if err != nil {
		return err
	}
	p := privacyview.Props{
		Shell: h.shell(c, a, PagePrivacy, "Data & privacy", ""), OrgID: a.Org.ID, OrgName: a.Org.Name,
		CanClose: a.Can(org.CloseOrg), Closed: closed, ExportError: exportErr, CloseErrors: closeErrors,
		BuiltinAccounts: h.Accounts.ProviderName() == "builtin",
	}
	if closed {
		p.DeleteOn = dateString(cl.DeleteAfter)
	}
	p.ImportRoom = h.importRoom(ctx, a)
	for _, j := range jobs {
		p.Jobs = append(p.Jobs, h.jobView(a, j))
	}
	return render(c, status, privacyview.Page(p))
}

// PrivacyPage shows exports and, for owners, closing the organization.
func (h *Handler) PrivacyPage(c echo.Context) error {
	return h.privacyPage(c, http.StatusOK, "", nil)
}

// StartExport queues an export of all of the organization's data in the
// chosen environment.
func (h *Handler) StartExport(c echo.Context) error {
	a := currentActor(c)
	env := c.FormValue("env")
	if env != "test" && env != "live" {
		return h.privacyPage(c, http.StatusUnprocessableEntity, "Choose test or live data.", nil)
	}
	ba := bulk.Actor{OrgID: a.Org.ID, Env: env, Type: audit.ActorUser, ID: a.User.ID}
	if _, err := h.Bulk.StartExport(c.Request().Context(), ba, bulk.ExportRequest{}); err != nil {
		if errs.Is(err, errs.RateLimited) || errs.Is(err, errs.Invalid) {
			return h.privacyPage(c, StatusOf(err), errs.MessageOf(err), nil)
		}
		return err
	}
	h.flash(c, "Export started. It appears below; the download links work for one hour once it completes.")
	return redirect(c, h.privacyPath(a))
}

// JobRow answers the progress poll of one job (HTMX swaps the row).
func (h *Handler) JobRow(c echo.Context) error {
	a := currentActor(c)
	j, err := h.Bulk.Job(c.Request().Context(), a.Org.ID, c.Param("job"))
	if err != nil {
		return err
	}
	v := h.jobView(a, j)
	if !isFragment(c) {
		return redirect(c, h.privacyPath(a))
	}
	if !v.Active {
		// Tell HTMX to stop polling this row: 286 is its stop code.
		return render(c, 286, privacyview.JobRow(a.Org.ID, v))
	}
	return render(c, http.StatusOK, privacyview.JobRow(a.Org.ID, v))
}

// DownloadExport sends a signed-in member to the file's signed link.
func (h *Handler) DownloadExport(c echo.Context) error {
	a := currentActor(c)
	j, err := h.Bulk.Job(c.Request().Context(), a.Org.ID, c.Param("job"))
	if err != nil {
		return err
	}
	name := c.Param("file")
	if !j.Downloadable(h.Now()) {
		return errs.E(errs.NotFound, "This export's files are no longer available; start a new export.")
	}
	// Served here rather than through the export's signed link, so that
	// the audit trail names the member who downloaded it.
	f, err := h.Bulk.OpenFileFor(c.Request().Context(), j, name, bulk.Actor{OrgID: a.Org.ID, Env: j.Env, Type: audit.ActorUser, ID: a.User.ID})
	if err != nil {
		if errs.Is(err, errs.Forbidden) {
			return errs.E(errs.NotFound, "This export's files are no longer available; start a new export.")
		}
		return err
	}
	defer f.Close()
	hd := c.Response().Header()
	hd.Set("Content-Type", "application/fhir+ndjson")
	hd.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	hd.Set("Cache-Control", "private, no-store")
	c.Response().WriteHeader(http.StatusOK)
	_, err = io.Copy(c.Response(), f)
	return err
}

// CloseOrg closes the organization after the owner re-enters their
// password and types its name.
func (h *Handler) CloseOrg(c echo.Context) error {
	a := currentActor(c)
	if _, err := h.Privacy.CloseOrg(c.Request().Context(), a, c.FormValue("password"), c.FormValue("confirm_name")); err != nil {
		fe, status, err := formErrors(err)
		if err != nil {
			return err
		}
		return h.privacyPage(c, status, "", fe)
	}
	h.flash(c, "The organization is closed. Its API keys were revoked; its data will be deleted in 29 days unless you cancel the closure.")
	return redirect(c, h.privacyPath(a))
}

// CancelClosure reopens the organization before the deletion runs.
func (h *Handler) CancelClosure(c echo.Context) error {
	a := currentActor(c)
	if err := h.Privacy.CancelClosure(c.Request().Context(), a); err != nil {
		fe, status, err := formErrors(err)
		if err != nil {
			return err
		}
		return h.privacyPage(c, status, "", fe)
	}
	h.flash(c, "Closure cancelled: nothing will be deleted. Create new API keys to use the API again.")
	return redirect(c, h.privacyPath(a))
}

// RequireOpen refuses changes that a closed organization may not make
// (creating API keys).
func (h *Handler) RequireOpen(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		a := currentActor(c)
		if _, closed, err := h.Privacy.Closure(c.Request().Context(), a.Org.ID); err != nil || closed {
			if err == nil {
				err = errs.E(errs.Conflict, "This organization is closed. Cancel the closure under Settings → Data & privacy to use it again.")
			}
			return err
		}
		return next(c)
	}
}

// closedBanner is the warning every page of a closed organization shows.
func (h *Handler) closedBanner(c echo.Context, a org.Actor) *alert.Props {
	if h.Privacy == nil {
		return nil
	}
	cl, closed, err := h.Privacy.Closure(c.Request().Context(), a.Org.ID)
	if err != nil || !closed {
		return nil
	}
	msg := "This organization is closed: its API keys are revoked and its data will be permanently deleted on " + dateString(cl.DeleteAfter) + "."
	if !cl.DeletedAt.IsZero() {
		msg = "This organization is closed and its data was deleted."
	} else if a.Can(org.CloseOrg) {
		msg += " You can still export the data or cancel the closure under Settings → Data & privacy."
	}
	return &alert.Props{Kind: alert.Warning, Message: msg}
}

// DeleteAccount deletes the signed-in person's account.
func (h *Handler) DeleteAccount(c echo.Context) error {
	u, _ := currentUser(c)
	if err := h.Privacy.DeleteAccount(c.Request().Context(), u, currentTokens(c), c.FormValue("delete_password")); err != nil {
		fe, status, err := formErrors(err)
		if err != nil {
			return err
		}
		if msg, ok := fe["password"]; ok {
			fe = form.Errors{"delete_password": msg}
		}
		return h.accountPage(c, status, u.Name, nil, nil, fe)
	}
	h.endSession(c)
	return redirect(c, "/signin?deleted=1")
}

// importRoom says how many records an import may hold this month in each
// environment (its records count against the pool one by one).
func (h *Handler) importRoom(ctx context.Context, a org.Actor) []string {
	p := plan.Of(a.Org.Plan)
	if p.Unlimited {
		return []string{"Your " + p.Name + " plan has no monthly pool: imports of up to 10,000 records each."}
	}
	var out []string
	for _, env := range []string{"test", "live"} {
		pool, _ := quota.PoolFor(p, env)
		d, err := h.Quota.Peek(ctx, a.Org.ID, p, pool)
		if err != nil {
			h.Log.WarnContext(ctx, "privacy page: reading the pool failed", "err", err)
			return nil
		}
		left := thousands(d.Remaining())
		switch {
		case p.SharedPool:
			return []string{left + " requests are left this month in your " + p.Name + " pool (test and live share it): an import of " + left + " records or fewer fits now."}
		case env == "test":
			out = append(out, "Test data: "+left+" sandbox requests left this month.")
		default:
			out = append(out, "Live data: "+left+" requests left this month of the "+p.Name+" plan's "+thousands(p.Included)+".")
		}
	}
	return out
}
