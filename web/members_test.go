package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

var inviteLink = regexp.MustCompile(`/invites/[0-9a-z]{40,}`)

// invite has owner invite email with role and returns the invitation path
// shown on the page (no SMTP configured).
func invite(t *testing.T, owner *apptest.Browser, orgID, email, role string) string {
	t.Helper()
	r := owner.Post("/o/"+orgID+"/invites", url.Values{"email": {email}, "role": {role}})
	wantStatus(t, "invite "+email, r, http.StatusOK)
	wantText(t, "invite "+email, r, "Invitation created for "+email, "send this link yourself")
	link := inviteLink.FindString(r.Body)
	if link == "" {
		t.Fatalf("invite %s: no link on the page", email)
	}
	return link
}

// join signs up a new person through an invitation link and accepts it.
func join(t *testing.T, env *apptest.Env, link, email string) *apptest.Browser {
	t.Helper()
	b := env.Browser()
	r := b.Get(link)
	wantStatus(t, "invitation page", r, http.StatusOK)
	r = b.Post("/signup", url.Values{"email": {email}, "password": {pw}, "next": {link}})
	wantStatus(t, "sign-up from invitation", r, http.StatusOK)
	if r.URL.Path != link {
		t.Fatalf("sign-up from invitation landed on %s, want %s", r.URL.Path, link)
	}
	r = b.Post(link, nil)
	wantStatus(t, "accept", r, http.StatusOK)
	wantText(t, "accept", r, "Welcome to")
	return b
}

func TestInvitesAndRoles(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		owner := env.Browser()
		orgID := owner.SignUp("Olivia Owner", "owner@example.com", pw, "Clinic One")

		devLink := invite(t, owner, orgID, "dev@example.com", "developer")
		billLink := invite(t, owner, orgID, "bill@example.com", "billing")
		wantText(t, "pending list", owner.Get("/o/"+orgID+"/members"), "dev@example.com", "bill@example.com", "Pending invitation")

		dev := join(t, env, devLink, "dev@example.com")
		wantText(t, "developer's overview", dev.Get("/o/"+orgID), "Clinic One", "Developer")
		// The link worked once.
		wantStatus(t, "reused invitation", env.Browser().Get(devLink), http.StatusNotFound)

		// A developer sees members but cannot manage them.
		r := dev.Get("/o/" + orgID + "/members")
		wantStatus(t, "developer members page", r, http.StatusOK)
		wantText(t, "developer members page", r, "Only owners and admins can invite people")
		wantStatus(t, "developer invites", dev.Post("/o/"+orgID+"/invites", url.Values{"email": {"x@example.com"}, "role": {"admin"}}), http.StatusForbidden)
		ownerID := userID(t, owner.Get("/o/"+orgID+"/members"), "owner@example.com")
		wantStatus(t, "developer changes a role", dev.Post("/o/"+orgID+"/members/"+ownerID+"/role", url.Values{"role": {"developer"}}), http.StatusForbidden)
		wantStatus(t, "developer removes the owner", dev.Post("/o/"+orgID+"/members/"+ownerID+"/remove", nil), http.StatusForbidden)
		wantStatus(t, "developer reads the audit log", dev.Get("/o/"+orgID+"/audit"), http.StatusForbidden)

		// Someone invited by e-mail A cannot accept with account B.
		stranger := env.Browser()
		stranger.SignUp("", "stranger@example.com", pw, "Elsewhere")
		r = stranger.Post(billLink, nil)
		wantStatus(t, "accept someone else's invitation", r, http.StatusForbidden)
		wantText(t, "accept someone else's invitation", r, "sent to another e-mail address")
		// Outsiders see no trace of the organization.
		wantStatus(t, "outsider overview", stranger.Get("/o/"+orgID), http.StatusNotFound)
		wantStatus(t, "outsider rename", stranger.Post("/o/"+orgID+"/settings", url.Values{"org_name": {"x"}}), http.StatusNotFound)

		bill := join(t, env, billLink, "bill@example.com")
		wantStatus(t, "billing admin members page", bill.Get("/o/"+orgID+"/members"), http.StatusOK)
		wantStatus(t, "billing admin invites", bill.Post("/o/"+orgID+"/invites", url.Values{"email": {"y@example.com"}, "role": {"developer"}}), http.StatusForbidden)

		// The owner promotes the developer to admin (HTMX row swap).
		devID := userID(t, owner.Get("/o/"+orgID+"/members"), "dev@example.com")
		owner.Headers["HX-Request"] = "true"
		r = owner.Post("/o/"+orgID+"/members/"+devID+"/role", url.Values{"role": {"admin"}})
		wantStatus(t, "promote (htmx)", r, http.StatusOK)
		if !strings.HasPrefix(strings.TrimSpace(r.Body), "<tr id=\"member-"+devID) || strings.Contains(r.Body, "<html") {
			t.Fatalf("htmx role change did not answer with the row fragment:\n%s", r.Body)
		}
		delete(owner.Headers, "HX-Request")
		// An admin manages members but cannot make owners or touch the owner.
		r = dev.Post("/o/"+orgID+"/invites", url.Values{"email": {"new@example.com"}, "role": {"owner"}})
		wantStatus(t, "admin invites an owner", r, http.StatusUnprocessableEntity)
		wantText(t, "admin invites an owner", r, "Only an owner can invite another owner.")
		wantStatus(t, "admin demotes owner", dev.Post("/o/"+orgID+"/members/"+ownerID+"/role", url.Values{"role": {"developer"}}), http.StatusForbidden)
		billID := userID(t, owner.Get("/o/"+orgID+"/members"), "bill@example.com")
		wantStatus(t, "admin changes billing to developer", dev.Post("/o/"+orgID+"/members/"+billID+"/role", url.Values{"role": {"developer"}}), http.StatusOK)

		// The last owner can neither leave nor be demoted.
		r = owner.Post("/o/"+orgID+"/members/"+ownerID+"/remove", nil)
		wantStatus(t, "last owner leaves", r, http.StatusConflict)
		wantText(t, "last owner leaves", r, "at least one owner")
		// Removing a member ends their access at once.
		wantStatus(t, "remove member", owner.Post("/o/"+orgID+"/members/"+billID+"/remove", nil), http.StatusOK)
		wantStatus(t, "removed member", bill.Get("/o/"+orgID), http.StatusNotFound)

		// Revoked invitations stop working.
		link := invite(t, owner, orgID, "late@example.com", "developer")
		page := owner.Get("/o/" + orgID + "/members")
		inv := regexp.MustCompile(`/o/` + orgID + `/invites/(inv_[0-9a-z]+)/revoke`).FindStringSubmatch(page.Body)
		if inv == nil {
			t.Fatalf("no revoke form for the pending invitation")
		}
		wantStatus(t, "revoke", owner.Post(inv[0], nil), http.StatusOK)
		wantStatus(t, "revoked invitation", env.Browser().Get(link), http.StatusNotFound)

		// Expired invitations stop working too.
		link = invite(t, owner, orgID, "slow@example.com", "developer")
		env.Clock.Advance(7*24*time.Hour + time.Minute)
		wantStatus(t, "expired invitation", env.Browser().Get(link), http.StatusNotFound)

		owner.SignIn("owner@example.com", pw) // a week idle ended the session
		audit := owner.Get("/o/" + orgID + "/audit")
		wantText(t, "audit", audit, "member.invited", "member.invite_accepted", "member.role_changed", "member.removed", "member.invite_revoked", "from=developer to=admin")
	})
}

