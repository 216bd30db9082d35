package supabase

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/supabase-community/gotrue-go"

	"github.com/clinikapi/clinikapi/internal/errs"
)

// ClientAddressHeader carries the address of the person a GoTrue request is
// made for. GoTrue keys its per-IP rate limits by the header named in its
// GOTRUE_RATE_LIMIT_HEADER setting; without it every person would count as
// this server's one address.
const ClientAddressHeader = "X-Forwarded-For"

// api returns a gotrue-go client for one operation: it carries the user's
// access token (if any) and sends its requests with ctx (gotrue-go itself
// takes no context, nor headers per request) plus extra query parameters
// that gotrue-go has no field for (redirect_to on /authorize and /recover,
// scope on /logout), and the person's address in ClientAddressHeader. A
// client is never shared between operations, so a user's token never leaks
// into another user's request.
func (p *Provider) api(ctx context.Context, token string, query url.Values) gotrue.Client {
	c := p.base
	if token != "" {
		c = c.WithToken(token)
	}
	// No Timeout here: every operation bounds ctx itself.
	return c.WithClient(http.Client{Transport: &requestTransport{ctx: ctx, base: p.transport, query: query, client: p.clientAddress(ctx)}})
}

// clientAddress is the address of the person ctx serves, as the dashboard
// determined it (CLINIKAPI_TRUST_PROXY rules), or "" when there is none.
func (p *Provider) clientAddress(ctx context.Context) string {
	if p.opt.ClientIP == nil {
		return ""
	}
	a, err := netip.ParseAddr(strings.TrimSpace(p.opt.ClientIP(ctx)))
	if err != nil {
		return ""
	}
	return a.Unmap().String()
}

// requestTransport attaches a context, query parameters and the client
// address to each request gotrue-go makes.
type requestTransport struct {
	ctx    context.Context
	base   http.RoundTripper
	query  url.Values
	client string
}

func (t *requestTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(t.ctx)
	if t.client != "" {
		r.Header.Set(ClientAddressHeader, t.client)
	}
	if len(t.query) > 0 {
		q := r.URL.Query()
		for k, vs := range t.query {
			for _, v := range vs {
				q.Add(k, v)
			}
		}
		r.URL.RawQuery = q.Encode()
	}
	return t.base.RoundTrip(r)
}

// call makes one GoTrue request directly, for the calls gotrue-go gets wrong
// on the wire: POST /verify with a token_hash (gotrue-go's VerifyForUser
// wants an e-mail and a 303) and POST /token?grant_type=pkce (gotrue-go sends
// "code"; GoTrue reads "auth_code"). Non-2xx answers become *apiError.
func (p *Provider) call(ctx context.Context, method, path string, query url.Values, token string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	u := p.authURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("apikey", p.opt.AnonKey)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ip := p.clientAddress(ctx); ip != "" {
		req.Header.Set(ClientAddressHeader, ip)
	}
	resp, err := p.transport.RoundTrip(req)
	if err != nil {
		return &apiError{cause: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return &apiError{cause: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return parseAPIError(resp.StatusCode, raw)
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &apiError{cause: fmt.Errorf("decoding %s %s answer: %w", method, path, err)}
	}
	return nil
}

// apiError is a GoTrue failure. Its Error text carries the HTTP status and
// error code only: GoTrue messages can quote the e-mail address, and this
// text ends up in logs.
type apiError struct {
	Status  int    // 0 when there was no HTTP answer (network, timeout, bad JSON)
	Code    string // error_code, or the OAuth "error", or one derived from the message
	Msg     string // never logged
	Reasons []string
	cause   error
}

func (e *apiError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("supabase auth unreachable: %v", e.cause)
	}
	if e.Code == "" {
		return fmt.Sprintf("supabase auth: HTTP %d", e.Status)
	}
	return fmt.Sprintf("supabase auth: HTTP %d %s", e.Status, e.Code)
}

func (e *apiError) Unwrap() error { return e.cause }

// classify turns any error from gotrue-go or call into an *apiError.
// gotrue-go reports failures as the string "response status code 422: {json}".
func classify(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	if rest, ok := strings.CutPrefix(err.Error(), "response status code "); ok {
		num, body, _ := strings.Cut(rest, ":")
		if status, perr := strconv.Atoi(strings.TrimSpace(num)); perr == nil && status >= 100 && status <= 599 {
			return parseAPIError(status, []byte(strings.TrimSpace(body)))
		}
	}
	// Transport failures, timeouts, and 2xx bodies gotrue-go could not
	// decode. url.Error texts name the endpoint but never a token: tokens
	// travel in headers and bodies only.
	return &apiError{cause: err}
}

// parseAPIError reads GoTrue's error shapes: {"code":422,"error_code":…,
// "msg":…}, the OAuth one {"error":…,"error_description":…}, and the API
// gateway's {"message":…}.
func parseAPIError(status int, body []byte) *apiError {
	e := &apiError{Status: status}
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return e
	}
	str := func(k string) string { s, _ := m[k].(string); return strings.TrimSpace(s) }
	e.Code = str("error_code")
	if c := str("code"); e.Code == "" && c != "" {
		if _, err := strconv.Atoi(c); err != nil { // some versions put the code in "code"
			e.Code = c
		}
	}
	oauth := str("error")
	if e.Code == "" {
		e.Code = oauth
	}
	for _, k := range []string{"msg", "message", "error_description"} {
		if e.Msg = str(k); e.Msg != "" {
			break
		}
	}
	if wp, ok := m["weak_password"].(map[string]any); ok {
		if rs, ok := wp["reasons"].([]any); ok {
			for _, r := range rs {
				if s, ok := r.(string); ok {
					e.Reasons = append(e.Reasons, s)
				}
			}
		}
	}
	// Older servers send no error_code, or a generic OAuth one: recognise
	// the messages they use.
	if e.Code == "" || e.Code == "invalid_grant" || e.Code == "invalid_request" {
		msg := strings.ToLower(e.Msg)
		for _, d := range []struct{ text, code string }{
			{"invalid login credentials", "invalid_credentials"},
			{"email not confirmed", "email_not_confirmed"},
			{"already registered", "user_already_exists"},
			{"password should be", "weak_password"},
			{"different from the old password", "same_password"},
			{"refresh token", "refresh_token_not_found"},
			{"api key", "api_key"},
		} {
			if strings.Contains(msg, d.text) {
				e.Code = d.code
				break
			}
		}
	}
	return e
}

