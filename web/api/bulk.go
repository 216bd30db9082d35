package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/bulk"
	"github.com/clinikapi/clinikapi/internal/errs"
)

// Bulk serves /v1/bulk: export and import jobs, their status, and the
// signed download links of export files.
type Bulk struct {
	Jobs    *bulk.Service
	BaseURL string
	Now     func() time.Time
}

// MaxImportBody is the largest import request: the contract's 100 MiB of
// NDJSON plus its JSON envelope (escaping grows it a little).
const MaxImportBody = bulk.MaxImportBytes + bulk.MaxImportBytes/8

// LimitImportBody is LimitBody for the import route.
func LimitImportBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.ContentLength > MaxImportBody {
			return tooLargeImport()
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(c.Response(), r.Body, MaxImportBody)
		}
		return next(c)
	}
}

func tooLargeImport() error {
	return &Error{Status: 413, Code: "PAYLOAD_TOO_LARGE", Message: "The import body is larger than 100 MiB of NDJSON. Split it into several imports."}
}

// ReadScope lets keys of scope read or * through whatever the method: an
// export reads data although it is started with POST.
func ReadScope(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		pr := PrincipalOf(c)
		if !pr.Scope.Allows(http.MethodGet) {
			return &Error{Status: 403, Code: "INSUFFICIENT_SCOPE", Message: "Exports need a key with scope read (or *); this key's scope is " + string(pr.Scope) + "."}
		}
		return next(c)
	}
}

func (h *Bulk) actor(c echo.Context) bulk.Actor {
	pr := PrincipalOf(c)
	return bulk.Actor{OrgID: pr.OrgID, Tenant: pr.TenantID, Env: string(pr.Env), Type: audit.ActorAPIKey, ID: pr.KeyID}
}

func decodeJSON(c echo.Context, v any, tooLarge func() error) error {
	b, err := readBody(c, "application/json", "application/fhir+json")
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) && tooLarge != nil {
			return tooLarge()
		}
		var ae *Error
		if errors.As(err, &ae) && ae.Status == 413 && tooLarge != nil {
			return tooLarge()
		}
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return &Error{Status: 400, Code: "INVALID_JSON", Message: "The body is not the JSON object this endpoint expects."}
	}
	return nil
}

// jobView is a job as the API shows it (the contract's BulkJob).
type jobView struct {
	ID               string      `json:"id"`
	JobID            string      `json:"jobId"`
	Type             bulk.Kind   `json:"type"`
	Status           bulk.Status `json:"status"`
	Environment      string      `json:"environment"`
	ResourceTypes    []string    `json:"resourceTypes"`
	TotalRecords     int         `json:"totalRecords"`
	ProcessedRecords int         `json:"processedRecords"`
	Errors           []string    `json:"errors"`
	DownloadURL      string      `json:"downloadUrl,omitempty"`
	Output           []bulk.Link `json:"output,omitempty"`
	ExpiresAt        string      `json:"expiresAt,omitempty"`
	CreatedAt        string      `json:"createdAt"`
	CompletedAt      string      `json:"completedAt,omitempty"`
	Message          string      `json:"message,omitempty"`
}

func (h *Bulk) view(j bulk.Job) jobView {
	v := jobView{
		ID: j.ID, JobID: j.ID, Type: j.Kind, Status: j.Status, Environment: j.Env, ResourceTypes: j.ResourceTypes,
		TotalRecords: j.Total, ProcessedRecords: j.Processed, Errors: j.Errors, CreatedAt: j.CreatedAt.UTC().Format(time.RFC3339),
	}
	if v.Errors == nil {
		v.Errors = []string{}
	}
	if v.ResourceTypes == nil {
		v.ResourceTypes = []string{}
	}
	if !j.FinishedAt.IsZero() {
		v.CompletedAt = j.FinishedAt.UTC().Format(time.RFC3339)
	}
	if j.Downloadable(h.Now()) {
		v.DownloadURL, v.Output = h.Jobs.Signer.Links(h.BaseURL, j)
		v.ExpiresAt = j.ExpiresAt.UTC().Format(time.RFC3339)
	} else if j.Kind == bulk.Export && j.Status == bulk.Completed {
		v.Message = "The download links expired and the files were removed; start a new export."
	}
	return v
}

