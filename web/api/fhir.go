package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/fhir"
	"github.com/clinikapi/clinikapi/internal/records"
)

// FHIR serves the raw FHIR R4 routes under /v1/fhir: it decodes requests,
// has the records service carry them out, and encodes FHIR JSON.
type FHIR struct {
	Records *records.Service
	BaseURL string   // public URL, for absolute links
	Types   []string // the supported resource types, sorted
}

// actor is who a request acts as: its key, on the key's organization and
// environment.
func actor(c echo.Context) records.Actor {
	pr := PrincipalOf(c)
	a := records.Actor{OrgID: pr.OrgID, Tenant: pr.TenantID, Env: string(pr.Env), Type: audit.ActorAPIKey, ID: pr.KeyID}
	if pr.RestrictsTypes() {
		a.Readable = pr.Readable
	}
	return a
}

// ContentType is what FHIR responses are served as.
const ContentType = "application/fhir+json"

func (h *FHIR) knownType(t string) bool {
	i := sort.SearchStrings(h.Types, t)
	return i < len(h.Types) && h.Types[i] == t
}

// resourceType reads and checks the :type path parameter.
func (h *FHIR) resourceType(c echo.Context) (string, error) {
	t := c.Param("type")
	if !h.knownType(t) {
		return "", &Error{Status: 404, Code: "NOT_FOUND", Message: "Unknown resource type. See /v1/metadata for the supported types."}
	}
	return t, nil
}

func (h *FHIR) id(c echo.Context) (string, error) {
	id := c.Param("id")
	if !ValidID(id) {
		return "", &Error{Status: 404, Code: "NOT_FOUND", Message: "No such resource: ids match [A-Za-z0-9-.]{1,64}."}
	}
	return id, nil
}

// instance reads and checks the type and id of a /v1/fhir/:type/:id
// request, before anything touches them.
func (h *FHIR) instance(c echo.Context) (typ, id string, err error) {
	if typ, err = h.resourceType(c); err != nil {
		return
	}
	id, err = h.id(c)
	return
}

// readBody decodes a JSON object body. Accepted content types:
// application/fhir+json and application/json (and no content type).
func readBody(c echo.Context, allowed ...string) ([]byte, error) {
	ct := c.Request().Header.Get("Content-Type")
	if ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		ok := false
		for _, a := range allowed {
			ok = ok || (err == nil && mt == a)
		}
		if !ok {
			return nil, &Error{Status: 415, Code: "UNSUPPORTED_MEDIA_TYPE", Message: "Send " + strings.Join(allowed, " or ") + "."}
		}
	}
	b, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &Error{Status: 413, Code: "PAYLOAD_TOO_LARGE", Message: "The request body is larger than 1 MiB."}
		}
		return nil, bodyError(err)
	}
	return b, nil
}

// bodyError is a failure to read a request body that is not too large:
// the client stopped sending it (it closed the connection or gave up), so
// the request ends as closed by the client (499), not as a server failure.
func bodyError(err error) error {
	return fmt.Errorf("reading the request body: %w (%w)", context.Canceled, err)
}

// readResource reads a FHIR JSON resource body.
func readResource(c echo.Context) (fhir.Resource, error) {
	b, err := readBody(c, "application/fhir+json", "application/json")
	if err != nil {
		return nil, err
	}
	return decodeResource(b)
}

func decodeResource(b []byte) (fhir.Resource, error) {
	var r fhir.Resource
	if err := json.Unmarshal(b, &r); err != nil || r == nil {
		return nil, &Error{Status: 400, Code: "INVALID_JSON", Message: "The body is not a JSON object."}
	}
	return r, nil
}

// ifMatch reads If-Match: W/"3" (or "3") as a version; 0 when absent.
func ifMatch(c echo.Context) (int, error) {
	v := c.Request().Header.Get("If-Match")
	if v == "" {
		return 0, nil
	}
	v = strings.TrimPrefix(v, "W/")
	n, err := strconv.Atoi(strings.Trim(v, `"`))
	if err != nil || n < 1 {
		return 0, &Error{Status: 400, Code: "INVALID_REQUEST", Message: `If-Match must be a version ETag such as W/"3".`}
	}
	return n, nil
}

var versionKeys = []string{"Etag", "Last-Modified"}

// writeResource answers a stored record as FHIR JSON with its ETag.
func writeResource(c echo.Context, status int, rec datastore.Record) error {
	c.Set(answeredResource, rec.Type+"/"+rec.ID)
	headerValues(c.Response().Header(), versionKeys, []string{`W/"` + strconv.Itoa(rec.Version) + `"`, rec.LastUpdated.UTC().Format(http.TimeFormat)})
	return c.Blob(status, ContentType, rec.Content)
}

// Read answers GET /v1/fhir/:type/:id.
func (h *FHIR) Read(c echo.Context) error {
	typ, id, err := h.instance(c)
	if err != nil {
		return err
	}
	rec, err := h.Records.Read(c.Request().Context(), actor(c), typ, id)
	if err != nil {
		return err
	}
	return writeResource(c, http.StatusOK, rec)
}

// ReadVersion answers GET /v1/fhir/:type/:id/_history/:vid (vread).
func (h *FHIR) ReadVersion(c echo.Context) error {
	typ, id, err := h.instance(c)
	if err != nil {
		return err
	}
	v, err := strconv.Atoi(c.Param("vid"))
	if err != nil || v < 1 {
		return &Error{Status: 404, Code: "NOT_FOUND", Message: "No such version: versions are whole numbers from 1."}
	}
	rec, err := h.Records.ReadVersion(c.Request().Context(), actor(c), typ, id, v)
	if err != nil {
		return err
	}
	return writeResource(c, http.StatusOK, rec)
}

