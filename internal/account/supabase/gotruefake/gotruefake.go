// Package gotruefake is an in-process fake of the Supabase Auth (GoTrue)
// endpoints that the supabase account provider uses, for tests. It follows
// the observed behaviour of the real server (status codes, error_code values,
// single-use refresh tokens, PKCE, JWT claims, 403 session_not_found for
// sessions ended by a logout or a password change, signing-key rotation and
// removal in the JWKS, per-IP limits keyed by GOTRUE_RATE_LIMIT_HEADER)
// closely enough that a client passing against it has the right wire
// format; it is not a full GoTrue.
//
// Server.URL is the project URL (like https://xyz.supabase.co); the endpoints
// are served under URL+"/auth/v1".
package gotruefake

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultJWTSecret is the HS256 secret used when Options has neither
// JWTSecret nor Asymmetric (the Supabase CLI's well-known development value).
const DefaultJWTSecret = "super-secret-jwt-token-with-at-least-32-characters-long"

// Options configure the fake.
type Options struct {
	// JWTSecret signs access tokens with HS256 and no kid; the JWKS is then
	// {"keys":[]}, like a project on the legacy JWT secret.
	JWTSecret string
	// Asymmetric signs access tokens with ES256 (or RS256 with RSA) and a
	// kid published in /.well-known/jwks.json, like a project with signing
	// keys. JWTSecret is then unused.
	Asymmetric bool
	RSA        bool
	// AnonKey, when set, must be sent in the apikey header of every request,
	// as the Supabase API gateway requires.
	AnonKey string
	// Autoconfirm: sign-up returns a session at once instead of asking for
	// e-mail confirmation.
	Autoconfirm bool
	// AccessTTL is the life of access tokens (default 1 hour).
	AccessTTL time.Duration
	// MinPasswordLength is the shortest accepted password (default 6).
	MinPasswordLength int
	// RecoverInterval is the least time between two recovery e-mails to one
	// address; closer requests get 429 over_email_send_rate_limit. Zero
	// disables the limit.
	RecoverInterval time.Duration
	// SiteURL is where redirects go when no redirect_to is given
	// (default http://localhost:3000).
	SiteURL string
	// RateLimitHeader is GoTrue's GOTRUE_RATE_LIMIT_HEADER: the request
	// header whose value keys the per-IP rate limits (GoTrue applies none
	// to a request without it). Server.RateLimitKeys tells what arrived.
	RateLimitHeader string
	// SignInLimit, with RateLimitHeader, is how many sign-ups and password
	// sign-ins one key may make in 5 minutes (Supabase's default is 30);
	// more get 429 over_request_rate_limit. Zero: no limit.
	SignInLimit int
	Now         func() time.Time
}

// Recovery is a password-recovery e-mail the fake "sent".
type Recovery struct {
	Email      string
	TokenHash  string // what the e-mail template gets as {{ .TokenHash }}
	RedirectTo string // redirect_to of the request ({{ .RedirectTo }})
	SentAt     time.Time
}

// Server is a running fake.
type Server struct {
	URL string // project URL; GoTrue is at URL + "/auth/v1"

	ts  *httptest.Server
	opt Options

	mu       sync.Mutex
	offset   time.Duration
	users    map[string]*user // by id
	byEmail  map[string]string
	sessions map[string]*session // by id
	refresh  map[string]string   // refresh token → session id
	otps     map[string]*otp     // token hash → one-time e-mail token
	lastRec  map[string]Recovery // e-mail → last recovery e-mail
	lastConf map[string]string   // e-mail → last confirmation token hash
	flows    map[string]*flow    // state → OAuth flow
	codes    map[string]*flow    // auth code → finished OAuth flow
	keys     []*signingKey       // asymmetric keys; the last one signs
	hits     map[string]int      // "METHOD /path" → count
	jwksDown bool
	limKeys  map[string][]string    // "METHOD /path" → rate-limit header values, in order
	limHits  map[string][]time.Time // rate-limit key → recent sign-ins and sign-ups
}

