package dashboard

import (
	"net/url"
	"strings"
)

// PagePolicy is the Content-Security-Policy of the dashboard's pages: its
// own scripts, styles and images only, no inline code, no framing, and
// forms that submit to the dashboard itself. formTargets are origins
// (https://host) that forms may also be redirected to: Chromium checks
// form-action on every redirect of a form submission, so the Billing page
// names Stripe's Checkout and portal origins and no other page names any.
// Anything but a plain https origin is left out, so a policy never gains
// a wildcard, a scheme source or a path.
func PagePolicy(formTargets ...string) string {
	var b strings.Builder
	b.WriteString("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'")
	for _, o := range formTargets {
		if origin, ok := httpsOrigin(o); ok && origin == o {
			b.WriteString(" " + origin)
		}
	}
	b.WriteString("; frame-ancestors 'none'")
	return b.String()
}

// httpsOrigin returns the https://host[:port] origin of u, if it is an
// absolute https URL with a host and no wildcard or user information.
func httpsOrigin(u string) (string, bool) {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "https" || p.Host == "" || p.User != nil || p.Opaque != "" || strings.ContainsAny(p.Host, "*;,' ") {
		return "", false
	}
	return "https://" + strings.ToLower(p.Host), true
}
