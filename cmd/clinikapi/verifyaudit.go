package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/config"
)

// verifyAuditCmd checks the audit trail's hash chains in the database, or
// those of an export file.
func verifyAuditCmd(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify-audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("file", "", "an audit export (.ndjson or .csv) to check instead of the database")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errors.New("verify-audit takes no arguments")
	}
	var r audit.VerifyReport
	if *file != "" {
		es, err := readAuditExport(*file)
		if err != nil {
			return err
		}
		r = audit.VerifyExport(es)
	} else {
		a, err := adminApp(ctx, cfg, stderr)
		if err != nil {
			return err
		}
		defer a.Close()
		if r, err = audit.Verify(ctx, a.DB, 1000); err != nil {
			return err
		}
	}
	for _, p := range r.Problems {
		fmt.Fprintln(stdout, p.String())
	}
	fmt.Fprintf(stdout, "%d chains, %d events checked, %d problems", r.Chains, r.Events, len(r.Problems))
	if r.Unchained > 0 {
		fmt.Fprintf(stdout, "; %d events without a hash (written before the chain, not covered)", r.Unchained)
	}
	fmt.Fprintln(stdout)
	if len(r.Problems) > 0 {
		return fmt.Errorf("the audit trail has %d problems", len(r.Problems))
	}
	return nil
}

// readAuditExport reads the events of an audit export file.
func readAuditExport(path string) ([]audit.Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	es, err := audit.ReadExport(f, strings.HasSuffix(path, ".csv"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return es, nil
}
