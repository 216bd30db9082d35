package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/records"
	"github.com/clinikapi/clinikapi/internal/resource"
)

// Resources serves the contract's simplified resources (/v1/patients,
// /v1/encounters, …): one generic set of handlers driven by the
// declarations of package resource. Bodies are the contract's simplified
// JSON, which the records service validates against it and converts to
// the strict FHIR R4 resource it stores, in the same datastore as /v1/fhir
// (so each is readable through the other). Answers are simplified JSON too
// ({"data": …}, from the same declarations read backwards), except a read
// with _include/_revinclude, which is a FHIR searchset Bundle.
type Resources struct {
	Records *records.Service
	BaseURL string // public URL, for absolute links
}

// Content types of simplified bodies. The official SDK sends
// application/fhir+json on POST, and application/json-patch+json with a
// partial object (not a JSON Patch array) on PATCH.
var (
	createTypes = []string{"application/json", "application/fhir+json"}
	patchTypes  = []string{"application/json", "application/fhir+json", "application/json-patch+json", "application/merge-patch+json"}
)

// simple renders a stored record in d's simplified shape.
func simple(d *resource.Def, rec datastore.Record) (map[string]any, error) {
	res, err := datastore.Decode(rec)
	if err != nil {
		return nil, err
	}
	return d.Response(res), nil
}

// answer sends a stored record in d's simplified shape, with its version.
func answer(c echo.Context, status int, d *resource.Def, rec datastore.Record) error {
	out, err := simple(d, rec)
	if err != nil {
		return err
	}
	withVersion(c, rec)
	c.Set(answeredResource, rec.Type+"/"+rec.ID)
	return envelope(c, status, out)
}

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
		rec, err := r.Records.CreateSimple(c.Request().Context(), actor(c), d, body)
		if err != nil {
			return err
		}
		c.Response().Header().Set("Location", r.BaseURL+"/v1/"+d.Path+"/"+rec.ID)
		return answer(c, http.StatusCreated, d, rec)
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
		ctx := c.Request().Context()
		params := c.QueryParams()
		rev := r.Records.Includes(d.Type, params["_revinclude"], true)
		inc := r.Records.Includes(d.Type, params["_include"], false)
		if len(rev) == 0 && len(inc) == 0 {
			rec, err := r.Records.ReadSimple(ctx, actor(c), d, id)
			if err != nil {
				return err
			}
			return answer(c, http.StatusOK, d, rec)
		}
		page, fq, err := r.Records.ReadIncluding(ctx, actor(c), d.Type, id, rev, inc)
		if err != nil {
			return err
		}
		return envelope(c, http.StatusOK, searchBundle(r.BaseURL, d.Type, fq, page))
	}
}

// Patch answers PATCH /v1/<path>/:id with a partial simplified object,
// merged field by field (RFC 7396).
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
		rec, err := r.Records.PatchSimple(c.Request().Context(), actor(c), d, id, patch, match)
		if err != nil {
			return err
		}
		return answer(c, http.StatusOK, d, rec)
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
		if err := r.Records.DeleteSimple(c.Request().Context(), actor(c), d, id, match); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
}

// Search answers GET /v1/<path> with the contract's query parameters and
// the list envelope {"data": {"data": [...], "total": n, "cursor": "…",
// "hasMore": bool}}.
func (r *Resources) Search(d *resource.Def) echo.HandlerFunc {
	return func(c echo.Context) error {
		page, err := r.Records.SearchSimple(c.Request().Context(), actor(c), d, c.QueryParams())
		if err != nil {
			return err
		}
		items := make([]map[string]any, len(page.Records))
		for i, rec := range page.Records {
			if items[i], err = simple(d, rec); err != nil {
				return err
			}
		}
		list := map[string]any{"data": items, "total": page.Total, "hasMore": page.HasMore}
		if page.Next != "" {
			list["cursor"] = page.Next
		}
		return envelope(c, http.StatusOK, list)
	}
}
