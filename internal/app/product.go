package app

import (
	"log/slog"

	"github.com/clinikapi/clinikapi/internal/config"
	"github.com/clinikapi/clinikapi/internal/product"
)

// productTracker picks PostHog when POSTHOG_API_KEY is set, wrapped so that
// nobody who refused analytics is ever captured; Nop otherwise. Close
// flushes what PostHog still buffers.
func (a *App) productTracker(cfg config.Config, log *slog.Logger) (product.Tracker, error) {
	if !cfg.PostHog.Enabled() {
		return product.Nop{}, nil
	}
	ph, err := product.NewPostHog(product.PostHogOptions{APIKey: cfg.PostHog.APIKey, Host: cfg.PostHog.Host, Log: log})
	if err != nil {
		return nil, err
	}
	t := product.Respecting{Next: ph, Consents: a.Consents, Log: log}
	a.closers = append(a.closers, t.Close)
	return t, nil
}
