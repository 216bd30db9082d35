package encryption

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Secrets keeps wrapped data keys (in the control database, shared by
// every instance).
type Secrets interface {
	// ServerSecretOr returns the secret called name, storing fresh first
	// if there is none (the first instance to ask wins).
	ServerSecretOr(ctx context.Context, name, fresh string) (string, error)
	// ServerSecretsLike returns the secrets whose names start with prefix.
	ServerSecretsLike(ctx context.Context, prefix string) (map[string]string, error)
	// ReplaceServerSecrets sets each named secret to its new value in one
	// transaction, provided every one still holds its old value.
	ReplaceServerSecrets(ctx context.Context, old, new map[string]string) error
}

// dataKeyPrefix names the data keys among the server's secrets.
const dataKeyPrefix = "datakey:"

// masterSecret is where a PostgreSQL deployment without a key of its own
// keeps its generated master key (see Resolve).
const masterSecret = "encryption-master-key"

// KeyFileName is the embedded default's key file in the data directory.
const KeyFileName = "encryption.key"

// Source says where the master key came from.
type Source string

const (
	FromEnv       Source = "CLINIKAPI_ENCRYPTION_KEY"
	FromFile      Source = "CLINIKAPI_ENCRYPTION_KEY_FILE"
	FromDataDir   Source = "data directory key file"
	Generated     Source = "generated in the data directory"
	FromDatabase  Source = "control database"
	GeneratedInDB Source = "generated in the control database"
)

// Resolve finds the master key: keyText (CLINIKAPI_ENCRYPTION_KEY), else
// keyFile (CLINIKAPI_ENCRYPTION_KEY_FILE), else, on the embedded default
// (SQLite), the data directory's key file, made on first start; else
// (PostgreSQL without a key of its own) one kept in the control database,
// so that every instance shares it. It returns the path of the key file
// when there is one.
func Resolve(ctx context.Context, keyText, keyFile, dataDir string, postgres bool, st Secrets) (Key, Source, string, error) {
	switch {
	case keyText != "":
		k, err := ParseKey(keyText)
		if err != nil {
			return k, "", "", fmt.Errorf("CLINIKAPI_ENCRYPTION_KEY: %w", err)
		}
		return k, FromEnv, "", nil
	case keyFile != "":
		k, err := ReadKeyFile(keyFile)
		if err != nil {
			return k, "", "", fmt.Errorf("CLINIKAPI_ENCRYPTION_KEY_FILE: %w", err)
		}
		return k, FromFile, keyFile, nil
	case !postgres:
		path := filepath.Join(dataDir, KeyFileName)
		k, err := ReadKeyFile(path)
		if err == nil {
			return k, FromDataDir, path, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return k, "", "", fmt.Errorf("encryption key file: %w", err)
		}
		k = NewKey()
		if err := WriteKeyFile(path, k); err != nil {
			return k, "", "", fmt.Errorf("encryption key file: %w", err)
		}
		return k, Generated, path, nil
	}
	fresh := NewKey()
	s, err := st.ServerSecretOr(ctx, masterSecret, fresh.String())
	if err != nil {
		return Key{}, "", "", err
	}
	k, err := ParseKey(s)
	if err != nil {
		return k, "", "", fmt.Errorf("the master key in the control database: %w", err)
	}
	if k == fresh {
		return k, GeneratedInDB, "", nil
	}
	return k, FromDatabase, "", nil
}

// DataKey returns the data key called name, made and stored wrapped on
// first use. A master key that does not open it is a *WrongKeyError.
func DataKey(ctx context.Context, st Secrets, master Key, name string) ([]byte, error) {
	fresh := NewKey()
	wrapped, err := st.ServerSecretOr(ctx, dataKeyPrefix+name, master.Wrap(dataKeyPrefix+name, fresh.b[:]))
	if err != nil {
		return nil, err
	}
	return master.Unwrap(dataKeyPrefix+name, wrapped)
}

// Rotate rewraps every data key from old to new, in one transaction: the
// data they encrypt is not rewritten. A master key kept in the control
// database is replaced with new in the same transaction. It returns how
// many data keys it rewrapped.
func Rotate(ctx context.Context, st Secrets, old, new Key, inDatabase bool) (int, error) {
	wrapped, err := st.ServerSecretsLike(ctx, dataKeyPrefix)
	if err != nil {
		return 0, err
	}
	was, now := map[string]string{}, map[string]string{}
	for name, w := range wrapped {
		if !strings.HasPrefix(name, dataKeyPrefix) {
			continue
		}
		dk, err := old.Unwrap(name, w)
		if err != nil {
			return 0, err
		}
		was[name], now[name] = w, new.Wrap(name, dk)
	}
	if inDatabase {
		was[masterSecret], now[masterSecret] = old.String(), new.String()
	}
	if err := st.ReplaceServerSecrets(ctx, was, now); err != nil {
		return 0, err
	}
	n := len(now)
	if inDatabase {
		n--
	}
	return n, nil
}
