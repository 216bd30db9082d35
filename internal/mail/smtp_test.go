package mail_test

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"

	"github.com/clinikapi/clinikapi/internal/mail"
)

// fakeSMTP accepts one message with the minimal SMTP dialogue and returns
// what it received on the channel.
func fakeSMTP(t *testing.T) (addr string, got <-chan string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		say := func(s string) { conn.Write([]byte(s + "\r\n")) }
		var transcript strings.Builder
		say("220 fake ESMTP")
		inData := false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			transcript.WriteString(line)
			switch {
			case inData && line == ".\r\n":
				inData = false
				say("250 queued")
			case inData:
			case strings.HasPrefix(line, "EHLO"):
				say("250-fake")
				say("250 AUTH PLAIN")
			case strings.HasPrefix(line, "AUTH"):
				say("235 ok")
			case strings.HasPrefix(line, "DATA"):
				inData = true
				say("354 go ahead")
			case strings.HasPrefix(line, "QUIT"):
				say("221 bye")
				ch <- transcript.String()
				return
			default:
				say("250 ok")
			}
		}
	}()
	return ln.Addr().String(), ch
}

func TestSMTPDelivers(t *testing.T) {
	addr, got := fakeSMTP(t)
	// PLAIN auth is only sent over TLS or to localhost, which this is.
	m, err := mail.NewSMTP("smtp://user:secret@"+addr, "ClinikAPI <no-reply@clinikapi.test>")
	if err != nil {
		t.Fatal(err)
	}
	delivered, err := m.Send(context.Background(), mail.Message{To: "dev@example.com", Subject: "Join Acme", Body: "Accept: http://x/invites/abc"})
	if err != nil || !delivered {
		t.Fatalf("Send = %v, %v", delivered, err)
	}
	tr := <-got
	for _, want := range []string{"MAIL FROM:<no-reply@clinikapi.test>", "RCPT TO:<dev@example.com>", "Subject: Join Acme", "http://x/invites/abc", "AUTH PLAIN"} {
		if !strings.Contains(tr, want) {
			t.Fatalf("SMTP transcript lacks %q:\n%s", want, tr)
		}
	}
}

// TestSMTPHeadersCannotBeInjected: a subject with a line break (it holds
// a person's name) and a non-ASCII name are sent as encoded words; nothing
// a value holds becomes a header of its own.
func TestSMTPHeadersCannotBeInjected(t *testing.T) {
	addr, got := fakeSMTP(t)
	m, err := mail.NewSMTP("smtp://user:secret@"+addr, "ClinikAPI <no-reply@clinikapi.test>")
	if err != nil {
		t.Fatal(err)
	}
	subject := "Zoë invited you\r\nBcc: victim@example.com\r\nContent-Type: text/html"
	if _, err := m.Send(context.Background(), mail.Message{To: "dev@example.com", Subject: subject, Body: "hi"}); err != nil {
		t.Fatal(err)
	}
	tr := <-got
	for _, bad := range []string{"\r\nBcc:", "\nBcc:", "\r\nContent-Type: text/html"} {
		if strings.Contains(tr, bad) {
			t.Fatalf("the subject added a header (%q):\n%s", bad, tr)
		}
	}
	if !strings.Contains(tr, "Subject: =?utf-8?q?") {
		t.Fatalf("the subject is not an encoded word:\n%s", tr)
	}
	// A recipient with a line break is refused before anything is sent.
	if _, err := m.Send(context.Background(), mail.Message{To: "dev@example.com\r\nBcc: x@example.com", Subject: "s", Body: "b"}); err == nil {
		t.Fatal("a recipient with a line break was accepted")
	}
}
