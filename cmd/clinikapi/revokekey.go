package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clinikapi/clinikapi/internal/analytics"
	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/config"
	"github.com/clinikapi/clinikapi/internal/errs"
	usagerec "github.com/clinikapi/clinikapi/internal/usage"
)

// stdin is where `--secret-file -` reads the secret (tests replace it).
var stdin io.Reader = os.Stdin

// maxSecretFile bounds what is read from a secret file: a key is 41
// characters.
const maxSecretFile = 4096

// revokeKeyCmd answers a leaked key known only by its secret: it finds the
// key by the secret's hash, revokes it (or rolls it with no grace), records
// the leak as the system actor and, with --since, lists every request made
// with the key since then for the incident report (metadata only). The
// secret is read from a file or stdin, never from the command line, where
// shell history and process lists would keep it.
func revokeKeyCmd(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("revoke-key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("secret-file", "", "file holding the leaked secret (clk_…), or - for stdin (required)")
	roll := fs.Bool("roll", false, "keep the key: give it a new secret (printed once) and end every earlier one now, instead of revoking it")
	sinceFlag := fs.String("since", "", "list every request made with the key since this time: a date (YYYY-MM-DD, UTC) or an RFC 3339 time")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("revoke-key needs --secret-file FILE (or - for stdin), and no other arguments: the secret is never given on the command line")
	}
	var since time.Time
	if *sinceFlag != "" {
		var err error
		if since, err = parseTime(*sinceFlag); err != nil {
			return errs.FieldError("since", "Give the time as a date (2026-12-01, UTC) or an RFC 3339 time (2026-12-01T08:30:00Z).")
		}
	}
	raw, err := readSecret(*file)
	if err != nil {
		return err
	}
	a, err := adminApp(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	k, err := a.Keys.FindBySecret(ctx, raw)
	switch {
	case errors.Is(err, apikey.ErrFormat):
		return errors.New("the secret file does not hold an API key: keys look like clk_test_… or clk_live_… (one per file)")
	case errors.Is(err, apikey.ErrInvalid):
		return errors.New("no key has this secret (it was never issued here, or its key was deleted): nothing was revoked")
	case err != nil:
		return err
	}
	do := apikey.LeakRevoke
	if *roll {
		do = apikey.LeakRoll
	}
	cr, err := a.Keys.Leaked(ctx, apikey.Actor{OrgID: k.OrgID}, k.ID, do, since)
	if err != nil {
		return err
	}
	if do == apikey.LeakRoll {
		fmt.Fprintln(stdout, cr.Secret)
	}
	fmt.Fprintf(stdout, "key_id=%s\norg_id=%s\nname=%s\n", k.ID, k.OrgID, k.Name)
	if k.TenantID != "" {
		fmt.Fprintf(stdout, "tenant=%s\n", k.TenantID)
	}
	if do == apikey.LeakRoll {
		fmt.Fprintf(stdout, "rolled=%s (every earlier secret stopped; deploy the new one above)\n", cr.Key.Masked())
	} else {
		already := ""
		if !k.RevokedAt.IsZero() {
			already = " (it was revoked already)"
		}
		fmt.Fprintf(stdout, "revoked=%s%s\n", cr.Key.RevokedAt.UTC().Format(time.RFC3339), already)
	}
	if since.IsZero() {
		return nil
	}
	return printRequests(ctx, a.Analytics, k, since, stdout)
}

// readSecret reads one key from path ("-": stdin), without ever putting it
// in an error.
func readSecret(path string) (string, error) {
	var r io.Reader = stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("--secret-file: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(bufio.NewReader(r), maxSecretFile+1))
	if err != nil {
		return "", fmt.Errorf("--secret-file: %w", err)
	}
	if len(b) > maxSecretFile {
		return "", errors.New("--secret-file: the file is too large to hold one API key")
	}
	raw := strings.TrimSpace(string(b))
	if raw == "" {
		return "", errors.New("--secret-file: the file is empty; write the leaked key (clk_…) into it")
	}
	return raw, nil
}

// printRequests lists the key's requests since a time, newest first: the
// usage records' metadata, never a body or a header.
func printRequests(ctx context.Context, an *analytics.Service, k apikey.Key, since time.Time, stdout io.Writer) error {
	fmt.Fprintf(stdout, "\nrequests with %s since %s (newest first):\n", k.Masked(), since.UTC().Format(time.RFC3339))
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tMETHOD\tROUTE\tTYPE\tSTATUS\tCLIENT IP\tAGENT\tREQUEST ID")
	n := 0
	_, err := an.EachRequest(ctx, analytics.LogFilter{OrgID: k.OrgID, KeyID: k.ID, From: since}, 0, func(r usagerec.Record) error {
		n++
		_, err := fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.Time.UTC().Format(time.RFC3339), r.Method, r.Route,
			dash(r.ResourceType), r.Status, dash(r.ClientIP), dash(r.UAFamily), dash(r.RequestID))
		return err
	})
	if err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "requests=%s\n", strconv.Itoa(n))
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
