package app

import (
	"time"

	"github.com/clinikapi/clinikapi/internal/account"
	"github.com/clinikapi/clinikapi/internal/account/supabase"
	"github.com/clinikapi/clinikapi/internal/config"
)

// newSupabase signs people in through Supabase Auth.
func newSupabase(cfg config.Config, now func() time.Time) (account.Provider, error) {
	return supabase.New(supabase.Options{
		URL:            cfg.Supabase.URL,
		AnonKey:        cfg.Supabase.AnonKey,
		ServiceRoleKey: cfg.Supabase.ServiceRoleKey,
		JWTSecret:      cfg.Supabase.JWTSecret,
		GitHub:         cfg.Supabase.GitHub,
		BaseURL:        cfg.BaseURL,
		Now:            now,
	})
}