func TestInviteEmailedWhenMailConfigured(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	env.Mail.Deliver = true
	owner := env.Browser()
	orgID := owner.SignUp("Olivia", "owner@example.com", pw, "Mailing Clinic")
	r := owner.Post("/o/"+orgID+"/invites", url.Values{"email": {"dev@example.com"}, "role": {"developer"}})
	wantText(t, "invite", r, "Invitation sent")
	if inviteLink.MatchString(r.Body) {
		t.Fatalf("the link was shown although the e-mail was delivered")
	}
	msg, ok := env.Mail.Last("dev@example.com")
	if !ok || !strings.Contains(msg.Subject, "Mailing Clinic") || !inviteLink.MatchString(msg.Body) {
		t.Fatalf("invitation e-mail = %+v", msg)
	}
}

func TestMultipleOrganizations(t *testing.T) {
	env := apptest.New(t, "sqlite", nil)
	b := env.Browser()
	first := b.SignUp("", "multi@example.com", pw, "Alpha Clinic")
	r := b.Post("/orgs", url.Values{"org_name": {"Beta Labs"}})
	wantStatus(t, "create second org", r, http.StatusOK)
	wantText(t, "create second org", r, "Organization created")
	second := strings.TrimPrefix(r.URL.Path, "/o/")
	if second == first || !strings.HasPrefix(second, "org_") {
		t.Fatalf("second organization id %q", second)
	}
	wantText(t, "switcher", b.Get("/o/"+second), "Alpha Clinic", "Beta Labs")
	wantText(t, "first org still reachable", b.Get("/o/"+first), "Alpha Clinic")
	r = b.Post("/orgs", url.Values{"org_name": {strings.Repeat("x", 81)}})
	wantStatus(t, "too long name", r, http.StatusUnprocessableEntity)
	wantText(t, "too long name", r, "at most 80 characters")
}

// userID finds the member id of email in a members page.
func userID(t *testing.T, page *apptest.Response, email string) string {
	t.Helper()
	for _, row := range regexp.MustCompile(`(?s)<tr id="member-(usr_[0-9a-z]+)".*?</tr>`).FindAllStringSubmatch(page.Body, -1) {
		if strings.Contains(row[0], email) {
			return row[1]
		}
	}
	t.Fatalf("no member row for %s", email)
	return ""
}

