package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/product"
	"github.com/clinikapi/clinikapi/views/components/alert"
	"github.com/clinikapi/clinikapi/views/components/form"
	"github.com/clinikapi/clinikapi/views/keys"
)

// PageKeys is the API keys page.
const PageKeys Page = "keys"

// graceOptions are the choices of how long a rolled-out secret keeps working;
// the values parse with time.ParseDuration and match apikey.Graces.
var graceOptions = []form.Option{
	{Value: "0", Label: "Now"},
	{Value: "1h", Label: "In 1 hour"},
	{Value: "24h", Label: "In 24 hours"},
	{Value: "168h", Label: "In 7 days"},
}

const defaultGrace = "24h"

// keysView is what a keys page shows besides the list.
type keysView struct {
	env    apikey.Env
	form   keys.CreateForm
	secret *keys.Secret
	notice string
	roll   string // key whose roll dialog is open (the no-JavaScript path)
	revoke string // key whose revoke confirmation is open (likewise)
	tenant string // list only this sub-organization's keys ("" for all)
	create bool   // the create dialog is open (likewise, and after errors)
	query  string // search of names and prefixes
	sort   string // created (default), name, last_used
	page   int    // 1-based
}

// keysPerPage is the page size of the keys list.
const keysPerPage = 25

// listKeys keeps the keys of env that match the search, sorted.
func listKeys(all []apikey.Key, env apikey.Env, query, order string) []apikey.Key {
	q := strings.ToLower(strings.TrimSpace(query))
	var out []apikey.Key
	for _, k := range all {
		if k.Env == env && (q == "" || strings.Contains(strings.ToLower(k.Name), q) || strings.Contains(strings.ToLower(k.Prefix+"…"+k.Last4), q)) {
			out = append(out, k)
		}
	}
	switch order {
	case "name":
		sort.SliceStable(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	case "last_used":
		sort.SliceStable(out, func(i, j int) bool { return out[i].LastUsedAt.After(out[j].LastUsedAt) })
	}
	return out
}

func (h *Handler) clock() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func apiKeyActor(a org.Actor) apikey.Actor {
	return apikey.Actor{OrgID: a.Org.ID, UserID: a.User.ID}
}

// envParam reads ?env=, defaulting to test.
func envParam(s string) apikey.Env {
	if s == string(apikey.Live) {
		return apikey.Live
	}
	return apikey.Test
}

// creators resolves "created by" user ids to e-mail addresses, once each.
type creators struct {
	h     *Handler
	ctx   context.Context
	names map[string]string
}

func (c *creators) name(id string) string {
	if id == "" || id == "system" {
		return "system"
	}
	if n, ok := c.names[id]; ok {
		return n
	}
	n := "a former member"
	if u, err := c.h.Accounts.FindUser(c.ctx, id); err == nil {
		n = u.Email
	} else if !errs.Is(err, errs.NotFound) {
		c.h.Log.WarnContext(c.ctx, "api keys: looking up a key's creator failed", "err", err)
		n = id
	}
	c.names[id] = n
	return n
}

func (h *Handler) keyRow(k apikey.Key, now time.Time, by *creators) keys.Key {
	status := k.StatusAt(now)
	row := keys.Key{
		ID: k.ID, Name: k.Name, Masked: k.Masked(), Scope: string(k.Scope), ScopeLabel: k.Scope.Label(),
		CreatedBy: by.name(k.CreatedBy), Created: dateString(k.CreatedAt),
		Expires: "Never", LastUsed: "Never", Status: string(status), Env: string(k.Env), Tenant: k.TenantID,
		CanRoll:   status == apikey.Active || status == apikey.Expiring,
		CanRevoke: status != apikey.Revoked,
	}
	if !k.ExpiresAt.IsZero() {
		row.Expires = dateString(k.ExpiresAt)
	}
	if !k.LastUsedAt.IsZero() {
		row.LastUsed, row.LastUsedAt = ago(k.LastUsedAt, now), k.LastUsedAt.UTC().Format(time.RFC3339)
	}
	if status != apikey.Revoked && k.OldSecretUntil.After(now) {
		row.OldSecretUntil = k.OldSecretUntil.UTC().Format("Jan 2, 15:04 UTC")
	}
	return row
}

// ago says roughly how long ago t was; dates beyond a day.
func ago(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "Just now"
	case d < time.Hour:
		return itoa(int(d/time.Minute)) + " min ago"
	case d < 24*time.Hour:
		return itoa(int(d/time.Hour)) + " h ago"
	}
	return dateString(t)
}

