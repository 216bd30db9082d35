// Package httperr is the one mapping from domain errors (internal/errs:
// a Code, and a Reason where the failure has a documented error code of its
// own) to HTTP: the status, the API's error code, the message shown, the
// field-level issues and the Retry-After delay. The API tier renders it as
// the JSON error body (or an OperationOutcome on /v1/fhir), the dashboard
// as its HTML error page or form message.
package httperr

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/clinikapi/clinikapi/internal/errs"
)

// Response is how a failure is answered over HTTP.
type Response struct {
	Status  int
	Code    string // the API's error code: VALIDATION_ERROR, NOT_FOUND, …
	Message string // for the person using the product; never PHI or secrets
	Issues  []errs.Issue
	// RetryAfter is the Retry-After delay (429, and 503 when the failure
	// gives one), zero for none.
	RetryAfter time.Duration
}

// InternalMessage is what a failure on the server's side says.
const InternalMessage = "Something went wrong on our side. Retry, and contact support with the request id if it persists."

// byCode are the status and default API code of each domain code.
var byCode = map[errs.Code]struct {
	status int
	code   string
}{
	errs.Invalid:      {http.StatusUnprocessableEntity, "VALIDATION_ERROR"},
	errs.NotFound:     {http.StatusNotFound, "NOT_FOUND"},
	errs.Conflict:     {http.StatusConflict, "CONFLICT"},
	errs.Unauthorized: {http.StatusUnauthorized, "UNAUTHORIZED"},
	errs.Forbidden:    {http.StatusForbidden, "FORBIDDEN"},
	errs.RateLimited:  {http.StatusTooManyRequests, "RATE_LIMITED"},
	errs.Unavailable:  {http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE"},
	errs.Internal:     {http.StatusInternalServerError, "INTERNAL_ERROR"},
}

// byReason are the reasons whose status is not their code's.
var byReason = map[errs.Reason]int{
	errs.ReasonGone:            http.StatusGone,
	errs.ReasonInvalidJSON:     http.StatusBadRequest,
	errs.ReasonInvalidSearch:   http.StatusBadRequest,
	errs.ReasonInvalidCursor:   http.StatusBadRequest,
	errs.ReasonSearchTooCostly: http.StatusBadRequest,
}

// StatusClientClosed is the status of a request whose client went away
// before its answer (nginx's 499): what usage and the logs record; the
// answer written goes to a closed connection.
const StatusClientClosed = 499

// UnavailableMessage is what a failure of the database that passes says.
const UnavailableMessage = "The database is not reachable right now. Retry in a moment."

// Transient, when set, tells which errors that are not domain errors are
// a dependency out of reach for now (a database refusing or cutting
// connections) rather than a bug: those are answered 503
// SERVICE_UNAVAILABLE with a Retry-After of a second. The composition
// root sets it to the store's classification (store.Unavailable), so this
// package knows no driver.
var Transient func(error) bool

// Of maps err. Errors that are not domain errors are internal failures,
// but for a cancelled request (its client closed it: 499) and a
// dependency out of reach for now (Transient: 503).
func Of(err error) Response {
	if errors.Is(err, context.Canceled) {
		return Response{Status: StatusClientClosed, Code: "CLIENT_CLOSED_REQUEST", Message: "The client closed the request before it was answered."}
	}
	var e *errs.Error
	if (!errors.As(err, &e) || e.Code == errs.Internal) && Transient != nil && Transient(err) {
		return Response{Status: http.StatusServiceUnavailable, Code: "SERVICE_UNAVAILABLE", Message: UnavailableMessage, RetryAfter: time.Second}
	}
	if e == nil || e.Code == errs.Internal || byCode[e.Code].status == 0 {
		return Response{Status: http.StatusInternalServerError, Code: "INTERNAL_ERROR", Message: InternalMessage}
	}
	m := byCode[e.Code]
	r := Response{Status: m.status, Code: m.code, Message: e.Message, Issues: e.Issues}
	if len(r.Issues) == 0 && e.Field != "" {
		r.Issues = []errs.Issue{{Type: "invalid", Diagnostics: e.Message, Expression: e.Field}}
	}
	if e.Reason != "" {
		r.Code = string(e.Reason)
		if s, ok := byReason[e.Reason]; ok {
			r.Status = s
		}
	}
	switch r.Status {
	case http.StatusTooManyRequests:
		r.RetryAfter = e.RetryAfter
		if r.RetryAfter <= 0 {
			r.RetryAfter = time.Minute
		}
	case http.StatusServiceUnavailable:
		r.RetryAfter = max(e.RetryAfter, 0)
	}
	return r
}

// Status is the HTTP status of err.
func Status(err error) int { return Of(err).Status }

// RetryAfterSeconds renders a Retry-After delay: whole seconds, rounded
// up, at least 1.
func RetryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(1, s)
}
