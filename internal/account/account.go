// Package account holds the people who use the dashboard: users, how they
// prove who they are (a Provider: built-in passwords or Supabase Auth), and
// the rules around signing in — throttling, audit, no user enumeration.
package account

import (
	"context"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	zxcvbn "github.com/ccojocar/zxcvbn-go"

	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/product"
	"github.com/clinikapi/clinikapi/internal/random"
	"github.com/clinikapi/clinikapi/internal/ratelimit"
)

// User is a person with a dashboard account.
type User struct {
	ID         string // usr_…
	Email      string // lower-cased
	Name       string
	ExternalID string // the identity provider's subject, when it is not built-in
	CreatedAt  time.Time
}

// DisplayName is the name, or the e-mail when no name was given.
func (u User) DisplayName() string {
	if u.Name != "" {
		return u.Name
	}
	return u.Email
}

// Identity is who a Provider says the person is.
type Identity struct {
	UserID     string // set by providers that keep users locally (built-in)
	ExternalID string // set by external providers (Supabase user id)
	Email      string
}

// Tokens are what the browser holds between requests, in HttpOnly cookies.
// Built-in sessions use Access only (an opaque session secret); Supabase uses
// the JWT access token and the refresh token.
type Tokens struct {
	Access    string
	Refresh   string
	ExpiresAt time.Time // of the access token; zero when the server tracks expiry
}

// Empty reports whether there are no tokens.
func (t Tokens) Empty() bool { return t.Access == "" && t.Refresh == "" }

// SignUpResult is the outcome of a sign-up: either a session, or a note that
// the person must confirm their e-mail first.
type SignUpResult struct {
	User              User
	Tokens            Tokens
	NeedsConfirmation bool
}

// Provider proves identities. Errors are errs codes: Invalid (weak password,
// bad input), Conflict (account exists), Unauthorized (wrong credentials,
// expired or tampered session), Unavailable (provider down).
type Provider interface {
	// Name is "builtin" or "supabase".
	Name() string
	SignUp(ctx context.Context, email, password, name string) (Identity, Tokens, error)
	SignIn(ctx context.Context, email, password string) (Identity, Tokens, error)
	// Authenticate checks the tokens and returns new ones when it refreshed them.
	Authenticate(ctx context.Context, t Tokens) (Identity, *Tokens, error)
	SignOut(ctx context.Context, t Tokens) error
	// RequestPasswordReset sends a reset link if the account exists; it
	// answers the same either way.
	RequestPasswordReset(ctx context.Context, email string) error
	// ResetPassword sets a new password with the secret from a reset link.
	ResetPassword(ctx context.Context, resetToken, newPassword string) (Identity, error)
	// ChangePassword sets a new password for a signed-in person.
	ChangePassword(ctx context.Context, t Tokens, id Identity, current, newPassword string) error
	// OAuthProviders lists the external sign-in methods offered ("github").
	OAuthProviders() []string
	// OAuthStart returns the URL to send the browser to and the PKCE verifier
	// to keep (in a short-lived HttpOnly cookie) until the callback.
	OAuthStart(ctx context.Context, provider, redirectTo string) (authURL, verifier string, err error)
	OAuthFinish(ctx context.Context, code, verifier string) (Identity, Tokens, error)
}

// Store persists users.
type Store interface {
	FindUserByID(ctx context.Context, id string) (User, error)
	FindUserByEmail(ctx context.Context, email string) (User, error)
	// UpsertExternalUser finds the user with externalID, creating it (with id
	// newID) on first sight, and keeps its e-mail current.
	UpsertExternalUser(ctx context.Context, newID, externalID, email string, now time.Time) (User, error)
	UpdateUserName(ctx context.Context, id, name string, now time.Time) error
}

// Limits for sign-in attempts.
const (
	attemptsPerAccount = 10
	attemptsPerIP      = 50
	attemptWindow      = 15 * time.Minute
	MinPasswordLength  = 8
	// MinPasswordScore is the least zxcvbn score (0–4) a new password
	// needs: 3 is "safely unguessable" for an online attacker.
	MinPasswordScore = 3
)

// Service is the account capability used by the web layer.
type Service struct {
	provider Provider
	store    Store
	audit    *audit.Log
	limiter  ratelimit.Limiter
	log      *slog.Logger
	now      func() time.Time
	// pace holds failed sign-ins to the time successful ones take, so
	// that the answer time does not tell whether the account exists.
	pace pace

	// Product receives the "signed up" event; Nop unless the composition
	// root sets another tracker.
	Product product.Tracker
}

