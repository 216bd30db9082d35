// Command clinikapi is the whole ClinikAPI platform in one binary: the
// Developer Dashboard, the /v1 API tier, the Stripe webhook receiver and the
// background workers.
//
//	clinikapi serve [--addr HOST:PORT]   run the server
//	clinikapi migrate                    apply database migrations and exit
//	clinikapi admin <command> …          operator commands: create-user, create-key, revoke-key,
//	                                     set-plan, seed, reindex, verify-audit, *-suborg (see `clinikapi admin help`)
//	clinikapi bench [flags]              load test on 127.0.0.1 against a bare handler
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app"
	"github.com/clinikapi/clinikapi/internal/config"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/logging"
	"github.com/clinikapi/clinikapi/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "clinikapi:", describe(err))
		os.Exit(1)
	}
}

const usage = `Usage: clinikapi <command> [flags]

Commands:
  serve     run the dashboard and API server (default address :8080, or --addr HOST:PORT)
  migrate   apply database migrations and exit
  admin     operator commands: create-user, create-key, revoke-key, set-plan, seed, reindex, verify-audit, rotate-encryption-key
            (clinikapi admin help describes them)
  bench     load-test the API (pipeline, read, search, create) on 127.0.0.1 against
            a bare handler in the same run (clinikapi bench -h lists its flags)
  help      print this text

Configuration comes from environment variables; see README.md.
`

