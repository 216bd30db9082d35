package config

import (
	"strings"
	"testing"
)

func TestPostHog(t *testing.T) {
	c, err := Load(FromMap(nil))
	if err != nil || c.PostHog.Enabled() || c.PostHog.Host != "https://us.i.posthog.com" {
		t.Fatalf("default: %+v, %v; want off with the US host", c.PostHog, err)
	}
	c, err = Load(FromMap(map[string]string{"POSTHOG_API_KEY": "phc_x", "POSTHOG_HOST": "https://eu.i.posthog.com/"}))
	if err != nil || !c.PostHog.Enabled() || c.PostHog.Host != "https://eu.i.posthog.com" {
		t.Fatalf("configured: %+v, %v", c.PostHog, err)
	}
	if _, err := Load(FromMap(map[string]string{"POSTHOG_HOST": "eu.posthog"})); err == nil || !strings.HasPrefix(err.Error(), "POSTHOG_HOST:") {
		t.Fatalf("bad host: %v; want an error naming POSTHOG_HOST", err)
	}
}
