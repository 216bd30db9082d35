package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/clinikapi/clinikapi/internal/config"
	"github.com/clinikapi/clinikapi/internal/errs"
)

// setPlan puts an organization on a plan as the system actor.
func setPlan(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("set-plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	orgID := fs.String("org", "", "id of the organization (org_…, required)")
	planID := fs.String("plan", "", "sandbox, starter, pro, team or enterprise (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *orgID == "" || *planID == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("set-plan needs --org ORG_ID and --plan PLAN")
	}
	a, err := adminApp(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.Billing.SetPlanSystem(ctx, *orgID, *planID, "cli"); err != nil {
		if errs.Is(err, errs.NotFound) {
			return errs.FieldError("org", "No organization has the id %q.", *orgID)
		}
		return err
	}
	o, err := a.Orgs.FindOrg(ctx, *orgID)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "org_id=%s\nplan=%s\n", o.ID, o.Plan)
	return nil
}