// keysSection builds the swappable part of the page.
func (h *Handler) keysSection(ctx context.Context, a org.Actor, v keysView) (keys.SectionProps, error) {
	list, err := h.Keys.List(ctx, a.Org.ID)
	if err != nil {
		return keys.SectionProps{}, err
	}
	subs, err := h.SubOrgs.List(ctx, a.Org.ID)
	if err != nil {
		return keys.SectionProps{}, err
	}
	now := h.clock()
	p := keys.SectionProps{
		OrgID: a.Org.ID, Env: string(v.env), Form: v.form, Secret: v.secret, Notice: v.notice,
		GraceOptions: graceOptions, Grace: defaultGrace, Tenant: v.tenant,
		TenantOptions: []form.Option{{Value: "", Label: a.Org.Name + " (this organization)"}},
	}
	names := map[string]string{}
	for _, so := range subs {
		names[so.ID] = so.Name
		if so.Open() {
			p.TenantOptions = append(p.TenantOptions, form.Option{Value: so.ID, Label: so.Name})
		}
	}
	p.TenantName = names[v.tenant]
	if p.Form.Tenant == "" && p.Form.Errors == nil {
		p.Form.Tenant = v.tenant
	}
	if p.Form.Env == "" {
		p.Form.Env = string(v.env)
	}
	if p.Form.Scope == "" {
		p.Form.Scope = string(apikey.ScopeAll)
	}
	p.Form.MinDate = now.UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	p.CreateOpen = (v.create || len(v.form.Errors) > 0) && v.secret == nil
	var inTenant []apikey.Key
	for _, k := range list {
		if v.tenant != "" && k.TenantID != v.tenant {
			continue
		}
		if k.Env == apikey.Live {
			p.LiveCount++
		} else {
			p.TestCount++
		}
		inTenant = append(inTenant, k)
	}
	if v.sort != "name" && v.sort != "last_used" {
		v.sort = "created"
	}
	p.Query, p.Sort = v.query, v.sort
	shown := listKeys(inTenant, v.env, v.query, v.sort)
	p.Matching = len(shown)
	p.Pages = max(1, (len(shown)+keysPerPage-1)/keysPerPage)
	p.Page = min(max(v.page, 1), p.Pages)
	href := func(page int) string {
		q := url.Values{"env": {string(v.env)}, "page": {strconv.Itoa(page)}}
		if v.tenant != "" {
			q.Set("tenant", v.tenant)
		}
		if v.query != "" {
			q.Set("q", v.query)
		}
		if v.sort != "created" {
			q.Set("sort", v.sort)
		}
		return "/o/" + a.Org.ID + "/keys?" + q.Encode()
	}
	if p.Page > 1 {
		p.PrevHref = href(p.Page - 1)
	}
	if p.Page < p.Pages {
		p.NextHref = href(p.Page + 1)
	}
	by := &creators{h: h, ctx: ctx, names: map[string]string{}}
	for _, k := range shown[(p.Page-1)*keysPerPage : min(len(shown), p.Page*keysPerPage)] {
		row := h.keyRow(k, now, by)
		row.TenantName = names[k.TenantID]
		row.RollOpen = row.CanRoll && k.ID == v.roll && v.secret == nil
		row.RevokeOpen = row.CanRevoke && k.ID == v.revoke && v.secret == nil
		p.Keys = append(p.Keys, row)
	}
	return p, nil
}

// keysPage renders the page, or only its section for HTMX.
func (h *Handler) keysPage(c echo.Context, a org.Actor, status int, v keysView) error {
	sec, err := h.keysSection(c.Request().Context(), a, v)
	if err != nil {
		return err
	}
	if isFragment(c) {
		return render(c, status, keys.Section(sec))
	}
	return render(c, status, keys.Page(keys.Props{
		Shell:   h.shell(c, a, PageKeys, "API Keys", "Keys authenticate your backend's requests to the ClinikAPI API."),
		Section: sec,
	}))
}

