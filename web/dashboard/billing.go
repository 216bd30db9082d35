package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/billing"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/plan"
	"github.com/clinikapi/clinikapi/internal/quota"
	"github.com/clinikapi/clinikapi/internal/records"
	billingview "github.com/clinikapi/clinikapi/views/billing"
	"github.com/clinikapi/clinikapi/views/components/alert"
	"github.com/clinikapi/clinikapi/views/components/badge"
	"github.com/clinikapi/clinikapi/views/components/form"
)

// Billing pages.
const (
	PageBilling    Page = "billing"
	PageCompliance Page = "compliance"
)

// paymentBanner is the organization-wide notice after a failed payment.
func (h *Handler) paymentBanner(ctx context.Context, a org.Actor) *alert.Props {
	if h.Billing == nil {
		return nil
	}
	st, err := h.Billing.State(ctx, a.Org.ID)
	if err != nil || !st.PaymentFailed {
		return nil
	}
	msg := "Your " + planName(a.Org.Plan) + " plan stays active while Stripe retries the payment."
	if a.Can(org.ManageBilling) {
		msg += " Update the payment method under Billing → Manage billing."
	} else {
		msg += " Ask a billing admin or owner to update the payment method."
	}
	return &alert.Props{Kind: alert.Warning, Title: "The last payment failed", Message: msg}
}

func formatCount(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func priceLabel(p plan.Plan) string {
	switch {
	case p.PriceUSD < 0:
		return "Custom pricing"
	case p.PriceUSD == 0:
		return "Free"
	}
	return "$" + formatCount(int64(p.PriceUSD)) + " / month"
}

func includedLabel(p plan.Plan) string {
	switch {
	case p.Unlimited:
		return "Unlimited requests"
	case p.SharedPool:
		return formatCount(p.Included) + " requests / month, all traffic"
	}
	return formatCount(p.Included) + " live requests / month"
}

func testLabel(p plan.Plan) string {
	switch {
	case p.Unlimited:
		return "Unlimited test traffic, dedicated datastore"
	case p.SharedPool:
		return "Test traffic counts in the same pool"
	}
	return formatCount(p.Included) + " sandbox requests / month"
}

func statusTone(status string, failed bool) badge.Tone {
	switch {
	case failed || status == "past_due" || status == "unpaid":
		return badge.Red
	case status == "active" || status == "trialing":
		return badge.Green
	}
	return badge.Neutral
}

func statusLabel(st billing.State) string {
	switch {
	case st.PaymentFailed:
		return "Payment failed"
	case st.Status == "":
		return ""
	}
	return strings.ToUpper(st.Status[:1]) + strings.ReplaceAll(st.Status[1:], "_", " ")
}

func invoiceTone(status string) badge.Tone {
	switch status {
	case "paid":
		return badge.Green
	case "open":
		return badge.Amber
	case "uncollectible":
		return badge.Red
	}
	return badge.Neutral
}

func money(cents int64, currency string) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%s.%02d %s", sign, formatCount(cents/100), cents%100, strings.ToUpper(currency))
}

