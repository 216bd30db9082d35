package main

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/clinikapi/clinikapi/internal/app"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/billing"
	"github.com/clinikapi/clinikapi/internal/config"
)

func TestAdminSetPlan(t *testing.T) {
	vars := map[string]string{"CLINIKAPI_DATA_DIR": t.TempDir()}
	ctx := context.Background()
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"admin", "create-user", "--email", "plan@example.com", "--password", "plan tundra saffron", "--org", "Plans"}, env(vars), &out, &errOut); err != nil {
		t.Fatalf("create-user: %v\n%s", err, errOut.String())
	}
	orgID := regexp.MustCompile(`org_id=(org_[0-9a-z]+)`).FindStringSubmatch(out.String())[1]
	out.Reset()
	if err := run(ctx, []string{"admin", "set-plan", "--org", orgID, "--plan", "enterprise"}, env(vars), &out, &errOut); err != nil {
		t.Fatalf("set-plan: %v\n%s", err, errOut.String())
	}
	if want := "org_id=" + orgID + "\nplan=enterprise\n"; out.String() != want {
		t.Fatalf("set-plan printed %q, want %q", out.String(), want)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--org", orgID}, "needs --org ORG_ID and --plan"},
		{[]string{"--org", orgID, "--plan", "gold"}, "Choose one of the plans"},
		{[]string{"--org", "org_nope", "--plan", "pro"}, "No organization"},
	} {
		out.Reset()
		err := run(ctx, append([]string{"admin", "set-plan"}, c.args...), env(vars), &out, &errOut)
		if err == nil || !strings.Contains(describe(err), c.want) {
			t.Errorf("set-plan %v: %v, want an error saying %q", c.args, err, c.want)
		}
	}
	cfg, err := config.Load(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	o, err := a.Orgs.FindOrg(ctx, orgID)
	if err != nil || o.Plan != "enterprise" {
		t.Fatalf("stored plan = %q, %v; want enterprise", o.Plan, err)
	}
	events, err := a.Audit.List(ctx, audit.Filter{OrgID: orgID, Action: billing.PlanChanged})
	if err != nil || len(events) != 1 || events[0].ActorType != audit.ActorSystem || events[0].Detail["from"] != "sandbox" || events[0].Detail["to"] != "enterprise" {
		t.Fatalf("plan_changed events = %+v, %v; want one by the system, sandbox → enterprise", events, err)
	}
}
