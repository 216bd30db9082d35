// Package api holds the /v1 handlers and the pipeline every API request
// passes: request id → method-override rejection → body limit → key auth →
// scope → org rate limit → (monthly quota) → handler.
package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/logging"
	"github.com/clinikapi/clinikapi/web/httperr"
)

// Issue is one OperationOutcome-style detail of an error.
type Issue struct {
	Severity    string   `json:"severity"`
	Code        string   `json:"code"`
	Diagnostics string   `json:"diagnostics"`
	Expression  []string `json:"expression,omitempty"`
	Details     *Concept `json:"details,omitempty"`
}

// Concept and Coding are the FHIR CodeableConcept shapes used in
// OperationOutcome issues.
type Concept struct {
	Coding []Coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

// Coding is a FHIR Coding.
type Coding struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

// ErrorCodeSystem names ClinikAPI's error codes inside OperationOutcomes.
const ErrorCodeSystem = "https://clinikapi.com/error-code"

// IsFHIRPath reports whether a path is a raw FHIR route.
func IsFHIRPath(p string) bool { return p == "/v1/fhir" || strings.HasPrefix(p, "/v1/fhir/") }

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// ErrorBody is the JSON error every /v1 failure answers with. The issues are
// listed under both "issues" (the docs) and "issue" (what FHIR clients and
// the official SDK read).
type ErrorBody struct {
	Error     string  `json:"error"`
	Message   string  `json:"message"`
	Code      string  `json:"code"`
	RequestID string  `json:"requestId"`
	Issues    []Issue `json:"issues"`
	Issue     []Issue `json:"issue"`
}

// Error is an API failure with its HTTP status and code.
type Error struct {
	Status  int
	Code    string
	Message string
	Issues  []Issue
	Headers map[string]string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// titles are the short human titles per status.
var titles = map[int]string{
	400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 410: "Gone",
	409: "Conflict", 413: "Payload Too Large", 415: "Unsupported Media Type", 422: "Validation Error",
	429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable",
}

// issueCodes maps statuses to FHIR issue-type codes.
var issueCodes = map[int]string{
	400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported", 409: "conflict", 410: "deleted",
	413: "too-costly", 415: "not-supported", 422: "invalid", 429: "throttled", 500: "exception", 503: "transient",
}

// toError turns anything a handler returned into an API error.
func toError(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusRequestEntityTooLarge:
			return &Error{Status: 413, Code: "PAYLOAD_TOO_LARGE", Message: "The request body is larger than 1 MiB."}
		case http.StatusNotFound:
			return &Error{Status: 404, Code: "NOT_FOUND", Message: "No such endpoint."}
		case http.StatusMethodNotAllowed:
			return &Error{Status: 405, Code: "METHOD_NOT_ALLOWED", Message: "This endpoint does not accept that method."}
		}
		return &Error{Status: he.Code, Code: "INTERNAL_ERROR", Message: http.StatusText(he.Code)}
	}
	r := httperr.Of(err)
	e := &Error{Status: r.Status, Code: r.Code, Message: r.Message}
	for _, is := range r.Issues {
		it := Issue{Severity: "error", Code: is.Type, Diagnostics: is.Diagnostics}
		if is.Expression != "" {
			it.Expression = []string{is.Expression}
		}
		e.Issues = append(e.Issues, it)
	}
	if r.RetryAfter > 0 {
		e.Headers = map[string]string{"Retry-After": strconv.Itoa(httperr.RetryAfterSeconds(r.RetryAfter))}
	}
	return e
}

// keyErrorCode holds the error code a response was answered with.
const keyErrorCode = "api.error_code"

// WriteError answers err as the JSON error body.
func WriteError(c echo.Context, err error) {
	e := toError(err)
	c.Set(keyErrorCode, e.Code) // for the usage record, whoever answered
	if c.Response().Committed {
		return
	}
	issues := e.Issues
	if len(issues) == 0 {
		sev := "error"
		if e.Status >= 500 {
			sev = "fatal"
		}
		code := issueCodes[e.Status]
		if e.Code == "SEARCH_TOO_COSTLY" {
			code = "too-costly"
		}
		issues = []Issue{{Severity: sev, Code: code, Diagnostics: e.Message}}
	}
	for k, v := range e.Headers {
		c.Response().Header().Set(k, v)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(e.Status)
		return
	}
	if IsFHIRPath(c.Request().URL.Path) {
		// Raw FHIR routes answer a plain OperationOutcome; the ClinikAPI
		// error code travels as the issue's details coding.
		for i := range issues {
			issues[i].Details = &Concept{Coding: []Coding{{System: ErrorCodeSystem, Code: e.Code}}, Text: e.Message}
		}
		_ = c.Blob(e.Status, ContentType, mustJSON(map[string]any{"resourceType": "OperationOutcome", "issue": issues}))
		return
	}
	title := titles[e.Status]
	if title == "" {
		title = http.StatusText(e.Status)
	}
	body := ErrorBody{Error: title, Message: e.Message, Code: e.Code, RequestID: logging.RequestID(c.Request().Context()), Issues: issues, Issue: issues}
	_ = c.JSON(e.Status, body)
}

// errorCodeOf reads the error code back out of an error body WriteError
// wrote: the JSON error body's code, or the OperationOutcome's coding.
func errorCodeOf(body []byte) string {
	var b struct {
		Code  string  `json:"code"`
		Issue []Issue `json:"issue"`
	}
	if json.Unmarshal(body, &b) != nil {
		return ""
	}
	if b.Code != "" {
		return b.Code
	}
	for _, is := range b.Issue {
		if is.Details != nil {
			for _, cd := range is.Details.Coding {
				if cd.System == ErrorCodeSystem {
					return cd.Code
				}
			}
		}
	}
	return ""
}

// StatusOf is the status err answers with.
func StatusOf(err error) int { return toError(err).Status }

// ProtocolErrorBody renders an error the HTTP server answers itself,
// before any handler runs (a malformed request, headers too large, an
// unsupported transfer encoding), for a request to path: the JSON error
// body under /v1, an OperationOutcome under /v1/fhir. It returns the
// content type and the body.
func ProtocolErrorBody(path string, status int, code, message, requestID string) (string, []byte) {
	sev := "error"
	if status >= 500 {
		sev = "fatal"
	}
	ic := issueCodes[status]
	switch status {
	case http.StatusRequestHeaderFieldsTooLarge:
		ic = "too-costly"
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		ic = "not-supported"
	}
	if ic == "" {
		ic = "invalid"
	}
	issues := []Issue{{Severity: sev, Code: ic, Diagnostics: message}}
	if IsFHIRPath(path) {
		issues[0].Details = &Concept{Coding: []Coding{{System: ErrorCodeSystem, Code: code}}, Text: message}
		return ContentType, mustJSON(map[string]any{"resourceType": "OperationOutcome", "issue": issues})
	}
	title := titles[status]
	if title == "" {
		title = http.StatusText(status)
	}
	return echo.MIMEApplicationJSON, mustJSON(ErrorBody{Error: title, Message: message, Code: code, RequestID: requestID, Issues: issues, Issue: issues})
}