// run is the program with its inputs made explicit, so tests can call it.
func run(ctx context.Context, args []string, getenv config.Getenv, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	switch args[0] {
	case "serve":
		return serve(ctx, cfg, getenv, args[1:], stderr)
	case "migrate":
		return migrate(ctx, cfg, stderr)
	case "admin":
		return admin(ctx, cfg, args[1:], stdout, stderr)
	case "bench":
		return benchCmd(ctx, getenv, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func serve(ctx context.Context, cfg config.Config, getenv config.Getenv, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", cfg.Addr, "listen address (host:port); also CLINIKAPI_ADDR")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *addr != cfg.Addr {
		// Re-derive defaults that depend on the address (the base URL).
		c, err := config.Load(func(k string) string {
			if k == "CLINIKAPI_ADDR" {
				return *addr
			}
			return getenv(k)
		})
		if err != nil {
			return err
		}
		cfg = c
	}
	log := logging.New(stderr, cfg.LogFormat, cfg.LogLevel)
	a, err := app.New(ctx, cfg, log, app.Options{Server: true})
	if err != nil {
		return err
	}
	defer a.Close() // flushes usage records and counters after the server stops
	a.Start(ctx)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("CLINIKAPI_ADDR: %w", err)
	}
	srv := &http.Server{
		Handler:           a.HTTP,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    web.MaxHeaderBytes,
		ErrorLog:          nil,
	}
	errc := make(chan error, 1)
	go func() {
		if cfg.TLS.Enabled() {
			srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			errc <- srv.ServeTLS(ln, cfg.TLS.CertFile, cfg.TLS.KeyFile)
			return
		}
		errc <- srv.Serve(web.ProtocolErrors(ln))
	}()
	log.Info("ClinikAPI is running", "addr", ln.Addr().String(), "url", cfg.BaseURL,
		"database", string(a.DB.Dialect()), "accounts", a.Accounts.ProviderName(), "tls", cfg.TLS.Enabled())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

func migrate(ctx context.Context, cfg config.Config, stderr io.Writer) error {
	log := logging.New(stderr, cfg.LogFormat, cfg.LogLevel)
	a, err := app.New(ctx, cfg, log, app.Options{})
	if err != nil {
		return err
	}
	defer a.Close()
	log.Info("database is up to date", "database", string(a.DB.Dialect()))
	return nil
}

const adminUsage = `Usage: clinikapi admin <command> [flags]

Commands:
  create-user --email E --password P --org NAME [--name N]
      create a built-in account that owns a new organization; prints the ids
  create-key --org ORG_ID [--suborg SUB_ID] [--env test|live] [--scope read|write|*] [--name N]
             [--resource-types "Patient:read,appointments:*"] [--ip-allowlist "203.0.113.0/24,2001:db8::/32"]
             [--per-minute N] [--notes TEXT] [--expires-at YYYY-MM-DD|RFC3339]
      create an API key (default: test, scope *, every resource type, any
      address, the organization's rate limit only, no expiry; with --suborg,
      a key of that sub-organization: its data is its own tenant's); the
      own limit must be below the plan's; prints the key once, then
      key_id=…; audited as the system actor
  revoke-key --secret-file FILE|- [--roll] [--since TIME]
      answer a leaked key, known only by its secret (read from FILE, or
      stdin with -; never an argument): revoke it, or with --roll give it a
      new secret (printed once) and end every earlier one now; audited as
      the system actor (api_key.leaked); with --since (a date, or an RFC
      3339 time), list every request made with the key since then:
      time, method, route, resource type, status, client IP, agent family,
      request id (metadata only)
  create-suborg --org ORG_ID --name N      create a sub-organization; prints suborg_id=…
  list-suborgs --org ORG_ID                one line per sub-organization: id, status, name
  rename-suborg --org ORG_ID --suborg SUB_ID --name N
  archive-suborg --org ORG_ID --suborg SUB_ID
      revoke its keys and schedule the deletion of its data (29 days)
  restore-suborg --org ORG_ID --suborg SUB_ID
      undo an archive before the deletion ran (new keys are needed)
  set-plan --org ORG_ID --plan sandbox|starter|pro|team|enterprise
      put an organization on a plan (Enterprise contracts, scripted setups);
      its limits apply to the next API request; audited as the system actor
  seed --org ORG_ID [--env test|live] [--patients N]
      fill the organization's datastore with synthetic patients, each with an
      encounter and two observations (for demos and load tests)
  reindex [--every-parameter]
      rewrite the search index of every datastore from the stored resources,
      after an upgrade that changes the index rules; --every-parameter stores
      each value under every parameter, as servers before values were kept
      once did (run it before rolling back past that version); safe beside a
      running server
  verify-audit [--file EXPORT.ndjson|EXPORT.csv]
      check the audit trail's hash chains: every event against its hash, its
      place after the one before it and the chain's head; with --file, an
      audit export instead (offline, no database); prints each break and
      exits non-zero if there is one
  rotate-encryption-key --new-key-file PATH
      rewrap the data keys of encryption at rest with a new master key (read
      from PATH, or made there if PATH does not exist); no data is rewritten;
      the embedded default's key file is updated, otherwise set
      CLINIKAPI_ENCRYPTION_KEY to the new key before the next start
  backup --out DIR
      copy every SQLite database of the data directory (control plane and
      FHIR datastores) into DIR, encrypted (AES-256-GCM) under a data key
      wrapped by the master key; safe beside a running server
  restore --from DIR --to NEWDIR [--key-file PATH]
      decrypt a backup into a new data directory, with the master key it
      was made under
  help
      print this text
`

// adminApp assembles the application for an admin command, logging
// warnings and errors only.
func adminApp(ctx context.Context, cfg config.Config, stderr io.Writer) (*app.App, error) {
	return app.New(ctx, cfg, logging.New(stderr, cfg.LogFormat, "warn"), app.Options{})
}

func admin(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, adminUsage)
		return errors.New("no admin command given")
	}
	switch args[0] {
	case "create-user":
		fs := flag.NewFlagSet("create-user", flag.ContinueOnError)
		fs.SetOutput(stderr)
		email := fs.String("email", "", "e-mail address (required)")
		password := fs.String("password", "", "password: at least 8 characters, not easy to guess (required)")
		orgName := fs.String("org", "", "name of the organization to create (required)")
		name := fs.String("name", "", "display name")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *email == "" || *password == "" || *orgName == "" {
			fs.Usage()
			return errors.New("create-user needs --email, --password and --org")
		}
		a, err := adminApp(ctx, cfg, stderr)
		if err != nil {
			return err
		}
		defer a.Close()
		u, o, err := a.CreateUser(ctx, *email, *password, *name, *orgName)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user_id=%s\norg_id=%s\n", u.ID, o.ID)
		return nil
	case "create-key":
		return createKey(ctx, cfg, args[1:], stdout, stderr)
	case "revoke-key":
		return revokeKeyCmd(ctx, cfg, args[1:], stdout, stderr)
	case "create-suborg", "list-suborgs", "rename-suborg", "archive-suborg", "restore-suborg":
		return subOrgCmd(ctx, cfg, args[0], args[1:], stdout, stderr)
	case "seed":
		return seedCmd(ctx, cfg, args[1:], stdout, stderr)
	case "set-plan":
		return setPlan(ctx, cfg, args[1:], stdout, stderr)
	case "reindex":
		return reindexCmd(ctx, cfg, args[1:], stdout, stderr)
	case "verify-audit":
		return verifyAuditCmd(ctx, cfg, args[1:], stdout, stderr)
	case "rotate-encryption-key":
		return rotateKeyCmd(ctx, cfg, args[1:], stdout, stderr)
	case "backup":
		return backupCmd(ctx, cfg, args[1:], stdout, stderr)
	case "restore":
		return restoreCmd(cfg, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, adminUsage)
		return nil
	}
	fmt.Fprint(stderr, adminUsage)
	return fmt.Errorf("unknown admin command %q", args[0])
}