type user struct {
	ID          string
	Email       string
	pwHash      [32]byte
	hasPassword bool
	Confirmed   *time.Time
	ConfSentAt  *time.Time
	RecSentAt   *time.Time
	LastSignIn  *time.Time
	Providers   []string
	Meta        map[string]any
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

type session struct {
	ID     string
	UserID string
	AMR    string
	At     time.Time
}

type otp struct {
	Kind   string // "recovery" or "signup"
	UserID string
	SentAt time.Time
}

type flow struct {
	Provider   string
	RedirectTo string
	Challenge  string
	Method     string // "s256", "plain" or "" (implicit flow)
	UserID     string
	At         time.Time
}

type signingKey struct {
	kid  string
	ec   *ecdsa.PrivateKey
	rsa  *rsa.PrivateKey
	meth jwt.SigningMethod
}

const (
	otpLifetime  = time.Hour
	flowLifetime = 5 * time.Minute
	basePath     = "/auth/v1"
)

// New starts a fake. Close it when done.
func New(opt Options) *Server {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.AccessTTL == 0 {
		opt.AccessTTL = time.Hour
	}
	if opt.MinPasswordLength == 0 {
		opt.MinPasswordLength = 6
	}
	if opt.SiteURL == "" {
		opt.SiteURL = "http://localhost:3000"
	}
	if !opt.Asymmetric && opt.JWTSecret == "" {
		opt.JWTSecret = DefaultJWTSecret
	}
	s := &Server{
		opt:      opt,
		users:    map[string]*user{},
		byEmail:  map[string]string{},
		sessions: map[string]*session{},
		refresh:  map[string]string{},
		otps:     map[string]*otp{},
		lastRec:  map[string]Recovery{},
		lastConf: map[string]string{},
		flows:    map[string]*flow{},
		codes:    map[string]*flow{},
		hits:     map[string]int{},
		limKeys:  map[string][]string{},
		limHits:  map[string][]time.Time{},
	}
	if opt.Asymmetric {
		s.keys = append(s.keys, s.newKey())
	}
	mux := http.NewServeMux()
	route := func(pattern string, h http.HandlerFunc) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.HandleFunc(method+" "+basePath+path, h)
	}
	route("POST /signup", s.signup)
	route("POST /token", s.token)
	route("GET /user", s.authed(s.getUser))
	route("PUT /user", s.authed(s.putUser))
	route("POST /logout", s.authed(s.logout))
	route("POST /recover", s.recover)
	route("POST /verify", s.verify)
	route("GET /authorize", s.authorize)
	route("GET /.well-known/jwks.json", s.jwks)
	route("GET /settings", s.settings)
	mux.HandleFunc("GET /fake-github/login/oauth/authorize", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("fake GitHub: call Server.CompleteOAuth with this URL\n"))
	})
	s.ts = httptest.NewServer(s.gateway(mux))
	s.URL = s.ts.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.ts.Close() }

// AuthURL is the GoTrue base URL, URL + "/auth/v1" (the tokens' issuer).
func (s *Server) AuthURL() string { return s.URL + basePath }

// Advance moves the fake's clock forward (on top of Options.Now).
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	s.offset += d
	s.mu.Unlock()
}

// Hits counts the requests received for method and path (path relative to
// /auth/v1, like "/user" or "/.well-known/jwks.json").
func (s *Server) Hits(method, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[method+" "+path]
}

// LastRecoveryTokenHash returns the token hash of the last recovery e-mail
// sent to email, or "" when none was.
func (s *Server) LastRecoveryTokenHash(email string) string {
	r, _ := s.LastRecovery(email)
	return r.TokenHash
}

// LastRecovery returns the last recovery e-mail sent to email.
func (s *Server) LastRecovery(email string) (Recovery, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.lastRec[strings.ToLower(email)]
	return r, ok
}

// LastConfirmationTokenHash returns the token hash of the last sign-up
// confirmation e-mail sent to email (verify it with type "signup").
func (s *Server) LastConfirmationTokenHash(email string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastConf[strings.ToLower(email)]
}

// UserID returns the id of the user with email, or "".
func (s *Server) UserID(email string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byEmail[strings.ToLower(email)]
}

// Sessions counts the live sessions of the user with email.
func (s *Server) Sessions(email string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.byEmail[strings.ToLower(email)]
	n := 0
	for _, sess := range s.sessions {
		if sess.UserID == id {
			n++
		}
	}
	return n
}

// RotateKey, in asymmetric mode, makes a new signing key current; the old
// ones stay published in the JWKS. It returns the new kid.
func (s *Server) RotateKey() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.opt.Asymmetric {
		panic("gotruefake: RotateKey needs Options.Asymmetric")
	}
	k := s.newKey()
	s.keys = append(s.keys, k)
	return k.kid
}

// Kids lists the kids in the JWKS, the current signing key last.
func (s *Server) Kids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var kids []string
	for _, k := range s.keys {
		kids = append(kids, k.kid)
	}
	return kids
}

