package dashboard

import (
	"strings"
	"testing"
)

func TestPagePolicyFormTargets(t *testing.T) {
	for _, tc := range []struct {
		targets []string
		want    string
	}{
		{nil, "form-action 'self';"},
		{[]string{"https://checkout.stripe.com", "https://billing.stripe.com"}, "form-action 'self' https://checkout.stripe.com https://billing.stripe.com;"},
		{[]string{"https://pay.example.com:8443"}, "form-action 'self' https://pay.example.com:8443;"},
		// Never a wildcard, a scheme, a path, plain http or a keyword.
		{[]string{"https://*.stripe.com", "*", "https:", "http://checkout.stripe.com", "https://checkout.stripe.com/c/pay",
			"'unsafe-inline'", "https://a.com; script-src *", "https://user@a.com", "checkout.stripe.com", ""}, "form-action 'self';"},
	} {
		got := PagePolicy(tc.targets...)
		if !strings.Contains(got, tc.want) || strings.Count(got, "form-action") != 1 {
			t.Errorf("PagePolicy(%q) = %q; want %q in it", tc.targets, got, tc.want)
		}
		if !strings.HasSuffix(got, "; frame-ancestors 'none'") || !strings.HasPrefix(got, "default-src 'self'; script-src 'self'; style-src 'self';") {
			t.Errorf("PagePolicy(%q) = %q; the other directives changed", tc.targets, got)
		}
	}
}
