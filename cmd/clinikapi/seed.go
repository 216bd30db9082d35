package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/clinikapi/clinikapi/internal/config"
	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/seed"
)

// seedCmd writes synthetic clinical data into an organization's datastore.
func seedCmd(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	orgID := fs.String("org", "", "organization id (required)")
	env := fs.String("env", "test", "datastore: test or live")
	n := fs.Int("patients", 1000, "patients to create (each with an encounter and two observations)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *orgID == "" || (*env != "test" && *env != "live") || *n < 1 {
		fs.Usage()
		return errors.New("seed needs --org, --env test|live and --patients ≥ 1")
	}
	a, err := adminApp(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	o, err := a.DB.FindOrg(ctx, *orgID)
	if err != nil {
		return fmt.Errorf("--org: %w", err)
	}
	s, _, err := a.Records.Datastore(ctx, o.ID, *env)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := seed.Run(ctx, s, datastore.Tenant(o.ID), *n, 4, func(done int) {
		fmt.Fprintf(stderr, "%d patients…\n", done)
	})
	if err != nil {
		return err
	}
	d := time.Since(start)
	fmt.Fprintf(stdout, "seeded %d patients (%d resources) into the %s datastore of %s in %s (%.0f resources/s)\n",
		*n, res.Resources, *env, o.ID, d.Round(time.Millisecond), float64(res.Resources)/d.Seconds())
	return nil
}
