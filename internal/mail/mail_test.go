package mail_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/clinikapi/clinikapi/internal/mail"
)

func TestLogMailerHandsTheMessageToTheOperator(t *testing.T) {
	var buf bytes.Buffer
	m := mail.Log{Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	delivered, err := m.Send(context.Background(), mail.Message{To: "a@example.com", Subject: "Join", Body: "http://localhost:8080/invites/tok123"})
	if err != nil || delivered {
		t.Fatalf("Send = %v, %v; want undelivered, no error", delivered, err)
	}
	if !strings.Contains(buf.String(), "/invites/tok123") || !strings.Contains(buf.String(), "SMTP_URL is not set") {
		t.Fatalf("log does not carry the message and the reason:\n%s", buf.String())
	}
}