// TestMemberRemovalAndInviteRevocationConfirm: Remove, Leave and an
// invitation's Revoke open an in-page confirmation dialog (no browser
// confirm()); without JavaScript their links load the page with the
// dialog open, whose form does the change; the changes are audited.
func TestMemberRemovalAndInviteRevocationConfirm(t *testing.T) {
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		owner := env.Browser()
		orgID := owner.SignUp("Olivia Owner", "owner@example.com", pw, "Clinic One")
		dev := join(t, env, invite(t, owner, orgID, "dev@example.com", "developer"), "dev@example.com")
		invite(t, owner, orgID, "late@example.com", "developer")
		base := "/o/" + orgID + "/members"
		page := owner.Get(base)
		wantStatus(t, "members page", page, http.StatusOK)
		if strings.Contains(page.Body, "hx-confirm") {
			t.Fatal("the members page still asks with the browser's confirm()")
		}
		devID := userID(t, page, "dev@example.com")
		inv := regexp.MustCompile(`/o/` + orgID + `/invites/(inv_[0-9a-z]+)/revoke`).FindStringSubmatch(page.Body)
		if inv == nil {
			t.Fatal("no revoke form for the pending invitation")
		}
		for _, want := range []string{
			`href="` + base + `?remove=` + devID + `#remove-` + devID + `"`, `data-dialog-open="remove-` + devID + `"`,
			`<dialog id="remove-` + devID + `" aria-labelledby="remove-` + devID + `-title"`, "Remove dev?", "Remove member",
			`href="` + base + `?revoke_invite=` + inv[1] + `#revoke-invite-` + inv[1] + `"`, `<dialog id="revoke-invite-` + inv[1] + `"`,
			"Revoke the invitation for late@example.com?", "Revoke invitation",
		} {
			if !strings.Contains(page.Body, want) {
				t.Fatalf("members page lacks %s", want)
			}
		}
		if strings.Contains(page.Body, "open data-open") {
			t.Fatal("a confirmation is open on a plain visit")
		}

		// Without JavaScript: the link opens the dialog, its form removes.
		r := owner.Get(base + "?remove=" + devID)
		wantStatus(t, "remove confirmation", r, http.StatusOK)
		if !strings.Contains(r.Body, `<dialog id="remove-`+devID+`" open data-open`) || strings.Count(r.Body, "open data-open") != 1 {
			t.Fatal("?remove= does not render that member's confirmation open, alone")
		}
		if !regexp.MustCompile(`(?s)<dialog id="remove-` + devID + `".*?<form method="post" action="` + base + `/` + devID + `/remove"`).MatchString(r.Body) {
			t.Fatal("the open confirmation has no form that removes the member")
		}
		// A developer cannot open someone else's removal (only their own Leave).
		ownerID := userID(t, page, "owner@example.com")
		r = dev.Get(base + "?remove=" + ownerID)
		wantStatus(t, "developer's members page", r, http.StatusOK)
		if strings.Contains(r.Body, "remove-"+ownerID) || !strings.Contains(r.Body, `<dialog id="remove-`+devID+`"`) || !strings.Contains(r.Body, "Leave this organization?") {
			t.Fatal("a developer sees a removal of another member, or no Leave confirmation of their own")
		}
		r = owner.Get(base + "?revoke_invite=" + inv[1])
		if !strings.Contains(r.Body, `<dialog id="revoke-invite-`+inv[1]+`" open data-open`) {
			t.Fatal("?revoke_invite= does not render the invitation's confirmation open")
		}

		// Confirmed: the invitation goes (HTMX swaps the section), then the member.
		owner.Headers["HX-Request"] = "true"
		r = owner.Post(inv[0], nil)
		wantStatus(t, "revoke (htmx)", r, http.StatusOK)
		if !strings.HasPrefix(strings.TrimSpace(r.Body), `<section class="card" id="invites"`) || strings.Contains(r.Body, "late@example.com") {
			t.Fatalf("the revoke did not answer the invitations section without the invitation:\n%.300s", r.Body)
		}
		delete(owner.Headers, "HX-Request")
		r = owner.Post(base+"/"+devID+"/remove", nil)
		wantStatus(t, "remove", r, http.StatusOK)
		wantText(t, "remove", r, "Member removed.")
		if strings.Contains(r.Body, "dev@example.com") {
			t.Fatal("the removed member is still listed")
		}
		wantStatus(t, "removed member", dev.Get("/o/"+orgID), http.StatusNotFound)
		audit := owner.Get("/o/" + orgID + "/audit")
		wantText(t, "audit", audit, "member.removed", "member.invite_revoked", "owner@example.com")
	})
}