// Create answers POST /v1/fhir/:type.
func (h *FHIR) Create(c echo.Context) error {
	typ, err := h.resourceType(c)
	if err != nil {
		return err
	}
	res, err := readResource(c)
	if err != nil {
		return err
	}
	if rt, _ := res["resourceType"].(string); rt != typ {
		return &errs.Error{Code: errs.Invalid, Reason: errs.ReasonValidation, Message: "The resource is not valid FHIR R4.",
			Issues: []errs.Issue{{Type: "invalid", Diagnostics: "resourceType: must be " + typ, Expression: "resourceType"}}}
	}
	rec, err := h.Records.Create(c.Request().Context(), actor(c), res)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", h.BaseURL+"/v1/fhir/"+typ+"/"+rec.ID+"/_history/"+strconv.Itoa(rec.Version))
	return writeResource(c, http.StatusCreated, rec)
}

// Update answers PUT /v1/fhir/:type/:id (create when it does not exist).
func (h *FHIR) Update(c echo.Context) error {
	typ, id, err := h.instance(c)
	if err != nil {
		return err
	}
	res, err := readResource(c)
	if err != nil {
		return err
	}
	match, err := ifMatch(c)
	if err != nil {
		return err
	}
	rec, created, err := h.Records.Update(c.Request().Context(), actor(c), typ, id, res, match)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		c.Response().Header().Set("Location", h.BaseURL+"/v1/fhir/"+typ+"/"+id+"/_history/"+strconv.Itoa(rec.Version))
	}
	return writeResource(c, status, rec)
}

// Patch answers PATCH /v1/fhir/:type/:id with a JSON Patch (RFC 6902).
func (h *FHIR) Patch(c echo.Context) error {
	typ, id, err := h.instance(c)
	if err != nil {
		return err
	}
	b, err := readBody(c, "application/json-patch+json")
	if err != nil {
		return err
	}
	match, err := ifMatch(c)
	if err != nil {
		return err
	}
	rec, err := h.Records.Patch(c.Request().Context(), actor(c), typ, id, b, match)
	if err != nil {
		return err
	}
	return writeResource(c, http.StatusOK, rec)
}

// Delete answers DELETE /v1/fhir/:type/:id.
func (h *FHIR) Delete(c echo.Context) error {
	typ, id, err := h.instance(c)
	if err != nil {
		return err
	}
	match, err := ifMatch(c)
	if err != nil {
		return err
	}
	if err := h.Records.Delete(c.Request().Context(), actor(c), typ, id, match); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// History answers GET /v1/fhir/:type/:id/_history as a history Bundle.
func (h *FHIR) History(c echo.Context) error {
	typ, id, err := h.instance(c)
	if err != nil {
		return err
	}
	recs, err := h.Records.History(c.Request().Context(), actor(c), typ, id)
	if err != nil {
		return err
	}
	entries := make([]map[string]any, 0, len(recs))
	for _, r := range recs {
		e := map[string]any{"fullUrl": h.BaseURL + "/v1/fhir/" + typ + "/" + id}
		method := "PUT"
		switch {
		case r.Deleted:
			method = "DELETE"
		case r.Version == 1:
			method = "POST"
		}
		if !r.Deleted {
			e["resource"] = json.RawMessage(r.Content)
		}
		e["request"] = map[string]any{"method": method, "url": typ + "/" + id}
		e["response"] = map[string]any{"status": strconv.Itoa(map[string]int{"POST": 201, "PUT": 200, "DELETE": 204}[method]), "etag": `W/"` + strconv.Itoa(r.Version) + `"`, "lastModified": r.LastUpdated.Format(time.RFC3339Nano)}
		entries = append(entries, e)
	}
	return c.JSON(http.StatusOK, map[string]any{"resourceType": "Bundle", "type": "history", "total": len(recs), "entry": entries})
}

// Search answers GET /v1/fhir/:type as a searchset Bundle with self and
// next links any FHIR client can follow.
func (h *FHIR) Search(c echo.Context) error {
	typ, err := h.resourceType(c)
	if err != nil {
		return err
	}
	params := c.QueryParams()
	page, err := h.Records.Search(c.Request().Context(), actor(c), records.Search{Type: typ, Params: params, Cursor: params.Get("_cursor")})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, searchBundle(h.BaseURL, typ, params, page))
}

// searchBundle renders a page of a search of typ with params as a
// searchset Bundle, with absolute links under base.
func searchBundle(base, typ string, params url.Values, page records.Page) map[string]any {
	self := base + "/v1/fhir/" + typ
	if enc := params.Encode(); enc != "" {
		self += "?" + enc
	}
	links := []map[string]any{{"relation": "self", "url": self}}
	if page.Next != "" {
		next := url.Values{}
		for k, v := range params {
			next[k] = v
		}
		next.Set("_cursor", page.Next)
		links = append(links, map[string]any{"relation": "next", "url": base + "/v1/fhir/" + typ + "?" + next.Encode()})
	}
	entries := make([]map[string]any, 0, len(page.Records)+len(page.Included))
	for _, r := range page.Records {
		entries = append(entries, map[string]any{"fullUrl": base + "/v1/fhir/" + r.Type + "/" + r.ID, "resource": json.RawMessage(r.Content), "search": map[string]string{"mode": "match"}})
	}
	for _, r := range page.Included {
		entries = append(entries, map[string]any{"fullUrl": base + "/v1/fhir/" + r.Type + "/" + r.ID, "resource": json.RawMessage(r.Content), "search": map[string]string{"mode": "include"}})
	}
	b := map[string]any{"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries}
	if page.Total >= 0 {
		b["total"] = page.Total
	}
	return b
}
