package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/clinikapi/clinikapi/internal/config"
	"github.com/clinikapi/clinikapi/internal/encryption"
)

// rotateKeyCmd rewraps the data keys of encryption at rest with a new
// master key.
func rotateKeyCmd(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rotate-encryption-key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	newFile := fs.String("new-key-file", "", "file holding the new master key (base64 of 32 bytes); made with a fresh key if it does not exist (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *newFile == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("rotate-encryption-key needs --new-key-file PATH")
	}
	next, err := encryption.ReadKeyFile(*newFile)
	if errors.Is(err, os.ErrNotExist) {
		next = encryption.NewKey()
		if err = encryption.WriteKeyFile(*newFile, next); err == nil {
			fmt.Fprintf(stdout, "wrote a new master key to %s (mode 0600)\n", *newFile)
		}
	}
	if err != nil {
		return err
	}
	a, err := adminApp(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	old, src := a.MasterKey.ID(), a.KeySource
	if old == next.ID() {
		return errors.New("the new key is the key in use")
	}
	n, err := a.RotateEncryptionKey(ctx, next)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rewrapped %d data keys: master key %s → %s; no data was rewritten\n", n, old, next.ID())
	switch src {
	case encryption.Generated, encryption.FromDataDir:
		fmt.Fprintf(stdout, "%s now holds the new key\n", a.KeyFile)
	case encryption.FromDatabase, encryption.GeneratedInDB:
		fmt.Fprintln(stdout, "the control database now holds the new key; set CLINIKAPI_ENCRYPTION_KEY to it to keep it out of the database, then run this again")
	default:
		fmt.Fprintf(stdout, "set %s to the new key (in %s) on every instance before it next starts; running instances keep working\n", src, *newFile)
	}
	return nil
}