func (h *Handler) billingProps(c echo.Context, a org.Actor) (billingview.Props, error) {
	ctx := c.Request().Context()
	cur := plan.Of(a.Org.Plan)
	st, err := h.Billing.State(ctx, a.Org.ID)
	if err != nil {
		return billingview.Props{}, err
	}
	p := billingview.Props{
		Shell:       h.shell(c, a, PageBilling, "Billing", "Your plan, this month's usage and invoices."),
		OrgID:       a.Org.ID,
		Development: !h.Billing.Configured(),
		CanManage:   a.Can(org.ManageBilling),
		CanContact:  billing.CanRequestEnterprise(a) && !cur.Unlimited,
		PlanName:    cur.Name,
		PlanPrice:   priceLabel(cur),
		PlanLimits: []billingview.Fact{
			{Label: "Rate limit", Value: formatCount(int64(cur.PerMinute)) + " requests / min"},
			{Label: "Included", Value: includedLabel(cur)},
			{Label: "Test traffic", Value: testLabel(cur)},
		},
		OverageOffered: billing.Paid(cur) && !cur.Unlimited,
		Overage:        st.Overage,
		OveragePrice:   billing.OveragePrice,
		HasCustomer:    st.CustomerID != "",
	}
	if billing.CanSeeInvoices(a) {
		p.Status, p.StatusTone = statusLabel(st), statusTone(st.Status, st.PaymentFailed)
		if st.SubscriptionID != "" && !st.CurrentPeriodEnd.IsZero() && st.Status != "canceled" {
			if st.ScheduledPlan != "" && !st.CancelAtPeriodEnd {
				p.CancelNote = "Moves to the " + plan.Of(st.ScheduledPlan).Name + " plan on " + dateString(st.CurrentPeriodEnd) + ", when the paid period ends."
				p.NextInvoice = dateString(st.CurrentPeriodEnd)
			} else if st.CancelAtPeriodEnd {
				p.CancelNote = "The subscription ends on " + dateString(st.CurrentPeriodEnd) + "; the organization then moves to Sandbox."
			} else {
				p.NextInvoice = dateString(st.CurrentPeriodEnd)
			}
		}
	}
	if h.Moves != nil {
		mv, err := h.Moves.Status(ctx, a.Org.ID)
		if err != nil {
			return billingview.Props{}, err
		}
		p.Move = moveProps(mv)
	}
	pools, err := h.Billing.Usage(ctx, a.Org.ID, cur)
	if err != nil {
		return billingview.Props{}, err
	}
	for _, u := range pools {
		m := billingview.Meter{Used: formatCount(u.Used), Limit: formatCount(u.Limit)}
		switch u.Pool {
		case quota.PoolAll:
			m.Label, m.Hint = "All requests", "Sandbox counts test and live traffic together."
		case quota.PoolLive:
			m.Label = "Live requests"
		case quota.PoolSandbox:
			m.Label, m.Hint = "Sandbox (test keys)", "Never billed; refused past the pool."
		}
		if u.Unlimited {
			m.Limit, m.Percent = "unlimited", 0
		} else if u.Limit > 0 {
			m.Percent = int(min(100, u.Used*100/u.Limit))
			m.Over = u.Used >= u.Limit
		}
		if u.Pool == quota.PoolLive && !u.Unlimited && u.Used > u.Limit {
			m.Hint = formatCount(u.Used-u.Limit) + " requests over the pool, billed as overage."
		}
		p.Meters = append(p.Meters, m)
		if u.Pool == quota.PoolLive && !u.Unlimited {
			p.OverageMonth = formatCount(max(0, u.Used-u.Limit)) + " requests (" + money((max(0, u.Used-u.Limit)*billing.OverageCentsPer1000+999)/1000, "usd") + ")"
		}
	}
	if p.OverageMonth == "" {
		p.OverageMonth = "0 requests"
	}
	curIdx := 0
	for i, pl := range plan.All {
		if pl.ID == cur.ID {
			curIdx = i
		}
	}
	for i, pl := range plan.All {
		o := billingview.Plan{ID: pl.ID, Name: pl.Name, Price: priceLabel(pl), PerMinute: formatCount(int64(pl.PerMinute)),
			Included: includedLabel(pl), Test: testLabel(pl), Current: pl.ID == cur.ID, Contact: pl.Unlimited}
		switch {
		case o.Current || pl.Unlimited:
		case pl.ID == plan.Sandbox.ID && !p.Development:
			if st.SubscriptionID != "" && !st.CancelAtPeriodEnd && st.Status != "canceled" {
				o.Action = "Cancel at period end"
			}
		case i > curIdx:
			o.Action = "Upgrade"
		default:
			o.Action = "Downgrade"
		}
		if o.Action != "" && i < curIdx {
			o.Downgrade = true
			o.Consequence = downgradeConsequence(cur, pl)
		}
		if p.Development && o.Action != "" {
			o.Action = "Switch to " + pl.Name
		}
		p.Plans = append(p.Plans, o)
	}
	if p.CanManage && !p.Development {
		invs, err := h.Billing.Invoices(ctx, a)
		if err != nil {
			h.Log.WarnContext(ctx, "billing: listing invoices failed", "err", err)
			p.Errors = form.Errors{"": "Invoices could not be loaded from Stripe right now."}
		}
		for _, in := range invs {
			num := in.Number
			if num == "" {
				num = "Draft"
			}
			p.Invoices = append(p.Invoices, billingview.Invoice{Number: num, Amount: money(in.AmountCents, in.Currency),
				Status: in.Status, Tone: invoiceTone(in.Status), Period: dateString(in.PeriodStart) + " – " + dateString(in.PeriodEnd),
				HostedURL: in.HostedURL, PDFURL: in.PDFURL})
		}
	}
	return p, nil
}

