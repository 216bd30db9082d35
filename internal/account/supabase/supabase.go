// Package supabase is the account.Provider that signs people in with
// Supabase Auth (GoTrue). Supabase keeps the passwords and sessions; the
// browser holds the access token (a JWT) and the refresh token in HttpOnly
// cookies. Access tokens are verified locally (project JWT secret or JWKS),
// and the session behind them is re-validated with Supabase at most once a
// minute (session.go), so an ordinary request costs no call to Supabase; the
// tokens are refreshed when the access token is within a minute of expiring.
//
// Tokens, passwords and e-mail addresses are never logged: errors returned
// from here carry only HTTP statuses and GoTrue error codes.
package supabase

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/supabase-community/gotrue-go"
	"github.com/supabase-community/gotrue-go/types"

	"github.com/clinikapi/clinikapi/internal/account"
	"github.com/clinikapi/clinikapi/internal/errs"
)

// Options configure the provider.
type Options struct {
	URL            string // project URL, like https://xyz.supabase.co; GoTrue is at URL+"/auth/v1"
	AnonKey        string // sent as apikey on every request
	ServiceRoleKey string // not used by any operation today (none needs admin rights); never sent
	JWTSecret      string // the project's legacy HS256 JWT secret; optional with asymmetric signing keys
	GitHub         bool   // offer "github" OAuth
	BaseURL        string // the dashboard's public URL, for redirect_to
	HTTPClient     *http.Client
	Now            func() time.Time
	Log            *slog.Logger // JWKS and session-check failures; never tokens
	// ClientIP returns the address of the person a request is made for
	// (the dashboard's client IP); it is sent to Supabase in
	// ClientAddressHeader. Nil: none is sent.
	ClientIP func(context.Context) string
	// Publish sends a session message to every instance, this one
	// included, which hands it to Receive (the API key invalidation
	// channel). Nil on a single instance: messages apply here only.
	Publish func(ctx context.Context, msg string) error
}

// Provider implements account.Provider with Supabase Auth.
type Provider struct {
	opt       Options
	authURL   string
	base      gotrue.Client // carries no user token; derive per-request clients with api()
	transport http.RoundTripper
	timeout   time.Duration
	keys      keySet
	sess      sessions
	log       *slog.Logger

	rmu        sync.Mutex
	refreshes  map[[32]byte]*refreshCall // by SHA-256 of the refresh token
	recoveries map[[32]byte]recovery     // by SHA-256 of the reset token
}

var _ account.Provider = (*Provider)(nil)

const (
	// refreshMargin: an access token this close to expiry is refreshed.
	refreshMargin = 60 * time.Second
	// reuseWindow: a refresh's result is reused for requests that arrive
	// with the same (now spent) refresh token this soon after — parallel
	// requests from one browser — like GoTrue's own reuse interval.
	reuseWindow = 10 * time.Second
	// recoveryKeep: how long the session from a reset link is kept when
	// setting the password failed, so the person can retry with the same
	// (already spent) link.
	recoveryKeep   = 10 * time.Minute
	defaultTimeout = 10 * time.Second
)

// New checks the options and returns the provider. It makes no request.
func New(opt Options) (*Provider, error) {
	opt.URL = strings.TrimRight(strings.TrimSpace(opt.URL), "/")
	opt.BaseURL = strings.TrimRight(strings.TrimSpace(opt.BaseURL), "/")
	u, err := url.Parse(opt.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
		return nil, errors.New("supabase: URL must be the project URL, like https://xyz.supabase.co")
	}
	if opt.AnonKey == "" {
		return nil, errors.New("supabase: AnonKey is required")
	}
	if b, err := url.Parse(opt.BaseURL); err != nil || b.Scheme == "" || b.Host == "" {
		return nil, errors.New("supabase: BaseURL must be the dashboard's public URL, like https://dashboard.example.com")
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	p := &Provider{
		sess:       newSessions(),
		log:        opt.Log,
		opt:        opt,
		authURL:    opt.URL + "/auth/v1",
		transport:  http.DefaultTransport,
		timeout:    defaultTimeout,
		refreshes:  map[[32]byte]*refreshCall{},
		recoveries: map[[32]byte]recovery{},
	}
	if c := opt.HTTPClient; c != nil {
		if c.Transport != nil {
			p.transport = c.Transport
		}
		if c.Timeout > 0 {
			p.timeout = c.Timeout
		}
	}
	p.base = gotrue.New("", opt.AnonKey).WithCustomGoTrueURL(p.authURL)
	return p, nil
}

// Name implements account.Provider.
func (p *Provider) Name() string { return "supabase" }

func (p *Provider) now() time.Time { return p.opt.Now() }

// bound gives one operation its deadline.
func (p *Provider) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, p.timeout)
}

