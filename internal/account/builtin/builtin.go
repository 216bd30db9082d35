// Package builtin is the account.Provider used when Supabase is not
// configured: e-mail + password accounts with argon2id hashes and
// server-side sessions whose secret lives only in the browser's cookie.
package builtin

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/clinikapi/clinikapi/internal/account"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/mail"
	"github.com/clinikapi/clinikapi/internal/random"
)

// Session is a signed-in browser. Only the SHA-256 of its secret is stored.
type Session struct {
	Hash       string
	UserID     string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute end of life
}

// Store persists credentials, sessions and reset tokens.
type Store interface {
	CreateUser(ctx context.Context, u account.User, passwordHash string) error
	FindPasswordHash(ctx context.Context, email string) (userID, hash string, err error)
	SetPasswordHash(ctx context.Context, userID, hash string, now time.Time) error

	CreateSession(ctx context.Context, s Session) error
	FindSession(ctx context.Context, hash string) (Session, error)
	TouchSession(ctx context.Context, hash string, at time.Time) error
	DeleteSession(ctx context.Context, hash string) error
	DeleteUserSessions(ctx context.Context, userID string) error

	CreatePasswordReset(ctx context.Context, hash, userID string, expiresAt time.Time) error
	// ConsumePasswordReset deletes the token and returns its user if it was
	// still valid at now.
	ConsumePasswordReset(ctx context.Context, hash string, now time.Time) (userID string, err error)
}

// Options tune the provider.
type Options struct {
	IdleTimeout time.Duration // a session unused this long ends
	MaxAge      time.Duration // a session ends this long after sign-in regardless
	BaseURL     string        // for links in e-mails
	Now         func() time.Time
}

// Provider implements account.Provider.
type Provider struct {
	store  Store
	mailer mail.Mailer
	opt    Options
	dummy  string // a hash to compare against when the account does not exist
}

// New returns the built-in provider.
func New(store Store, mailer mail.Mailer, opt Options) *Provider {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.IdleTimeout == 0 {
		opt.IdleTimeout = 24 * time.Hour
	}
	if opt.MaxAge == 0 {
		opt.MaxAge = 7 * 24 * time.Hour
	}
	return &Provider{store: store, mailer: mailer, opt: opt, dummy: HashPassword("not a real password")}
}

var _ account.Provider = (*Provider)(nil)

const resetLifetime = time.Hour

// touchEvery coalesces last-seen writes: at most one per session per minute.
const touchEvery = time.Minute

// Name implements account.Provider.
func (p *Provider) Name() string { return "builtin" }

// Register creates an account without signing in (operator commands). The
// e-mail must be normalised and the password checked by the caller.
func (p *Provider) Register(ctx context.Context, email, password, name string) (account.User, error) {
	u := account.User{ID: random.ID("usr"), Email: email, Name: name, CreatedAt: p.opt.Now().UTC()}
	if err := p.store.CreateUser(ctx, u, HashPassword(password)); err != nil {
		if errs.Is(err, errs.Conflict) {
			return account.User{}, errs.FieldError("email", "An account with this e-mail already exists. Sign in instead.")
		}
		return account.User{}, err
	}
	return u, nil
}

// SignUp implements account.Provider.
func (p *Provider) SignUp(ctx context.Context, email, password, name string) (account.Identity, account.Tokens, error) {
	u, err := p.Register(ctx, email, password, name)
	if err != nil {
		return account.Identity{}, account.Tokens{}, err
	}
	t, err := p.newSession(ctx, u.ID, u.CreatedAt)
	return account.Identity{UserID: u.ID, Email: email}, t, err
}

// SignIn implements account.Provider. It spends the same work whether or not
// the account exists.
func (p *Provider) SignIn(ctx context.Context, email, password string) (account.Identity, account.Tokens, error) {
	userID, hash, err := p.store.FindPasswordHash(ctx, email)
	if err != nil && !errs.Is(err, errs.NotFound) {
		return account.Identity{}, account.Tokens{}, err
	}
	if err != nil || hash == "" {
		VerifyPassword(p.dummy, password)
		return account.Identity{}, account.Tokens{}, errs.E(errs.Unauthorized, "wrong credentials")
	}
	if !VerifyPassword(hash, password) {
		return account.Identity{}, account.Tokens{}, errs.E(errs.Unauthorized, "wrong credentials")
	}
	t, err := p.newSession(ctx, userID, p.opt.Now().UTC())
	return account.Identity{UserID: userID, Email: email}, t, err
}

func (p *Provider) newSession(ctx context.Context, userID string, now time.Time) (account.Tokens, error) {
	secret := random.Token()
	s := Session{Hash: random.Hash(secret), UserID: userID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(p.opt.MaxAge)}
	if err := p.store.CreateSession(ctx, s); err != nil {
		return account.Tokens{}, err
	}
	return account.Tokens{Access: secret}, nil
}