func (h *Handler) billingPage(c echo.Context, a org.Actor, status int, edit func(*billingview.Props)) error {
	p, err := h.billingProps(c, a)
	if err != nil {
		return err
	}
	if edit != nil {
		edit(&p)
	}
	if p.CanManage && !p.Development {
		// Upgrade and Manage billing may answer a plain form with a 303
		// to Stripe.
		c.Response().Header().Set("Content-Security-Policy", PagePolicy(h.Billing.RedirectOrigins()...))
	}
	return render(c, status, billingview.Page(p))
}

// BillingPage shows the plan, usage meters, plans, overage and invoices.
func (h *Handler) BillingPage(c echo.Context) error {
	a := currentActor(c)
	return h.billingPage(c, a, http.StatusOK, func(p *billingview.Props) {
		openDowngrade(c.QueryParam("downgrade"))(p)
		if c.QueryParam("checkout") == "success" {
			p.Shell.Flash = &alert.Props{Kind: alert.Success, Message: "Thanks! Your subscription starts as soon as Stripe confirms the payment.", Dismissable: true}
		}
	})
}

// billingError shows a refused billing action on the page.
func (h *Handler) billingError(c echo.Context, a org.Actor, err error, edit func(*billingview.Props)) error {
	fe, status, err := formErrors(err)
	if err != nil {
		return err
	}
	if msg, ok := fe[""]; ok && errs.Is(err, errs.Invalid) {
		fe["plan"] = msg
	}
	return h.billingPage(c, a, status, func(p *billingview.Props) {
		p.Errors = fe
		if edit != nil {
			edit(p)
		}
	})
}

// toStripe sends the browser to a page Stripe returned (Checkout or the
// portal). An HTMX form gets HX-Redirect: htmx then navigates from script,
// which form-action does not govern, so it works whatever page the Billing
// page was swapped into. A plain form gets a 303 when the URL is on an
// origin the Billing page's form-action names (Chromium checks the redirect
// of a form submission against it, and blocks it silently otherwise), and
// a page with a link to it when not.
func (h *Handler) toStripe(c echo.Context, a org.Actor, what, to string) error {
	origin, ok := httpsOrigin(to)
	if !ok {
		h.Log.ErrorContext(c.Request().Context(), "billing: Stripe returned a URL that is not https", "page", what)
		return h.billingError(c, a, errs.E(errs.Unavailable, "Stripe did not return a page to continue on. Try again in a minute."), nil)
	}
	if c.Request().Header.Get("HX-Request") == "true" {
		c.Response().Header().Set("HX-Redirect", to)
		return c.NoContent(http.StatusNoContent)
	}
	if slices.Contains(h.Billing.RedirectOrigins(), origin) {
		return c.Redirect(http.StatusSeeOther, to)
	}
	return render(c, http.StatusOK, billingview.Continue(billingview.ContinueProps{
		Shell: h.shell(c, a, PageBilling, "Continue to "+what, "Stripe takes it from here."), What: what, URL: to,
	}))
}