func identityOf(u types.User) account.Identity {
	return account.Identity{ExternalID: u.ID.String(), Email: strings.ToLower(u.Email)}
}

func (p *Provider) tokensOf(s types.Session) account.Tokens {
	t := account.Tokens{Access: s.AccessToken, Refresh: s.RefreshToken}
	switch {
	case s.ExpiresAt > 0:
		t.ExpiresAt = time.Unix(s.ExpiresAt, 0).UTC()
	case s.ExpiresIn > 0:
		t.ExpiresAt = p.now().UTC().Add(time.Duration(s.ExpiresIn) * time.Second)
	}
	return t
}

// session turns a GoTrue session answer into an identity and tokens.
// Call it with the operation's context: a token signed with a key that is
// not cached yet (a rotation) makes the JWKS be fetched now, so the next
// request verifies it.
func (p *Provider) session(ctx context.Context, s types.Session) (account.Identity, account.Tokens, error) {
	if s.AccessToken == "" || s.User.Email == "" {
		return account.Identity{}, account.Tokens{}, wrapErr(errs.Unavailable, "", errors.New("supabase auth: session answer without token or e-mail"), msgUnavailable)
	}
	p.checkIssued(ctx, s.AccessToken)
	return identityOf(s.User), p.tokensOf(s), nil
}

// checkIssued makes sure the key that signed a token Supabase just issued
// is cached (asymmetric signing keys), and says loudly when such a token
// does not verify here: every request would then send the person back to
// the sign-in page.
func (p *Provider) checkIssued(ctx context.Context, token string) {
	t, _, err := jwt.NewParser().ParseUnverified(token, &claims{})
	if err != nil {
		p.log.ErrorContext(ctx, "supabase auth: Supabase issued an access token that is not a JWT", "err", err)
		return
	}
	if alg := t.Method.Alg(); alg == "ES256" || alg == "RS256" {
		kid, _ := t.Header["kid"].(string)
		_, _ = p.keys.lookup(ctx, p, kid, alg, true)
	}
	if _, err := p.verifyLocal(ctx, token); err != nil && !errors.Is(err, errNoSecret) {
		p.log.ErrorContext(ctx, "supabase auth: an access token Supabase just issued does not verify here; check SUPABASE_URL (the tokens' issuer) and SUPABASE_JWT_SECRET", "err", err)
	}
}

// SignUp implements account.Provider: POST /signup, with the name in the
// user metadata. With e-mail confirmation on, the tokens are empty and the
// person must confirm first.
func (p *Provider) SignUp(ctx context.Context, email, password, name string) (account.Identity, account.Tokens, error) {
	ctx, cancel := p.bound(ctx)
	defer cancel()
	req := types.SignupRequest{Email: email, Password: password}
	if name != "" {
		req.Data = map[string]any{"name": name}
	}
	res, err := p.api(ctx, "", nil).Signup(req)
	if err != nil {
		return account.Identity{}, account.Tokens{}, mapErr(err)
	}
	if res.AccessToken != "" {
		return p.session(ctx, res.Session)
	}
	if res.User.Email == "" {
		return account.Identity{}, account.Tokens{}, wrapErr(errs.Unavailable, "", errors.New("supabase auth: sign-up answer without user"), msgUnavailable)
	}
	if len(res.User.Identities) == 0 {
		// With confirmations on, GoTrue answers a sign-up for a taken
		// address with an obfuscated user that has no identities. Say so,
		// as for autoconfirm (and the built-in provider): otherwise a
		// phantom user would be created here.
		return account.Identity{}, account.Tokens{}, errs.FieldError("email", "An account with this e-mail already exists. Sign in instead.")
	}
	return identityOf(res.User), account.Tokens{}, nil
}

