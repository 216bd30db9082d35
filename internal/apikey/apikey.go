// Package apikey is the API keys capability: the key format, how secrets are
// made and stored (SHA-256 only), scopes, expiry, rotation with a grace
// period, revocation, and verification on the API's hot path.
package apikey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/clinikapi/clinikapi/internal/errs"
)

// Env is the environment a key belongs to; it picks the datastore.
type Env string

const (
	Test Env = "test"
	Live Env = "live"
)

// ParseEnv validates an environment name.
func ParseEnv(s string) (Env, error) {
	switch Env(s) {
	case Test, Live:
		return Env(s), nil
	}
	return "", errs.FieldError("env", "Choose the test or the live environment.")
}

// Scope limits what a key may do.
type Scope string

const (
	ScopeRead  Scope = "read"  // GET and HEAD
	ScopeWrite Scope = "write" // POST, PUT, PATCH, DELETE
	ScopeAll   Scope = "*"     // everything (the default)
)

// ParseScope validates a scope; "" means ScopeAll.
func ParseScope(s string) (Scope, error) {
	switch Scope(s) {
	case "":
		return ScopeAll, nil
	case ScopeRead, ScopeWrite, ScopeAll:
		return Scope(s), nil
	}
	return "", errs.FieldError("scope", "Choose the scope read, write or * (everything).")
}

// Allows reports whether the scope permits an HTTP method.
func (s Scope) Allows(method string) bool {
	switch s {
	case ScopeAll:
		return true
	case ScopeRead:
		return method == "GET" || method == "HEAD"
	case ScopeWrite:
		return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE"
	}
	return false
}

// Label is the scope's name for people.
func (s Scope) Label() string {
	switch s {
	case ScopeRead:
		return "Read only"
	case ScopeWrite:
		return "Write only"
	}
	return "Full access"
}

// Key is an API key as the dashboard lists it. The secret is never kept.
type Key struct {
	ID    string // key_…
	OrgID string
	// TenantID is the sub-organization whose tenant the key's data lives
	// under; "" for the organization itself. Plan, limits, pool and
	// billing are the organization's either way.
	TenantID   string
	Name       string
	Env        Env
	Scope      Scope
	Prefix     string // display prefix, e.g. clk_test_AbCd
	Last4      string
	CreatedBy  string // user id, or "system" for operator commands
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero: never
	RevokedAt  time.Time // zero: active
	LastUsedAt time.Time // zero: never used (approximate: writes are coalesced)
	// OldSecretUntil is when the last previous secret stops working after
	// a roll with a grace period (zero: none); filled by ListKeys and FindKey.
	OldSecretUntil time.Time

	// Restrictions beyond the scope (all optional).
	Grants     []Grant   // resource types the key may use (none: every type)
	AllowIPs   []string  // client networks, CIDR (none: any address)
	PerMinute  int       // the key's own rate limit, below the plan's (0: none)
	DisabledAt time.Time // zero: enabled; a disabled key is refused until enabled again
	Notes      string    // for people: what the key is for, who owns it
}

// Status is what the dashboard shows for a key.
type Status string

const (
	Active   Status = "active"
	Expiring Status = "expiring" // expires within 7 days
	Expired  Status = "expired"
	Revoked  Status = "revoked"
	Disabled Status = "disabled"
)

// StatusAt returns the key's status at now.
func (k Key) StatusAt(now time.Time) Status {
	switch {
	case !k.RevokedAt.IsZero():
		return Revoked
	case !k.DisabledAt.IsZero():
		return Disabled
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return Expired
	case !k.ExpiresAt.IsZero() && k.ExpiresAt.Sub(now) < 7*24*time.Hour:
		return Expiring
	}
	return Active
}

// Masked is the key as shown after creation: clk_test_AbCd…wxyz.
func (k Key) Masked() string { return k.Prefix + "…" + k.Last4 }

