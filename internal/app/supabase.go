package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/clinikapi/clinikapi/internal/account"
	"github.com/clinikapi/clinikapi/internal/account/supabase"
	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/config"
)

// newSupabase signs people in through Supabase Auth. Session revocations
// travel to the other instances on inval, the channel of API key
// invalidations (PostgreSQL NOTIFY or Redis); nil on one instance.
func (a *App) newSupabase(cfg config.Config, now func() time.Time, log *slog.Logger, inval apikey.Invalidator) (account.Provider, error) {
	opt := supabase.Options{
		URL:            cfg.Supabase.URL,
		AnonKey:        cfg.Supabase.AnonKey,
		ServiceRoleKey: cfg.Supabase.ServiceRoleKey,
		JWTSecret:      cfg.Supabase.JWTSecret,
		GitHub:         cfg.Supabase.GitHub,
		BaseURL:        cfg.BaseURL,
		Now:            now,
		Log:            log,
		// The client IP as the dashboard determined it (direct, or from
		// X-Forwarded-For with CLINIKAPI_TRUST_PROXY).
		ClientIP: func(ctx context.Context) string { return audit.OriginFrom(ctx).IP },
	}
	if inval != nil {
		opt.Publish = inval.Publish
	}
	p, err := supabase.New(opt)
	if err != nil {
		return nil, err
	}
	a.supabase, a.sessionInval = p, inval
	return p, nil
}

// listenSessions applies the session revocations other instances publish.
func (a *App) listenSessions(ctx context.Context) error {
	if a.supabase == nil || a.sessionInval == nil {
		return nil
	}
	return a.sessionInval.Subscribe(ctx, func(msg string) {
		if supabase.IsSessionMessage(msg) {
			a.supabase.Receive(msg)
		}
	}, a.supabase.Missed)
}
