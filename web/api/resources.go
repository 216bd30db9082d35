package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/fhir"
	"github.com/clinikapi/clinikapi/internal/resource"
)

// Resources serves the contract's simplified resources (/v1/patients,
// /v1/encounters, …): one generic set of handlers driven by the
// declarations of package resource. Bodies are the contract's simplified
// JSON, validated against it; what is stored, and answered in the {"data":
// …} envelope, is the strict FHIR R4 resource, in the same datastore as
// /v1/fhir (so each is readable through the other).
type Resources struct {
	FHIR     *FHIR // datastore routing, search index, cursors, audit
	Contract *resource.Contract
}

// Content types of simplified bodies. The official SDK sends
// application/fhir+json on POST, and application/json-patch+json with a
// partial object (not a JSON Patch array) on PATCH.
var (
	createTypes = []string{"application/json", "application/fhir+json"}
	patchTypes  = []string{"application/json", "application/fhir+json", "application/json-patch+json", "application/merge-patch+json"}
)

// envelope answers {"data": data}.
func envelope(c echo.Context, status int, data any) error {
	return c.JSON(status, map[string]any{"data": data})
}

func withVersion(c echo.Context, rec datastore.Record) {
	c.Response().Header().Set("ETag", `W/"`+strconv.Itoa(rec.Version)+`"`)
	c.Response().Header().Set("Last-Modified", rec.LastUpdated.UTC().Format(http.TimeFormat))
}

// simpleID reads and checks the :id path parameter, before anything else
// touches it.
func simpleID(c echo.Context, d *resource.Def) (string, error) {
	id := c.Param("id")
	if !ValidID(id) {
		return "", &Error{Status: 404, Code: "NOT_FOUND", Message: "No such " + d.Type + ": ids match [A-Za-z0-9-.]{1,64}."}
	}
	return id, nil
}

// decodeObject decodes a JSON object body.
func decodeObject(b []byte, patch bool) (map[string]any, error) {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, &Error{Status: 400, Code: "INVALID_JSON", Message: "The body is not valid JSON."}
	}
	m, ok := v.(map[string]any)
	if !ok {
		msg := "The body must be a JSON object."
		if _, isArray := v.([]any); isArray && patch {
			msg = "PATCH on a simplified route takes a partial object (merge semantics). JSON Patch arrays are accepted on /v1/fhir/{type}/{id}."
		}
		return nil, &Error{Status: 400, Code: "INVALID_JSON", Message: msg}
	}
	return m, nil
}

// issueCode is the FHIR issue type of a constraint.
func issueCode(constraint string) string {
	switch {
	case strings.HasPrefix(constraint, "is required"):
		return "required"
	case strings.HasPrefix(constraint, "is not a known field"), strings.HasPrefix(constraint, "must be a"),
		strings.HasPrefix(constraint, "must be an"):
		return "structure"
	}
	return "value"
}

// validationError is a 422 VALIDATION_ERROR listing field-level issues:
// field names and constraints, never values.
func validationError(issues []resource.Issue) error {
	e := &Error{Status: 422, Code: "VALIDATION_ERROR"}
	for _, is := range issues {
		expr := is.Field
		if is.FHIRPath != "" {
			expr = is.FHIRPath
		}
		it := Issue{Severity: "error", Code: issueCode(is.Constraint), Diagnostics: is.String()}
		if expr != "" {
			it.Expression = []string{expr}
		}
		e.Issues = append(e.Issues, it)
	}
	switch len(issues) {
	case 1:
		e.Message = "The request is not valid: " + issues[0].String() + "."
	default:
		e.Message = "The request is not valid: " + strconv.Itoa(len(issues)) + " problems, listed in issues."
	}
	return e
}

// storeError turns a datastore validation failure (the FHIR resource the
// body became is not valid R4) into VALIDATION_ERROR naming the
// simplified fields.
func storeError(d *resource.Def, err error) error {
	var inv *datastore.InvalidError
	if !errors.As(err, &inv) {
		return err
	}
	issues := make([]resource.Issue, len(inv.Issues))
	for i, is := range inv.Issues {
		issues[i] = resource.Issue{Field: d.FieldOf(is.Path), Constraint: is.Constraint, FHIRPath: is.Path}
		if issues[i].Field == "" {
			issues[i].Field = is.Path
		}
	}
	return validationError(issues)
}

