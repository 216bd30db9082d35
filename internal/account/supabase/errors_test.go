package supabase

import (
	"errors"
	"strings"
	"testing"

	"github.com/clinikapi/clinikapi/internal/errs"
)

func TestClassifyAndMap(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		status int
		code   string
		want   errs.Code
		field  string
	}{
		{"current shape", errors.New(`response status code 422: {"code":422,"error_code":"user_already_exists","msg":"User already registered"}`), 422, "user_already_exists", errs.Invalid, "email"},
		{"weak password", errors.New(`response status code 422: {"code":422,"error_code":"weak_password","msg":"Password should be at least 6 characters.","weak_password":{"reasons":["length"]}}`), 422, "weak_password", errs.Invalid, "password"},
		{"invalid credentials", errors.New(`response status code 400: {"code":400,"error_code":"invalid_credentials","msg":"Invalid login credentials"}`), 400, "invalid_credentials", errs.Unauthorized, ""},
		{"old OAuth shape", errors.New(`response status code 400: {"error":"invalid_grant","error_description":"Invalid login credentials"}`), 400, "invalid_credentials", errs.Unauthorized, ""},
		{"old shape, no error_code", errors.New(`response status code 422: {"code":422,"msg":"User already registered"}`), 422, "user_already_exists", errs.Invalid, "email"},
		{"code as string", errors.New(`response status code 400: {"code":"email_not_confirmed","message":"Email not confirmed"}`), 400, "email_not_confirmed", errs.Forbidden, ""},
		{"rate limited", errors.New(`response status code 429: {"code":429,"error_code":"over_request_rate_limit","msg":"Request rate limit reached"}`), 429, "over_request_rate_limit", errs.RateLimited, ""},
		{"email rate limit, 400", errors.New(`response status code 400: {"code":400,"error_code":"over_email_send_rate_limit","msg":"Email rate limit exceeded"}`), 400, "over_email_send_rate_limit", errs.RateLimited, ""},
		{"server error, no body", errors.New(`response status code 502`), 502, "", errs.Unavailable, ""},
		{"server error, HTML body", errors.New("response status code 503: <html>down</html>"), 503, "", errs.Unavailable, ""},
		{"gateway key", errors.New(`response status code 401: {"message":"Invalid API key","hint":"Double check your Supabase anon key."}`), 401, "api_key", errs.Unavailable, ""},
		{"bad jwt", errors.New(`response status code 403: {"code":403,"error_code":"bad_jwt","msg":"invalid JWT"}`), 403, "bad_jwt", errs.Unauthorized, ""},
		{"network", errors.New(`Post "https://xyz.supabase.co/auth/v1/token?grant_type=password": dial tcp: connection refused`), 0, "", errs.Unavailable, ""},
		{"unknown 400", errors.New(`response status code 400: {"code":400,"error_code":"something_new","msg":"?"}`), 400, "something_new", errs.Internal, ""},
	} {
		e := classify(tc.err)
		if e.Status != tc.status || e.Code != tc.code {
			t.Errorf("%s: classify got status %d code %q, want %d %q", tc.name, e.Status, e.Code, tc.status, tc.code)
		}
		err := mapErr(tc.err)
		if got := errs.CodeOf(err); got != tc.want {
			t.Errorf("%s: mapErr got %q, want %q", tc.name, got, tc.want)
		}
		if got := errs.FieldOf(err); got != tc.field {
			t.Errorf("%s: field got %q, want %q", tc.name, got, tc.field)
		}
	}
}

func TestAPIErrorTextKeepsMessagesOut(t *testing.T) {
	// GoTrue can quote the address in a message; the error text (which is
	// logged) must not carry it.
	e := classify(errors.New(`response status code 400: {"code":400,"error_code":"email_address_invalid","msg":"Email address \"ada@example.com\" is invalid"}`))
	if strings.Contains(e.Error(), "ada@example.com") || strings.Contains(mapErr(e).Error(), "ada@example.com") {
		t.Errorf("error text %q carries the e-mail address", mapErr(e).Error())
	}
}