// Export answers POST /v1/bulk/export.
func (h *Bulk) Export(c echo.Context) error {
	var body struct {
		ResourceTypes []string `json:"resourceTypes"`
		Since         string   `json:"since"`
	}
	if err := decodeJSON(c, &body, nil); err != nil {
		return err
	}
	req := bulk.ExportRequest{ResourceTypes: body.ResourceTypes}
	// A key restricted to some resource types exports only those: each
	// type asked for must be readable, and "every type" means every type
	// the key may read.
	if pr := PrincipalOf(c); pr.RestrictsTypes() {
		for _, t := range req.ResourceTypes {
			if !pr.Readable(t) {
				return apikey.InsufficientScope(t, http.MethodGet)
			}
		}
		if len(req.ResourceTypes) == 0 {
			if req.ResourceTypes = pr.ReadableTypes(); len(req.ResourceTypes) == 0 {
				return &errs.Error{Code: errs.Forbidden, Reason: errs.ReasonInsufficientScope, Message: "This key may read no resource type, so it has nothing to export."}
			}
		}
	}
	if body.Since != "" {
		t, err := time.Parse(time.RFC3339, body.Since)
		if err != nil {
			return errs.FieldError("since", "must be a date-time such as 2024-01-31T00:00:00Z")
		}
		req.Since = t
	}
	j, err := h.Jobs.StartExport(c.Request().Context(), h.actor(c), req)
	if err != nil {
		return err
	}
	v := h.view(j)
	v.Message = "Export started. Poll GET /v1/bulk/jobs/" + j.ID + " for its status and download links."
	return envelope(c, http.StatusAccepted, v)
}

// Import answers POST /v1/bulk/import.
func (h *Bulk) Import(c echo.Context) error {
	var body struct {
		ResourceType string `json:"resourceType"`
		Data         string `json:"data"`
	}
	if err := decodeJSON(c, &body, tooLargeImport); err != nil {
		return err
	}
	if pr := PrincipalOf(c); body.ResourceType != "" && !pr.AllowsType(body.ResourceType, http.MethodPost) {
		return apikey.InsufficientScope(body.ResourceType, http.MethodPost)
	}
	j, err := h.Jobs.StartImport(c.Request().Context(), h.actor(c), body.ResourceType, body.Data)
	if err != nil {
		return err
	}
	v := h.view(j)
	v.Message = "Import started. Poll GET /v1/bulk/jobs/" + j.ID + " for its progress and per-line errors."
	return envelope(c, http.StatusAccepted, v)
}

// Status answers GET /v1/bulk/jobs/:id.
func (h *Bulk) Status(c echo.Context) error {
	p := PrincipalOf(c)
	j, err := h.Jobs.JobIn(c.Request().Context(), p.OrgID, p.TenantID, string(p.Env), c.Param("id"))
	if err != nil {
		return err
	}
	return envelope(c, http.StatusOK, h.view(j))
}

// linked checks a download link and returns its job.
func (h *Bulk) linked(c echo.Context, name string) (bulk.Job, error) {
	j, err := h.Jobs.FindForLink(c.Request().Context(), c.Param("job"))
	if err != nil {
		return bulk.Job{}, err
	}
	if err := h.Jobs.Signer.Check(j.OrgID, j.ID, name, c.QueryParams(), h.Now()); err != nil {
		return bulk.Job{}, err
	}
	return j, nil
}

// Manifest answers GET /v1/bulk/files/:job?expires&sig: the export's files
// with their own signed links. No key is needed: the signature, bound to
// the organization, the job and the expiry, is the authorization.
func (h *Bulk) Manifest(c echo.Context) error {
	j, err := h.linked(c, "")
	if err != nil {
		return err
	}
	if !j.Downloadable(h.Now()) {
		return &errs.Error{Code: errs.Forbidden, Reason: errs.ReasonInvalidLink, Message: "This export's files are no longer available; start a new export."}
	}
	_, files := h.Jobs.Signer.Links(h.BaseURL, j)
	return c.JSON(http.StatusOK, map[string]any{
		"transactionTime": j.FinishedAt.UTC().Format(time.RFC3339), "expiresAt": j.ExpiresAt.UTC().Format(time.RFC3339),
		"output": files, "error": []any{},
	})
}

// Download answers GET /v1/bulk/files/:job/:file?expires&sig with the
// NDJSON file.
func (h *Bulk) Download(c echo.Context) error {
	name := c.Param("file")
	if bulk.TypeOfFile(name) == "" {
		return &errs.Error{Code: errs.Forbidden, Reason: errs.ReasonInvalidLink, Message: "This download link is not valid."}
	}
	j, err := h.linked(c, name)
	if err != nil {
		return err
	}
	f, err := h.Jobs.OpenFile(c.Request().Context(), j, name)
	if err != nil {
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