// Create answers POST /v1/<path>.
func (r *Resources) Create(d *resource.Def) echo.HandlerFunc {
	return func(c echo.Context) error {
		b, err := readBody(c, createTypes...)
		if err != nil {
			return err
		}
		body, err := decodeObject(b, false)
		if err != nil {
			return err
		}
		if issues := r.Contract.Validate(d.Schema, body); len(issues) > 0 {
			return validationError(issues)
		}
		res, issues := d.ToFHIR(body, r.FHIR.Now())
		if len(issues) > 0 {
			return validationError(issues)
		}
		s, tenant, err := r.FHIR.store(c)
		if err != nil {
			return err
		}
		rec, err := s.Create(c.Request().Context(), tenant, res)
		if err != nil {
			return storeError(d, err)
		}
		r.FHIR.audit(c, ActionCreate, d.Type, rec.ID)
		withVersion(c, rec)
		c.Response().Header().Set("Location", r.FHIR.BaseURL+"/v1/"+d.Path+"/"+rec.ID)
		return envelope(c, http.StatusCreated, json.RawMessage(rec.Content))
	}
}

// Read answers GET /v1/<path>/:id: the resource, or with _revinclude /
// _include (repeatable) a searchset Bundle of it and its related resources.
// Includes naming a search parameter the type does not have are ignored:
// the official SDK asks for Type:subject and Type:patient of every type.
func (r *Resources) Read(d *resource.Def) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := simpleID(c, d)
		if err != nil {
			return err
		}
		s, tenant, err := r.FHIR.store(c)
		if err != nil {
			return err
		}
		ctx := c.Request().Context()
		params := c.QueryParams()
		rev, inc := r.includes(d, params["_revinclude"], true), r.includes(d, params["_include"], false)
		if len(rev) == 0 && len(inc) == 0 {
			rec, err := s.Read(ctx, tenant, d.Type, id)
			if err != nil {
				return err
			}
			r.FHIR.audit(c, ActionRead, d.Type, id)
			withVersion(c, rec)
			return envelope(c, http.StatusOK, json.RawMessage(rec.Content))
		}
		fq := url.Values{"_id": {id}, "_total": {"accurate"}}
		if len(rev) > 0 {
			fq["_revinclude"] = rev
		}
		if len(inc) > 0 {
			fq["_include"] = inc
		}
		q, err := datastore.ParseQuery(r.FHIR.Index, r.FHIR.Normalize, d.Type, fq)
		if err != nil {
			return err
		}
		q.Limit = 1
		res, err := s.Search(ctx, tenant, q)
		if err != nil {
			return err
		}
		if len(res.Records) == 0 {
			return &Error{Status: 404, Code: "NOT_FOUND", Message: d.Type + " not found."}
		}
		r.FHIR.audit(c, ActionRead, d.Type, id)
		bind := string(PrincipalOf(c).Env) + "|" + queryKey(d.Type, fq)
		return envelope(c, http.StatusOK, r.FHIR.bundle(tenant, d.Type, fq, q, res, bind))
	}
}

// includes keeps the _revinclude (or _include) values that name a
// reference search parameter of a known type (for _include, of d.Type).
func (r *Resources) includes(d *resource.Def, vals []string, rev bool) []string {
	var out []string
	for _, v := range vals {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || len(parts) > 3 || !r.FHIR.knownType(parts[0]) || !rev && parts[0] != d.Type {
			continue
		}
		if len(parts) == 3 && (!r.FHIR.knownType(parts[2]) || rev && parts[2] != d.Type) {
			continue
		}
		sp, ok := r.FHIR.Index.Lookup(parts[0], parts[1])
		if !ok || sp.Type != fhir.Reference || slices.Contains(out, v) {
			continue
		}
		if rev && len(sp.Targets) > 0 && !slices.Contains(sp.Targets, d.Type) && !slices.Contains(sp.Targets, "Resource") {
			continue // e.g. Encounter:patient when reading a Practitioner
		}
		out = append(out, v)
	}
	return out
}

