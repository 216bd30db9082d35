package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/fhir"
)

// Audit actions of data operations.
const (
	ActionCreate  = "data.create"
	ActionRead    = "data.read"
	ActionUpdate  = "data.update"
	ActionPatch   = "data.patch"
	ActionDelete  = "data.delete"
	ActionSearch  = "data.search"
	ActionHistory = "data.history"
)

// FHIR serves the raw FHIR R4 routes under /v1/fhir and the
// CapabilityStatement.
type FHIR struct {
	Router    *datastore.Router
	Index     datastore.Indexer
	Normalize func(string) string
	Cursors   datastore.Cursors
	Plans     PlanSource
	Audit     *audit.Log
	BaseURL   string // public URL, for absolute links
	Types     []string
	Now       func() time.Time
}

// ContentType is what FHIR responses are served as.
const ContentType = "application/fhir+json"

// store resolves the request's datastore: the key's environment and, for
// live keys of Enterprise organizations, their dedicated one.
func (h *FHIR) store(c echo.Context) (*datastore.Store, datastore.Tenant, error) {
	pr := PrincipalOf(c)
	ctx := c.Request().Context()
	dedicated := false
	if pr.Env == "live" {
		pl, err := h.Plans.PlanOf(ctx, pr.OrgID)
		if err != nil {
			return nil, "", err
		}
		dedicated = pl.Dedicated
	}
	s, err := h.Router.For(ctx, string(pr.Env), pr.OrgID, dedicated)
	return s, datastore.Tenant(pr.OrgID), err
}

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

// instance resolves the type, id and datastore of a /v1/fhir/:type/:id
// request, checking type and id before anything touches them.
func (h *FHIR) instance(c echo.Context) (typ, id string, s *datastore.Store, tenant datastore.Tenant, err error) {
	if typ, err = h.resourceType(c); err != nil {
		return
	}
	if id, err = h.id(c); err != nil {
		return
	}
	s, tenant, err = h.store(c)
	return
}

// audit records a data operation: key, operation, resource type and id —
// never content.
func (h *FHIR) audit(c echo.Context, action, typ, id string) {
	pr := PrincipalOf(c)
	h.Audit.RecordAsync(c.Request().Context(), audit.Event{
		OrgID: pr.OrgID, ActorType: audit.ActorAPIKey, ActorID: pr.KeyID, Action: action,
		TargetType: typ, TargetID: id, Detail: envDetail(pr.Env),
	})
}

// envDetails are the audit details of data operations, one per environment,
// shared (read-only) by every event rather than made for each request.
var envDetails = map[apikey.Env]map[string]string{apikey.Test: {"env": string(apikey.Test)}, apikey.Live: {"env": string(apikey.Live)}}

func envDetail(env apikey.Env) map[string]string {
	if d, ok := envDetails[env]; ok {
		return d
	}
	return map[string]string{"env": string(env)}
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
		return nil, err
	}
	return b, nil
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
	headerValues(c.Response().Header(), versionKeys, []string{`W/"` + strconv.Itoa(rec.Version) + `"`, rec.LastUpdated.UTC().Format(http.TimeFormat)})
	return c.Blob(status, ContentType, rec.Content)
}

// Read answers GET /v1/fhir/:type/:id.
func (h *FHIR) Read(c echo.Context) error {
	typ, id, s, tenant, err := h.instance(c)
	if err != nil {
		return err
	}
	rec, err := s.Read(c.Request().Context(), tenant, typ, id)
	if err != nil {
		if errs.ReasonOf(err) == "GONE" {
			return &Error{Status: 410, Code: "GONE", Message: typ + "/" + id + " was deleted."}
		}
		return err
	}
	h.audit(c, ActionRead, typ, id)
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
		return invalidResource([]datastore.Issue{{Path: "resourceType", Constraint: "must be " + typ}})
	}
	s, tenant, err := h.store(c)
	if err != nil {
		return err
	}
	rec, err := s.Create(c.Request().Context(), tenant, res)
	if err != nil {
		return dataError(err)
	}
	h.audit(c, ActionCreate, typ, rec.ID)
	c.Response().Header().Set("Location", h.BaseURL+"/v1/fhir/"+typ+"/"+rec.ID+"/_history/"+strconv.Itoa(rec.Version))
	return writeResource(c, http.StatusCreated, rec)
}

