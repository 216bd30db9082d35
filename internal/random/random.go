// Package random makes identifiers and secrets from crypto/rand, and hashes
// secrets for storage.
package random

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// ID returns prefix + "_" + 16 random base32 characters (80 bits), e.g. org_5k2x….
func ID(prefix string) string {
	var b [10]byte
	fill(b[:])
	return prefix + "_" + idEncoding.EncodeToString(b[:])
}

// SortableID is like ID, but its first 48 bits are the time in
// milliseconds, so ids made later sort later (and rows keyed by them are
// appended to an index, not scattered through it); 32 random bits follow.
func SortableID(prefix string, t time.Time) string {
	var b [10]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixMilli())<<16)
	fill(b[6:])
	return prefix + "_" + idEncoding.EncodeToString(b[:])
}

// Token returns a URL-safe secret of 256 bits.
func Token() string {
	var b [32]byte
	fill(b[:])
	return strings.ToLower(idEncoding.EncodeToString(b[:]))
}

// Hash returns the hex SHA-256 of a secret, the only form in which secrets are stored.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func fill(b []byte) {
	// crypto/rand.Read never returns an error on supported platforms (Go 1.24+).
	_, _ = rand.Read(b)
}