// NewService assembles the account service.
func NewService(p Provider, s Store, a *audit.Log, l ratelimit.Limiter, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{provider: p, store: s, audit: a, limiter: l, log: log, now: now, Product: product.Nop{}}
}

// ProviderName tells which identity provider is in use.
func (s *Service) ProviderName() string { return s.provider.Name() }

// OAuthProviders lists the external sign-in methods offered.
func (s *Service) OAuthProviders() []string { return s.provider.OAuthProviders() }

// NormalizeEmail lower-cases and checks an address.
func NormalizeEmail(raw string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(raw))
	if e == "" {
		return "", errs.FieldError("email", "Enter your e-mail address.")
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || len(e) > 254 || !strings.Contains(e[strings.LastIndex(e, "@")+1:], ".") {
		return "", errs.FieldError("email", "Enter a valid e-mail address, like name@example.com.")
	}
	return e, nil
}

// CheckPassword applies the password policy shared by every provider.
//
// userInputs are the person's own details (e-mail address, name): a
// password equal to one of them, or built from them, is refused.
func CheckPassword(pw string, userInputs ...string) error {
	switch n := utf8.RuneCountInString(pw); {
	case n < MinPasswordLength:
		return errs.FieldError("password", "Use at least %d characters for your password.", MinPasswordLength)
	case len(pw) > 128:
		return errs.FieldError("password", "Use at most 128 characters for your password.")
	}
	var inputs []string
	for _, in := range userInputs {
		in = strings.TrimSpace(in)
		if in == "" {
			continue
		}
		if strings.EqualFold(pw, in) {
			return errs.FieldError("password", "Choose a password that is not your e-mail address or name.")
		}
		inputs = append(inputs, in)
		if local, _, ok := strings.Cut(in, "@"); ok && local != "" {
			inputs = append(inputs, local)
		}
	}
	if zxcvbn.PasswordStrength(pw, inputs).Score < MinPasswordScore {
		return errs.FieldError("password", "This password is too easy to guess (a common password, a keyboard pattern, or your own details). Try a few unrelated words.")
	}
	return nil
}

// CheckName validates a person's display name.
func CheckName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if utf8.RuneCountInString(name) > 100 {
		return "", errs.FieldError("name", "Use at most 100 characters for your name.")
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		// A line break in a name would end a mail header it is written into.
		return "", errs.FieldError("name", "Use letters, spaces and punctuation in your name, on one line.")
	}
	return name, nil
}

// SignUp creates an account. It does not create an organization: the caller
// does that once it has a user.
func (s *Service) SignUp(ctx context.Context, email, password, name string) (SignUpResult, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return SignUpResult{}, err
	}
	if name, err = CheckName(name); err != nil {
		return SignUpResult{}, err
	}
	if err := CheckPassword(password, email, name); err != nil {
		return SignUpResult{}, err
	}
	if err := s.throttle(ctx, email); err != nil {
		return SignUpResult{}, err
	}
	id, tokens, err := s.provider.SignUp(ctx, email, password, name)
	if err != nil {
		return SignUpResult{}, err
	}
	u, err := s.resolve(ctx, id)
	if err != nil {
		return SignUpResult{}, err
	}
	if name != "" && u.Name == "" {
		if err := s.store.UpdateUserName(ctx, u.ID, name, s.now().UTC()); err != nil {
			return SignUpResult{}, err
		}
		u.Name = name
	}
	s.audit.Record(ctx, audit.Event{ActorType: audit.ActorUser, ActorID: u.ID, Action: audit.UserSignedUp, TargetType: "user", TargetID: u.ID})
	s.signedUp(ctx, u, "password")
	return SignUpResult{User: u, Tokens: tokens, NeedsConfirmation: tokens.Empty()}, nil
}