// SignIn implements account.Provider: POST /token?grant_type=password.
func (p *Provider) SignIn(ctx context.Context, email, password string) (account.Identity, account.Tokens, error) {
	ctx, cancel := p.bound(ctx)
	defer cancel()
	res, err := p.api(ctx, "", nil).SignInWithEmailPassword(email, password)
	if err != nil {
		return account.Identity{}, account.Tokens{}, mapErr(err)
	}
	return p.session(ctx, res.Session)
}

// Authenticate implements account.Provider. The access token is verified
// locally and its session checked (revoked here, or re-validated with
// Supabase when its last confirmation is over a minute old: session.go);
// when it has expired or expires within a minute and there is a refresh
// token, the tokens are refreshed and the new ones returned.
func (p *Provider) Authenticate(ctx context.Context, t account.Tokens) (account.Identity, *account.Tokens, error) {
	if t.Access == "" {
		if t.Refresh == "" {
			return account.Identity{}, nil, errSessionEnded
		}
		return p.refreshSession(ctx, t.Refresh, "")
	}
	vctx, cancel := p.bound(ctx)
	c, err := p.verifyLocal(vctx, t.Access)
	cancel()
	verified := true
	switch {
	case errors.Is(err, errNoSecret):
		// Without the JWT secret only Supabase can vouch for an HS256
		// token: ensureAlive asks it (about this exact token).
		verified = false
	case errors.Is(err, errJWKSUnavailable):
		return account.Identity{}, nil, wrapErr(errs.Unavailable, "", err, msgUnavailable)
	case err != nil:
		return account.Identity{}, nil, wrapErr(errs.Unauthorized, "", err, errSessionEnded.Message)
	}
	now := p.now()
	if p.sess.isRevoked(c.SessionID, now) {
		return account.Identity{}, nil, errSessionEnded
	}
	exp := c.expires()
	if exp.Sub(now) <= refreshMargin && t.Refresh != "" {
		id, fresh, err := p.refreshSession(ctx, t.Refresh, c.Subject)
		if !errs.Is(err, errs.Unavailable) || !now.Before(exp) {
			return id, fresh, err
		}
		// Supabase is down but the token is still good: the session
		// check below decides how long that may go on.
	}
	if !now.Before(exp) {
		return account.Identity{}, nil, errSessionEnded
	}
	if err := p.ensureAlive(ctx, t.Access, c, verified); err != nil {
		return account.Identity{}, nil, err
	}
	return identityFromClaims(c), nil, nil
}

func identityFromClaims(c *claims) account.Identity {
	return account.Identity{ExternalID: c.Subject, Email: strings.ToLower(c.Email)}
}

// refreshSession refreshes the tokens, refusing a session revoked here
// (signed out while Supabase could not be told, so its refresh token still
// works there).
func (p *Provider) refreshSession(ctx context.Context, refreshToken, subject string) (account.Identity, *account.Tokens, error) {
	id, fresh, err := p.refresh(ctx, refreshToken, subject)
	if err != nil {
		return id, fresh, err
	}
	if c := unverifiedClaims(fresh.Access); c != nil && p.sess.isRevoked(c.SessionID, p.now()) {
		p.sess.revoke(c.SessionID, c.expires(), p.now())
		return account.Identity{}, nil, errSessionEnded
	}
	return id, fresh, nil
}