// RemoveKey takes a signing key out of the JWKS (a key revoked after a
// rotation): tokens it signed are then bad_jwt at the fake too. The current
// signing key cannot be removed.
func (s *Server) RemoveKey(kid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, k := range s.keys {
		if k.kid == kid {
			if i == len(s.keys)-1 {
				panic("gotruefake: RemoveKey of the current signing key; RotateKey first")
			}
			s.keys = append(s.keys[:i:i], s.keys[i+1:]...)
			return
		}
	}
}

// SetJWKSDown makes /.well-known/jwks.json answer 503 (down) or work again.
func (s *Server) SetJWKSDown(down bool) {
	s.mu.Lock()
	s.jwksDown = down
	s.mu.Unlock()
}

// ResetPassword does what a password reset through a recovery link in
// another browser does: the new password is set and every session of the
// user ends (their tokens get 403 session_not_found, their refresh tokens
// 400 refresh_token_not_found). It reports whether the user exists.
func (s *Server) ResetPassword(email, newPassword string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userByEmail(email)
	if u == nil {
		return false
	}
	u.pwHash, u.hasPassword = sha256.Sum256([]byte(newPassword)), true
	u.UpdatedAt = s.now()
	s.endSessions(u.ID, "")
	return true
}

// EndSessions ends every session of the user, as a sign-out on another
// device (global scope) or an administrator does. It reports whether the
// user exists.
func (s *Server) EndSessions(email string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userByEmail(email)
	if u == nil {
		return false
	}
	s.endSessions(u.ID, "")
	return true
}

// RateLimitKeys returns the values of Options.RateLimitHeader that requests
// to method and path carried, in order ("" for a request without one).
func (s *Server) RateLimitKeys(method, path string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.limKeys[method+" "+path]...)
}

// CompleteOAuth plays the external provider and the browser: given the URL
// that /authorize redirected to (what the provider's OAuthStart returns), it
// signs in as email at the provider (creating the user on first sight) and
// returns the URL GoTrue would send the browser back to: redirect_to with
// ?code=<auth code> for the PKCE flow, or the tokens in the fragment for the
// implicit flow.
func (s *Server) CompleteOAuth(authorizeURL, email string) (string, error) {
	u, err := url.Parse(authorizeURL)
	if err != nil {
		return "", err
	}
	state := u.Query().Get("state")
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.flows[state]
	if !ok || state == "" {
		return "", errors.New("gotruefake: no OAuth flow with that state")
	}
	delete(s.flows, state)
	now := s.now()
	if now.Sub(f.At) > flowLifetime {
		return "", errors.New("gotruefake: OAuth flow expired")
	}
	email = strings.ToLower(strings.TrimSpace(email))
	usr := s.userByEmail(email)
	if usr == nil {
		usr = s.addUser(email, "", map[string]any{"user_name": strings.Split(email, "@")[0]}, f.Provider, now)
	}
	if usr.Confirmed == nil {
		usr.Confirmed = &now
	}
	if !contains(usr.Providers, f.Provider) {
		usr.Providers = append(usr.Providers, f.Provider)
	}
	rurl, err := url.Parse(f.RedirectTo)
	if err != nil {
		return "", err
	}
	if f.Method == "" {
		sess := s.startSession(usr, "oauth", now)
		body := s.sessionJSON(usr, sess, now)
		frag := url.Values{}
		for _, k := range []string{"access_token", "refresh_token", "token_type"} {
			frag.Set(k, fmt.Sprint(body[k]))
		}
		frag.Set("expires_in", fmt.Sprint(body["expires_in"]))
		frag.Set("expires_at", fmt.Sprint(body["expires_at"]))
		rurl.Fragment = frag.Encode()
		return rurl.String(), nil
	}
	f.UserID = usr.ID
	f.At = now
	code := newUUID()
	s.codes[code] = f
	q := rurl.Query()
	q.Set("code", code)
	rurl.RawQuery = q.Encode()
	return rurl.String(), nil
}

// TamperedToken returns token with its payload changed (the e-mail and role
// claims) and the original signature kept: a forgery that must be refused.
func (s *Server) TamperedToken(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return token + "x"
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return token + "x"
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		return token + "x"
	}
	claims["email"] = "mallory@example.com"
	claims["role"] = "service_role"
	raw, _ = json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

// --- plumbing ---

func (s *Server) now() time.Time { return s.opt.Now().Add(s.offset).UTC() }

