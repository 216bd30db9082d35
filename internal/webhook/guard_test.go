package webhook

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// names is a resolver with a fixed table that a test can change.
type table struct {
	mu sync.Mutex
	m  map[string][]string
}

func (n *table) set(host string, addrs ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.m[host] = addrs
}

func (n *table) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []netip.Addr
	for _, a := range n.m[host] {
		out = append(out, netip.MustParseAddr(a))
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return out, nil
}

// TestGuardRefuses is the SSRF table: every class of destination the docs
// say is rejected, by literal address and by a name resolving to it.
func TestGuardRefuses(t *testing.T) {
	dns := &table{m: map[string][]string{
		"public.example.com":   {"93.184.216.34"},
		"public6.example.com":  {"2606:2800:220:1:248:1893:25c8:1946"},
		"loop.example.com":     {"127.0.0.1"},
		"loop6.example.com":    {"::1"},
		"private.example.com":  {"10.1.2.3"},
		"mixed.example.com":    {"93.184.216.34", "192.168.1.1"},
		"metadata.example.com": {"169.254.169.254"},
		"cgnat.example.com":    {"100.64.0.1"},
		"mapped.example.com":   {"::ffff:127.0.0.1"},
	}}
	g := &Guard{Resolver: dns}
	cases := []struct {
		url  string
		want string // "" when allowed; else a word of the reason
	}{
		{"https://public.example.com/hook", ""},
		{"https://public6.example.com/hook", ""},
		{"https://93.184.216.34/hook", ""},
		{"https://public.example.com:8443/hook?x=1", ""},
		{"http://public.example.com/hook", "https"},
		{"ftp://public.example.com/hook", "https"},
		{"https://user:pass@public.example.com/hook", "credentials"},
		{"https://user@public.example.com/hook", "credentials"},
		{"https://localhost/hook", "internal"},
		{"https://api.localhost/hook", "internal"},
		{"https://metadata.google.internal/computeMetadata", "internal"},
		{"https://printer.local/hook", "internal"},
		{"https://intranet/hook", "internal"},
		{"https://hooks/hook", "public domain"},
		{"https://127.0.0.1/hook", "loopback"},
		{"https://127.1.2.3/hook", "loopback"},
		{"https://[::1]/hook", "loopback"},
		{"https://[::ffff:127.0.0.1]/hook", "loopback"},
		{"https://[64:ff9b::7f00:1]/hook", "loopback"},
		{"https://0.0.0.0/hook", "non-routable"},
		{"https://[::]/hook", "unspecified"},
		{"https://10.0.0.1/hook", "private"},
		{"https://172.16.5.4/hook", "private"},
		{"https://192.168.0.10/hook", "private"},
		{"https://[fd00:ec2::254]/hook", "private"},
		{"https://100.64.1.1/hook", "carrier-grade NAT"},
		{"https://169.254.169.254/latest/meta-data", "link-local"},
		{"https://[fe80::1]/hook", "link-local"},
		{"https://224.0.0.1/hook", "multicast"},
		{"https://loop.example.com/hook", "loopback"},
		{"https://loop6.example.com/hook", "loopback"},
		{"https://private.example.com/hook", "private"},
		{"https://mixed.example.com/hook", "private"},
		{"https://metadata.example.com/hook", "link-local"},
		{"https://cgnat.example.com/hook", "carrier-grade NAT"},
		{"https://mapped.example.com/hook", "loopback"},
		{"https://nowhere.example.com/hook", "does not resolve"},
		{"https://public.example.com/hook#frag", "fragment"},
		{"https://public.example.com/" + strings.Repeat("a", MaxURLLength), "2048"},
		{"not a url", "valid"},
	}
	for _, c := range cases {
		err := g.Check(context.Background(), c.url)
		var rf *Refusal
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused (%v), want allowed", c.url, err)
		case c.want != "" && (!errors.As(err, &rf) || !strings.Contains(rf.Reason, c.want)):
			t.Errorf("%s: %v, want a refusal saying %q", c.url, err, c.want)
		}
	}
	// The test setting lets loopback through, and nothing else.
	local := &Guard{Resolver: dns, AllowLoopback: true}
	for _, u := range []string{"https://127.0.0.1/hook", "https://loop.example.com/hook", "https://localhost/hook"} {
		if err := local.Check(context.Background(), u); err != nil {
			t.Errorf("with loopback allowed, %s: %v", u, err)
		}
	}
	for _, u := range []string{"https://10.0.0.1/hook", "https://metadata.example.com/hook", "http://127.0.0.1/hook"} {
		if err := local.Check(context.Background(), u); err == nil {
			t.Errorf("with loopback allowed, %s is allowed too", u)
		}
	}
}