// ChangePlan upgrades, downgrades or (development billing) switches the plan.
func (h *Handler) ChangePlan(c echo.Context) error {
	a := currentActor(c)
	if target := c.FormValue("plan"); c.FormValue("confirm") != "yes" && isDowngrade(a.Org.Plan, target) {
		// Not confirmed yet: the page again, with the confirmation open.
		return h.billingPage(c, a, http.StatusOK, openDowngrade(target))
	}
	url, err := h.Billing.ChangePlan(c.Request().Context(), a, c.FormValue("plan"), h.BaseURL)
	if err != nil {
		return h.billingError(c, a, err, nil)
	}
	if url != "" {
		return h.toStripe(c, a, "Stripe Checkout", url)
	}
	to := plan.Of(c.FormValue("plan"))
	st, _ := h.Billing.State(c.Request().Context(), a.Org.ID)
	if st.ScheduledPlan == to.ID && h.Billing.Configured() {
		h.flash(c, "The organization moves to the "+to.Name+" plan on "+dateString(st.CurrentPeriodEnd)+", when the paid period ends.")
	} else if to.ID == plan.Sandbox.ID && h.Billing.Configured() {
		h.flash(c, "Your subscription will end with the current billing period.")
	} else {
		h.flash(c, "The organization is now on the "+to.Name+" plan; its limits apply to the next API request.")
	}
	return redirect(c, "/o/"+a.Org.ID+"/billing")
}

// BillingPortal opens the Stripe Customer Portal.
func (h *Handler) BillingPortal(c echo.Context) error {
	a := currentActor(c)
	url, err := h.Billing.Portal(c.Request().Context(), a, h.BaseURL+"/o/"+a.Org.ID+"/billing")
	if err != nil {
		return h.billingError(c, a, err, nil)
	}
	return h.toStripe(c, a, "the customer portal", url)
}

// SetOverage turns overage billing on or off.
func (h *Handler) SetOverage(c echo.Context) error {
	a := currentActor(c)
	on := c.FormValue("overage") == "on"
	if err := h.Billing.SetOverage(c.Request().Context(), a, on); err != nil {
		return h.billingError(c, a, err, nil)
	}
	if on {
		h.flash(c, "Overage billing is on: live requests past the pool keep working at "+billing.OveragePrice+" each.")
	} else {
		h.flash(c, "Overage billing is off: live requests past the pool get 429.")
	}
	return redirect(c, "/o/"+a.Org.ID+"/billing")
}

// RequestEnterprise records an Enterprise "contact us" request.
func (h *Handler) RequestEnterprise(c echo.Context) error {
	a := currentActor(c)
	msg := c.FormValue("message")
	if err := h.Billing.RequestEnterprise(c.Request().Context(), a, msg); err != nil {
		return h.billingError(c, a, err, func(p *billingview.Props) { p.Message = msg })
	}
	h.flash(c, "Thanks — our team will reply by e-mail within one business day.")
	return redirect(c, "/o/"+a.Org.ID+"/billing")
}

func (h *Handler) complianceProps(c echo.Context, a org.Actor) (billingview.ComplianceProps, error) {
	text, err := billing.BAAText(billing.BAAVersion)
	if err != nil {
		return billingview.ComplianceProps{}, err
	}
	sig, signed, err := h.Billing.BAA(c.Request().Context(), a.Org.ID)
	if err != nil {
		return billingview.ComplianceProps{}, err
	}
	available := billing.Paid(plan.Of(a.Org.Plan))
	p := billingview.ComplianceProps{
		Shell: h.shell(c, a, PageCompliance, "Compliance", "HIPAA Business Associate Agreement."),
		OrgID: a.Org.ID, Available: available, Version: billing.BAAVersion, Text: text, Signed: signed,
		CanSign: available && billing.CanSignBAA(a) && (!signed || sig.DocumentVersion != billing.BAAVersion),
	}
	if signed {
		p.SignedBy, p.SignedAt, p.SignedVer, p.SignedIP = sig.Name+", "+sig.Title, sig.SignedAt.UTC().Format("Jan 2, 2006 15:04 UTC"), sig.DocumentVersion, sig.IP
	}
	return p, nil
}

