package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/clinikapi/clinikapi/internal/app"
	"github.com/clinikapi/clinikapi/internal/config"
	"github.com/clinikapi/clinikapi/internal/encryption"
	"github.com/clinikapi/clinikapi/internal/store"
)

// backupManifest describes a backup directory: the data key its files are
// encrypted with, wrapped by the master key, and the files.
type backupManifest struct {
	MasterKeyID string   `json:"masterKeyId"`
	WrappedKey  string   `json:"wrappedKey"`
	Files       []string `json:"files"` // database file names; each is stored as NAME.enc
}

const backupKeyName = "datakey:" + app.FilesKey

// backupCmd copies every SQLite database of the data directory (control
// plane and FHIR datastores) into an encrypted backup directory.
func backupCmd(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "new directory to write the backup into (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("backup needs --out DIR")
	}
	if cfg.DatabaseURL != "" {
		return errors.New("backup copies the embedded SQLite databases; back PostgreSQL up with its own tools (pg_dump, base backups) into encrypted storage")
	}
	if err := os.Mkdir(*out, 0o700); err != nil {
		return fmt.Errorf("--out: %w (give a new directory)", err)
	}
	a, err := adminApp(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	dk, err := encryption.DataKey(ctx, a.DB, a.MasterKey, app.FilesKey)
	if err != nil {
		return err
	}
	files := encryption.NewFiles(dk)
	m := backupManifest{MasterKeyID: a.MasterKey.ID(), WrappedKey: a.MasterKey.Wrap(backupKeyName, dk)}
	dbs, err := filepath.Glob(filepath.Join(cfg.DataDir, "*.db"))
	if err != nil {
		return err
	}
	for _, src := range dbs {
		name := filepath.Base(src)
		tmp := filepath.Join(*out, "."+name+".plain")
		err := func() error {
			// A datastore file is read with its data key; the copy is
			// encrypted with it too (SQLite3 Multiple Ciphers' VACUUM
			// INTO), then sealed with the files key.
			var key []byte
			if ds, ok := strings.CutPrefix(strings.TrimSuffix(name, ".db"), "fhir-"); ok {
				var err error
				if key, err = a.DatastoreKey(ctx, ds); err != nil {
					return err
				}
			}
			db, err := store.OpenSQLite(ctx, src, key)
			if err != nil {
				return err
			}
			defer db.Close()
			return db.VacuumInto(ctx, tmp)
		}()
		if err == nil {
			err = sealFile(files, tmp, filepath.Join(*out, name+".enc"))
		}
		os.Remove(tmp)
		if err != nil {
			return fmt.Errorf("backing up %s: %w", name, err)
		}
		m.Files = append(m.Files, name)
		fmt.Fprintf(stdout, "%s: copied and encrypted\n", name)
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(*out, "backup.json"), b, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup of %d databases in %s, encrypted under master key %s (restore: clinikapi admin restore --from %s --to DIR)\n", len(m.Files), *out, m.MasterKeyID, *out)
	return nil
}

// restoreCmd decrypts a backup into a new data directory.
func restoreCmd(cfg config.Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "backup directory (required)")
	to := fs.String("to", "", "new data directory to restore into (required)")
	keyFile := fs.String("key-file", "", "file holding the master key the backup was made under (default: CLINIKAPI_ENCRYPTION_KEY or CLINIKAPI_ENCRYPTION_KEY_FILE)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from == "" || *to == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("restore needs --from BACKUP and --to DIR")
	}
	var k encryption.Key
	var err error
	switch {
	case *keyFile != "":
		k, err = encryption.ReadKeyFile(*keyFile)
	case cfg.EncryptionKeyFile != "":
		k, err = encryption.ReadKeyFile(cfg.EncryptionKeyFile)
	case cfg.EncryptionKey != "":
		k, err = encryption.ParseKey(cfg.EncryptionKey)
	default:
		err = errors.New("give the master key: --key-file, CLINIKAPI_ENCRYPTION_KEY or CLINIKAPI_ENCRYPTION_KEY_FILE")
	}
	if err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(*from, "backup.json"))
	if err != nil {
		return err
	}
	var m backupManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("backup.json: %w", err)
	}
	dk, err := k.Unwrap(backupKeyName, m.WrappedKey)
	if err != nil {
		return err
	}
	if err := os.Mkdir(*to, 0o700); err != nil {
		return fmt.Errorf("--to: %w (give a new directory)", err)
	}
	files := encryption.NewFiles(dk)
	for _, name := range m.Files {
		if strings.ContainsAny(name, `/\`) {
			return fmt.Errorf("backup.json names %q", name)
		}
		if err := openSealedFile(files, filepath.Join(*from, name+".enc"), filepath.Join(*to, name)); err != nil {
			return fmt.Errorf("restoring %s: %w", name, err)
		}
		fmt.Fprintf(stdout, "%s: restored\n", name)
	}
	if *keyFile != "" {
		if err := encryption.WriteKeyFile(filepath.Join(*to, encryption.KeyFileName), k); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "restored %d databases into %s; start with CLINIKAPI_DATA_DIR=%s\n", len(m.Files), *to, *to)
	return nil
}

// sealFile encrypts src into dst.
func sealFile(f *encryption.Files, src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	w, err := f.Encrypt(out)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, in); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := out.Sync(); err != nil {
		return err
	}
	return out.Close()
}

// openSealedFile decrypts src into dst.
func openSealedFile(f *encryption.Files, src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	r, err := f.Decrypt(in)
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	if _, err := io.Copy(out, r); err != nil {
		os.Remove(dst)
		return err
	}
	return out.Close()
}
