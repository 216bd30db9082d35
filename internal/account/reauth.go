package account

import (
	"context"

	"github.com/clinikapi/clinikapi/internal/errs"
)

// Reauthenticate checks the signed-in person's password once more before a
// destructive action (closing an organization, deleting the account),
// through the identity provider in use: built-in accounts or Supabase
// Auth. The session the check opens is not kept.
func (s *Service) Reauthenticate(ctx context.Context, u User, password string) error {
	if password == "" {
		return errs.FieldError("password", "Enter your password to confirm.")
	}
	if err := s.throttle(ctx, u.Email); err != nil {
		return err
	}
	_, t, err := s.provider.SignIn(ctx, u.Email, password)
	if errs.Is(err, errs.Unauthorized) || errs.Is(err, errs.Invalid) {
		return errs.FieldError("password", "The password is incorrect.")
	}
	if err != nil {
		return err
	}
	if s.provider.Name() == "builtin" {
		// Supabase's sign-out ends every session of the user, the current
		// one too; its extra session simply expires.
		_ = s.provider.SignOut(ctx, t)
	}
	return nil
}

// SignOutEverywhere ends the person's sessions with the identity provider
// (account deletion).
func (s *Service) SignOutEverywhere(ctx context.Context, t Tokens) error {
	return s.provider.SignOut(ctx, t)
}