// CompliancePage shows the BAA and who signed it.
func (h *Handler) CompliancePage(c echo.Context) error {
	a := currentActor(c)
	p, err := h.complianceProps(c, a)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, billingview.Compliance(p))
}

// SignBAA records an owner's electronic signature.
func (h *Handler) SignBAA(c echo.Context) error {
	a := currentActor(c)
	if _, err := h.Billing.SignBAA(c.Request().Context(), a, c.FormValue("name"), c.FormValue("title"), c.RealIP()); err != nil {
		fe, status, err := formErrors(err)
		if err != nil {
			return err
		}
		p, perr := h.complianceProps(c, a)
		if perr != nil {
			return perr
		}
		p.Errors, p.Name, p.Title = fe, c.FormValue("name"), c.FormValue("title")
		return render(c, status, billingview.Compliance(p))
	}
	h.flash(c, "BAA signed. A record of the signature is in the audit log.")
	return redirect(c, "/o/"+a.Org.ID+"/settings/compliance")
}

// downgradeConsequence says what moving from cur to a smaller plan takes
// away, for its confirmation.
func downgradeConsequence(cur, to plan.Plan) string {
	msg := "The monthly pool drops from " + includedLabel(cur) + " to " + includedLabel(to) +
		" and the rate limit from " + formatCount(int64(cur.PerMinute)) + " to " + formatCount(int64(to.PerMinute)) + " requests a minute."
	if !billing.Paid(to) {
		msg += " Sandbox has no overage billing: API requests past the pool get 429 until the pool resets on the 1st."
	}
	return msg
}

// isDowngrade reports whether moving from plan id cur to id to is a move to
// a smaller plan.
func isDowngrade(cur, to string) bool {
	ci, ti := -1, -1
	for i, pl := range plan.All {
		switch pl.ID {
		case cur:
			ci = i
		case to:
			ti = i
		}
	}
	return ci >= 0 && ti >= 0 && ti < ci
}

// openDowngrade renders the confirmation of a downgrade to plan id open.
func openDowngrade(id string) func(*billingview.Props) {
	return func(p *billingview.Props) {
		for i := range p.Plans {
			if id != "" && p.Plans[i].ID == id && p.Plans[i].Downgrade {
				p.Plans[i].ConfirmOpen = true
			}
		}
	}
}

// datastoreLabel names a datastore for people.
func datastoreLabel(name string) string {
	if name == "live" {
		return "the shared live datastore"
	}
	return "the organization's dedicated datastore"
}

// moveProps shows the latest move of the live data (nil when none ran or
// the last one was cancelled).
func moveProps(mv records.Move) *billingview.Move {
	to := datastoreLabel(mv.To)
	m := &billingview.Move{Active: mv.Active()}
	switch mv.Phase {
	case records.MoveCopying:
		m.Title = "Moving live data to " + to
		verb := "Copied"
		if mv.Pass > 1 {
			verb = "Catch-up pass " + strconv.Itoa(mv.Pass-1) + ": checked"
		}
		m.Detail = verb + " " + formatCount(mv.Done) + " of " + formatCount(mv.Total) + " resources, with every version. Requests use " + datastoreLabel(mv.From) + " until the copy is verified."
		if mv.Total > 0 {
			m.Percent = int(min(95, mv.Done*90/max(1, mv.Total)))
		}
	case records.MoveFenced:
		m.Title, m.Percent = "Moving live data to "+to, 95
		m.Detail = "Copying the last changes and verifying the copy; writes pause for a moment (503 with Retry-After)."
	case records.MoveSwitched:
		m.Title, m.Percent = "Live data moved to "+to, 99
		m.Detail = formatCount(mv.Done) + " resources verified and in use; the old copy is deleted shortly."
	case records.MoveDone:
		m.Title = "Live data moved to " + to
		m.Detail = formatCount(mv.Total) + " resources with every version, moved and verified on " + dateString(mv.FinishedAt) + "; the old copy is deleted."
	default:
		return nil
	}
	if mv.Error != "" && m.Active {
		m.Failed = "The last step failed and is retried: " + mv.Error
	}
	return m
}
