package apikey

import (
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/clinikapi/clinikapi/internal/errs"
)

// Grant lets a key use one FHIR resource type with a scope. A key with
// grants may use only the types they name, each with its own scope (and
// never beyond the key's scope); a key without grants may use every type.
type Grant struct {
	Type  string // FHIR resource type: Patient, Appointment, …
	Scope Scope
}

// Types names what a key may be restricted to: the resource types the
// server stores, and the contract's simplified names of some of them
// (patients → Patient). Resolve returns the FHIR type of a name.
type Types interface {
	Resolve(name string) (fhirType string, ok bool)
}

// MaxGrants and MaxNetworks bound a key's restrictions.
const (
	MaxGrants   = 100
	MaxNetworks = 50
)

// ParseGrants reads grants written as "Type:scope" (or "Type" for "*"),
// separated by commas, spaces or new lines; names may be FHIR types or the
// contract's simplified names. Grants of one type merge (read and write
// make *). The result is sorted by type.
func ParseGrants(s string, types Types) ([]Grant, error) {
	by := map[string]Scope{}
	for f := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' || r == ';' }) {
		name, sc, _ := strings.Cut(f, ":")
		scope, err := ParseScope(sc)
		if err != nil {
			return nil, errs.FieldError("resource_types", "Write each resource type as Type:read, Type:write or Type:* (for example Patient:read).")
		}
		t, ok := types.Resolve(name)
		if !ok {
			return nil, errs.FieldError("resource_types", "Unknown resource type %s: use a FHIR type such as Patient or a name such as patients.", quote(name))
		}
		by[t] = by[t].union(scope)
	}
	if len(by) > MaxGrants {
		return nil, errs.FieldError("resource_types", "A key may name at most %d resource types.", MaxGrants)
	}
	out := make([]Grant, 0, len(by))
	for t, sc := range by {
		out = append(out, Grant{Type: t, Scope: sc})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out, nil
}

// quote keeps a user's text short and printable in a message.
func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)
}

func (s Scope) union(o Scope) Scope {
	switch {
	case s == "":
		return o
	case s == o:
		return s
	}
	return ScopeAll
}

// FormatGrants is the stored and editable form of grants.
func FormatGrants(gs []Grant) string {
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = g.Type + ":" + string(g.Scope)
	}
	return strings.Join(parts, ",")
}

// ParseAllowlist reads IPv4 and IPv6 networks in CIDR notation (a bare
// address is its own /32 or /128), separated by commas, spaces or new
// lines. The result is normalized (masked) and sorted.
func ParseAllowlist(s string) ([]string, error) {
	var out []string
	for f := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' || r == ';' }) {
		var p netip.Prefix
		var err error
		if strings.Contains(f, "/") {
			p, err = netip.ParsePrefix(f)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(f); err == nil && a.Zone() == "" {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil || !p.IsValid() { // a zone (fe80::1%eth0) names no network
			return nil, errs.FieldError("ip_allowlist", "Write each network in CIDR notation, such as 203.0.113.0/24 or 2001:db8::/32; %s is not one.", quote(f))
		}
		p = p.Masked()
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked()
		}
		if !slices.Contains(out, p.String()) {
			out = append(out, p.String())
		}
	}
	if len(out) > MaxNetworks {
		return nil, errs.FieldError("ip_allowlist", "A key may allow at most %d networks.", MaxNetworks)
	}
	sort.Strings(out)
	return out, nil
}

// Limits are a key's restrictions as the API tier checks them, built once
// per cached key and shared read-only by every request with it.
type Limits struct {
	types     map[string]Scope // nil: every type
	nets      []netip.Prefix   // nil: any address
	PerMinute int              // the key's own rate limit; 0: the organization's only
}

// newLimits returns nil for a key without restrictions: the hot path then
// checks one pointer.
func newLimits(k Key) *Limits {
	if len(k.Grants) == 0 && len(k.AllowIPs) == 0 && k.PerMinute == 0 {
		return nil
	}
	l := &Limits{PerMinute: k.PerMinute}
	if len(k.Grants) > 0 {
		l.types = make(map[string]Scope, len(k.Grants))
		for _, g := range k.Grants {
			l.types[g.Type] = g.Scope
		}
	}
	for _, s := range k.AllowIPs {
		if p, err := netip.ParsePrefix(s); err == nil {
			l.nets = append(l.nets, p)
		}
	}
	if len(k.AllowIPs) > 0 && len(l.nets) == 0 {
		l.nets = []netip.Prefix{} // stored but unreadable: allow nothing rather than everything
	}
	return l
}

// RestrictsTypes reports whether the key may use only some resource types.
func (p Principal) RestrictsTypes() bool { return p.Limits != nil && p.Limits.types != nil }

// AllowsType reports whether the key may use resource type typ with an
// HTTP method (the key's scope is checked separately).
func (p Principal) AllowsType(typ, method string) bool {
	if p.Limits == nil || p.Limits.types == nil {
		return true
	}
	sc, ok := p.Limits.types[typ]
	return ok && sc.Allows(method)
}

// Readable reports whether the key may read resources of typ.
func (p Principal) Readable(typ string) bool { return p.AllowsType(typ, "GET") }

// ReadableTypes lists the types the key may read, sorted; nil when it may
// read every type.
func (p Principal) ReadableTypes() []string {
	if !p.RestrictsTypes() {
		return nil
	}
	out := []string{}
	for t, sc := range p.Limits.types {
		if sc.Allows("GET") {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// AllowsAddr reports whether a request from the client address ip (as
// the server determines it, see CLINIKAPI_TRUST_PROXY) may use the key.
func (p Principal) AllowsAddr(ip string) bool {
	if p.Limits == nil || p.Limits.nets == nil {
		return true
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, n := range p.Limits.nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// PerMinute is the key's own rate limit (0: none).
func (p Principal) PerMinute() int {
	if p.Limits == nil {
		return 0
	}
	return p.Limits.PerMinute
}

// InsufficientScope is the error of a request the key's resource types
// do not allow; it names the type.
func InsufficientScope(typ, method string) error {
	what := "read"
	if !ScopeRead.Allows(method) {
		what = "write"
	}
	return &errs.Error{Code: errs.Forbidden, Reason: errs.ReasonInsufficientScope,
		Message: "This key may not " + what + " " + typ + " resources: it is restricted to other resource types. Ask an admin to add " + typ + " to the key's restrictions, or use another key."}
}

// ErrIPNotAllowed refuses a request from outside the key's allowlist.
var ErrIPNotAllowed = &errs.Error{Code: errs.Forbidden, Reason: errs.ReasonIPNotAllowed,
	Message: "This key may be used only from the networks in its IP allowlist, and this request came from another address."}
