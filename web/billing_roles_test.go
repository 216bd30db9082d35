package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/billing"
)

// TestDevelopmentBillingRoles runs billing without Stripe: owners and
// billing admins switch plans locally (reaching the API tier at once),
// developers see the plan only, billing admins never see keys.
func TestDevelopmentBillingRoles(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		ctx := context.Background()
		owner := env.Browser()
		orgID := owner.SignUp("Owner", "devbill@example.com", pw, "Dev Billing")
		key, _ := env.App.Keys.Create(ctx, apikey.Actor{OrgID: orgID}, apikey.CreateInput{Name: "k", Env: apikey.Test})
		dev := join(t, env, invite(t, owner, orgID, "dev@example.com", "developer"), "dev@example.com")
		biller := join(t, env, invite(t, owner, orgID, "billing@example.com", "billing"), "billing@example.com")

		r := owner.Get("/o/" + orgID + "/billing")
		wantStatus(t, "billing page", r, 200)
		wantText(t, "billing page", r, "Development billing — Stripe is not configured", "Sandbox", "Switch to Pro", "Overage billing", "Enterprise")
		if strings.Contains(r.Body, "card number") || strings.Contains(r.Body, "Manage billing") {
			t.Fatal("development billing shows payment forms")
		}

		// Developer: sees the plan, cannot change it.
		r = dev.Get("/o/" + orgID + "/billing")
		wantStatus(t, "developer's billing page", r, 200)
		wantText(t, "developer's billing page", r, "Current plan", "Sandbox")
		if strings.Contains(r.Body, "/billing/plan") || strings.Contains(r.Body, "Turn overage") || strings.Contains(r.Body, "Contact sales") {
			t.Fatal("a developer is offered billing actions")
		}
		wantStatus(t, "developer changes the plan", dev.Post("/o/"+orgID+"/billing/plan", url.Values{"plan": {"pro"}}), http.StatusForbidden)
		wantStatus(t, "developer turns overage on", dev.Post("/o/"+orgID+"/billing/overage", url.Values{"overage": {"on"}}), http.StatusForbidden)
		wantTier(t, env, "after the developer's attempts", orgID, key.Secret, "sandbox", "100", "1000")

		// Billing admin: changes the plan, cannot open keys.
		wantStatus(t, "billing admin opens keys", biller.Get("/o/"+orgID+"/keys"), http.StatusForbidden)
		if strings.Contains(biller.Get("/o/"+orgID+"/billing").Body, `href="/o/`+orgID+`/keys"`) {
			t.Fatal("the billing admin's navigation links to API keys")
		}
		r = biller.Post("/o/"+orgID+"/billing/plan", url.Values{"plan": {"pro"}})
		wantStatus(t, "billing admin switches to Pro", r, 200)
		wantText(t, "billing admin switches to Pro", r, "now on the Pro plan")
		wantTier(t, env, "after switching to Pro", orgID, key.Secret, "pro", "1000", "600000")
		wantStatus(t, "enterprise self-serve", biller.Post("/o/"+orgID+"/billing/plan", url.Values{"plan": {"enterprise"}}), http.StatusUnprocessableEntity)
		wantStatus(t, "billing admin requests Enterprise", biller.Post("/o/"+orgID+"/billing/enterprise", url.Values{"message": {"more"}}), http.StatusForbidden)

		// Overage is for paid pools only.
		wantStatus(t, "overage on Pro", biller.Post("/o/"+orgID+"/billing/overage", url.Values{"overage": {"on"}}), 200)
		if !env.App.Billing.OverageOn(ctx, orgID) {
			t.Fatal("overage is off after turning it on")
		}
		// A downgrade asks first: without the confirmation the page comes
		// back with it open, and nothing changes.
		r = owner.Post("/o/"+orgID+"/billing/plan", url.Values{"plan": {"sandbox"}})
		wantStatus(t, "unconfirmed downgrade", r, http.StatusOK)
		if !strings.Contains(r.Body, `<dialog id="downgrade-sandbox" open data-open`) {
			t.Fatalf("unconfirmed downgrade: no open confirmation\n%s", apptest.Text(r.Body))
		}
		wantText(t, "unconfirmed downgrade", r, "Move to the Sandbox plan?", "Sandbox has no overage billing")
		if o, _ := env.App.Orgs.FindOrg(ctx, orgID); o.Plan != "pro" {
			t.Fatalf("an unconfirmed downgrade moved the organization to %s", o.Plan)
		}
		r = owner.Get("/o/" + orgID + "/billing?downgrade=sandbox")
		if !strings.Contains(r.Body, `<dialog id="downgrade-sandbox" open data-open`) {
			t.Fatal("the downgrade link's page does not open the confirmation")
		}
		r = owner.Post("/o/"+orgID+"/billing/plan", url.Values{"plan": {"sandbox"}, "confirm": {"yes"}})
		wantText(t, "owner switches back to Sandbox", r, "now on the Sandbox plan")
		wantTier(t, env, "back on Sandbox", orgID, key.Secret, "sandbox", "100", "1000")
		if env.App.Billing.OverageOn(ctx, orgID) {
			t.Fatal("overage stayed on after moving to Sandbox")
		}
		wantStatus(t, "overage on Sandbox", owner.Post("/o/"+orgID+"/billing/overage", url.Values{"overage": {"on"}}), http.StatusUnprocessableEntity)

		// Enterprise: the owner's request is stored and audited.
		wantStatus(t, "empty enterprise request", owner.Post("/o/"+orgID+"/billing/enterprise", url.Values{"message": {" "}}), http.StatusUnprocessableEntity)
		wantText(t, "enterprise request", owner.Post("/o/"+orgID+"/billing/enterprise", url.Values{"message": {"20M requests a month, EU residency"}}), "our team will reply")

		for action, want := range map[string]int{billing.PlanChanged: 2, billing.OverageChanged: 1, billing.EnterpriseRequested: 1} {
			events, err := env.App.Audit.List(ctx, audit.Filter{OrgID: orgID, Action: action})
			if err != nil || len(events) != want {
				t.Fatalf("%s audit events = %d, %v; want %d", action, len(events), err, want)
			}
		}
	})
}