// secretView is the dialog that shows a new secret once. The secret goes
// into this response only: never a URL, a cookie or a log line.
func (h *Handler) secretView(title string, cr apikey.Created) *keys.Secret {
	base := strings.TrimRight(h.BaseURL, "/")
	return &keys.Secret{
		Title: title, KeyName: cr.Key.Name, Env: string(cr.Key.Env), Scope: string(cr.Key.Scope), ScopeLabel: cr.Key.Scope.Label(),
		Secret: cr.Secret,
		Curl:   `curl -H "x-api-key: ` + cr.Secret + `" ` + base + `/v1/patients`,
	}
}

// envOfKey is the environment to list after a failed change to a key.
func (h *Handler) envOfKey(ctx context.Context, a org.Actor, keyID string) apikey.Env {
	list, err := h.Keys.List(ctx, a.Org.ID)
	if err == nil {
		for _, k := range list {
			if k.ID == keyID {
				return k.Env
			}
		}
	}
	return apikey.Test
}

// KeysPage lists the organization's keys of one environment (of one
// sub-organization with ?tenant=).
func (h *Handler) KeysPage(c echo.Context) error {
	a := currentActor(c)
	tenant, err := h.tenantParam(c, a)
	if err != nil {
		return err
	}
	page, _ := strconv.Atoi(c.QueryParam("page"))
	return h.keysPage(c, a, http.StatusOK, keysView{env: envParam(c.QueryParam("env")), roll: c.QueryParam("roll"), revoke: c.QueryParam("revoke"), tenant: tenant,
		create: c.QueryParam("create") == "1", query: c.QueryParam("q"), sort: c.QueryParam("sort"), page: page})
}

// tenantParam reads ?tenant=: "" or one of the organization's
// sub-organizations (another's is NotFound).
func (h *Handler) tenantParam(c echo.Context, a org.Actor) (string, error) {
	t := c.QueryParam("tenant")
	if t == "" {
		return "", nil
	}
	if _, err := h.SubOrgs.Find(c.Request().Context(), a.Org.ID, t); err != nil {
		return "", err
	}
	return t, nil
}

// CreateKey makes a key and shows its secret once.
func (h *Handler) CreateKey(c echo.Context) error {
	a := currentActor(c)
	f := keys.CreateForm{
		Name: c.FormValue("name"), Env: c.FormValue("env"), Scope: c.FormValue("scope"),
		ExpiresAt: strings.TrimSpace(c.FormValue("expires_at")), Tenant: c.FormValue("tenant"),
		ResourceTypes: c.FormValue("resource_types"), AllowIPs: c.FormValue("ip_allowlist"), PerMinute: strings.TrimSpace(c.FormValue("per_minute")),
	}
	env := envParam(f.Env)
	var cr apikey.Created
	in := apikey.CreateInput{Name: f.Name, Env: apikey.Env(f.Env), Scope: apikey.Scope(f.Scope), TenantID: f.Tenant, ResourceTypes: f.ResourceTypes, AllowIPs: f.AllowIPs}
	var err error
	if f.PerMinute != "" {
		if in.PerMinute, err = strconv.Atoi(f.PerMinute); err != nil || in.PerMinute < 1 {
			err = errs.FieldError("per_minute", "Enter a rate limit of 1 or more requests per minute, or leave it empty.")
		}
	}
	if err == nil && f.ExpiresAt != "" {
		// A date means the key works through the day before it, until 00:00 UTC.
		in.ExpiresAt, err = time.Parse(time.DateOnly, f.ExpiresAt)
		if err != nil {
			// Refused with the other fields' errors, all at once.
			err = errs.Fields(errs.FieldError("expires_at", "Enter the expiry as a date (YYYY-MM-DD), or leave it empty."), apikey.CheckCreate(in, h.clock()))
		}
	}
	if err == nil {
		cr, err = h.Keys.Create(c.Request().Context(), apiKeyActor(a), in)
	}
	if err != nil {
		fe, status, err := formErrors(err)
		if err != nil {
			return err
		}
		f.Errors = fe
		tenant := ""
		if _, ferr := h.SubOrgs.Find(c.Request().Context(), a.Org.ID, f.Tenant); ferr == nil {
			tenant = f.Tenant
		}
		return h.keysPage(c, a, status, keysView{env: env, form: f, tenant: tenant})
	}
	h.Product.Capture(c.Request().Context(), product.KeyEvent(product.KeyCreated, a.User.ID, a.Org.ID, cr.Key.ID, string(cr.Key.Env), string(cr.Key.Scope)))
	title := "Your new test key"
	if cr.Key.Env == apikey.Live {
		title = "Your new live key"
	}
	s := h.secretView(title, cr)
	if cr.Key.Env == apikey.Live {
		s.Note, s.NoteKind = "This key reaches production data. Keep it in your backend's secret store.", alert.Warning
	}
	if cr.Key.TenantID != "" {
		if so, err := h.SubOrgs.Find(c.Request().Context(), a.Org.ID, cr.Key.TenantID); err == nil {
			s.TenantName = so.Name
		}
	}
	return h.keysPage(c, a, http.StatusOK, keysView{env: cr.Key.Env, secret: s, tenant: cr.Key.TenantID})
}

