// Package mail sends the few e-mails ClinikAPI writes (invitations, password
// resets). SMTP delivers them; without SMTP_URL the Log mailer writes them to
// the server log and reports them undelivered, so the dashboard can hand the
// link to the person who asked.
package mail

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"mime"
	"net"
	netmail "net/mail"
	"net/smtp"
	"net/url"
	"strings"
	"time"
)

// Message is one plain-text e-mail.
type Message struct {
	To      string
	Subject string
	Body    string
}

// Mailer sends messages. Send reports whether the message actually left for
// the recipient's mailbox.
type Mailer interface {
	Send(ctx context.Context, m Message) (delivered bool, err error)
}

// Log writes messages to the log instead of sending them.
type Log struct{ Logger *slog.Logger }

// Send logs m and reports it undelivered.
func (l Log) Send(ctx context.Context, m Message) (bool, error) {
	l.Logger.InfoContext(ctx, "mail not sent (SMTP_URL is not set); message follows",
		"to", m.To, "subject", m.Subject, "body", m.Body)
	return false, nil
}

// SMTP sends through a mail server given as smtp://user:pass@host:port
// (STARTTLS when offered) or smtps://… (implicit TLS).
type SMTP struct {
	url  *url.URL
	from string
}

// NewSMTP parses rawURL.
func NewSMTP(rawURL, from string) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("SMTP_URL: %w", err)
	}
	return &SMTP{url: u, from: from}, nil
}

// headers renders the From, To and Subject headers with net/mail and
// mime: addresses are parsed and re-encoded, display names and the subject
// are RFC 2047 encoded words where they are not plain ASCII, so no value
// can end a header or add one (a CR or LF in it is encoded, never sent).
func headers(from string, m Message) (string, string, string, error) {
	f, err := netmail.ParseAddress(from)
	if err != nil {
		return "", "", "", fmt.Errorf("mail: the sender address: %w", err)
	}
	t, err := netmail.ParseAddress(m.To)
	if err != nil || strings.ContainsAny(m.To, "\r\n") {
		return "", "", "", fmt.Errorf("mail: the recipient address is not valid")
	}
	return f.String(), t.String(), mime.QEncoding.Encode("utf-8", m.Subject), nil
}

// Send delivers m.
func (s *SMTP) Send(ctx context.Context, m Message) (bool, error) {
	from, to, subject, err := headers(s.from, m)
	if err != nil {
		return false, err
	}
	host := s.url.Hostname()
	port := s.url.Port()
	if port == "" {
		port = map[string]string{"smtp": "587", "smtps": "465"}[s.url.Scheme]
	}
	addr := net.JoinHostPort(host, port)
	d := net.Dialer{Timeout: 10 * time.Second}
	var conn net.Conn
	if s.url.Scheme == "smtps" {
		conn, err = tls.DialWithDialer(&d, "tcp", addr, &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12})
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return false, fmt.Errorf("mail: connect: %w", err)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return false, fmt.Errorf("mail: %w", err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok && s.url.Scheme == "smtp" {
		if err := c.StartTLS(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}); err != nil {
			return false, fmt.Errorf("mail: starttls: %w", err)
		}
	}
	if u := s.url.User; u != nil {
		pw, _ := u.Password()
		if err := c.Auth(smtp.PlainAuth("", u.Username(), pw, host)); err != nil {
			return false, fmt.Errorf("mail: auth: %w", err)
		}
	}
	fromAddr := s.from
	if i := strings.LastIndex(fromAddr, "<"); i >= 0 {
		fromAddr = strings.TrimSuffix(fromAddr[i+1:], ">")
	}
	if err := c.Mail(fromAddr); err != nil {
		return false, fmt.Errorf("mail: from: %w", err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return false, fmt.Errorf("mail: rcpt: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return false, fmt.Errorf("mail: data: %w", err)
	}
	fmt.Fprintf(w, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
		from, to, subject, time.Now().UTC().Format(time.RFC1123Z), strings.ReplaceAll(m.Body, "\n", "\r\n"))
	if err := w.Close(); err != nil {
		return false, fmt.Errorf("mail: send: %w", err)
	}
	return true, c.Quit()
}