// TestBAA signs the Business Associate Agreement: unavailable on Sandbox,
// owners only, and the page shows who signed and when.
func TestBAA(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		ctx := context.Background()
		owner := env.Browser()
		orgID := owner.SignUp("Owner", "baa@example.com", pw, "BAA Clinic")
		admin := join(t, env, invite(t, owner, orgID, "admin@example.com", "admin"), "admin@example.com")

		r := owner.Get("/o/" + orgID + "/settings/compliance")
		wantStatus(t, "compliance on Sandbox", r, 200)
		wantText(t, "compliance on Sandbox", r, "Business Associate Agreement", "Not available on the Sandbox plan", "Version "+billing.BAAVersion)
		wantStatus(t, "signing on Sandbox", owner.Post("/o/"+orgID+"/settings/compliance", url.Values{"name": {"Ada"}, "title": {"CEO"}}), http.StatusForbidden)

		if err := env.App.Billing.SetPlanSystem(ctx, orgID, "starter", "test"); err != nil {
			t.Fatal(err)
		}
		wantText(t, "admin's compliance page", admin.Get("/o/"+orgID+"/settings/compliance"), "Only an owner of the organization can sign")
		wantStatus(t, "admin signs", admin.Post("/o/"+orgID+"/settings/compliance", url.Values{"name": {"Adam"}, "title": {"CTO"}}), http.StatusForbidden)
		r = owner.Post("/o/"+orgID+"/settings/compliance", url.Values{"name": {"Ada Lovelace"}, "title": {""}})
		wantStatus(t, "sign without a title", r, http.StatusUnprocessableEntity)
		wantText(t, "sign without a title", r, "Enter your title")
		r = owner.Post("/o/"+orgID+"/settings/compliance", url.Values{"name": {"Ada Lovelace"}, "title": {"CEO"}})
		wantStatus(t, "owner signs", r, 200)
		wantText(t, "owner signs", r, "BAA signed", "Signed by Ada Lovelace, CEO on Nov 23, 2026", "version "+billing.BAAVersion)
		sig, ok, err := env.App.Billing.BAA(ctx, orgID)
		if err != nil || !ok || sig.IP == "" || sig.UserID == "" || sig.DocumentVersion != billing.BAAVersion {
			t.Fatalf("stored signature = %+v, %v, %v; want name, title, IP, user and version", sig, ok, err)
		}
		events, _ := env.App.Audit.List(ctx, audit.Filter{OrgID: orgID, Action: billing.BAASigned})
		if len(events) != 1 || events[0].ActorID != sig.UserID || events[0].Detail["version"] != billing.BAAVersion {
			t.Fatalf("baa_signed audit events = %+v; want one by the owner", events)
		}
	})
}