// SignIn checks credentials. Every failure reads the same, whether or not the
// account exists.
func (s *Service) SignIn(ctx context.Context, email, password string) (User, Tokens, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return User{}, Tokens{}, err
	}
	if err := s.throttle(ctx, email); err != nil {
		s.audit.Record(ctx, audit.Event{ActorType: audit.ActorNone, Action: audit.UserSignInFailed, Outcome: audit.Failure, Detail: map[string]string{"reason": "throttled"}})
		return User{}, Tokens{}, err
	}
	start := time.Now()
	id, tokens, err := s.provider.SignIn(ctx, email, password)
	if err == nil {
		s.pace.success(time.Since(start))
	} else if errs.Is(err, errs.Unauthorized) {
		s.pace.failure(ctx, start) // as slow as a success: see pace
	}
	if err != nil {
		ev := audit.Event{ActorType: audit.ActorNone, Action: audit.UserSignInFailed, Outcome: audit.Failure, Detail: map[string]string{"reason": string(errs.CodeOf(err))}}
		if u, ferr := s.store.FindUserByEmail(ctx, email); ferr == nil {
			ev.TargetType, ev.TargetID = "user", u.ID
		}
		s.audit.Record(ctx, ev)
		if errs.Is(err, errs.Unauthorized) {
			return User{}, Tokens{}, errs.E(errs.Unauthorized, "The e-mail or password is incorrect.")
		}
		return User{}, Tokens{}, err
	}
	u, err := s.resolve(ctx, id)
	if err != nil {
		return User{}, Tokens{}, err
	}
	s.audit.Record(ctx, audit.Event{ActorType: audit.ActorUser, ActorID: u.ID, Action: audit.UserSignedIn, TargetType: "user", TargetID: u.ID})
	return u, tokens, nil
}

// Authenticate turns the browser's tokens into a user, refreshing them when
// the provider did.
func (s *Service) Authenticate(ctx context.Context, t Tokens) (User, *Tokens, error) {
	if t.Empty() {
		return User{}, nil, errs.E(errs.Unauthorized, "Sign in to continue.")
	}
	id, fresh, err := s.provider.Authenticate(ctx, t)
	if err != nil {
		return User{}, nil, err
	}
	u, err := s.resolve(ctx, id)
	if err != nil {
		return User{}, nil, err
	}
	return u, fresh, nil
}

// SignOut ends the session on the server.
func (s *Service) SignOut(ctx context.Context, u User, t Tokens) error {
	err := s.provider.SignOut(ctx, t)
	s.audit.Record(ctx, audit.Event{ActorType: audit.ActorUser, ActorID: u.ID, Action: audit.UserSignedOut, TargetType: "user", TargetID: u.ID})
	return err
}

// SignOutUnconfirmed ends a session the provider could not confirm just now
// (Supabase unreachable): the provider still revokes it where it can. No
// audit event, as the person is not known.
func (s *Service) SignOutUnconfirmed(ctx context.Context, t Tokens) error {
	if t.Empty() {
		return nil
	}
	return s.provider.SignOut(ctx, t)
}

// RequestPasswordReset sends a reset link if the account exists. The answer
// never tells whether it does.
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	if err := s.throttle(ctx, email); err != nil {
		return err
	}
	if err := s.provider.RequestPasswordReset(ctx, email); err != nil && !errs.Is(err, errs.NotFound) {
		s.log.WarnContext(ctx, "password reset request failed", "err", err)
		if errs.Is(err, errs.Unavailable) {
			return err
		}
	}
	return nil
}

// ResetPassword sets a new password from a reset link.
func (s *Service) ResetPassword(ctx context.Context, resetToken, newPassword string) error {
	if err := CheckPassword(newPassword); err != nil {
		return err
	}
	id, err := s.provider.ResetPassword(ctx, resetToken, newPassword)
	if err != nil {
		return err
	}
	u, err := s.resolve(ctx, id)
	if err != nil {
		return err
	}
	s.audit.Record(ctx, audit.Event{ActorType: audit.ActorUser, ActorID: u.ID, Action: audit.UserPasswordReset, TargetType: "user", TargetID: u.ID})
	return nil
}

// ChangePassword sets a new password for a signed-in person.
func (s *Service) ChangePassword(ctx context.Context, u User, t Tokens, current, newPassword string) error {
	var currentErr error
	if current == "" {
		currentErr = errs.FieldError("current_password", "Enter your current password.")
	}
	if err := errs.Fields(currentErr, CheckPassword(newPassword, u.Email, u.Name)); err != nil {
		return err
	}
	if err := s.throttle(ctx, u.Email); err != nil {
		return err
	}
	err := s.provider.ChangePassword(ctx, t, Identity{UserID: u.ID, ExternalID: u.ExternalID, Email: u.Email}, current, newPassword)
	outcome := audit.Success
	if err != nil {
		outcome = audit.Failure
	}
	s.audit.Record(ctx, audit.Event{ActorType: audit.ActorUser, ActorID: u.ID, Action: audit.UserPasswordChanged, TargetType: "user", TargetID: u.ID, Outcome: outcome})
	return err
}

