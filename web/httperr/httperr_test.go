package httperr_test

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/web/httperr"
)

// documented is the README's table of error codes: what each domain code
// and reason is answered with.
var documented = []struct {
	name   string
	err    error
	status int
	code   string
}{
	{"Invalid", errs.E(errs.Invalid, "bad"), 422, "VALIDATION_ERROR"},
	{"NotFound", errs.E(errs.NotFound, "missing"), 404, "NOT_FOUND"},
	{"Conflict", errs.E(errs.Conflict, "version"), 409, "CONFLICT"},
	{"Unauthorized", errs.E(errs.Unauthorized, "who"), 401, "UNAUTHORIZED"},
	{"Forbidden", errs.E(errs.Forbidden, "role"), 403, "FORBIDDEN"},
	{"RateLimited", errs.E(errs.RateLimited, "slow down"), 429, "RATE_LIMITED"},
	{"Unavailable", errs.E(errs.Unavailable, "down"), 503, "SERVICE_UNAVAILABLE"},
	{"Internal", errs.E(errs.Internal, "bug"), 500, "INTERNAL_ERROR"},

	{"ReasonUnauthorized", reason(errs.Unauthorized, errs.ReasonUnauthorized), 401, "UNAUTHORIZED"},
	{"ReasonInvalidKeyFormat", reason(errs.Unauthorized, errs.ReasonInvalidKeyFormat), 401, "INVALID_KEY_FORMAT"},
	{"ReasonInvalidKey", reason(errs.Unauthorized, errs.ReasonInvalidKey), 401, "INVALID_KEY"},
	{"ReasonKeyRevoked", reason(errs.Unauthorized, errs.ReasonKeyRevoked), 401, "KEY_REVOKED"},
	{"ReasonKeyExpired", reason(errs.Unauthorized, errs.ReasonKeyExpired), 401, "KEY_EXPIRED"},
	{"ReasonKeyDisabled", reason(errs.Unauthorized, errs.ReasonKeyDisabled), 401, "KEY_DISABLED"},
	{"ReasonIPNotAllowed", reason(errs.Forbidden, errs.ReasonIPNotAllowed), 403, "IP_NOT_ALLOWED"},
	{"ReasonInsufficientScope", reason(errs.Forbidden, errs.ReasonInsufficientScope), 403, "INSUFFICIENT_SCOPE"},
	{"ReasonInvalidLink", reason(errs.Forbidden, errs.ReasonInvalidLink), 403, "INVALID_DOWNLOAD_LINK"},
	{"ReasonGone", reason(errs.NotFound, errs.ReasonGone), 410, "GONE"},
	{"ReasonValidation", reason(errs.Invalid, errs.ReasonValidation), 422, "VALIDATION_ERROR"},
	{"ReasonInvalidJSON", reason(errs.Invalid, errs.ReasonInvalidJSON), 400, "INVALID_JSON"},
	{"ReasonInvalidSearch", reason(errs.Invalid, errs.ReasonInvalidSearch), 400, "INVALID_SEARCH"},
	{"ReasonInvalidCursor", reason(errs.Invalid, errs.ReasonInvalidCursor), 400, "INVALID_CURSOR"},
	{"ReasonSearchTooCostly", reason(errs.Invalid, errs.ReasonSearchTooCostly), 400, "SEARCH_TOO_COSTLY"},
	{"ReasonRateLimited", reason(errs.RateLimited, errs.ReasonRateLimited), 429, "RATE_LIMITED"},
	{"ReasonMonthlyQuota", reason(errs.RateLimited, errs.ReasonMonthlyQuota), 429, "MONTHLY_QUOTA_EXCEEDED"},
	{"ReasonSandboxQuota", reason(errs.RateLimited, errs.ReasonSandboxQuota), 429, "SANDBOX_QUOTA_EXCEEDED"},
	{"ReasonIdempotencyReused", reason(errs.Invalid, errs.ReasonIdempotencyReused), 422, "IDEMPOTENCY_KEY_REUSED"},
	{"ReasonIdempotencyInUse", reason(errs.Conflict, errs.ReasonIdempotencyInUse), 409, "IDEMPOTENCY_KEY_IN_USE"},

	{"foreign error", errors.New("disk on fire"), 500, "INTERNAL_ERROR"},
	{"client went away", fmt.Errorf("reading: %w", context.Canceled), 499, "CLIENT_CLOSED_REQUEST"},
	{"wrapped", fmt.Errorf("loading: %w", errs.E(errs.NotFound, "missing")), 404, "NOT_FOUND"},
}

