package supabase

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Access tokens are checked here, without a round trip to Supabase: HS256
// with the project's JWT secret (legacy projects: no kid, empty JWKS), or
// ES256/RS256 with a public key from the project's JWKS, found by kid.

// allowedAlgs is the allowlist; "none" and everything else is refused before
// any key is looked up.
var allowedAlgs = []string{"HS256", "ES256", "RS256"}

// The JWKS is cached, and refetched
//   - when it is older than jwksRefresh, on the next token that needs it, so
//     a key removed from the project's JWKS stops being trusted on every
//     instance within jwksRefresh;
//   - when a token names a kid that is not cached, at most every
//     jwksUnknownKid, so forged kids cannot make us hammer Supabase (and at
//     once for tokens Supabase itself just issued: sign-in during a key
//     rotation works);
//   - after a failed fetch, at most every jwksRetry. While fetches fail, the
//     keys fetched last keep being used for up to jwksMaxStale after that
//     fetch, then tokens are refused as unverifiable (Unavailable).
const (
	jwksRefresh    = 5 * time.Minute
	jwksUnknownKid = 10 * time.Second
	jwksRetry      = 10 * time.Second
	jwksMaxStale   = 15 * time.Minute
	maxTokenLength = 16 << 10
)

var (
	// errNoSecret: an HS256 token and no JWT secret configured, so only
	// Supabase can check it (GET /user).
	errNoSecret = errors.New("no JWT secret configured for HS256 tokens")
	// errUnknownKey: the kid is not in the JWKS, even after a refetch.
	errUnknownKey = errors.New("signing key not in the JWKS")
	// errJWKSUnavailable: the JWKS could not be fetched.
	errJWKSUnavailable = errors.New("JWKS unavailable")
)

// claims are the parts of a Supabase access token that are used.
type claims struct {
	jwt.RegisteredClaims
	Email       string `json:"email"`
	Role        string `json:"role"`
	SessionID   string `json:"session_id"`
	IsAnonymous bool   `json:"is_anonymous"`
}

func (c *claims) expires() time.Time {
	if c.ExpiresAt == nil {
		return time.Time{}
	}
	return c.ExpiresAt.Time
}

// verifyLocal checks the signature and the claims other than expiry (the
// caller decides what an expired token means). On errNoSecret it returns the
// unverified claims, structurally checked, for the caller to confirm with
// Supabase.
func (p *Provider) verifyLocal(ctx context.Context, token string) (*claims, error) {
	if token == "" || len(token) > maxTokenLength {
		return nil, errors.New("token missing or too long")
	}
	c := &claims{}
	parser := jwt.NewParser(jwt.WithValidMethods(allowedAlgs), jwt.WithoutClaimsValidation())
	_, err := parser.ParseWithClaims(token, c, func(t *jwt.Token) (any, error) {
		alg := t.Method.Alg()
		if alg == "HS256" {
			if p.opt.JWTSecret == "" {
				return nil, errNoSecret
			}
			return []byte(p.opt.JWTSecret), nil
		}
		kid, _ := t.Header["kid"].(string)
		return p.keys.lookup(ctx, p, kid, alg, false)
	})
	if errors.Is(err, errNoSecret) {
		c = &claims{}
		if _, _, perr := parser.ParseUnverified(token, c); perr != nil {
			return nil, perr
		}
		if cerr := p.checkClaims(c); cerr != nil {
			return nil, cerr
		}
		return c, errNoSecret
	}
	if err != nil {
		return nil, err
	}
	return c, p.checkClaims(c)
}

// checkClaims applies the rules every Supabase user token meets.
func (p *Provider) checkClaims(c *claims) error {
	aud := false
	for _, a := range c.Audience {
		aud = aud || a == "authenticated"
	}
	switch {
	case !aud:
		return errors.New(`audience is not "authenticated"`)
	case c.Issuer != "" && c.Issuer != p.authURL:
		return errors.New("issuer is not this project's Supabase Auth")
	case c.Subject == "":
		return errors.New("no subject")
	case c.ExpiresAt == nil:
		return errors.New("no expiry")
	case c.IsAnonymous || c.Email == "":
		// Anonymous Supabase users (if the project allows them) have no
		// e-mail and are not dashboard accounts.
		return errors.New("anonymous or e-mail-less user")
	}
	return nil
}

// keySet caches the project's JWKS.
type keySet struct {
	mu        sync.Mutex
	keys      map[string]publicKey // by kid
	fetchedAt time.Time            // of the last successful fetch; zero before the first
	triedAt   time.Time            // of the last attempt
	failing   bool                 // the last attempt failed
	lastErr   error
	fetching  chan struct{} // closed when the fetch in flight ends
}

type publicKey struct {
	alg string
	key any // *ecdsa.PublicKey or *rsa.PublicKey
}