// Update answers PUT /v1/fhir/:type/:id (create when it does not exist).
func (h *FHIR) Update(c echo.Context) error {
	typ, err := h.resourceType(c)
	if err != nil {
		return err
	}
	id, err := h.id(c)
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
	s, tenant, err := h.store(c)
	if err != nil {
		return err
	}
	rec, created, err := s.Update(c.Request().Context(), tenant, typ, id, res, match)
	if err != nil {
		return dataError(err)
	}
	h.audit(c, ActionUpdate, typ, id)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		c.Response().Header().Set("Location", h.BaseURL+"/v1/fhir/"+typ+"/"+id+"/_history/"+strconv.Itoa(rec.Version))
	}
	return writeResource(c, status, rec)
}

// Patch answers PATCH /v1/fhir/:type/:id with a JSON Patch (RFC 6902).
func (h *FHIR) Patch(c echo.Context) error {
	typ, err := h.resourceType(c)
	if err != nil {
		return err
	}
	id, err := h.id(c)
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
	s, tenant, err := h.store(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	cur, err := s.Read(ctx, tenant, typ, id)
	if err != nil {
		return err
	}
	patched, err := ApplyPatch(cur.Content, b)
	if err != nil {
		return err
	}
	if match == 0 {
		match = cur.Version // the patch was computed against this version
	}
	rec, _, err := s.Update(ctx, tenant, typ, id, patched, match)
	if err != nil {
		return dataError(err)
	}
	h.audit(c, ActionPatch, typ, id)
	return writeResource(c, http.StatusOK, rec)
}

// ApplyPatch applies a JSON Patch document to a resource. The tenant tag
// and meta are restored by the datastore afterwards, whatever the patch did.
func ApplyPatch(doc, patch []byte) (fhir.Resource, error) {
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		return nil, &Error{Status: 400, Code: "INVALID_JSON", Message: "The body is not a JSON Patch array of operations."}
	}
	if len(p) > 1000 {
		return nil, &Error{Status: 422, Code: "VALIDATION_ERROR", Message: "A JSON Patch may hold at most 1,000 operations."}
	}
	out, err := p.ApplyWithOptions(doc, &jsonpatch.ApplyOptions{SupportNegativeIndices: false, AccumulatedCopySizeLimit: 1 << 20})
	if err != nil {
		return nil, &Error{Status: 422, Code: "VALIDATION_ERROR", Message: "The JSON Patch cannot be applied: a path does not exist or a test failed."}
	}
	var r fhir.Resource
	if err := json.Unmarshal(out, &r); err != nil || r == nil {
		return nil, &Error{Status: 422, Code: "VALIDATION_ERROR", Message: "The patched document is not a JSON object."}
	}
	return r, nil
}

// Delete answers DELETE /v1/fhir/:type/:id.
func (h *FHIR) Delete(c echo.Context) error {
	typ, id, s, tenant, err := h.instance(c)
	if err != nil {
		return err
	}
	match, err := ifMatch(c)
	if err != nil {
		return err
	}
	if err := s.Delete(c.Request().Context(), tenant, typ, id, match); err != nil {
		if errs.ReasonOf(err) == "GONE" {
			return &Error{Status: 410, Code: "GONE", Message: typ + "/" + id + " was already deleted."}
		}
		return err
	}
	h.audit(c, ActionDelete, typ, id)
	return c.NoContent(http.StatusNoContent)
}