// RollKey issues a new secret for a key and shows it once; the old secret
// keeps working for the chosen grace period.
func (h *Handler) RollKey(c echo.Context) error {
	a := currentActor(c)
	ctx := c.Request().Context()
	grace, perr := time.ParseDuration(c.FormValue("grace"))
	if perr != nil {
		grace = -1 // refused by the service with a message about the choices
	}
	cr, err := h.Keys.Roll(ctx, apiKeyActor(a), c.Param("key"), grace)
	if err != nil {
		_, status, ferr := formErrors(err)
		if ferr != nil {
			return ferr
		}
		return h.keysPage(c, a, status, keysView{env: h.envOfKey(ctx, a, c.Param("key")), notice: errs.MessageOf(err)})
	}
	ev := product.KeyEvent(product.KeyRotated, a.User.ID, a.Org.ID, cr.Key.ID, string(cr.Key.Env), string(cr.Key.Scope))
	ev.Props["grace_seconds"] = int64(grace.Seconds())
	h.Product.Capture(ctx, ev)
	s := h.secretView("New secret for "+cr.Key.Name, cr)
	if grace == 0 {
		s.Note, s.NoteKind = "The old secret stopped working. Update every service that used it.", alert.Warning
	} else {
		until := h.clock().UTC().Add(grace).Format("Jan 2, 2006 15:04 UTC")
		s.Note, s.NoteKind = "The old secret keeps working until "+until+". Deploy the new one before then.", alert.Info
	}
	return h.keysPage(c, a, http.StatusOK, keysView{env: cr.Key.Env, secret: s})
}

// RevokeKey stops a key at once. HTMX gets the row back, greyed; plain
// forms go back to the list.
func (h *Handler) RevokeKey(c echo.Context) error {
	a := currentActor(c)
	ctx := c.Request().Context()
	k, err := h.Keys.Revoke(ctx, apiKeyActor(a), c.Param("key"))
	if err != nil {
		_, status, ferr := formErrors(err)
		if ferr != nil {
			return ferr
		}
		if !isFragment(c) {
			return err
		}
		// The row may be gone: show the message above the list instead.
		c.Response().Header().Set("HX-Retarget", "#keys")
		c.Response().Header().Set("HX-Reswap", "outerHTML")
		return h.keysPage(c, a, status, keysView{env: h.envOfKey(ctx, a, c.Param("key")), notice: errs.MessageOf(err)})
	}
	h.Product.Capture(ctx, product.KeyEvent(product.KeyRevoked, a.User.ID, a.Org.ID, k.ID, string(k.Env), string(k.Scope)))
	if isFragment(c) {
		by := &creators{h: h, ctx: ctx, names: map[string]string{}}
		return render(c, http.StatusOK, keys.Row(a.Org.ID, h.keyRow(k, h.clock(), by), graceOptions, defaultGrace))
	}
	h.flash(c, "Key revoked. Requests with it are refused from now on.")
	return redirect(c, "/o/"+a.Org.ID+"/keys?env="+string(k.Env))
}
