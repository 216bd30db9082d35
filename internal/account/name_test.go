package account_test

import (
	"testing"

	"github.com/clinikapi/clinikapi/internal/account"
)

func TestCheckNameRefusesLineBreaks(t *testing.T) {
	for _, bad := range []string{"Ada\r\nBcc: x@example.com", "Ada\nLovelace", "Ada\x00", "Ada\u0085Lovelace"} {
		if _, err := account.CheckName(bad); err == nil {
			t.Errorf("CheckName(%q) accepted a control character", bad)
		}
	}
	for _, good := range []string{"Ada Lovelace", "Zoë O'Brien-Núñez", "  Grace Hopper  "} {
		if _, err := account.CheckName(good); err != nil {
			t.Errorf("CheckName(%q): %v", good, err)
		}
	}
}