// createKey makes an API key for scripted setups, with every option the
// dashboard offers. The key is printed once, on stdout only, and never
// logged.
func createKey(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("create-key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	orgID := fs.String("org", "", "id of the organization (org_…, required)")
	env := fs.String("env", string(apikey.Test), "environment: test or live")
	scope := fs.String("scope", string(apikey.ScopeAll), "scope: read, write or *")
	name := fs.String("name", "cli", "name of the key")
	sub := fs.String("suborg", "", "id of a sub-organization of --org (sub_…): the key is its")
	types := fs.String("resource-types", "", "resource types the key may use, each with its scope: \"Patient:read,appointments:*\" (FHIR types or simplified names; default: every type)")
	allow := fs.String("ip-allowlist", "", "client networks the key may be used from, IPv4/IPv6 CIDRs: \"203.0.113.0/24,2001:db8::/32\" (default: any address)")
	perMinute := fs.String("per-minute", "", "the key's own rate limit per minute, below the plan's (default: the organization's only)")
	notes := fs.String("notes", "", "notes for people: what the key is for, who owns it")
	expires := fs.String("expires-at", "", "expiry: a date (YYYY-MM-DD, midnight UTC) or an RFC 3339 time (default: never)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *orgID == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("create-key needs --org ORG_ID (and no other arguments)")
	}
	in := apikey.CreateInput{Name: *name, TenantID: *sub, Notes: *notes, ResourceTypes: *types, AllowIPs: *allow}
	var err error
	if in.Env, err = apikey.ParseEnv(*env); err != nil {
		return err
	}
	if in.Scope, err = apikey.ParseScope(*scope); err != nil {
		return err
	}
	if *perMinute != "" {
		if in.PerMinute, err = strconv.Atoi(strings.TrimSpace(*perMinute)); err != nil || in.PerMinute < 1 {
			return errs.FieldError("per_minute", "Give the key's own rate limit as a whole number of requests per minute, 1 or more (below the plan's).")
		}
	}
	if *expires != "" {
		if in.ExpiresAt, err = parseTime(*expires); err != nil {
			return errs.FieldError("expires_at", "Give the expiry as a date (2027-01-31) or an RFC 3339 time (2027-01-31T12:00:00Z).")
		}
	}
	a, err := adminApp(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	o, err := a.Orgs.FindOrg(ctx, *orgID)
	if errs.Is(err, errs.NotFound) {
		return errs.FieldError("org", "No organization has the id %q.", *orgID)
	}
	if err != nil {
		return err
	}
	cr, err := a.Keys.Create(ctx, apikey.Actor{OrgID: o.ID}, in)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\nkey_id=%s\n", cr.Secret, cr.Key.ID)
	if cr.Key.TenantID != "" {
		fmt.Fprintf(stdout, "tenant=%s\n", cr.Key.TenantID)
	}
	return nil
}

// parseTime reads a time given on the command line: an RFC 3339 time, a
// date and time without seconds (UTC), or a date (midnight UTC).
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New("not a time")
}

// describe prints domain errors with the field they are about.
func describe(err error) string {
	if f := errs.FieldOf(err); f != "" {
		if flag, ok := map[string]string{"org_name": "org"}[f]; ok {
			f = flag
		}
		f = strings.ReplaceAll(f, "_", "-") // resource_types → --resource-types
		return fmt.Sprintf("--%s: %s", f, errs.MessageOf(err))
	}
	var e *errs.Error
	if errors.As(err, &e) && e.Code != errs.Internal {
		return e.Message
	}
	return err.Error()
}