// UpdateProfile changes the display name.
func (s *Service) UpdateProfile(ctx context.Context, u User, name string) (User, error) {
	name, err := CheckName(name)
	if err != nil {
		return User{}, err
	}
	if err := s.store.UpdateUserName(ctx, u.ID, name, s.now().UTC()); err != nil {
		return User{}, err
	}
	s.audit.Record(ctx, audit.Event{ActorType: audit.ActorUser, ActorID: u.ID, Action: audit.UserProfileUpdated, TargetType: "user", TargetID: u.ID})
	u.Name = name
	return u, nil
}

// OAuthStart begins an external sign-in.
func (s *Service) OAuthStart(ctx context.Context, provider, redirectTo string) (string, string, error) {
	for _, p := range s.provider.OAuthProviders() {
		if p == provider {
			return s.provider.OAuthStart(ctx, provider, redirectTo)
		}
	}
	return "", "", errs.E(errs.NotFound, "That sign-in method is not available.")
}

// OAuthFinish completes an external sign-in.
func (s *Service) OAuthFinish(ctx context.Context, code, verifier string) (User, Tokens, error) {
	id, tokens, err := s.provider.OAuthFinish(ctx, code, verifier)
	if err != nil {
		s.audit.Record(ctx, audit.Event{ActorType: audit.ActorNone, Action: audit.UserSignInFailed, Outcome: audit.Failure, Detail: map[string]string{"reason": "oauth"}})
		return User{}, Tokens{}, err
	}
	u, created, err := s.resolveNew(ctx, id)
	if err != nil {
		return User{}, Tokens{}, err
	}
	if created {
		// The first external sign-in creates the account.
		s.audit.Record(ctx, audit.Event{ActorType: audit.ActorUser, ActorID: u.ID, Action: audit.UserSignedUp, TargetType: "user", TargetID: u.ID, Detail: map[string]string{"method": "oauth"}})
		s.signedUp(ctx, u, "oauth")
	}
	s.audit.Record(ctx, audit.Event{ActorType: audit.ActorUser, ActorID: u.ID, Action: audit.UserSignedIn, TargetType: "user", TargetID: u.ID, Detail: map[string]string{"method": "oauth"}})
	return u, tokens, nil
}

// FindUser returns a user by id.
func (s *Service) FindUser(ctx context.Context, id string) (User, error) {
	return s.store.FindUserByID(ctx, id)
}

func (s *Service) resolve(ctx context.Context, id Identity) (User, error) {
	u, _, err := s.resolveNew(ctx, id)
	return u, err
}

// resolveNew also tells whether this sight of an external identity created
// the account.
func (s *Service) resolveNew(ctx context.Context, id Identity) (User, bool, error) {
	if id.UserID != "" {
		u, err := s.store.FindUserByID(ctx, id.UserID)
		return u, false, err
	}
	if id.ExternalID == "" {
		return User{}, false, errs.E(errs.Unauthorized, "Sign in to continue.")
	}
	email := strings.ToLower(id.Email)
	newID := random.ID("usr")
	u, err := s.store.UpsertExternalUser(ctx, newID, id.ExternalID, email, s.now().UTC())
	return u, err == nil && u.ID == newID, err
}

// signedUp captures the product event for a new account: the method and
// the identity provider, nothing about the person.
func (s *Service) signedUp(ctx context.Context, u User, method string) {
	s.Product.Capture(ctx, product.Event{Name: product.SignedUp, UserID: u.ID, Props: map[string]any{"method": method, "provider": s.provider.Name()}})
}

// throttle limits attempts per account and per client IP.
func (s *Service) throttle(ctx context.Context, email string) error {
	ip := audit.OriginFrom(ctx).IP
	checks := []struct {
		key   string
		limit int
	}{{"signin:acct:" + email, attemptsPerAccount}, {"signin:ip:" + ip, attemptsPerIP}}
	for _, c := range checks {
		res, err := s.limiter.Allow(ctx, c.key, c.limit, attemptWindow)
		if err != nil {
			s.log.WarnContext(ctx, "sign-in throttle unavailable", "err", err)
			continue
		}
		if !res.Allowed {
			mins := int(res.RetryAfter.Minutes()) + 1
			return errs.E(errs.RateLimited, "Too many attempts. Wait %s and try again.", plural(mins, "minute"))
		}
	}
	return nil
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