// refreshCall is one refresh in flight or recently done.
type refreshCall struct {
	done     chan struct{}
	id       account.Identity
	tokens   account.Tokens
	err      error
	finished time.Time
}

// refresh exchanges a refresh token (POST /token?grant_type=refresh_token).
// Refresh tokens are single-use, so concurrent and closely following
// requests carrying the same one share a single exchange. When subject is
// set, the new session must belong to it.
func (p *Provider) refresh(ctx context.Context, refreshToken, subject string) (account.Identity, *account.Tokens, error) {
	key := sha256.Sum256([]byte(refreshToken))
	now := p.now()
	p.rmu.Lock()
	for k, c := range p.refreshes {
		if !c.finished.IsZero() && now.Sub(c.finished) > reuseWindow {
			delete(p.refreshes, k)
		}
	}
	c, ok := p.refreshes[key]
	if !ok {
		c = &refreshCall{done: make(chan struct{})}
		p.refreshes[key] = c
	}
	p.rmu.Unlock()
	if ok {
		select {
		case <-c.done:
		case <-ctx.Done():
			return account.Identity{}, nil, wrapErr(errs.Unavailable, "", ctx.Err(), msgUnavailable)
		}
	} else {
		// The exchange spends the refresh token, so finish it even if this
		// request goes away: the waiting ones need the result.
		rctx, cancel := p.bound(context.WithoutCancel(ctx))
		c.id, c.tokens, c.err = p.exchangeRefresh(rctx, refreshToken)
		cancel()
		p.rmu.Lock()
		c.finished = p.now()
		if c.err != nil {
			delete(p.refreshes, key)
		}
		p.rmu.Unlock()
		close(c.done)
	}
	if c.err != nil {
		return account.Identity{}, nil, c.err
	}
	if subject != "" && c.id.ExternalID != subject {
		return account.Identity{}, nil, errSessionEnded
	}
	t := c.tokens
	return c.id, &t, nil
}

func (p *Provider) exchangeRefresh(ctx context.Context, refreshToken string) (account.Identity, account.Tokens, error) {
	res, err := p.api(ctx, "", nil).RefreshToken(refreshToken)
	if err != nil {
		e := classify(err)
		if e.Status == 0 || e.Status >= 500 || e.Status == http.StatusTooManyRequests {
			return account.Identity{}, account.Tokens{}, mapErr(e)
		}
		// Spent, revoked, or the session was ended.
		return account.Identity{}, account.Tokens{}, wrapErr(errs.Unauthorized, "", e, errSessionEnded.Message)
	}
	return p.session(ctx, res.Session)
}

// SignOut implements account.Provider: POST /logout with the user's token,
// which ends all of the user's sessions (GoTrue's default global scope). An
// expired access token is refreshed first so that the logout is accepted.
// Access tokens already issued would stay valid until they expire (they are
// stateless), so the session is also revoked on every instance, and every
// instance checks the person's other sessions with Supabase on their next
// request (session.go).
func (p *Provider) SignOut(ctx context.Context, t account.Tokens) (err error) {
	access := t.Access
	defer func() {
		p.endSession(ctx, access, err != nil)
	}()
	if exp, ok := unverifiedExpiry(access); !ok || exp.Sub(p.now()) <= refreshMargin {
		if t.Refresh == "" {
			return nil // nothing Supabase would accept
		}
		_, fresh, err := p.refresh(ctx, t.Refresh, "")
		if errs.Is(err, errs.Unauthorized) {
			return nil // already ended
		}
		if err != nil {
			return err
		}
		access = fresh.Access
	}
	ctx, cancel := p.bound(ctx)
	defer cancel()
	if err := p.api(ctx, access, nil).Logout(); err != nil {
		if e := classify(err); e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || e.Status == http.StatusNotFound {
			return nil // the session was already gone
		}
		return mapErr(err)
	}
	return nil
}

