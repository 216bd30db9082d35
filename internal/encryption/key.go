// Package encryption keeps protected health information encrypted where
// this program stores it outside the datastore's database: bulk export
// files and staged imports (AES-256-GCM, streamed in chunks, files.go).
// It uses envelope encryption: each purpose has its own data key
// (random, 256 bits), stored only wrapped (AES-256-GCM) by the master key,
// so rotating the master key rewraps the data keys and rewrites no data.
//
// The master key comes from CLINIKAPI_ENCRYPTION_KEY or a key file; the
// embedded default makes one on first start (README, "Encryption at
// rest").
package encryption

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size of every key: AES-256.
const KeySize = 32

// Key is a master key.
type Key struct {
	b [KeySize]byte
}

// ID names a key without revealing it: the start of the SHA-256 of a
// fixed label and the key, so that a wrong key is told apart from damage.
func (k Key) ID() string {
	h := sha256.Sum256(append([]byte("clinikapi-master-key-id\n"), k.b[:]...))
	return "mk_" + hex.EncodeToString(h[:6])
}

// String is the key's text form: base64 (standard, padded).
func (k Key) String() string { return base64.StdEncoding.EncodeToString(k.b[:]) }

// NewKey returns a fresh random key.
func NewKey() Key {
	var k Key
	if _, err := rand.Read(k.b[:]); err != nil {
		panic("encryption: no randomness: " + err.Error())
	}
	return k
}

// ParseKey reads a key written as base64 (standard or URL alphabet,
// padded or not) or as 64 hex digits.
func ParseKey(s string) (Key, error) {
	s = strings.TrimSpace(s)
	var k Key
	var b []byte
	var err error
	if len(s) == 2*KeySize {
		b, err = hex.DecodeString(s)
	} else {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err = enc.DecodeString(s); err == nil {
				break
			}
		}
	}
	if err != nil || len(b) != KeySize {
		return k, errors.New("must be 32 bytes (AES-256) as base64 or 64 hex digits; make one with: openssl rand -base64 32")
	}
	copy(k.b[:], b)
	return k, nil
}

// ReadKeyFile reads a key from a file that only its owner may read.
func ReadKeyFile(path string) (Key, error) {
	st, err := os.Stat(path)
	if err != nil {
		return Key{}, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return Key{}, fmt.Errorf("%s: others may read it (mode %o); chmod 600 it", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Key{}, err
	}
	k, err := ParseKey(string(b))
	if err != nil {
		return Key{}, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// WriteKeyFile writes k to path (mode 0600) atomically.
func WriteKeyFile(path string, k Key) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(k.String()+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// wrapPrefix starts every wrapped data key.
const wrapPrefix = "v1."

// Wrap seals a data key with the master key; name (the data key's name) is
// bound to it, so a wrapped key cannot be moved to another name.
func (k Key) Wrap(name string, dataKey []byte) string {
	g := k.gcm()
	nonce := make([]byte, g.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic("encryption: no randomness: " + err.Error())
	}
	sealed := g.Seal(nonce, nonce, dataKey, []byte(name))
	return wrapPrefix + k.ID() + "." + base64.RawURLEncoding.EncodeToString(sealed)
}

// WrongKeyError is a wrapped key that the master key does not open.
type WrongKeyError struct {
	Name          string
	WrappedBy     string // the id of the key that wrapped it
	Have          string // the id of the key given
	Undecryptable bool   // same id, yet it does not open: damaged
}

func (e *WrongKeyError) Error() string {
	if e.Undecryptable {
		return fmt.Sprintf("the data key %q does not decrypt with master key %s: it is damaged", e.Name, e.Have)
	}
	return fmt.Sprintf("the master key (%s) is not the one that encrypted the data (%s): set CLINIKAPI_ENCRYPTION_KEY (or CLINIKAPI_ENCRYPTION_KEY_FILE) to that key", e.Have, e.WrappedBy)
}

// Unwrap opens a data key that Wrap sealed under name.
func (k Key) Unwrap(name, wrapped string) ([]byte, error) {
	rest, ok := strings.CutPrefix(wrapped, wrapPrefix)
	id, body, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return nil, fmt.Errorf("the data key %q is not in a known format", name)
	}
	if id != k.ID() {
		return nil, &WrongKeyError{Name: name, WrappedBy: id, Have: k.ID()}
	}
	sealed, err := base64.RawURLEncoding.DecodeString(body)
	g := k.gcm()
	if err != nil || len(sealed) < g.NonceSize() {
		return nil, &WrongKeyError{Name: name, WrappedBy: id, Have: k.ID(), Undecryptable: true}
	}
	dk, err := g.Open(nil, sealed[:g.NonceSize()], sealed[g.NonceSize():], []byte(name))
	if err != nil || len(dk) != KeySize {
		return nil, &WrongKeyError{Name: name, WrappedBy: id, Have: k.ID(), Undecryptable: true}
	}
	return dk, nil
}

func (k Key) gcm() cipher.AEAD { return newGCM(k.b[:]) }

func newGCM(key []byte) cipher.AEAD {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic("encryption: " + err.Error()) // keys are always 32 bytes
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		panic("encryption: " + err.Error())
	}
	return g
}
