package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/fhir"
)

// ParamLister lists the search parameters the server indexes for a type.
type ParamLister interface {
	Params(resourceType string) []fhir.SearchParam
}

// Capabilities answers /v1/metadata and /v1/fhir/metadata with an R4
// CapabilityStatement generated from what the server supports: every type
// it stores, the interactions, and the indexed search parameters.
type Capabilities struct {
	Types   []string
	Params  ParamLister
	BaseURL string
	Version string
	// Started dates the statement: what it describes is fixed when the
	// instance starts. Zero means when it is first served.
	Started time.Time

	// Keys verifies a key sent with the request (none is needed): a key
	// restricted to some resource types sees only those, with the
	// interactions its scopes allow. Nil: every request sees everything.
	Keys *apikey.Service

	once sync.Once
	body []byte
}

// Serve writes the CapabilityStatement (built once), or the one a
// restricted key sees (built for it).
func (m *Capabilities) Serve(c echo.Context) error {
	if raw := c.Request().Header.Get("X-Api-Key"); raw != "" && m.Keys != nil {
		// A key that does not verify gets the public statement: it needs none.
		if pr, err := m.Keys.Verify(c.Request().Context(), raw); err == nil && (pr.RestrictsTypes() || pr.Scope != apikey.ScopeAll) {
			body, _ := json.Marshal(m.build(func(method string, typ string) bool {
				return pr.Scope.Allows(method) && pr.AllowsType(typ, method)
			}))
			c.Response().Header().Set("Cache-Control", "private, no-store")
			c.Response().Header().Set("Vary", "X-Api-Key")
			return c.Blob(http.StatusOK, ContentType, body)
		}
	}
	m.once.Do(func() { m.body, _ = json.Marshal(m.build(nil)) })
	c.Response().Header().Set("Cache-Control", "public, max-age=3600")
	c.Response().Header().Set("Vary", "X-Api-Key")
	return c.Blob(http.StatusOK, ContentType, m.body)
}

// interactionMethods are the FHIR interactions, with the HTTP method each
// is made with.
var interactionMethods = []struct{ code, method string }{
	{"read", "GET"}, {"create", "POST"}, {"update", "PUT"}, {"patch", "PATCH"}, {"delete", "DELETE"},
	{"history-instance", "GET"}, {"search-type", "GET"},
}

func (m *Capabilities) date() string {
	t := m.Started
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Format(time.RFC3339)
}

// searchLimits are the search limits every search is held to.
var searchLimits = datastore.DefaultLimits

// searchLimitsDoc describes the search limits (README, "Search limits and
// the time budget") in the statement's rest.documentation.
func searchLimitsDoc() string {
	return fmt.Sprintf("Search limits (a search past one is refused with 400, code INVALID_SEARCH): at most %d search parameters "+
		"(each repetition counts; result parameters aside), %d values per parameter (comma-separated OR), %d _sort keys, "+
		"%d _include and _revinclude values together, includes one level deep (no :iterate), no chained parameters, "+
		"_count at most %d, %d bytes of parameter names and values. Every search runs under a time budget; one that "+
		"runs past it is stopped and answered 400, code SEARCH_TOO_COSTLY.",
		searchLimits.Params, searchLimits.OrValues, searchLimits.SortKeys, searchLimits.Includes, datastore.MaxCount, searchLimits.QueryBytes)
}

// build makes the statement; allows, when not nil, says which methods a
// key may use on a type (types with none are left out).
func (m *Capabilities) build(allows func(method, typ string) bool) map[string]any {
	var resources []map[string]any
	for _, t := range m.Types {
		interactions := []map[string]string{}
		for _, im := range interactionMethods {
			if allows == nil || allows(im.method, t) {
				interactions = append(interactions, map[string]string{"code": im.code})
			}
		}
		if len(interactions) == 0 {
			continue
		}
		ps := m.Params.Params(t)
		sort.Slice(ps, func(i, j int) bool { return ps[i].Code < ps[j].Code })
		var params []map[string]string
		var includes []string
		for _, p := range ps {
			params = append(params, map[string]string{
				"name": p.Code, "type": string(p.Type),
				"definition": "http://hl7.org/fhir/SearchParameter/" + t + "-" + p.Code,
			})
			if p.Type == fhir.Reference && p.Code[0] != '_' {
				includes = append(includes, t+":"+p.Code)
			}
		}
		r := map[string]any{
			"type": t, "profile": "http://hl7.org/fhir/StructureDefinition/" + t,
			"interaction": interactions, "versioning": "versioned", "readHistory": false, "updateCreate": true,
			"conditionalCreate": false, "conditionalUpdate": false, "conditionalDelete": "not-supported",
			"searchParam": params,
		}
		if len(includes) > 0 {
			r["searchInclude"] = includes
		}
		resources = append(resources, r)
	}
	// Every reference parameter can be reverse-included from its source.
	for _, r := range resources {
		if inc, ok := r["searchInclude"].([]string); ok {
			r["searchRevInclude"] = inc
		}
	}
	return map[string]any{
		"resourceType": "CapabilityStatement",
		"status":       "active",
		"date":         m.date(),
		"publisher":    "ClinikAPI",
		"kind":         "instance",
		"software":     map[string]string{"name": "ClinikAPI", "version": m.Version},
		"implementation": map[string]string{
			"description": "ClinikAPI FHIR R4 API: tenant-isolated, API-key authenticated.",
			"url":         m.BaseURL + "/v1/fhir",
		},
		"fhirVersion": "4.0.1",
		"format":      []string{"application/fhir+json", "json"},
		"patchFormat": []string{"application/json-patch+json"},
		"rest": []map[string]any{{
			"mode": "server",
			"security": map[string]any{
				"description": "Send an API key (clk_test_… or clk_live_…) in the x-api-key header.",
			},
			"resource":      resources,
			"documentation": searchLimitsDoc(),
			"searchParam": []map[string]string{
				{"name": "_count", "type": "number", "documentation": fmt.Sprintf("Page size, at most %d (larger values are clamped); 0 gives only the total.", datastore.MaxCount)},
				{"name": "_sort", "type": "string", "documentation": fmt.Sprintf("At most %d keys.", searchLimits.SortKeys)},
				{"name": "_total", "type": "token"}, {"name": "_summary", "type": "token"},
				{"name": "_include", "type": "string", "documentation": fmt.Sprintf("At most %d _include and _revinclude values together; one level deep (no :iterate).", searchLimits.Includes)},
				{"name": "_revinclude", "type": "string", "documentation": fmt.Sprintf("At most %d _include and _revinclude values together; one level deep (no :iterate).", searchLimits.Includes)},
			},
		}},
	}
}