// RequestPasswordReset implements account.Provider: POST /recover with
// redirect_to = BaseURL/reset-password. Unknown addresses get the same
// answer as known ones (GoTrue does not tell either).
func (p *Provider) RequestPasswordReset(ctx context.Context, email string) error {
	ctx, cancel := p.bound(ctx)
	defer cancel()
	q := url.Values{"redirect_to": {p.opt.BaseURL + "/reset-password"}}
	err := p.api(ctx, "", q).Recover(types.RecoverRequest{Email: email})
	if err == nil {
		return nil
	}
	if e := classify(err); e.Status == http.StatusNotFound || e.Code == "user_not_found" {
		return nil
	}
	return mapErr(err)
}

// recovery is the session opened by a reset link, kept briefly when setting
// the password failed.
type recovery struct {
	access  string
	expires time.Time
}

// ResetPassword implements account.Provider. The reset e-mail links to
// BaseURL/reset-password?token=<token_hash>; POST /verify {type: recovery,
// token_hash} opens a session, PUT /user sets the password with it (GoTrue
// then ends every other session of the user), and the recovery session is
// ended too.
func (p *Provider) ResetPassword(ctx context.Context, resetToken, newPassword string) (account.Identity, error) {
	invalid := errs.E(errs.Invalid, "This reset link is invalid or has expired. Ask for a new one.")
	if resetToken == "" || len(resetToken) > 512 {
		return account.Identity{}, invalid
	}
	ctx, cancel := p.bound(ctx)
	defer cancel()
	key := sha256.Sum256([]byte(resetToken))
	now := p.now()
	p.rmu.Lock()
	for k, r := range p.recoveries {
		if !now.Before(r.expires) {
			delete(p.recoveries, k)
		}
	}
	rec, ok := p.recoveries[key]
	p.rmu.Unlock()
	if !ok {
		var s types.Session
		body := map[string]string{"type": "recovery", "token_hash": resetToken}
		if err := p.call(ctx, http.MethodPost, "/verify", nil, "", body, &s); err != nil {
			if e := classify(err); e.Status == 0 || e.Status >= 500 || e.Status == http.StatusTooManyRequests {
				return account.Identity{}, mapErr(e)
			}
			return account.Identity{}, invalid
		}
		if s.AccessToken == "" {
			return account.Identity{}, invalid
		}
		rec = recovery{access: s.AccessToken, expires: now.Add(recoveryKeep)}
		if exp := p.tokensOf(s).ExpiresAt; !exp.IsZero() && exp.Before(rec.expires) {
			rec.expires = exp
		}
	}
	pw := newPassword
	u, err := p.api(ctx, rec.access, nil).UpdateUser(types.UpdateUserRequest{Password: &pw})
	if err != nil {
		err = mapErr(err)
		if errs.Is(err, errs.Invalid) {
			// A password Supabase refused (too weak, same as before): the
			// link is spent, so keep its session for the next try.
			p.rmu.Lock()
			p.recoveries[key] = rec
			p.rmu.Unlock()
			return account.Identity{}, err
		}
		p.forgetRecovery(key)
		if errs.Is(err, errs.Unauthorized) {
			return account.Identity{}, invalid
		}
		return account.Identity{}, err
	}
	p.forgetRecovery(key)
	// Best effort: end the recovery session itself too.
	_ = p.api(ctx, rec.access, url.Values{"scope": {"local"}}).Logout()
	// GoTrue ended the person's other sessions: every instance checks
	// them with Supabase on their next request.
	p.recheckUser(ctx, u.ID.String())
	return identityOf(u.User), nil
}

func (p *Provider) forgetRecovery(key [32]byte) {
	p.rmu.Lock()
	delete(p.recoveries, key)
	p.rmu.Unlock()
}