// Secret is one valid secret of a key. A rotated-out secret keeps working
// until its ExpiresAt (the grace period); the current one has a zero ExpiresAt.
type Secret struct {
	Hash      string // hex SHA-256 of the full key string
	KeyID     string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Key format: clk_<env>_<secret>, where the secret is 32 characters of
// base62 (≈190 bits from crypto/rand).
const (
	secretLen     = 32
	displayPrefix = 4 // characters of the secret shown in the prefix
	alphabet      = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	maxKeyLength  = 128
)

// Generate makes a new key string for env, and its hash, prefix and last 4.
func Generate(env Env) (raw, hash, prefix, last4 string) {
	b := make([]byte, secretLen)
	out := make([]byte, secretLen)
	// Rejection sampling keeps every character uniform: 62 does not divide 256.
	for i := 0; i < secretLen; {
		_, _ = rand.Read(b)
		for _, c := range b {
			if c < 248 && i < secretLen { // 248 = 4*62
				out[i] = alphabet[int(c)%62]
				i++
			}
		}
	}
	raw = "clk_" + string(env) + "_" + string(out)
	return raw, Hash(raw), raw[:len("clk_")+len(env)+1+displayPrefix], raw[len(raw)-4:]
}

// Hash is the stored form of a key string.
func Hash(raw string) string {
	d := digest(raw)
	return hex.EncodeToString(d[:])
}

// digest is the SHA-256 of a key string, computed without allocating
// (a key fits the stack buffer): the cache's key on the hot path.
func digest(raw string) [sha256.Size]byte {
	var buf [maxKeyLength]byte
	return sha256.Sum256(append(buf[:0], raw...))
}

// Parse checks the shape of a presented key and returns its environment.
// It never echoes the key in its errors.
func Parse(raw string) (Env, error) {
	if raw == "" {
		return "", ErrMissing
	}
	if len(raw) > maxKeyLength {
		return "", ErrFormat
	}
	var env Env
	var secret string
	switch {
	case strings.HasPrefix(raw, "clk_test_"):
		env, secret = Test, raw[len("clk_test_"):]
	case strings.HasPrefix(raw, "clk_live_"):
		env, secret = Live, raw[len("clk_live_"):]
	default:
		return "", ErrFormat
	}
	if len(secret) != secretLen {
		return "", ErrFormat
	}
	for i := 0; i < len(secret); i++ {
		c := secret[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return "", ErrFormat
		}
	}
	return env, nil
}

// Verification failures, each with the API error code it maps to.
var (
	ErrMissing  = &errs.Error{Code: errs.Unauthorized, Message: "No API key. Send your key in the x-api-key header.", Reason: errs.ReasonUnauthorized}
	ErrFormat   = &errs.Error{Code: errs.Unauthorized, Message: "The API key is malformed. Keys look like clk_test_… or clk_live_….", Reason: errs.ReasonInvalidKeyFormat}
	ErrInvalid  = &errs.Error{Code: errs.Unauthorized, Message: "The API key is not valid.", Reason: errs.ReasonInvalidKey}
	ErrRevoked  = &errs.Error{Code: errs.Unauthorized, Message: "The API key was revoked.", Reason: errs.ReasonKeyRevoked}
	ErrExpired  = &errs.Error{Code: errs.Unauthorized, Message: "The API key has expired.", Reason: errs.ReasonKeyExpired}
	ErrDisabled = &errs.Error{Code: errs.Unauthorized, Message: "The API key is disabled. An admin can enable it again on the key's page.", Reason: errs.ReasonKeyDisabled}
)

// Principal is who an API request acts as, once its key is verified.
type Principal struct {
	KeyID string
	// OrgID is the organization the request is for: its plan, rate limit,
	// monthly pool, billing and datastore routing.
	OrgID string
	// TenantID is the key's sub-organization, "" for the organization
	// itself; Tenant says whose data the request reaches.
	TenantID string
	Env      Env
	Scope    Scope
	Prefix   string
	// Limits are the key's restrictions (resource types, networks, own
	// rate limit); nil when it has none. Shared: never modify.
	Limits *Limits
}

// Tenant is the datastore tenant the request's data lives under: the
// sub-organization's id for its keys, else the organization's.
func (p Principal) Tenant() string {
	if p.TenantID != "" {
		return p.TenantID
	}
	return p.OrgID
}

// Store persists keys and their secrets.
type Store interface {
	CreateKey(ctx context.Context, k Key, s Secret) error
	ListKeys(ctx context.Context, orgID string) ([]Key, error)
	FindKey(ctx context.Context, orgID, keyID string) (Key, error)
	// FindSecret returns the secret with hash and the key it belongs to.
	FindSecret(ctx context.Context, hash string) (Secret, Key, error)
	// RotateKey adds a new current secret (with its display prefix and last
	// 4) and sets the previous secret(s) to expire at graceUntil.
	RotateKey(ctx context.Context, orgID, keyID string, s Secret, prefix, last4 string, graceUntil time.Time) error
	RevokeKey(ctx context.Context, orgID, keyID string, at time.Time) (Key, error)
	// UpdateKey writes a key's name, notes, expiry, restrictions and
	// disabled time (the fields people may change).
	UpdateKey(ctx context.Context, k Key) error
	// TouchKeys records last use, coalesced: one write for many requests.
	TouchKeys(ctx context.Context, lastUsed map[string]time.Time) error
}
