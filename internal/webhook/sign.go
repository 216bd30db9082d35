package webhook

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/clinikapi/clinikapi/internal/random"
)

// The headers of a delivery (guides/webhooks.mdx, "Headers").
const (
	HeaderSignature   = "X-Clinik-Signature"    // HMAC-SHA256 hex of the raw body
	HeaderSignatureV2 = "X-Clinik-Signature-V2" // t=<unix>,v1=<hex> over "<t>.<body>"
	HeaderTimestamp   = "X-Clinik-Timestamp"    // unix seconds when sent
	HeaderEvent       = "X-Clinik-Event"        // patient.created
	HeaderDeliveryID  = "X-Clinik-Delivery-Id"  // the payload's id, for deduplication
)

// SecretPrefix starts every signing secret.
const SecretPrefix = "whsec_"

// NewSecret returns a fresh signing secret (256 bits from crypto/rand).
func NewSecret() string { return SecretPrefix + random.Token() }

func mac(secret string, parts ...[]byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	for _, p := range parts {
		m.Write(p)
	}
	return hex.EncodeToString(m.Sum(nil))
}

// Sign sets the signature headers of a delivery of body sent at t, signed
// with secret; with old (a rolled secret still in its overlap) V2 carries
// a second v1 value, signed with it, after the new one, and the body-only
// signature stays on the old secret until the overlap ends, so that
// receivers verifying with either secret keep working through a roll.
func Sign(h http.Header, body []byte, t time.Time, secret, old string) {
	ts := strconv.FormatInt(t.Unix(), 10)
	signed := []byte(ts + ".")
	v2 := "t=" + ts + ",v1=" + mac(secret, signed, body)
	legacy := secret
	if old != "" {
		v2 += ",v1=" + mac(old, signed, body)
		legacy = old
	}
	h.Set(HeaderSignature, mac(legacy, body))
	h.Set(HeaderSignatureV2, v2)
	h.Set(HeaderTimestamp, ts)
}

// Verify checks a V2 signature header against body and secret, accepting
// any of its v1 values, within tolerance of now: what a receiver does
// (tests use it, and it documents the format).
func Verify(header string, body []byte, secret string, now time.Time, tolerance time.Duration) bool {
	var ts string
	var sigs []string
	for _, kv := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return false
	}
	if d := now.Sub(time.Unix(t, 0)); d > tolerance || -d > tolerance {
		return false
	}
	want := mac(secret, []byte(ts+"."), body)
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}

// sealer encrypts signing secrets at rest (AES-256-GCM under a server
// secret): they must be kept to sign with, so they cannot be hashed, but
// a copy of the database alone does not give them away.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	k := sha256.Sum256(append([]byte("clinikapi webhook secrets\x00"), key...))
	block, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(plain string) string {
	if plain == "" {
		return ""
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic("webhook: no randomness: " + err.Error())
	}
	return "v1:" + base64.RawStdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, []byte(plain), nil))
}

func (s *sealer) open(sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(sealed, "v1:"))
	if err != nil || len(b) < s.aead.NonceSize() {
		return "", errors.New("webhook: a sealed secret is damaged")
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, b[:n], b[n:], nil)
	if err != nil {
		return "", errors.New("webhook: a sealed secret does not open with this server's key")
	}
	return string(plain), nil
}