// gateway counts requests and checks the apikey header, like the Supabase
// API gateway in front of GoTrue.
func (s *Server) gateway(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if path, ok := strings.CutPrefix(r.URL.Path, basePath); ok {
			s.mu.Lock()
			s.hits[r.Method+" "+path]++
			if h := s.opt.RateLimitHeader; h != "" {
				s.limKeys[r.Method+" "+path] = append(s.limKeys[r.Method+" "+path], r.Header.Get(h))
			}
			s.mu.Unlock()
			if s.opt.AnonKey != "" {
				switch key := r.Header.Get("apikey"); {
				case key == "":
					writeRaw(w, http.StatusUnauthorized, map[string]any{"message": "No API key found in request", "hint": "No `apikey` request header or url param was found."})
					return
				case key != s.opt.AnonKey:
					writeRaw(w, http.StatusUnauthorized, map[string]any{"message": "Invalid API key", "hint": "Double check your Supabase `anon` or `service_role` API key."})
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func writeRaw(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// fail writes GoTrue's error shape: {"code":422,"error_code":"…","msg":"…"}.
func fail(w http.ResponseWriter, status int, code, msg string, extra ...any) {
	body := map[string]any{"code": status, "error_code": code, "msg": msg}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i].(string)] = extra[i+1]
	}
	w.Header().Set("X-Sb-Error-Code", code)
	writeRaw(w, status, body)
}

// signInWindow is the window of Options.SignInLimit.
const signInWindow = 5 * time.Minute

// limited applies Options.SignInLimit like GoTrue's limitHandler: keyed by
// the rate-limit header's value, and not at all without one. Callers hold
// s.mu.
func (s *Server) limited(w http.ResponseWriter, r *http.Request) bool {
	if s.opt.RateLimitHeader == "" || s.opt.SignInLimit <= 0 {
		return false
	}
	key := r.Header.Get(s.opt.RateLimitHeader)
	if key == "" {
		return false
	}
	now := s.now()
	recent := s.limHits[key][:0]
	for _, at := range s.limHits[key] {
		if now.Sub(at) < signInWindow {
			recent = append(recent, at)
		}
	}
	if len(recent) >= s.opt.SignInLimit {
		s.limHits[key] = recent
		fail(w, http.StatusTooManyRequests, "over_request_rate_limit", "Request rate limit reached")
		return true
	}
	s.limHits[key] = append(recent, now)
	return false
}

func readJSON(w http.ResponseWriter, r *http.Request, into any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(into); err != nil {
		fail(w, http.StatusBadRequest, "bad_json", "Could not parse request body as JSON: "+err.Error())
		return false
	}
	return true
}

func randomString(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func (s *Server) newKey() *signingKey {
	k := &signingKey{kid: newUUID()}
	var err error
	if s.opt.RSA {
		k.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
		k.meth = jwt.SigningMethodRS256
	} else {
		k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		k.meth = jwt.SigningMethodES256
	}
	if err != nil {
		panic(err)
	}
	return k
}

// --- users and sessions (callers hold s.mu) ---

func (s *Server) userByEmail(email string) *user {
	if id, ok := s.byEmail[strings.ToLower(email)]; ok {
		return s.users[id]
	}
	return nil
}

func (s *Server) addUser(email, password string, meta map[string]any, provider string, now time.Time) *user {
	if meta == nil {
		meta = map[string]any{}
	}
	u := &user{ID: newUUID(), Email: email, Providers: []string{provider}, Meta: meta, CreatedAt: now, UpdatedAt: now}
	if password != "" {
		u.pwHash, u.hasPassword = sha256.Sum256([]byte(password)), true
	}
	s.users[u.ID] = u
	s.byEmail[email] = u.ID
	return u
}

func (u *user) passwordIs(pw string) bool {
	h := sha256.Sum256([]byte(pw))
	return u.hasPassword && hmac.Equal(h[:], u.pwHash[:])
}

func (s *Server) startSession(u *user, amr string, now time.Time) *session {
	sess := &session{ID: newUUID(), UserID: u.ID, AMR: amr, At: now}
	s.sessions[sess.ID] = sess
	u.LastSignIn = &now
	return sess
}

// endSessions ends the user's sessions (all, or all except keep).
func (s *Server) endSessions(userID, keep string) {
	for id, sess := range s.sessions {
		if sess.UserID == userID && id != keep {
			s.endSession(id)
		}
	}
}

func (s *Server) endSession(id string) {
	delete(s.sessions, id)
	for tok, sid := range s.refresh {
		if sid == id {
			delete(s.refresh, tok)
		}
	}
}

// sessionJSON issues an access token and a new refresh token for sess.
func (s *Server) sessionJSON(u *user, sess *session, now time.Time) map[string]any {
	exp := now.Add(s.opt.AccessTTL)
	claims := jwt.MapClaims{
		"iss":           s.AuthURL(),
		"sub":           u.ID,
		"aud":           "authenticated",
		"exp":           exp.Unix(),
		"iat":           now.Unix(),
		"email":         u.Email,
		"phone":         "",
		"app_metadata":  u.appMeta(),
		"user_metadata": u.Meta,
		"role":          "authenticated",
		"aal":           "aal1",
		"amr":           []map[string]any{{"method": sess.AMR, "timestamp": sess.At.Unix()}},
		"session_id":    sess.ID,
		"is_anonymous":  false,
	}
	var signed string
	var err error
	if s.opt.Asymmetric {
		k := s.keys[len(s.keys)-1]
		t := jwt.NewWithClaims(k.meth, claims)
		t.Header["kid"] = k.kid
		if k.rsa != nil {
			signed, err = t.SignedString(k.rsa)
		} else {
			signed, err = t.SignedString(k.ec)
		}
	} else {
		signed, err = jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(s.opt.JWTSecret))
	}
	if err != nil {
		panic(err)
	}
	rt := randomString(12) // real refresh tokens are short opaque strings
	s.refresh[rt] = sess.ID
	return map[string]any{
		"access_token":  signed,
		"token_type":    "bearer",
		"expires_in":    int(s.opt.AccessTTL.Seconds()),
		"expires_at":    exp.Unix(),
		"refresh_token": rt,
		"user":          u.json(),
	}
}

func (u *user) appMeta() map[string]any {
	return map[string]any{"provider": u.Providers[0], "providers": u.Providers}
}

func (u *user) json() map[string]any {
	ids := []map[string]any{}
	for _, p := range u.Providers {
		ids = append(ids, map[string]any{
			"identity_id": newUUID(), "id": u.ID, "user_id": u.ID, "provider": p, "email": u.Email,
			"identity_data": map[string]any{"sub": u.ID, "email": u.Email, "email_verified": u.Confirmed != nil, "phone_verified": false},
			"created_at":    u.CreatedAt, "updated_at": u.UpdatedAt, "last_sign_in_at": u.CreatedAt,
		})
	}
	m := map[string]any{
		"id": u.ID, "aud": "authenticated", "role": "authenticated", "email": u.Email, "phone": "",
		"app_metadata": u.appMeta(), "user_metadata": u.Meta, "identities": ids,
		"created_at": u.CreatedAt, "updated_at": u.UpdatedAt, "is_anonymous": false,
	}
	for k, v := range map[string]*time.Time{"email_confirmed_at": u.Confirmed, "confirmed_at": u.Confirmed, "confirmation_sent_at": u.ConfSentAt, "recovery_sent_at": u.RecSentAt, "last_sign_in_at": u.LastSignIn} {
		if v != nil {
			m[k] = *v
		}
	}
	return m
}

// --- endpoints ---

func (s *Server) signup(w http.ResponseWriter, r *http.Request) {
	var p struct {
		Email    string         `json:"email"`
		Password string         `json:"password"`
		Data     map[string]any `json:"data"`
	}
	if !readJSON(w, r, &p) {
		return
	}
	email := strings.ToLower(strings.TrimSpace(p.Email))
	if email == "" {
		fail(w, http.StatusBadRequest, "validation_failed", "To signup, please provide your email")
		return
	}
	if !strings.Contains(email, "@") {
		fail(w, http.StatusBadRequest, "validation_failed", "Unable to validate email address: invalid format")
		return
	}
	if p.Password == "" {
		fail(w, http.StatusUnprocessableEntity, "validation_failed", "Signup requires a valid password")
		return
	}
	if len([]rune(p.Password)) < s.opt.MinPasswordLength {
		fail(w, http.StatusUnprocessableEntity, "weak_password", fmt.Sprintf("Password should be at least %d characters.", s.opt.MinPasswordLength),
			"weak_password", map[string]any{"reasons": []string{"length"}})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limited(w, r) {
		return
	}
	now := s.now()
	if u := s.userByEmail(email); u != nil {
		if s.opt.Autoconfirm {
			fail(w, http.StatusUnprocessableEntity, "user_already_exists", "User already registered")
			return
		}
		if u.Confirmed != nil {
			// With confirmations on, GoTrue does not reveal that the
			// address is taken: it answers with an obfuscated user that
			// has no identities.
			fake := u.json()
			fake["id"] = newUUID()
			fake["identities"] = []any{}
			fake["user_metadata"] = map[string]any{}
			fake["created_at"], fake["updated_at"] = now, now
			writeRaw(w, http.StatusOK, fake)
			return
		}
		// Unconfirmed: a new confirmation e-mail goes out.
		s.sendConfirmation(u, now)
		writeRaw(w, http.StatusOK, u.json())
		return
	}
	u := s.addUser(email, p.Password, p.Data, "email", now)
	if s.opt.Autoconfirm {
		u.Confirmed = &now
		sess := s.startSession(u, "password", now)
		writeRaw(w, http.StatusOK, s.sessionJSON(u, sess, now))
		return
	}
	s.sendConfirmation(u, now)
	writeRaw(w, http.StatusOK, u.json())
}

func (s *Server) sendConfirmation(u *user, now time.Time) {
	for h, o := range s.otps {
		if o.UserID == u.ID && o.Kind == "signup" {
			delete(s.otps, h)
		}
	}
	h := tokenHash(u.Email)
	s.otps[h] = &otp{Kind: "signup", UserID: u.ID, SentAt: now}
	s.lastConf[u.Email] = h
	u.ConfSentAt = &now
}

func tokenHash(email string) string {
	sum := sha256.Sum224([]byte(email + randomString(6)))
	return hex.EncodeToString(sum[:])
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Query().Get("grant_type") {
	case "password":
		s.passwordGrant(w, r)
	case "refresh_token":
		s.refreshGrant(w, r)
	case "pkce":
		s.pkceGrant(w, r)
	default:
		fail(w, http.StatusBadRequest, "unsupported_grant_type", "unsupported_grant_type")
	}
}

func (s *Server) passwordGrant(w http.ResponseWriter, r *http.Request) {
	var p struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if !readJSON(w, r, &p) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limited(w, r) {
		return
	}
	u := s.userByEmail(strings.TrimSpace(p.Email))
	if u == nil || !u.passwordIs(p.Password) {
		fail(w, http.StatusBadRequest, "invalid_credentials", "Invalid login credentials")
		return
	}
	if u.Confirmed == nil {
		fail(w, http.StatusBadRequest, "email_not_confirmed", "Email not confirmed")
		return
	}
	now := s.now()
	writeRaw(w, http.StatusOK, s.sessionJSON(u, s.startSession(u, "password", now), now))
}

func (s *Server) refreshGrant(w http.ResponseWriter, r *http.Request) {
	var p struct {
		RefreshToken string `json:"refresh_token"`
	}
	if !readJSON(w, r, &p) {
		return
	}
	if p.RefreshToken == "" {
		fail(w, http.StatusBadRequest, "validation_failed", "refresh_token required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sid, ok := s.refresh[p.RefreshToken]
	sess := s.sessions[sid]
	if !ok || sess == nil {
		fail(w, http.StatusBadRequest, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found")
		return
	}
	delete(s.refresh, p.RefreshToken) // single use
	now := s.now()
	writeRaw(w, http.StatusOK, s.sessionJSON(s.users[sess.UserID], sess, now))
}

func (s *Server) pkceGrant(w http.ResponseWriter, r *http.Request) {
	var p struct {
		AuthCode     string `json:"auth_code"`
		CodeVerifier string `json:"code_verifier"`
	}
	if !readJSON(w, r, &p) {
		return
	}
	if p.AuthCode == "" || p.CodeVerifier == "" {
		fail(w, http.StatusBadRequest, "validation_failed", "invalid request: both auth code and code verifier should be non-empty")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.codes[p.AuthCode]
	if !ok {
		fail(w, http.StatusNotFound, "flow_state_not_found", "invalid flow state, no valid flow state found")
		return
	}
	now := s.now()
	if now.Sub(f.At) > flowLifetime {
		delete(s.codes, p.AuthCode)
		fail(w, http.StatusBadRequest, "flow_state_expired", "invalid flow state, flow state has expired")
		return
	}
	var ok2 bool
	switch f.Method {
	case "s256":
		sum := sha256.Sum256([]byte(p.CodeVerifier))
		ok2 = hmac.Equal([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(f.Challenge))
	case "plain":
		ok2 = hmac.Equal([]byte(p.CodeVerifier), []byte(f.Challenge))
	}
	if !ok2 {
		fail(w, http.StatusForbidden, "bad_code_verifier", "code challenge does not match previously saved code verifier")
		return
	}
	delete(s.codes, p.AuthCode)
	u := s.users[f.UserID]
	writeRaw(w, http.StatusOK, s.sessionJSON(u, s.startSession(u, "oauth", now), now))
}

// authed checks the bearer token like GoTrue's requireAuthentication.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, *user, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || raw == "" {
			fail(w, http.StatusUnauthorized, "no_authorization", "This endpoint requires a valid Bearer token")
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		claims := jwt.MapClaims{}
		_, err := jwt.ParseWithClaims(raw, claims, s.keyFunc, jwt.WithValidMethods([]string{"HS256", "ES256", "RS256"}),
			jwt.WithTimeFunc(s.now), jwt.WithAudience("authenticated"), jwt.WithExpirationRequired())
		if err != nil {
			fail(w, http.StatusForbidden, "bad_jwt", "invalid JWT: unable to parse or verify signature, "+err.Error())
			return
		}
		sid, _ := claims["session_id"].(string)
		sess := s.sessions[sid]
		if sess == nil {
			fail(w, http.StatusForbidden, "session_not_found", "Session from session_id claim in JWT does not exist")
			return
		}
		u := s.users[sess.UserID]
		if sub, _ := claims["sub"].(string); u == nil || sub != u.ID {
			fail(w, http.StatusNotFound, "user_not_found", "User from sub claim in JWT does not exist")
			return
		}
		h(w, r, u, sess)
	}
}

func (s *Server) keyFunc(t *jwt.Token) (any, error) {
	if !s.opt.Asymmetric {
		if t.Method.Alg() != "HS256" {
			return nil, errors.New("unexpected signing method")
		}
		return []byte(s.opt.JWTSecret), nil
	}
	kid, _ := t.Header["kid"].(string)
	for _, k := range s.keys {
		if k.kid == kid && k.meth.Alg() == t.Method.Alg() {
			if k.rsa != nil {
				return &k.rsa.PublicKey, nil
			}
			return &k.ec.PublicKey, nil
		}
	}
	return nil, errors.New("unknown kid")
}

func (s *Server) getUser(w http.ResponseWriter, _ *http.Request, u *user, _ *session) {
	writeRaw(w, http.StatusOK, u.json())
}

func (s *Server) putUser(w http.ResponseWriter, r *http.Request, u *user, sess *session) {
	var p struct {
		Password *string        `json:"password"`
		Data     map[string]any `json:"data"`
	}
	if !readJSON(w, r, &p) {
		return
	}
	now := s.now()
	if p.Password != nil {
		pw := *p.Password
		if len([]rune(pw)) < s.opt.MinPasswordLength {
			fail(w, http.StatusUnprocessableEntity, "weak_password", fmt.Sprintf("Password should be at least %d characters.", s.opt.MinPasswordLength),
				"weak_password", map[string]any{"reasons": []string{"length"}})
			return
		}
		if u.passwordIs(pw) {
			fail(w, http.StatusUnprocessableEntity, "same_password", "New password should be different from the old password.")
			return
		}
		u.pwHash, u.hasPassword = sha256.Sum256([]byte(pw)), true
		// GoTrue's UpdatePassword ends every other session of the user.
		s.endSessions(u.ID, sess.ID)
	}
	for k, v := range p.Data {
		u.Meta[k] = v
	}
	u.UpdatedAt = now
	writeRaw(w, http.StatusOK, u.json())
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, u *user, sess *session) {
	switch scope := r.URL.Query().Get("scope"); scope {
	case "", "global":
		s.endSessions(u.ID, "")
	case "local":
		s.endSession(sess.ID)
	case "others":
		s.endSessions(u.ID, sess.ID)
	default:
		fail(w, http.StatusBadRequest, "validation_failed", fmt.Sprintf("Unsupported logout scope %q", scope))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) recover(w http.ResponseWriter, r *http.Request) {
	var p struct {
		Email string `json:"email"`
	}
	if !readJSON(w, r, &p) {
		return
	}
	email := strings.ToLower(strings.TrimSpace(p.Email))
	if email == "" {
		fail(w, http.StatusUnprocessableEntity, "validation_failed", "Password recovery requires an email")
		return
	}
	redirectTo := r.URL.Query().Get("redirect_to")
	if redirectTo == "" {
		redirectTo = s.opt.SiteURL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	u := s.userByEmail(email)
	if u == nil {
		// No enumeration: the answer is the same for unknown addresses.
		writeRaw(w, http.StatusOK, map[string]any{})
		return
	}
	if s.opt.RecoverInterval > 0 && u.RecSentAt != nil && now.Sub(*u.RecSentAt) < s.opt.RecoverInterval {
		wait := (s.opt.RecoverInterval - now.Sub(*u.RecSentAt)).Round(time.Second)
		fail(w, http.StatusTooManyRequests, "over_email_send_rate_limit", fmt.Sprintf("For security purposes, you can only request this after %d seconds.", int(wait.Seconds())))
		return
	}
	for h, o := range s.otps {
		if o.UserID == u.ID && o.Kind == "recovery" {
			delete(s.otps, h)
		}
	}
	h := tokenHash(email)
	s.otps[h] = &otp{Kind: "recovery", UserID: u.ID, SentAt: now}
	s.lastRec[email] = Recovery{Email: email, TokenHash: h, RedirectTo: redirectTo, SentAt: now}
	u.RecSentAt = &now
	writeRaw(w, http.StatusOK, map[string]any{})
}

func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	var p struct {
		Type      string `json:"type"`
		TokenHash string `json:"token_hash"`
		Token     string `json:"token"`
		Email     string `json:"email"`
	}
	if !readJSON(w, r, &p) {
		return
	}
	kind := p.Type
	switch kind {
	case "recovery", "signup":
	case "email":
		kind = "signup"
	default:
		fail(w, http.StatusBadRequest, "validation_failed", "Verify requires a verification type")
		return
	}
	if p.TokenHash == "" {
		// The fake only implements the token_hash form (links in e-mails),
		// not the 6-digit OTP form with email + token.
		fail(w, http.StatusBadRequest, "validation_failed", "Verify requires either a token or a token hash")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	o, ok := s.otps[p.TokenHash]
	if !ok || o.Kind != kind || now.Sub(o.SentAt) > otpLifetime {
		fail(w, http.StatusForbidden, "otp_expired", "Email link is invalid or has expired")
		return
	}
	delete(s.otps, p.TokenHash)
	u := s.users[o.UserID]
	if u.Confirmed == nil {
		u.Confirmed = &now
	}
	writeRaw(w, http.StatusOK, s.sessionJSON(u, s.startSession(u, "otp", now), now))
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	provider := q.Get("provider")
	if provider != "github" {
		fail(w, http.StatusBadRequest, "validation_failed", "Unsupported provider: provider is not enabled")
		return
	}
	challenge, method := q.Get("code_challenge"), strings.ToLower(q.Get("code_challenge_method"))
	if (challenge == "") != (method == "") {
		fail(w, http.StatusBadRequest, "validation_failed", "PKCE flow requires code_challenge_method and code_challenge")
		return
	}
	if method != "" && method != "s256" && method != "plain" {
		fail(w, http.StatusBadRequest, "validation_failed", "code challenge method not supported")
		return
	}
	redirectTo := q.Get("redirect_to")
	if redirectTo == "" {
		redirectTo = s.opt.SiteURL
	}
	state := newUUID()
	s.mu.Lock()
	s.flows[state] = &flow{Provider: provider, RedirectTo: redirectTo, Challenge: challenge, Method: method, At: s.now()}
	s.mu.Unlock()
	gh := url.Values{
		"client_id":     {"fake-client-id"},
		"redirect_uri":  {s.AuthURL() + "/callback"},
		"response_type": {"code"},
		"scope":         {"user:email"},
		"state":         {state},
	}
	http.Redirect(w, r, s.URL+"/fake-github/login/oauth/authorize?"+gh.Encode(), http.StatusFound)
}

func (s *Server) jwks(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.jwksDown {
		writeRaw(w, http.StatusServiceUnavailable, map[string]any{"message": "upstream unavailable"})
		return
	}
	keys := []map[string]any{}
	b64 := base64.RawURLEncoding
	for _, k := range s.keys {
		jwk := map[string]any{"kid": k.kid, "alg": k.meth.Alg(), "use": "sig", "key_ops": []string{"verify"}, "ext": true}
		if k.rsa != nil {
			jwk["kty"] = "RSA"
			jwk["n"] = b64.EncodeToString(k.rsa.N.Bytes())
			jwk["e"] = b64.EncodeToString(big.NewInt(int64(k.rsa.E)).Bytes())
		} else {
			pub, err := k.ec.PublicKey.Bytes() // 0x04 || X || Y
			if err != nil {
				panic(err)
			}
			jwk["kty"] = "EC"
			jwk["crv"] = "P-256"
			jwk["x"] = b64.EncodeToString(pub[1:33])
			jwk["y"] = b64.EncodeToString(pub[33:65])
		}
		keys = append(keys, jwk)
	}
	w.Header().Set("Cache-Control", "public, max-age=600")
	writeRaw(w, http.StatusOK, map[string]any{"keys": keys})
}

func (s *Server) settings(w http.ResponseWriter, _ *http.Request) {
	writeRaw(w, http.StatusOK, map[string]any{
		"external": map[string]bool{
			"anonymous_users": false, "email": true, "phone": false, "github": true,
			"apple": false, "azure": false, "google": false, "gitlab": false, "bitbucket": false,
		},
		"disable_signup":     false,
		"mailer_autoconfirm": s.opt.Autoconfirm,
		"phone_autoconfirm":  false,
		"sms_provider":       "",
		"saml_enabled":       false,
	})
}
