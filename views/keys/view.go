package keys

import (
	"strconv"

	"github.com/clinikapi/clinikapi/views/components/badge"
	"github.com/clinikapi/clinikapi/views/components/form"
)

func itoa(n int) string { return strconv.Itoa(n) }

var envOptions = []form.Option{
	{Value: "test", Label: "Test"},
	{Value: "live", Label: "Live"},
}

var scopeOptions = []form.Option{
	{Value: "*", Label: "Full access (*)"},
	{Value: "read", Label: "Read only"},
	{Value: "write", Label: "Write only"},
}

var sortOptions = []form.Option{
	{Value: "created", Label: "Newest first"},
	{Value: "name", Label: "Name"},
	{Value: "last_used", Label: "Last used"},
}

func statusTone(status string) badge.Tone {
	switch status {
	case "active":
		return badge.Green
	case "expiring":
		return badge.Amber
	case "expired":
		return badge.Red
	}
	return badge.Neutral
}

func statusLabel(status string) string {
	switch status {
	case "active":
		return "Active"
	case "expiring":
		return "Expiring"
	case "expired":
		return "Expired"
	case "revoked":
		return "Revoked"
	case "disabled":
		return "Disabled"
	}
	return status
}

func orDash(s string) string { return orText(s, "—") }

func orText(s, none string) string {
	if s == "" {
		return none
	}
	return s
}
