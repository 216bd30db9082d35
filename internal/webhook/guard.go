package webhook

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Refusal is a destination the SSRF guard will not send to, with the
// reason shown to the customer (in the form and the delivery log). A
// refused delivery is not retried: the address will not become valid on
// its own.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return "refused: " + r.Reason }

func refuse(reason string) error { return &Refusal{Reason: reason} }

// Resolver looks host names up; *net.Resolver is one, tests inject theirs.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Guard keeps deliveries to the public internet over HTTPS: it refuses
// URLs with credentials, other schemes and internal names, and every
// address that is not publicly routable — when an endpoint is saved and
// again on every delivery, on the address actually dialled (so a name that
// later resolves somewhere internal, DNS rebinding included, is caught).
type Guard struct {
	Resolver Resolver
	// AllowLoopback lets deliveries go to loopback addresses (127.0.0.0/8,
	// ::1): a local test receiver. Off by default; the configuration
	// refuses it in production (CLINIKAPI_WEBHOOK_ALLOW_LOOPBACK).
	AllowLoopback bool
	// Timeout bounds the connection (DNS included); 5 s when zero.
	Timeout time.Duration
}

// MaxURLLength bounds an endpoint URL.
const MaxURLLength = 2048

// blocked are the ranges no delivery goes to, with the reason given.
var blocked = []struct {
	p      netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "a non-routable address (0.0.0.0/8)"},
	{netip.MustParsePrefix("10.0.0.0/8"), "a private address (10.0.0.0/8)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a carrier-grade NAT address (100.64.0.0/10)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "a loopback address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local address (169.254.0.0/16, cloud metadata included)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "a private address (172.16.0.0/12)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "a reserved address (192.0.0.0/24)"},
	{netip.MustParsePrefix("192.0.2.0/24"), "a documentation address (192.0.2.0/24)"},
	{netip.MustParsePrefix("192.168.0.0/16"), "a private address (192.168.0.0/16)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a reserved address (198.18.0.0/15)"},
	{netip.MustParsePrefix("198.51.100.0/24"), "a documentation address (198.51.100.0/24)"},
	{netip.MustParsePrefix("203.0.113.0/24"), "a documentation address (203.0.113.0/24)"},
	{netip.MustParsePrefix("224.0.0.0/4"), "a multicast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address (240.0.0.0/4)"},
	{netip.MustParsePrefix("::/128"), "the unspecified address"},
	{netip.MustParsePrefix("::1/128"), "a loopback address"},
	{netip.MustParsePrefix("100::/64"), "a discard address (100::/64)"},
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address (2001:db8::/32)"},
	{netip.MustParsePrefix("fc00::/7"), "a private address (fc00::/7)"},
	{netip.MustParsePrefix("fe80::/10"), "a link-local address (fe80::/10)"},
	{netip.MustParsePrefix("ff00::/8"), "a multicast address"},
}

// nat64 is the well-known NAT64 prefix: its addresses embed an IPv4 one.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// CheckAddr refuses an address that is not publicly routable.
func (g *Guard) CheckAddr(a netip.Addr) error {
	a = a.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	if nat64.Contains(a) {
		b := a.As16()
		a = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	if !a.IsValid() {
		return refuse("not a valid address")
	}
	if a.IsLoopback() && g.AllowLoopback {
		return nil
	}
	for _, b := range blocked {
		if b.p.Contains(a) {
			return refuse("the address " + a.String() + " is " + b.reason)
		}
	}
	return nil
}

// CheckURL checks what an endpoint URL says without resolving it: HTTPS,
// no credentials, a host that is not an internal name. A literal IP
// address is checked as an address.
func (g *Guard) CheckURL(raw string) (*url.URL, error) {
	if len(raw) > MaxURLLength {
		return nil, refuse("the URL is longer than 2048 characters")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, refuse("not a valid absolute URL")
	}
	if u.Scheme != "https" {
		return nil, refuse("the URL must start with https://")
	}
	if u.User != nil {
		return nil, refuse("the URL must not contain credentials (user:password@); the signing secret authenticates us")
	}
	if u.Fragment != "" {
		return nil, refuse("the URL must not have a #fragment")
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return nil, refuse("the URL has no host")
	}
	if p := u.Port(); p != "" && (len(p) > 5 || p == "0") {
		return nil, refuse("the URL's port is not valid")
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return u, g.CheckAddr(a)
	}
	if host == "localhost" && g.AllowLoopback {
		return u, nil
	}
	for _, s := range []string{"localhost", "internal", "local", "localdomain", "home.arpa", "lan", "intranet", "corp"} {
		if host == s || strings.HasSuffix(host, "."+s) {
			return nil, refuse("the host " + host + " is an internal name (." + s + ")")
		}
	}
	if !strings.Contains(host, ".") {
		return nil, refuse("the host " + host + " is not a public domain name")
	}
	return u, nil
}

// Check is the check when an endpoint is saved: the URL, and every
// address its host resolves to now.
func (g *Guard) Check(ctx context.Context, raw string) error {
	u, err := g.CheckURL(raw)
	if err != nil {
		return err
	}
	_, err = g.resolve(ctx, u.Hostname())
	return err
}

// resolve returns the addresses of host, refusing the lot if any of them
// is not public (a name with one internal address can be steered to it).
func (g *Guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, g.CheckAddr(a)
	}
	if strings.EqualFold(host, "localhost") && g.AllowLoopback {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	r := g.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout())
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return nil, refuse("the host " + host + " does not resolve")
	}
	for _, a := range addrs {
		if err := g.CheckAddr(a); err != nil {
			var rf *Refusal
			errors.As(err, &rf)
			return nil, refuse("the host " + host + " resolves to " + strings.TrimPrefix(rf.Reason, "the address "))
		}
	}
	return addrs, nil
}

func (g *Guard) timeout() time.Duration {
	if g.Timeout > 0 {
		return g.Timeout
	}
	return 5 * time.Second
}

// DialContext is the transport's dialer: it resolves the host itself,
// refuses it unless every address is public, and dials those addresses
// with a check of the address the socket actually connects to (Control),
// so nothing between the look-up and the connection can redirect it.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: g.timeout(), Control: g.control}
	var first error
	for _, a := range addrs {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		var rf *Refusal
		if errors.As(err, &rf) {
			return nil, err
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

// control checks the address a socket is about to connect to.
func (g *Guard) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return refuse("not a valid address")
	}
	return g.CheckAddr(ap.Addr())
}