func reason(c errs.Code, r errs.Reason) error {
	return &errs.Error{Code: c, Reason: r, Message: "m"}
}

func TestEveryCodeAndReasonMapsAsDocumented(t *testing.T) {
	for _, tc := range documented {
		got := httperr.Of(tc.err)
		if got.Status != tc.status || got.Code != tc.code {
			t.Errorf("%s: got %d %s, want %d %s", tc.name, got.Status, got.Code, tc.status, tc.code)
		}
		if got.Status == 500 && got.Message != httperr.InternalMessage {
			t.Errorf("%s: a server failure says %q, want the generic message (no internals)", tc.name, got.Message)
		}
	}
	// Every Code and Reason constant of package errs has a row above.
	have := map[string]bool{}
	for _, tc := range documented {
		have[tc.name] = true
	}
	for _, name := range constants(t, "Code", "Reason") {
		if !have[name] {
			t.Errorf("errs.%s has no row in the documented table: add one (and to the README's error codes)", name)
		}
	}
}

// constants lists the names of the constants of the given types in
// package errs.
func constants(t *testing.T, types ...string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../../internal/errs/errs.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			id, ok := vs.Type.(*ast.Ident)
			if !ok {
				continue
			}
			for _, want := range types {
				if id.Name == want {
					for _, n := range vs.Names {
						out = append(out, n.Name)
					}
				}
			}
		}
	}
	if len(out) < 10 {
		t.Fatalf("found only %d constants in errs.go: the parser is looking in the wrong place", len(out))
	}
	return out
}

func TestRetryAfter(t *testing.T) {
	e := &errs.Error{Code: errs.RateLimited, Reason: errs.ReasonMonthlyQuota, RetryAfter: 1500 * time.Millisecond}
	got := httperr.Of(e)
	if got.RetryAfter != 1500*time.Millisecond || httperr.RetryAfterSeconds(got.RetryAfter) != 2 {
		t.Fatalf("Retry-After: got %v (%d s), want 1.5s rounded up to 2 s", got.RetryAfter, httperr.RetryAfterSeconds(got.RetryAfter))
	}
	if got := httperr.Of(errs.E(errs.RateLimited, "x")); got.RetryAfter != time.Minute {
		t.Fatalf("a rate limit without a delay: Retry-After %v, want one minute", got.RetryAfter)
	}
	if got := httperr.Of(&errs.Error{Code: errs.Unavailable, RetryAfter: time.Second}); got.Status != 503 || got.RetryAfter != time.Second {
		t.Fatalf("a 503 with a delay: %d Retry-After %v, want 503 after 1s", got.Status, got.RetryAfter)
	}
	if got := httperr.Of(errs.E(errs.NotFound, "x")); got.RetryAfter != 0 {
		t.Fatalf("a 404 has Retry-After %v", got.RetryAfter)
	}
}

func TestFieldBecomesAnIssue(t *testing.T) {
	got := httperr.Of(errs.FieldError("since", "must be a date-time"))
	if got.Status != http.StatusUnprocessableEntity || len(got.Issues) != 1 || got.Issues[0].Expression != "since" {
		t.Fatalf("a field error: got %+v, want 422 with one issue about since", got)
	}
}

// TestTransient: an error that is no domain error but a dependency out of
// reach for now (as the composition root's classifier says) is 503 with a
// Retry-After, also when wrapped as Internal; any other stays 500, and a
// domain error keeps its own answer.
func TestTransient(t *testing.T) {
	down := errors.New("too many connections")
	httperr.Transient = func(err error) bool { return errors.Is(err, down) }
	defer func() { httperr.Transient = nil }()
	for _, err := range []error{down, fmt.Errorf("reading: %w", down), &errs.Error{Code: errs.Internal, Err: down}} {
		r := httperr.Of(err)
		if r.Status != http.StatusServiceUnavailable || r.Code != "SERVICE_UNAVAILABLE" || r.RetryAfter != time.Second || r.Message != httperr.UnavailableMessage {
			t.Errorf("%v: %+v, want 503 SERVICE_UNAVAILABLE with a Retry-After of 1 s", err, r)
		}
	}
	if r := httperr.Of(errors.New("a bug")); r.Status != 500 || r.RetryAfter != 0 {
		t.Errorf("another error: %+v, want 500 without Retry-After", r)
	}
	if r := httperr.Of(&errs.Error{Code: errs.Conflict, Message: "version", Err: down}); r.Status != 409 {
		t.Errorf("a domain error over a transient cause: %+v, want its own 409", r)
	}
}
