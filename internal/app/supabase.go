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
	}, func() {
		a.supabase.Missed()
		a.sessionsUp.Do(func() { close(a.sessionsListening) })
	})
}

// Listening is closed once this instance hears both the API key changes
// and the session revocations other instances publish (see
// apikey.Service.Listening and SessionsListening).
func (a *App) Listening() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		<-a.Keys.Listening()
		<-a.SessionsListening()
		close(done)
	}()
	return done
}

// SessionsListening is closed once this instance hears the session
// revocations other instances publish (at once without Supabase or a
// shared channel). A subscription that starts makes every Supabase session
// be checked again on its next request, since revocations published before
// it were missed; tests wait for it so that this re-check does not fall
// in the middle of what they measure.
func (a *App) SessionsListening() <-chan struct{} {
	if a.supabase == nil || a.sessionInval == nil {
		done := make(chan struct{})
		close(done)
		return done
	}
	return a.sessionsListening
}