// Authenticate implements account.Provider.
func (p *Provider) Authenticate(ctx context.Context, t account.Tokens) (account.Identity, *account.Tokens, error) {
	expired := errs.E(errs.Unauthorized, "Your session has ended. Sign in again.")
	if t.Access == "" || len(t.Access) > 128 {
		return account.Identity{}, nil, expired
	}
	hash := random.Hash(t.Access)
	s, err := p.store.FindSession(ctx, hash)
	if errs.Is(err, errs.NotFound) {
		return account.Identity{}, nil, expired
	}
	if err != nil {
		return account.Identity{}, nil, err
	}
	now := p.opt.Now().UTC()
	if !now.Before(s.ExpiresAt) || now.Sub(s.LastSeenAt) >= p.opt.IdleTimeout {
		_ = p.store.DeleteSession(ctx, hash)
		return account.Identity{}, nil, expired
	}
	if now.Sub(s.LastSeenAt) >= touchEvery {
		if err := p.store.TouchSession(ctx, hash, now); err != nil {
			return account.Identity{}, nil, err
		}
	}
	return account.Identity{UserID: s.UserID}, nil, nil
}

// SignOut implements account.Provider.
func (p *Provider) SignOut(ctx context.Context, t account.Tokens) error {
	if t.Access == "" {
		return nil
	}
	return p.store.DeleteSession(ctx, random.Hash(t.Access))
}

// RequestPasswordReset implements account.Provider.
func (p *Provider) RequestPasswordReset(ctx context.Context, email string) error {
	userID, _, err := p.store.FindPasswordHash(ctx, email)
	if err != nil {
		return err
	}
	secret := random.Token()
	if err := p.store.CreatePasswordReset(ctx, random.Hash(secret), userID, p.opt.Now().UTC().Add(resetLifetime)); err != nil {
		return err
	}
	link := p.opt.BaseURL + "/reset-password?token=" + secret
	_, err = p.mailer.Send(ctx, mail.Message{
		To:      email,
		Subject: "Reset your ClinikAPI password",
		Body: "Someone asked to reset the password of your ClinikAPI account.\n\n" +
			"Choose a new password here (the link works once, for one hour):\n" + link +
			"\n\nIf it was not you, ignore this e-mail: your password stays as it is.\n",
	})
	return err
}

// ResetPassword implements account.Provider. Every session of the user ends.
func (p *Provider) ResetPassword(ctx context.Context, resetToken, newPassword string) (account.Identity, error) {
	invalid := errs.E(errs.Invalid, "This reset link is invalid or has expired. Ask for a new one.")
	if resetToken == "" || len(resetToken) > 128 {
		return account.Identity{}, invalid
	}
	now := p.opt.Now().UTC()
	userID, err := p.store.ConsumePasswordReset(ctx, random.Hash(resetToken), now)
	if errs.Is(err, errs.NotFound) {
		return account.Identity{}, invalid
	}
	if err != nil {
		return account.Identity{}, err
	}
	if err := p.store.SetPasswordHash(ctx, userID, HashPassword(newPassword), now); err != nil {
		return account.Identity{}, err
	}
	return account.Identity{UserID: userID}, p.store.DeleteUserSessions(ctx, userID)
}

// ChangePassword implements account.Provider. Other sessions of the user end;
// the current one stays.
func (p *Provider) ChangePassword(ctx context.Context, t account.Tokens, id account.Identity, current, newPassword string) error {
	_, hash, err := p.store.FindPasswordHash(ctx, id.Email)
	if err != nil {
		return err
	}
	if !VerifyPassword(hash, current) {
		return errs.FieldError("current_password", "The current password is incorrect.")
	}
	now := p.opt.Now().UTC()
	if err := p.store.SetPasswordHash(ctx, id.UserID, HashPassword(newPassword), now); err != nil {
		return err
	}
	if err := p.store.DeleteUserSessions(ctx, id.UserID); err != nil {
		return err
	}
	// Keep the session that made the change.
	return p.store.CreateSession(ctx, Session{Hash: random.Hash(t.Access), UserID: id.UserID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(p.opt.MaxAge)})
}

// OAuthProviders implements account.Provider: built-in accounts have none.
func (p *Provider) OAuthProviders() []string { return nil }

// OAuthStart implements account.Provider.
func (p *Provider) OAuthStart(context.Context, string, string) (string, string, error) {
	return "", "", errs.E(errs.NotFound, "That sign-in method is not available.")
}

// OAuthFinish implements account.Provider.
func (p *Provider) OAuthFinish(context.Context, string, string) (account.Identity, account.Tokens, error) {
	return account.Identity{}, account.Tokens{}, errs.E(errs.NotFound, "That sign-in method is not available.")
}

// argon2id parameters: OWASP's minimum recommendation (19 MiB, 2 passes).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword returns an encoded argon2id hash of pw.
func HashPassword(pw string) string {
	salt := []byte(random.Token()[:16])
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// VerifyPassword reports whether pw matches the encoded hash.
func VerifyPassword(encoded, pw string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var th uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &th); err != nil {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, th, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}