// TestGuardAtDialTime: a name that was public when checked and resolves
// to 127.0.0.1 when dialled is refused by the dialer itself, and so is a
// socket about to connect to an internal address (Control).
func TestGuardAtDialTime(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	dns := &table{m: map[string][]string{"rebind.example.com": {"93.184.216.34"}}}
	g := &Guard{Resolver: dns}
	if err := g.Check(context.Background(), "https://rebind.example.com/hook"); err != nil {
		t.Fatalf("at save: %v", err)
	}
	dns.set("rebind.example.com", "127.0.0.1")
	_, err := g.DialContext(context.Background(), "tcp", net.JoinHostPort("rebind.example.com", strconv.Itoa(port)))
	var rf *Refusal
	if !errors.As(err, &rf) || !strings.Contains(rf.Reason, "loopback") {
		t.Fatalf("dialling a name now at 127.0.0.1: %v, want a loopback refusal", err)
	}
	for _, addr := range []string{"127.0.0.1:443", "[::1]:443", "10.0.0.1:443", "169.254.169.254:80"} {
		if err := g.control("tcp", addr, nil); !errors.As(err, &rf) {
			t.Errorf("control(%s): %v, want a refusal", addr, err)
		}
	}
	if err := g.control("tcp", "93.184.216.34:443", nil); err != nil {
		t.Errorf("control of a public address: %v", err)
	}
	// Allowed loopback dials for real.
	lg := &Guard{Resolver: dns, AllowLoopback: true}
	c, err := lg.DialContext(context.Background(), "tcp", net.JoinHostPort("rebind.example.com", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("dial with loopback allowed: %v", err)
	}
	c.Close()
}

// TestPatternsAndNames: the docs' patterns and resource names.
func TestPatternsAndNames(t *testing.T) {
	for fhirType, want := range map[string]string{"Patient": "patient", "MedicationRequest": "prescription", "DiagnosticReport": "lab",
		"CarePlan": "care-plan", "FamilyMemberHistory": "family-member-history", "ExplanationOfBenefit": "explanation-of-benefit",
		"Procedure": "procedure", "MolecularSequence": "molecular-sequence"} {
		if got := ResourceName(fhirType); got != want {
			t.Errorf("ResourceName(%s) = %s, want %s", fhirType, got, want)
		}
	}
	if len(names) != 62 {
		t.Errorf("%d documented resource names, want 62", len(names))
	}
	p, problems := ParsePatterns("patient.*, lab.created\n*  patient.*")
	if len(problems) != 0 || strings.Join(p, " ") != "patient.* lab.created *" {
		t.Fatalf("patterns %v %v", p, problems)
	}
	for _, bad := range []string{"", "patient", "patient.read", "pat ient.created x", "*.created"} {
		if _, problems := ParsePatterns(bad); len(problems) == 0 {
			t.Errorf("pattern %q accepted", bad)
		}
	}
	for _, c := range []struct {
		patterns []string
		event    string
		want     bool
	}{
		{[]string{"*"}, "care-plan.deleted", true},
		{[]string{"patient.*"}, "patient.updated", true},
		{[]string{"patient.*"}, "patient-x.updated", false},
		{[]string{"patient.created"}, "patient.updated", false},
		{[]string{"lab.created", "patient.created"}, "patient.created", true},
	} {
		if got := Matches(c.patterns, c.event); got != c.want {
			t.Errorf("Matches(%v, %s) = %v", c.patterns, c.event, got)
		}
	}
}