// ChangePassword implements account.Provider. The current password is
// checked by signing in with it (that extra session is ended at once); then
// PUT /user with the caller's access token sets the new one, and GoTrue ends
// every other session of the user while the caller's stays. The caller must
// pass the tokens Authenticate last returned (fresh ones after a refresh).
func (p *Provider) ChangePassword(ctx context.Context, t account.Tokens, id account.Identity, current, newPassword string) error {
	if id.Email == "" || t.Access == "" {
		return errSessionEnded
	}
	ctx, cancel := p.bound(ctx)
	defer cancel()
	res, err := p.api(ctx, "", nil).SignInWithEmailPassword(id.Email, current)
	if err != nil {
		err = mapErr(err)
		if errs.Is(err, errs.Unauthorized) {
			return errs.FieldError("current_password", "The current password is incorrect.")
		}
		return err
	}
	_ = p.api(ctx, res.AccessToken, url.Values{"scope": {"local"}}).Logout()
	if id.ExternalID != "" && res.User.ID.String() != id.ExternalID {
		return errSessionEnded
	}
	pw := newPassword
	u, err := p.api(ctx, t.Access, nil).UpdateUser(types.UpdateUserRequest{Password: &pw})
	if err != nil {
		return mapErr(err)
	}
	// GoTrue ended the person's other sessions: every instance checks them
	// with Supabase on their next request (this one passes).
	p.recheckUser(ctx, u.ID.String())
	return nil
}

// OAuthProviders implements account.Provider.
func (p *Provider) OAuthProviders() []string {
	if p.opt.GitHub {
		return []string{"github"}
	}
	return nil
}

// OAuthStart implements account.Provider: GET /authorize with the PKCE flow
// and redirect_to. GoTrue sends the browser back to redirectTo with
// ?code=<auth code> added (or ?error=…&error_description=… on failure).
func (p *Provider) OAuthStart(ctx context.Context, provider, redirectTo string) (string, string, error) {
	if provider != "github" || !p.opt.GitHub {
		return "", "", errs.E(errs.NotFound, "That sign-in method is not available.")
	}
	ctx, cancel := p.bound(ctx)
	defer cancel()
	res, err := p.api(ctx, "", url.Values{"redirect_to": {redirectTo}}).Authorize(types.AuthorizeRequest{
		Provider: types.ProviderGitHub,
		FlowType: types.FlowPKCE,
	})
	if err != nil {
		return "", "", mapErr(err)
	}
	if res.AuthorizationURL == "" || res.Verifier == "" {
		return "", "", wrapErr(errs.Unavailable, "", errors.New("supabase auth: /authorize gave no URL"), msgUnavailable)
	}
	return res.AuthorizationURL, res.Verifier, nil
}

// OAuthFinish implements account.Provider: POST /token?grant_type=pkce with
// {"auth_code","code_verifier"} (GoTrue's field names; gotrue-go's
// TokenRequest would send "code").
func (p *Provider) OAuthFinish(ctx context.Context, code, verifier string) (account.Identity, account.Tokens, error) {
	failed := errs.E(errs.Unauthorized, "Sign-in did not complete. Try again.")
	if code == "" || verifier == "" || len(code) > 512 || len(verifier) > 512 {
		return account.Identity{}, account.Tokens{}, failed
	}
	ctx, cancel := p.bound(ctx)
	defer cancel()
	var s types.Session
	body := map[string]string{"auth_code": code, "code_verifier": verifier}
	if err := p.call(ctx, http.MethodPost, "/token", url.Values{"grant_type": {"pkce"}}, "", body, &s); err != nil {
		if e := classify(err); e.Status == 0 || e.Status >= 500 || e.Status == http.StatusTooManyRequests {
			return account.Identity{}, account.Tokens{}, mapErr(e)
		}
		return account.Identity{}, account.Tokens{}, &errs.Error{Code: errs.Unauthorized, Message: failed.Message, Err: err}
	}
	if s.AccessToken != "" && s.User.Email == "" {
		return account.Identity{}, account.Tokens{}, errs.E(errs.Invalid, "Your account at the provider has no verified e-mail address. Add one there, or sign up with e-mail and password.")
	}
	return p.session(ctx, s)
}

// String keeps secrets out of fmt output of the provider.
func (p *Provider) String() string { return fmt.Sprintf("supabase.Provider(%s)", p.opt.URL) }
