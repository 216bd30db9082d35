package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/resource"
	"github.com/clinikapi/clinikapi/web/api"
)

// routes is the one table of every URL the server answers.
func (s *Server) routes(e *echo.Echo) {
	// Operations: no session, no CSRF (safe methods only).
	e.GET("/health", s.health)
	e.GET("/ready", s.ready)
	e.GET("/metrics", s.metrics) // bearer CLINIKAPI_METRICS_TOKEN; 404 without one
	e.GET("/static/:file", serveStatic)

	// Stripe webhooks: no session, no CSRF; the raw body is verified
	// against the Stripe-Signature header.
	e.POST("/webhooks/stripe", s.Stripe.Receive)

	d := s.Dashboard
	ui := e.Group("", middleware.BodyLimit("64K"), crossOriginProtection(), d.LoadSession, d.AnalyticsConsent)

	// Signed out.
	ui.GET("/signin", d.SignInPage)
	ui.POST("/signin", d.SignIn)
	ui.GET("/signup", d.SignUpPage)
	ui.POST("/signup", d.SignUp)
	ui.GET("/forgot-password", d.ForgotPage)
	ui.POST("/forgot-password", d.Forgot)
	ui.GET("/reset-password", d.ResetPage)
	ui.POST("/reset-password", d.Reset)
	ui.POST("/auth/:provider", d.OAuthStart)
	ui.GET("/auth/callback", d.OAuthCallback)
	ui.GET("/invites/:token", d.InvitePage)
	ui.POST("/analytics-consent", d.SetAnalyticsConsent) // the banner and the Account page; signed in or not
	ui.POST("/signout", d.SignOut)                       // also when the identity provider cannot vouch for the session

	// Signed in.
	in := ui.Group("", d.RequireUser, d.TrackPageViews)
	in.GET("/", d.Home)
	in.POST("/invites/:token", d.AcceptInvite)
	in.GET("/orgs/new", d.NewOrgPage)
	in.POST("/orgs", d.CreateOrg)
	in.GET("/account", d.AccountPage)
	in.POST("/account", d.UpdateProfile)
	in.POST("/account/password", d.ChangePassword)
	in.POST("/account/delete", d.DeleteAccount)

	// Inside an organization; each route names the permission it needs.
	o := in.Group("/o/:org")
	o.GET("", d.Overview, d.RequireOrg(org.ViewOverview))
	o.GET("/settings", d.SettingsPage, d.RequireOrg(org.ViewOverview))
	o.POST("/settings", d.RenameOrg, d.RequireOrg(org.RenameOrg))
	o.GET("/members", d.Members, d.RequireOrg(org.ViewMembers))
	o.POST("/invites", d.Invite, d.RequireOrg(org.ManageMembers))
	o.POST("/invites/:invite/revoke", d.RevokeInvite, d.RequireOrg(org.ManageMembers))
	o.POST("/members/:user/role", d.ChangeRole, d.RequireOrg(org.ManageMembers))
	o.POST("/members/:user/remove", d.RemoveMember, d.RequireOrg(org.ViewOverview)) // members may leave; the service checks the rest
	o.GET("/audit", d.AuditLog, d.RequireOrg(org.ViewAuditLog))
	o.GET("/audit/export", d.AuditExport, d.RequireOrg(org.ViewAuditLog))                         // ?format=csv|ndjson, streamed, itself audited
	o.GET("/compliance/access", d.AccessReport, d.RequireOrg(org.ViewAuditLog))                   // ?patient=&from=&to=&before=
	o.GET("/compliance/access/export", d.AccessReportExport, d.RequireOrg(org.ViewAuditLog))      // CSV, streamed, itself audited
	o.POST("/compliance/access/patients", d.AccessReportPatients, d.RequireOrg(org.ViewAuditLog)) // patient picker: a name search in the form body, never the URL
	o.GET("/keys", d.KeysPage, d.RequireOrg(org.ManageKeys))
	o.GET("/analytics", d.AnalyticsPage, d.RequireOrg(org.ViewAnalytics)) // HTMX polls get the live fragment
	o.GET("/requests", d.RequestLog, d.RequireOrg(org.ViewRequestLog))
	o.GET("/requests/:id", d.RequestDetail, d.RequireOrg(org.ViewRequestLog))
	o.POST("/keys", d.CreateKey, d.RequireOrg(org.ManageKeys), d.RequireOpen)
	o.POST("/keys/:key/roll", d.RollKey, d.RequireOrg(org.ManageKeys))
	o.POST("/keys/:key/revoke", d.RevokeKey, d.RequireOrg(org.ManageKeys))
	o.GET("/webhooks", d.WebhooksPage, d.RequireOrg(org.ManageWebhooks))
	o.POST("/webhooks", d.CreateWebhook, d.RequireOrg(org.ManageWebhooks), d.RequireOpen)
	o.POST("/webhooks/:hook/test", d.SendTestWebhook, d.RequireOrg(org.ManageWebhooks))
	o.POST("/webhooks/:hook/disable", d.DisableWebhook, d.RequireOrg(org.ManageWebhooks))
	o.POST("/webhooks/:hook/enable", d.EnableWebhook, d.RequireOrg(org.ManageWebhooks))
	o.POST("/webhooks/:hook/roll", d.RollWebhookSecret, d.RequireOrg(org.ManageWebhooks))
	o.POST("/webhooks/:hook/delete", d.DeleteWebhook, d.RequireOrg(org.ManageWebhooks))
	o.GET("/analytics/webhooks", d.WebhookLogs, d.RequireOrg(org.ManageWebhooks)) // Analytics → Webhook logs
	o.POST("/analytics/webhooks/:delivery/redeliver", d.RedeliverWebhook, d.RequireOrg(org.ManageWebhooks))
	o.GET("/keys/:key", d.KeyPage, d.RequireOrg(org.ManageKeys))
	o.POST("/keys/:key/details", d.EditKey, d.RequireOrg(org.ManageKeys))          // name, notes, expiry
	o.POST("/keys/:key/restrictions", d.RestrictKey, d.RequireOrg(org.ManageKeys)) // scope, resource types, allowlist, own limit
	o.POST("/keys/:key/hint", d.ApplyKeyHint, d.RequireOrg(org.ManageKeys))        // the least-privilege hint, applied
	o.POST("/keys/:key/disable", d.DisableKey, d.RequireOrg(org.ManageKeys))       // disabled=true|false
	o.POST("/keys/:key/leaked", d.LeakedKey, d.RequireOrg(org.ManageKeys))         // roll or revoke now, list requests since
	o.GET("/billing", d.BillingPage, d.RequireOrg(org.ViewBilling))
	o.POST("/billing/plan", d.ChangePlan, d.RequireOrg(org.ManageBilling))
	o.POST("/billing/portal", d.BillingPortal, d.RequireOrg(org.ManageBilling))
	o.POST("/billing/overage", d.SetOverage, d.RequireOrg(org.ManageBilling))
	o.POST("/billing/enterprise", d.RequestEnterprise, d.RequireOrg(org.ManageBilling)) // owners only; the service checks
	o.GET("/settings/compliance", d.CompliancePage, d.RequireOrg(org.ViewBilling))
	o.POST("/settings/compliance", d.SignBAA, d.RequireOrg(org.ManageBilling)) // owners only; the service checks
	o.GET("/privacy", d.PrivacyPage, d.RequireOrg(org.ManageData))
	o.POST("/privacy/exports", d.StartExport, d.RequireOrg(org.ManageData))
	o.GET("/privacy/jobs/:job", d.JobRow, d.RequireOrg(org.ManageData))
	o.GET("/privacy/jobs/:job/:file", d.DownloadExport, d.RequireOrg(org.ManageData))
	o.GET("/suborgs", d.SubOrgsPage, d.RequireOrg(org.ManageSubOrgs))
	o.POST("/suborgs", d.CreateSubOrg, d.RequireOrg(org.ManageSubOrgs), d.RequireOpen)
	o.POST("/suborgs/:sub/rename", d.RenameSubOrg, d.RequireOrg(org.ManageSubOrgs))
	o.POST("/suborgs/:sub/archive", d.ArchiveSubOrg, d.RequireOrg(org.ManageSubOrgs))
	o.POST("/suborgs/:sub/restore", d.RestoreSubOrg, d.RequireOrg(org.ManageSubOrgs), d.RequireOpen)
	o.POST("/privacy/close", d.CloseOrg, d.RequireOrg(org.CloseOrg))
	o.POST("/privacy/reopen", d.CancelClosure, d.RequireOrg(org.CloseOrg))

	// The API tier. The pipeline order matters (README.md, "Design rules");
	// every error is the JSON error body (handleError).
	p := s.API
	base := apiGroup{e: e, prefix: "/v1", mw: []echo.MiddlewareFunc{api.CleanPath, api.RejectMethodOverride}}
	v1 := base.group(api.LimitBody)
	v1.GET("/metadata", s.Capabilities.Serve) // no key needed
	v1.GET("/fhir/metadata", s.Capabilities.Serve)
	// A panic past the key check is recovered inside the usage record: the
	// request log and analytics show it as the 500 INTERNAL_ERROR it was
	// answered with.
	recorded := func(next echo.HandlerFunc) echo.HandlerFunc { return p.RecordUsage(recoverPanics(s.Log)(next)) }
	keyed := v1.group(p.Authenticate, recorded, api.AllowAddress, api.Scope, api.ResourceScope, p.RateLimit, p.MonthlyQuota, p.Idempotent)

	// Raw FHIR R4.
	f := s.FHIR
	keyed.GET("/fhir/:type", f.Search)
	keyed.POST("/fhir/:type", f.Create)
	keyed.GET("/fhir/:type/:id", f.Read)
	keyed.PUT("/fhir/:type/:id", f.Update)
	keyed.PATCH("/fhir/:type/:id", f.Patch)
	keyed.DELETE("/fhir/:type/:id", f.Delete)
	keyed.GET("/fhir/:type/:id/_history", f.History)
	keyed.GET("/fhir/:type/:id/_history/:vid", f.ReadVersion)

	// The contract's simplified resources (/v1/patients, …), one set of
	// routes per declaration in package resource.
	// Update and delete only where the contract has them (audit events
	// are immutable).
	rs := s.Resources
	contract := resource.DefaultContract()
	for _, d := range resource.All {
		keyed.GET("/"+d.Path, rs.Search(d))
		keyed.POST("/"+d.Path, rs.Create(d))
		keyed.GET("/"+d.Path+"/:id", rs.Read(d))
		if contract.Allows(http.MethodPatch, d.Path+"/{id}") {
			keyed.PATCH("/"+d.Path+"/:id", rs.Patch(d))
		}
		if contract.Allows(http.MethodDelete, d.Path+"/{id}") {
			keyed.DELETE("/"+d.Path+"/:id", rs.Delete(d))
		}
	}

	// Bulk data. Imports carry up to 100 MiB of NDJSON; an export reads
	// data although it is started with POST (scope read); a job's status
	// is for any key of the organization; download links are signed
	// (organization, job, file, expiry) and need no key. A key restricted
	// to some resource types exports and imports only those (the handlers
	// check the types the body names).
	b := s.Bulk
	base.POST("/bulk/import", b.Import, api.LimitImportBody, p.Authenticate, recorded, api.AllowAddress, api.Scope, p.RateLimit, p.MonthlyQuota, p.Idempotent)
	v1.POST("/bulk/export", b.Export, p.Authenticate, recorded, api.AllowAddress, api.ReadScope, p.RateLimit, p.MonthlyQuota, p.Idempotent)
	v1.GET("/bulk/jobs/:id", b.Status, p.Authenticate, recorded, api.AllowAddress, p.RateLimit, p.MonthlyQuota) // any scope: a write key polls its import
	v1.GET("/bulk/files/:job", b.Manifest)
	v1.GET("/bulk/files/:job/:file", b.Download)

	// Everything else under /v1, any method, /v1 itself included: through
	// the whole chain (a key is needed to learn there is nothing there).
	keyed.Any("/*", api.NotFound)
	keyed.RouteNotFound("", api.NotFound)
	keyed.RouteNotFound("/*", api.NotFound)

	e.RouteNotFound("/*", func(c echo.Context) error { return errs.E(errs.NotFound, "There is nothing at this address.") })
}
