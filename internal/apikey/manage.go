package apikey

import (
	"context"
	"time"

	"github.com/clinikapi/clinikapi/internal/errs"
)

// Find returns one of the organization's keys.
func (s *Service) Find(ctx context.Context, orgID, keyID string) (Key, error) {
	return s.store.FindKey(ctx, orgID, keyID)
}

// FindBySecret returns the key a secret belongs to (current or rolled out),
// for the leaked-key response of operators who hold only the secret.
func (s *Service) FindBySecret(ctx context.Context, raw string) (Key, error) {
	if _, err := Parse(raw); err != nil {
		return Key{}, err
	}
	_, k, err := s.store.FindSecret(ctx, Hash(raw))
	if errs.Is(err, errs.NotFound) {
		return Key{}, ErrInvalid
	}
	return k, err
}

// Details are a key's descriptive fields.
type Details struct {
	Name      string
	Notes     string
	ExpiresAt time.Time // zero: never
}

// changeable finds a key that is not revoked, for a change.
func (s *Service) changeable(ctx context.Context, a Actor, keyID string) (Key, error) {
	k, err := s.store.FindKey(ctx, a.OrgID, keyID)
	if err != nil {
		return Key{}, err
	}
	if !k.RevokedAt.IsZero() {
		return Key{}, errs.E(errs.Conflict, "This key was revoked; it can no longer be changed.")
	}
	return k, nil
}

// save writes a changed key, drops it from every instance's cache (the
// change holds from the next request on) and records the audit event.
func (s *Service) save(ctx context.Context, a Actor, k Key, action string, detail map[string]string) (Key, error) {
	if err := s.store.UpdateKey(ctx, k); err != nil {
		return Key{}, err
	}
	s.changed(ctx, k.ID)
	s.audit.Record(ctx, a.event(action, k.ID, detail))
	return k, nil
}

// Edit renames a key and changes its notes and expiry.
func (s *Service) Edit(ctx context.Context, a Actor, keyID string, d Details) (Key, error) {
	k, err := s.changeable(ctx, a, keyID)
	if err != nil {
		return Key{}, err
	}
	if k.Name, err = checkName(d.Name); err != nil {
		return Key{}, err
	}
	if k.Notes, err = checkNotes(d.Notes); err != nil {
		return Key{}, err
	}
	if !d.ExpiresAt.IsZero() && !d.ExpiresAt.After(s.now()) {
		return Key{}, errs.FieldError("expires_at", "Choose an expiry date in the future, or none.")
	}
	k.ExpiresAt = d.ExpiresAt.UTC()
	exp := "never"
	if !k.ExpiresAt.IsZero() {
		exp = k.ExpiresAt.Format(time.RFC3339)
	}
	return s.save(ctx, a, k, KeyUpdated, map[string]string{"prefix": k.Prefix, "name": k.Name, "expires_at": exp})
}

// Restrict sets a key's scope, resource types, IP allowlist and own rate
// limit. via says where the change came from ("hint" for the
// least-privilege suggestion), for the audit trail.
func (s *Service) Restrict(ctx context.Context, a Actor, keyID string, r Restrictions, via string) (Key, error) {
	k, err := s.changeable(ctx, a, keyID)
	if err != nil {
		return Key{}, err
	}
	if err := s.restrictions(ctx, a.OrgID, r, &k); err != nil {
		return Key{}, err
	}
	d := restrictionDetail(k)
	if via != "" {
		d["via"] = via
	}
	return s.save(ctx, a, k, KeyRestricted, d)
}

// SetDisabled disables a key (its requests are refused, KEY_DISABLED) or
// enables it again. Nothing else about the key changes.
func (s *Service) SetDisabled(ctx context.Context, a Actor, keyID string, disabled bool) (Key, error) {
	k, err := s.changeable(ctx, a, keyID)
	if err != nil {
		return Key{}, err
	}
	if disabled == !k.DisabledAt.IsZero() {
		return k, nil
	}
	action := KeyEnabled
	k.DisabledAt = time.Time{}
	if disabled {
		action, k.DisabledAt = KeyDisabled, s.now().UTC()
	}
	return s.save(ctx, a, k, action, map[string]string{"prefix": k.Prefix})
}

// LeakResponse is what to do with a leaked key.
type LeakResponse string

const (
	// LeakRoll issues a new secret and ends every earlier one at once:
	// the key, its restrictions and its history stay.
	LeakRoll LeakResponse = "roll"
	// LeakRevoke ends the key.
	LeakRevoke LeakResponse = "revoke"
)

// Leaked answers a leaked key: it ends the leaked secret at once (rolling
// the key with no grace, or revoking it) and records that the key was
// reported leaked, and since when it may have been used by others.
// A roll returns the new secret (shown once).
func (s *Service) Leaked(ctx context.Context, a Actor, keyID string, do LeakResponse, since time.Time) (Created, error) {
	k, err := s.store.FindKey(ctx, a.OrgID, keyID)
	if err != nil {
		return Created{}, err
	}
	var cr Created
	switch do {
	case LeakRoll:
		if cr, err = s.Roll(ctx, a, keyID, 0); err != nil {
			return Created{}, err
		}
	case LeakRevoke:
		if k, err = s.Revoke(ctx, a, keyID); err != nil {
			return Created{}, err
		}
		cr.Key = k
	default:
		return Created{}, errs.FieldError("response", "Choose to roll the key (a new secret, the old one stops now) or to revoke it.")
	}
	d := map[string]string{"prefix": k.Prefix, "response": string(do)}
	if !since.IsZero() {
		d["since"] = since.UTC().Format(time.RFC3339)
	}
	s.audit.Record(ctx, a.event(KeyLeaked, keyID, d))
	return cr, nil
}
