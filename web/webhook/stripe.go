// Package webhook receives inbound webhooks (Stripe).
package webhook

import (
	"io"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/billing"
	"github.com/clinikapi/clinikapi/internal/errs"
)

// maxBody is the largest webhook payload accepted (Stripe's are far smaller).
const maxBody = 512 << 10

// Stripe receives POST /webhooks/stripe.
type Stripe struct {
	Billing *billing.Service
	Parser  billing.EventParser // nil without STRIPE_WEBHOOK_SECRET
	Log     *slog.Logger
}

// Receive verifies the Stripe-Signature header against the raw body and
// applies the event. Bad signatures get 400 and change nothing; processing
// failures get 500 so that Stripe delivers the event again.
func (h *Stripe) Receive(c echo.Context) error {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxBody+1))
	if err != nil {
		return c.JSON(http.StatusBadRequest, map[string]string{"error": "The request body could not be read."})
	}
	if len(body) > maxBody {
		return c.JSON(http.StatusRequestEntityTooLarge, map[string]string{"error": "The webhook payload is too large."})
	}
	err = h.Billing.HandleWebhook(c.Request().Context(), h.Parser, body, c.Request().Header.Get("Stripe-Signature"))
	switch {
	case err == nil:
		return c.JSON(http.StatusOK, map[string]bool{"received": true})
	case errs.Is(err, errs.Invalid):
		return c.JSON(http.StatusBadRequest, map[string]string{"error": errs.MessageOf(err)})
	}
	h.Log.ErrorContext(c.Request().Context(), "stripe webhook failed; Stripe will retry", "err", err)
	return c.JSON(http.StatusInternalServerError, map[string]string{"error": "The event could not be processed; it will be retried."})
}