// Patch answers PATCH /v1/<path>/:id with a partial simplified object:
// each field it names is merged into the current one (RFC 7396: objects
// merge, null removes, anything else replaces), the result is checked
// against the contract, and only the FHIR elements those fields map to
// change.
func (r *Resources) Patch(d *resource.Def) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := simpleID(c, d)
		if err != nil {
			return err
		}
		b, err := readBody(c, patchTypes...)
		if err != nil {
			return err
		}
		patch, err := decodeObject(b, true)
		if err != nil {
			return err
		}
		match, err := ifMatch(c)
		if err != nil {
			return err
		}
		s, tenant, err := r.FHIR.store(c)
		if err != nil {
			return err
		}
		ctx := c.Request().Context()
		cur, err := s.Read(ctx, tenant, d.Type, id)
		if err != nil {
			return err
		}
		res, err := datastore.Decode(cur)
		if err != nil {
			return err
		}
		changes, issues := d.Merge(res, patch)
		if len(issues) > 0 {
			return validationError(issues)
		}
		set := map[string]any{}
		for k, v := range changes {
			if v != nil {
				set[k] = v
			}
		}
		issues = r.Contract.ValidatePartial(d.Schema, set)
		for _, req := range r.Contract.Required(d.Schema) {
			if v, ok := changes[req]; ok && v == nil {
				issues = append(issues, resource.Issue{Field: req, Constraint: "is required and cannot be removed"})
			}
		}
		if len(issues) > 0 {
			return validationError(issues)
		}
		if issues := d.Apply(res, changes, r.FHIR.Now()); len(issues) > 0 {
			return validationError(issues)
		}
		if match == 0 {
			match = cur.Version // the merge was computed against this version
		}
		rec, _, err := s.Update(ctx, tenant, d.Type, id, res, match)
		if err != nil {
			return storeError(d, err)
		}
		r.FHIR.audit(c, ActionPatch, d.Type, id)
		withVersion(c, rec)
		return envelope(c, http.StatusOK, json.RawMessage(rec.Content))
	}
}

// Delete answers DELETE /v1/<path>/:id.
func (r *Resources) Delete(d *resource.Def) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := simpleID(c, d)
		if err != nil {
			return err
		}
		match, err := ifMatch(c)
		if err != nil {
			return err
		}
		s, tenant, err := r.FHIR.store(c)
		if err != nil {
			return err
		}
		if err := s.Delete(c.Request().Context(), tenant, d.Type, id, match); err != nil {
			return err
		}
		r.FHIR.audit(c, ActionDelete, d.Type, id)
		return c.NoContent(http.StatusNoContent)
	}
}

// Search answers GET /v1/<path> with the contract's query parameters and
// the list envelope {"data": {"data": [...], "total": n, "cursor": "…",
// "hasMore": bool}}. count defaults to 20 and is clamped to 1..100; a
// cursor that is not valid for this search (another query, tenant or
// environment, or garbage) restarts at the beginning.
func (r *Resources) Search(d *resource.Def) echo.HandlerFunc {
	return func(c echo.Context) error {
		params := c.QueryParams()
		count := datastore.DefaultCount
		if raw := params.Get(resource.CountParam); raw != "" {
			n, err := strconv.Atoi(raw)
			if err != nil {
				return validationError([]resource.Issue{{Field: resource.CountParam, Constraint: "must be an integer"}})
			}
			count = min(max(n, 1), datastore.MaxCount)
		}
		if issues := r.Contract.ValidateQuery(d.Path, params, resource.CountParam, resource.CursorParam); len(issues) > 0 {
			return validationError(issues)
		}
		fq, unknown, issues := d.Search(params)
		if len(unknown) > 0 {
			return &Error{Status: 400, Code: "INVALID_SEARCH", Message: "Unknown query parameter " + strings.Join(unknown, ", ") +
				" for /v1/" + d.Path + ". It accepts " + strings.Join(d.QueryNames(), ", ") + "."}
		}
		if len(issues) > 0 {
			return validationError(issues)
		}
		fq.Set("_count", strconv.Itoa(count))
		fq.Set("_total", "accurate")
		q, err := datastore.ParseQuery(r.FHIR.Index, r.FHIR.Normalize, d.Type, fq)
		if err != nil {
			return err
		}
		s, tenant, err := r.FHIR.store(c)
		if err != nil {
			return err
		}
		bound := url.Values{}
		for k, v := range params {
			if k != resource.CursorParam {
				bound[k] = v
			}
		}
		bind := string(PrincipalOf(c).Env) + "|/v1/" + d.Path + "?" + bound.Encode()
		if cur := params.Get(resource.CursorParam); cur != "" {
			if off, ok := r.FHIR.Cursors.Decode(tenant, bind, cur); ok {
				q.Offset = off
			}
		}
		res, err := s.Search(c.Request().Context(), tenant, q)
		if err != nil {
			return err
		}
		r.FHIR.audit(c, ActionSearch, d.Type, "")
		items := make([]json.RawMessage, len(res.Records))
		for i, rec := range res.Records {
			items[i] = rec.Content
		}
		list := map[string]any{"data": items, "total": res.Total, "hasMore": res.HasMore}
		if res.HasMore {
			list["cursor"] = r.FHIR.Cursors.Encode(tenant, bind, q.Offset+q.Limit)
		}
		return envelope(c, http.StatusOK, list)
	}
}
