package app

import (
	"errors"
	"time"

	"github.com/clinikapi/clinikapi/internal/account"
	"github.com/clinikapi/clinikapi/internal/config"
)

func newSupabase(cfg config.Config, now func() time.Time) (account.Provider, error) {
	return nil, errors.New("SUPABASE_URL: Supabase Auth support is being wired")
}
