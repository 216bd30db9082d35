// Package errs is the one error type the domain packages return. A code says
// what kind of failure it is; the web layer maps codes to HTTP in one place.
// Messages are written for the person using the product and never carry
// secrets or PHI.
package errs

import (
	"errors"
	"fmt"
	"time"
)

// Code classifies a failure.
type Code string

const (
	Invalid      Code = "invalid"      // the input breaks a rule; Message says which
	NotFound     Code = "not_found"    // missing, or not visible to the caller
	Conflict     Code = "conflict"     // state does not allow it (duplicate, last owner, version)
	Unauthorized Code = "unauthorized" // who you are is unknown
	Forbidden    Code = "forbidden"    // who you are may not do it
	RateLimited  Code = "rate_limited" // too many attempts; retry later
	Unavailable  Code = "unavailable"  // a dependency failed; retry later
	Internal     Code = "internal"     // a bug or unexpected failure
)

// Reason is a specific machine-readable code a failure carries beside its
// Code: one of the API's documented error codes (README, "Errors"). The
// web layer answers it as the error body's code.
type Reason string

// The reasons domain packages give.
const (
	ReasonUnauthorized      Reason = "UNAUTHORIZED"       // no API key
	ReasonInvalidKeyFormat  Reason = "INVALID_KEY_FORMAT" // not clk_test_… / clk_live_…
	ReasonInvalidKey        Reason = "INVALID_KEY"        // no such key
	ReasonKeyRevoked        Reason = "KEY_REVOKED"
	ReasonKeyExpired        Reason = "KEY_EXPIRED"
	ReasonKeyDisabled       Reason = "KEY_DISABLED"       // the key is disabled (it can be enabled again)
	ReasonIPNotAllowed      Reason = "IP_NOT_ALLOWED"     // the client address is outside the key's allowlist
	ReasonInsufficientScope Reason = "INSUFFICIENT_SCOPE" // the key's scope does not allow it
	ReasonGone              Reason = "GONE"               // the resource was deleted (raw FHIR: 410)
	ReasonValidation        Reason = "VALIDATION_ERROR"   // field-level issues in Issues
	ReasonInvalidJSON       Reason = "INVALID_JSON"       // the body is not the JSON expected
	ReasonInvalidSearch     Reason = "INVALID_SEARCH"     // a search parameter or value is not understood
	ReasonInvalidCursor     Reason = "INVALID_CURSOR"     // a paging cursor made for another search
	ReasonSearchTooCostly   Reason = "SEARCH_TOO_COSTLY"  // a search ran past the datastore's time budget
	ReasonRateLimited       Reason = "RATE_LIMITED"
	ReasonMonthlyQuota      Reason = "MONTHLY_QUOTA_EXCEEDED"
	ReasonSandboxQuota      Reason = "SANDBOX_QUOTA_EXCEEDED"
	ReasonInvalidLink       Reason = "INVALID_DOWNLOAD_LINK"  // a bulk download link that is forged, expired or spent
	ReasonIdempotencyReused Reason = "IDEMPOTENCY_KEY_REUSED" // an Idempotency-Key sent again with another request
	ReasonIdempotencyInUse  Reason = "IDEMPOTENCY_KEY_IN_USE" // the first request with the key is still running
)

// Issue is one field-level detail of an Invalid error, OperationOutcome
// style: the FHIR issue type, what is wrong (names and rules, never
// values), and the field or FHIR path it is about.
type Issue struct {
	Type        string // required, structure, value, invalid …
	Diagnostics string
	Expression  string // optional
}

// Error is a domain error with a code and a human message.
type Error struct {
	Code    Code
	Message string
	Field   string // optional: the form field the message is about
	Reason  Reason // optional: a specific machine-readable code, e.g. KEY_REVOKED
	Issues  []Issue
	// RetryAfter says when to try again (RateLimited), from the app clock.
	RetryAfter time.Duration
	// More holds the other field errors of the same form (see Fields), so
	// that a form shows them all at once; the error itself is the first.
	More []*Error
	Err  error // optional: the underlying cause, for logs only
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// E makes an Error.
func E(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Field makes an Invalid error about one form field.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: Invalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Fields combines the checks of a form's fields: nil when all passed, the
// first failure otherwise, carrying the further field errors in More. A
// failure that is not a field error (a database error, a refusal) is
// returned alone: it says more than the fields do.
func Fields(checks ...error) error {
	var list []*Error
	for _, err := range checks {
		if err == nil {
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Field == "" {
			return err
		}
		one := *e
		one.More = nil
		list = append(append(list, &one), e.More...)
	}
	if len(list) == 0 {
		return nil
	}
	first := *list[0]
	first.More = list[1:]
	return &first
}

// FieldErrors lists err's messages by field: its own and those in More;
// the first message for a field wins.
func FieldErrors(err error) map[string]string {
	var e *Error
	if !errors.As(err, &e) {
		return nil
	}
	out := map[string]string{e.Field: e.Message}
	for _, m := range e.More {
		if _, ok := out[m.Field]; !ok {
			out[m.Field] = m.Message
		}
	}
	return out
}

// Wrap makes an Internal (or other code) error around a cause.
func Wrap(code Code, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// CodeOf returns the code of err, Internal for foreign errors and "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// ReasonOf returns the specific reason of err, if it carries one.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// IssuesOf returns the field-level issues of err.
func IssuesOf(err error) []Issue {
	var e *Error
	if errors.As(err, &e) {
		return e.Issues
	}
	return nil
}

// RetryAfterOf returns how long err says to wait before trying again.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// Is reports whether err carries code.
func Is(err error, code Code) bool { return CodeOf(err) == code }

// MessageOf returns the human message of err, a generic one for foreign errors.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != Internal {
		return e.Message
	}
	return "Something went wrong on our side. Please try again."
}

// FieldOf returns the form field the error is about, if any.
func FieldOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}
