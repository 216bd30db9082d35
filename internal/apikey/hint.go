package apikey

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/clinikapi/clinikapi/internal/errs"
)

// HintWindow is how much of a key's real usage the least-privilege hint
// reads.
const HintWindow = 30 * 24 * time.Hour

// Use is how often a key used a resource type with a method.
type Use struct {
	Type   string
	Method string
	Count  int64
}

// UseStore reads a key's usage by resource type and method since a time,
// leaving out requests its restrictions refused (they were not served).
type UseStore interface {
	KeyUses(ctx context.Context, orgID, keyID string, since time.Time) ([]Use, error)
}

// Hint is the narrowest scope and resource types that would have served
// every request a key made in the window.
type Hint struct {
	Requests int64
	Scope    Scope
	Grants   []Grant
	// Narrower: applying the hint takes something away from the key.
	Narrower bool
}

// Suggest computes the hint from a key's uses.
func Suggest(k Key, uses []Use) Hint {
	h := Hint{}
	by := map[string]Scope{}
	for _, u := range uses {
		if u.Type == "" || u.Count == 0 {
			continue
		}
		need := ScopeWrite
		if ScopeRead.Allows(u.Method) {
			need = ScopeRead
		}
		by[u.Type] = by[u.Type].union(need)
		h.Requests += u.Count
	}
	for t, sc := range by {
		h.Grants = append(h.Grants, Grant{Type: t, Scope: sc})
		h.Scope = h.Scope.union(sc)
	}
	sort.Slice(h.Grants, func(i, j int) bool { return h.Grants[i].Type < h.Grants[j].Type })
	if h.Requests == 0 {
		return h
	}
	h.Narrower = h.Scope != k.Scope || !slices.Equal(h.Grants, k.Grants)
	return h
}

// Hint is the least-privilege suggestion for a key from its last 30 days.
func (s *Service) Hint(ctx context.Context, orgID, keyID string) (Key, Hint, error) {
	k, err := s.store.FindKey(ctx, orgID, keyID)
	if err != nil || s.Uses == nil {
		return k, Hint{}, err
	}
	uses, err := s.Uses.KeyUses(ctx, orgID, keyID, s.now().Add(-HintWindow))
	if err != nil {
		return k, Hint{}, err
	}
	return k, Suggest(k, uses), nil
}

// ApplyHint restricts the key to what its hint suggests now (audited as a
// restriction "via hint"); the allowlist and rate limit stay.
func (s *Service) ApplyHint(ctx context.Context, a Actor, keyID string) (Key, error) {
	k, h, err := s.Hint(ctx, a.OrgID, keyID)
	if err != nil {
		return Key{}, err
	}
	if h.Requests == 0 {
		return Key{}, errs.E(errs.Conflict, "This key made no request in the last 30 days: there is no usage to restrict it to. Disable or revoke it instead.")
	}
	r := RestrictionsOf(k)
	r.Scope, r.ResourceTypes = h.Scope, FormatGrants(h.Grants)
	return s.Restrict(ctx, a, keyID, r, "hint")
}
