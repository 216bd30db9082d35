package config

import (
	"fmt"
	"strings"
)

// PostHog holds the product-analytics settings; Enabled reports whether
// events are sent at all.
type PostHog struct {
	APIKey string // POSTHOG_API_KEY: the project API key (phc_…)
	Host   string // POSTHOG_HOST: ingestion host, https://us.i.posthog.com by default
}

// Enabled reports whether product events go to PostHog.
func (p PostHog) Enabled() bool { return p.APIKey != "" }

func loadPostHog(get func(string) string) (PostHog, error) {
	p := PostHog{APIKey: get("POSTHOG_API_KEY"), Host: strings.TrimRight(or(get("POSTHOG_HOST"), "https://us.i.posthog.com"), "/")}
	if err := checkURL(p.Host, "http", "https"); err != nil {
		return PostHog{}, fmt.Errorf("POSTHOG_HOST: %v", err)
	}
	return p, nil
}
