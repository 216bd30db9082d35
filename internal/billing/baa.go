package billing

import (
	"context"
	"embed"
	"strings"
	"unicode/utf8"

	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/plan"
	"github.com/clinikapi/clinikapi/internal/random"
)

// BAAVersion is the version of the Business Associate Agreement offered for
// signature; the text is baa/<version>.md.
const BAAVersion = "2026-12"

//go:embed baa/*.md
var baaFS embed.FS

// BAAText returns the agreement of a version.
func BAAText(version string) (string, error) {
	b, err := baaFS.ReadFile("baa/" + version + ".md")
	if err != nil {
		return "", errs.E(errs.NotFound, "No BAA version %s.", version)
	}
	return string(b), nil
}

// BAA returns the organization's latest signature, ok false when unsigned.
func (s *Service) BAA(ctx context.Context, orgID string) (sig Signature, ok bool, err error) {
	sig, err = s.store.LatestBAASignature(ctx, orgID)
	if errs.Is(err, errs.NotFound) {
		return Signature{}, false, nil
	}
	return sig, err == nil, err
}

// SignBAA records an owner's electronic signature of the current BAA.
func (s *Service) SignBAA(ctx context.Context, a org.Actor, name, title, ip string) (Signature, error) {
	if !CanSignBAA(a) {
		return Signature{}, errs.E(errs.Forbidden, "Only an owner of %s can sign the BAA.", a.Org.Name)
	}
	if !Paid(plan.Of(a.Org.Plan)) {
		return Signature{}, errs.E(errs.Forbidden, "A BAA is available on paid plans. Upgrade from the Billing page first.")
	}
	name, title = strings.Join(strings.Fields(name), " "), strings.Join(strings.Fields(title), " ")
	var nameErr, titleErr error
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		nameErr = errs.FieldError("name", "Enter your full legal name.")
	case n > 120:
		nameErr = errs.FieldError("name", "Use at most 120 characters for the name.")
	}
	switch n := utf8.RuneCountInString(title); {
	case n == 0:
		titleErr = errs.FieldError("title", "Enter your title (for example: CTO).")
	case n > 120:
		titleErr = errs.FieldError("title", "Use at most 120 characters for the title.")
	}
	if err := errs.Fields(nameErr, titleErr); err != nil {
		return Signature{}, err
	}
	sig := Signature{ID: random.ID("baa"), OrgID: a.Org.ID, UserID: a.User.ID, Name: name, Title: title, IP: ip,
		DocumentVersion: BAAVersion, SignedAt: s.opt.Now().UTC()}
	if err := s.store.InsertBAASignature(ctx, sig); err != nil {
		return Signature{}, err
	}
	s.audit.Record(ctx, userEvent(a, BAASigned, map[string]string{"version": BAAVersion, "signature": sig.ID}))
	return sig, nil
}
