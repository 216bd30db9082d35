package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/clinikapi/clinikapi/internal/config"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/suborg"
)

// subOrgCmd runs the sub-organization commands as the system actor:
// create-suborg, list-suborgs, rename-suborg, archive-suborg, restore-suborg.
func subOrgCmd(ctx context.Context, cfg config.Config, cmd string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	orgID := fs.String("org", "", "id of the parent organization (org_…, required)")
	var id, name *string
	switch cmd {
	case "create-suborg":
		name = fs.String("name", "", "name of the sub-organization (required)")
	case "rename-suborg":
		id = fs.String("suborg", "", "id of the sub-organization (sub_…, required)")
		name = fs.String("name", "", "its new name (required)")
	case "archive-suborg", "restore-suborg":
		id = fs.String("suborg", "", "id of the sub-organization (sub_…, required)")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *orgID == "" || fs.NArg() > 0 || id != nil && *id == "" || name != nil && *name == "" {
		fs.Usage()
		return fmt.Errorf("%s: missing flags (see clinikapi admin help)", cmd)
	}
	a, err := adminApp(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	if _, err := a.Orgs.FindOrg(ctx, *orgID); err != nil {
		if errs.Is(err, errs.NotFound) {
			return errs.FieldError("org", "No organization has the id %q.", *orgID)
		}
		return err
	}
	actor := suborg.Actor{OrgID: *orgID}
	var so suborg.SubOrg
	switch cmd {
	case "list-suborgs":
		all, err := a.SubOrgs.List(ctx, *orgID)
		if err != nil {
			return err
		}
		for _, s := range all {
			fmt.Fprintf(stdout, "%s\t%s\t%s\n", s.ID, s.Status(), s.Name)
		}
		return nil
	case "create-suborg":
		so, err = a.SubOrgs.Create(ctx, actor, *name)
	case "rename-suborg":
		so, err = a.SubOrgs.Rename(ctx, actor, *id, *name)
	case "archive-suborg":
		so, err = a.Privacy.CloseSubOrg(ctx, actor, *id)
	case "restore-suborg":
		so, err = a.Privacy.ReopenSubOrg(ctx, actor, *id)
	default:
		return errors.New("unknown sub-organization command")
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "suborg_id=%s\nstatus=%s\nname=%s\n", so.ID, so.Status(), so.Name)
	if !so.DeleteAfter.IsZero() {
		fmt.Fprintf(stdout, "delete_after=%s\n", so.DeleteAfter.UTC().Format(time.RFC3339))
	}
	return nil
}