// lookup finds the key for kid (or, without a kid, every key for alg),
// refetching the JWKS as the rules above say. issued marks a token that
// Supabase has just handed us (sign-in, refresh): its kid surely exists, so
// an unknown one is fetched at once rather than after jwksUnknownKid.
func (ks *keySet) lookup(ctx context.Context, p *Provider, kid, alg string, issued bool) (any, error) {
	fetched := false
	for {
		ks.mu.Lock()
		now := p.now()
		loaded := !ks.fetchedAt.IsZero()
		age := now.Sub(ks.fetchedAt)
		fresh := loaded && age < jwksRefresh
		usable := loaded && age < jwksMaxStale
		k, found := ks.find(kid, alg)
		if fresh && found {
			ks.mu.Unlock()
			return k, nil
		}
		if ch := ks.fetching; ch != nil && !fetched {
			ks.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: %w", errJWKSUnavailable, ctx.Err())
			}
			fetched = true
			continue
		}
		since := now.Sub(ks.triedAt)
		var due bool
		switch {
		case fresh: // an unknown kid
			due = since >= jwksUnknownKid || (issued && !ks.failing)
		default: // stale, or never fetched
			due = since >= jwksRetry
		}
		if fetched || !due {
			failing, lastErr := ks.failing, ks.lastErr
			ks.mu.Unlock()
			switch {
			case usable && found:
				return k, nil // stale, but Supabase cannot be asked now
			case !usable || failing:
				if lastErr == nil {
					lastErr = errors.New("not fetched yet")
				}
				return nil, fmt.Errorf("%w: %w", errJWKSUnavailable, lastErr)
			}
			if fetched {
				p.log.Warn("supabase auth: access token signed with a key that is not in the JWKS; refused", "kid", kid, "alg", alg)
			}
			return nil, errUnknownKey
		}
		ch := make(chan struct{})
		ks.fetching, ks.triedAt = ch, now
		ks.mu.Unlock()

		// Waiting requests share this fetch: it is not cut short when the
		// request that started it goes away.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.timeout)
		keys, err := p.fetchJWKS(fctx)
		cancel()
		ks.mu.Lock()
		if err != nil {
			ks.failing, ks.lastErr = true, err
			if loaded {
				p.log.Warn("supabase auth: fetching the JWKS failed; using the keys fetched before", "err", err, "fetched", ks.fetchedAt, "trusted_until", ks.fetchedAt.Add(jwksMaxStale))
			} else {
				p.log.Warn("supabase auth: fetching the JWKS failed; tokens signed with asymmetric keys cannot be verified", "err", err)
			}
		} else {
			var removed []string
			for old := range ks.keys {
				if _, ok := keys[old]; !ok {
					removed = append(removed, old)
				}
			}
			if len(removed) > 0 {
				p.log.Info("supabase auth: signing keys left the JWKS and are no longer trusted", "kids", removed)
			}
			ks.keys, ks.fetchedAt, ks.failing, ks.lastErr = keys, p.now(), false, nil
		}
		ks.fetching = nil
		close(ch)
		ks.mu.Unlock()
		fetched = true
	}
}

func (ks *keySet) find(kid, alg string) (any, bool) {
	if kid != "" {
		k, ok := ks.keys[kid]
		if !ok || k.alg != alg {
			return nil, false
		}
		return k.key, true
	}
	var set jwt.VerificationKeySet
	for _, k := range ks.keys {
		if k.alg == alg {
			set.Keys = append(set.Keys, k.key)
		}
	}
	return set, len(set.Keys) > 0
}

// fetchJWKS reads URL/auth/v1/.well-known/jwks.json. Keys it cannot use
// (symmetric, other curves, short RSA) are skipped.
func (p *Provider) fetchJWKS(ctx context.Context) (map[string]publicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.authURL+"/.well-known/jwks.json", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("apikey", p.opt.AnonKey)
	resp, err := p.transport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("JWKS: HTTP %d", resp.StatusCode)
	}
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	keys := map[string]publicKey{}
	for _, k := range doc.Keys {
		if pk, ok := k.parse(); ok && k.Kid != "" {
			keys[k.Kid] = pk
		}
	}
	return keys, nil
}

type jwk struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Alg    string   `json:"alg"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
	N      string   `json:"n"`
	E      string   `json:"e"`
}

func (k jwk) parse() (publicKey, bool) {
	if k.Use != "" && k.Use != "sig" {
		return publicKey{}, false
	}
	if len(k.KeyOps) > 0 && !contains(k.KeyOps, "verify") {
		return publicKey{}, false
	}
	b64 := base64.RawURLEncoding
	switch k.Kty {
	case "EC":
		if k.Crv != "P-256" || (k.Alg != "" && k.Alg != "ES256") {
			return publicKey{}, false
		}
		x, err1 := b64.DecodeString(k.X)
		y, err2 := b64.DecodeString(k.Y)
		if err1 != nil || err2 != nil || len(x) > 32 || len(y) > 32 {
			return publicKey{}, false
		}
		point := make([]byte, 65)
		point[0] = 4 // uncompressed
		copy(point[1+32-len(x):33], x)
		copy(point[33+32-len(y):], y)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
		if err != nil {
			return publicKey{}, false
		}
		return publicKey{alg: "ES256", key: pub}, true
	case "RSA":
		if k.Alg != "" && k.Alg != "RS256" {
			return publicKey{}, false
		}
		n, err1 := b64.DecodeString(k.N)
		e, err2 := b64.DecodeString(k.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			return publicKey{}, false
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < 2048 || pub.E < 3 || pub.E%2 == 0 {
			return publicKey{}, false
		}
		return publicKey{alg: "RS256", key: pub}, true
	}
	return publicKey{}, false
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// unverifiedExpiry reads a token's exp without checking it, to decide
// whether to refresh before a call that Supabase will check anyway.
func unverifiedExpiry(token string) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	c := &claims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, c); err != nil || c.ExpiresAt == nil {
		return time.Time{}, false
	}
	return c.ExpiresAt.Time, true
}
