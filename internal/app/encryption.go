package app

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/clinikapi/clinikapi/internal/encryption"
	"github.com/clinikapi/clinikapi/internal/store"
)

// FilesKey names the data key of export files and staged imports.
const FilesKey = "files"

// DatastoreKeyName names the data key of the SQLite file of the datastore
// called name.
func DatastoreKeyName(name string) string { return "datastore:" + name }

// DatastoreKey returns the data key that encrypts the pages of the SQLite
// file of the datastore called name, made on first use; nil on
// PostgreSQL, whose storage is encrypted below it (README, "Encryption at
// rest").
func (a *App) DatastoreKey(ctx context.Context, name string) ([]byte, error) {
	if a.Config.DatabaseURL != "" || a.opt.PlainDatastores {
		return nil, nil
	}
	k, err := encryption.DataKey(ctx, a.DB, a.MasterKey, DatastoreKeyName(name))
	if err != nil {
		return nil, fmt.Errorf("encryption at rest: %w", err)
	}
	return k, nil
}

// encryptDatastores encrypts in place the SQLite datastore files still
// plain (written before page encryption), each with a data key of its
// own, so that the first start after an upgrade leaves none in the clear,
// and checks that every file opens with its key.
func (a *App) encryptDatastores(ctx context.Context) error {
	if a.Config.DatabaseURL != "" || a.opt.PlainDatastores {
		return nil
	}
	names, err := store.DatastoreNames(ctx, "", a.Config.DataDir)
	if err != nil {
		return err
	}
	for _, name := range names {
		key, err := a.DatastoreKey(ctx, name)
		if err != nil {
			return err
		}
		path := store.DatastoreFile(a.Config.DataDir, name)
		if err := store.EncryptDatastoreFile(ctx, path, key, a.Log); err != nil {
			return fmt.Errorf("encryption at rest: datastore %s: %w", name, err)
		}
		// A file its key does not open (another deployment's) stops
		// start-up here rather than failing every request.
		if err := store.CheckSQLiteKey(ctx, path, key); err != nil {
			return fmt.Errorf("encryption at rest: datastore %s (%s): %w", name, filepath.Base(path), err)
		}
	}
	return nil
}

// openKeys finds the master key and opens the data keys with it. A key
// that does not open them stops start-up with one line saying so.
func (a *App) openKeys(ctx context.Context) error {
	cfg := a.Config
	k, src, path, err := encryption.Resolve(ctx, cfg.EncryptionKey, cfg.EncryptionKeyFile, cfg.DataDir, cfg.DatabaseURL != "", a.DB)
	if err != nil {
		return err
	}
	dk, err := encryption.DataKey(ctx, a.DB, k, FilesKey)
	if err != nil {
		return fmt.Errorf("encryption at rest: %w", err)
	}
	a.MasterKey, a.KeySource, a.KeyFile = k, src, path
	a.files = encryption.NewFiles(dk)
	if err := a.encryptDatastores(ctx); err != nil {
		return err
	}
	switch src {
	case encryption.Generated:
		a.Log.Warn("encryption at rest: generated a master key on first start; keep a copy of it apart from the data (without it exports and staged imports cannot be read), and set CLINIKAPI_ENCRYPTION_KEY in production so that the key is not stored beside the data",
			"key_file", path, "key_id", k.ID())
	case encryption.GeneratedInDB, encryption.FromDatabase:
		a.Log.Warn("encryption at rest: the master key is kept in the control database (no CLINIKAPI_ENCRYPTION_KEY); set CLINIKAPI_ENCRYPTION_KEY in production, then run clinikapi admin rotate-encryption-key",
			"key_id", k.ID())
	default:
		a.Log.Info("encryption at rest", "master_key", string(src), "key_id", k.ID())
	}
	return nil
}

// RotateEncryptionKey rewraps every data key with next, without rewriting
// any data. The embedded default's key file (or a master key kept in the
// control database) then holds next; with CLINIKAPI_ENCRYPTION_KEY or a
// key file of the operator's own, the operator sets next there before the
// next start. Running instances keep working: their data keys are open.
func (a *App) RotateEncryptionKey(ctx context.Context, next encryption.Key) (int, error) {
	inDB := a.KeySource == encryption.FromDatabase || a.KeySource == encryption.GeneratedInDB
	n, err := encryption.Rotate(ctx, a.DB, a.MasterKey, next, inDB)
	if err != nil {
		return 0, err
	}
	if a.KeySource == encryption.Generated || a.KeySource == encryption.FromDataDir {
		if err := encryption.WriteKeyFile(a.KeyFile, next); err != nil {
			return n, fmt.Errorf("the data keys are rewrapped with the new key, but writing it to %s failed (put the new key there by hand): %w", a.KeyFile, err)
		}
	}
	a.MasterKey = next
	return n, nil
}