// History answers GET /v1/fhir/:type/:id/_history as a history Bundle.
func (h *FHIR) History(c echo.Context) error {
	typ, id, s, tenant, err := h.instance(c)
	if err != nil {
		return err
	}
	recs, err := s.History(c.Request().Context(), tenant, typ, id)
	if err != nil {
		return err
	}
	h.audit(c, ActionHistory, typ, id)
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

// queryKey identifies a search for cursor binding: the type and the
// parameters other than the cursor, in order.
func queryKey(typ string, params url.Values) string {
	p := url.Values{}
	for k, v := range params {
		if k != "_cursor" {
			p[k] = v
		}
	}
	return typ + "?" + p.Encode()
}

// Search answers GET /v1/fhir/:type as a searchset Bundle with self and
// next links any FHIR client can follow.
func (h *FHIR) Search(c echo.Context) error {
	typ, err := h.resourceType(c)
	if err != nil {
		return err
	}
	params := c.QueryParams()
	s, tenant, err := h.store(c)
	if err != nil {
		return err
	}
	bind := string(PrincipalOf(c).Env) + "|" + queryKey(typ, params)
	res, q, err := h.search(c.Request().Context(), s, tenant, typ, params, bind)
	if err != nil {
		return err
	}
	h.audit(c, ActionSearch, typ, "")
	return c.JSON(http.StatusOK, h.bundle(tenant, typ, params, q, res, bind))
}

// search parses params and runs the search, resolving the cursor, which
// must have been made for the same tenant, environment and query (bind).
func (h *FHIR) search(ctx context.Context, s *datastore.Store, tenant datastore.Tenant, typ string, params url.Values, bind string) (datastore.Result, datastore.Query, error) {
	q, err := datastore.ParseQuery(h.Index, h.Normalize, typ, params)
	if err != nil {
		return datastore.Result{}, q, err
	}
	if cur := params.Get("_cursor"); cur != "" {
		off, ok := h.Cursors.Decode(tenant, bind, cur)
		if !ok {
			return datastore.Result{}, q, &Error{Status: 400, Code: "INVALID_CURSOR", Message: "The paging cursor is not valid for this search. Start again without _cursor."}
		}
		q.Offset = off
	}
	res, err := s.Search(ctx, tenant, q)
	return res, q, err
}

func (h *FHIR) bundle(tenant datastore.Tenant, typ string, params url.Values, q datastore.Query, res datastore.Result, bind string) map[string]any {
	self := h.BaseURL + "/v1/fhir/" + typ
	if enc := params.Encode(); enc != "" {
		self += "?" + enc
	}
	links := []map[string]any{{"relation": "self", "url": self}}
	if res.HasMore {
		next := url.Values{}
		for k, v := range params {
			next[k] = v
		}
		next.Set("_cursor", h.Cursors.Encode(tenant, bind, q.Offset+q.Limit))
		links = append(links, map[string]any{"relation": "next", "url": h.BaseURL + "/v1/fhir/" + typ + "?" + next.Encode()})
	}
	entries := make([]map[string]any, 0, len(res.Records)+len(res.Included))
	for _, r := range res.Records {
		entries = append(entries, map[string]any{"fullUrl": h.BaseURL + "/v1/fhir/" + r.Type + "/" + r.ID, "resource": json.RawMessage(r.Content), "search": map[string]string{"mode": "match"}})
	}
	for _, r := range res.Included {
		entries = append(entries, map[string]any{"fullUrl": h.BaseURL + "/v1/fhir/" + r.Type + "/" + r.ID, "resource": json.RawMessage(r.Content), "search": map[string]string{"mode": "include"}})
	}
	b := map[string]any{"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries}
	if res.Total >= 0 {
		b["total"] = res.Total
	}
	return b
}

// dataError turns validation failures into 422 with their issues.
func dataError(err error) error {
	var inv *datastore.InvalidError
	if errors.As(err, &inv) {
		return invalidResource(inv.Issues)
	}
	return err
}

func invalidResource(issues []datastore.Issue) error {
	e := &Error{Status: 422, Code: "VALIDATION_ERROR", Message: "The resource is not valid FHIR R4."}
	for _, is := range issues {
		e.Issues = append(e.Issues, Issue{Severity: "error", Code: "invalid", Diagnostics: is.Path + ": " + is.Constraint, Expression: []string{is.Path}})
	}
	return e
}