// Messages shown to people.
var (
	errSessionEnded = errs.E(errs.Unauthorized, "Your session has ended. Sign in again.")
	msgUnavailable  = "Sign-in is unavailable right now. Try again in a minute."
)

func wrapErr(code errs.Code, field string, cause error, msg string) *errs.Error {
	return &errs.Error{Code: code, Field: field, Message: msg, Err: cause}
}

// mapErr maps a GoTrue failure to the errs codes account.Provider promises.
// Operations handle the answers that mean something special to them first.
func mapErr(err error) error {
	e := classify(err)
	switch {
	case e.Status == 0:
		return wrapErr(errs.Unavailable, "", e, msgUnavailable)
	case e.Status == http.StatusTooManyRequests || strings.HasPrefix(e.Code, "over_"):
		return wrapErr(errs.RateLimited, "", e, "Too many attempts. Wait a few minutes and try again.")
	case e.Status >= 500:
		return wrapErr(errs.Unavailable, "", e, msgUnavailable)
	case e.Code == "api_key":
		// The gateway refused our anon key: a configuration problem, not
		// the person's fault.
		return wrapErr(errs.Unavailable, "", fmt.Errorf("%w (check SUPABASE_ANON_KEY)", e), msgUnavailable)
	}
	switch e.Code {
	case "user_already_exists", "email_exists":
		return wrapErr(errs.Invalid, "email", e, "An account with this e-mail already exists. Sign in instead.")
	case "weak_password":
		return wrapErr(errs.Invalid, "password", e, weakPasswordMessage(e.Reasons))
	case "same_password":
		return wrapErr(errs.Invalid, "password", e, "Choose a password different from your current one.")
	case "email_address_invalid", "email_address_not_authorized":
		return wrapErr(errs.Invalid, "email", e, "This e-mail address cannot be used. Try another one.")
	case "invalid_credentials":
		return wrapErr(errs.Unauthorized, "", e, "The e-mail or password is incorrect.")
	case "email_not_confirmed":
		return wrapErr(errs.Forbidden, "", e, "Confirm your e-mail address first: open the link we sent you, then sign in.")
	case "user_banned":
		return wrapErr(errs.Forbidden, "", e, "This account is suspended.")
	case "signup_disabled", "email_provider_disabled":
		return wrapErr(errs.Forbidden, "", e, "New accounts cannot be created right now.")
	case "bad_jwt", "no_authorization", "session_not_found", "session_expired", "user_not_found",
		"refresh_token_not_found", "refresh_token_already_used", "reauthentication_needed":
		return wrapErr(errs.Unauthorized, "", e, errSessionEnded.Message)
	}
	if e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden {
		return wrapErr(errs.Unauthorized, "", e, errSessionEnded.Message)
	}
	// A 4xx we do not know is most likely a bug on our side.
	return wrapErr(errs.Internal, "", e, "unexpected answer from Supabase Auth")
}

func weakPasswordMessage(reasons []string) string {
	for _, r := range reasons {
		if r == "pwned" {
			return "This password has appeared in a data breach. Choose a different one."
		}
	}
	for _, r := range reasons {
		if r == "characters" {
			return "Use a mix of lower-case and upper-case letters, digits and symbols in your password."
		}
	}
	return "Choose a longer, stronger password."
}
