package web

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clinikapi/clinikapi/internal/random"
	"github.com/clinikapi/clinikapi/web/api"
)

// MaxHeaderBytes bounds a request's line and headers; past it the server
// answers 431 (in the API's error shape under /v1, see ProtocolErrors).
const MaxHeaderBytes = 64 << 10

// ProtocolErrors wraps ln so that the errors net/http answers by itself,
// before any handler runs — a request it cannot parse (400), headers past
// MaxHeaderBytes (431), a transfer encoding it does not support such as
// "chunked, identity" (501), an HTTP version it does not speak (505) —
// are answered under /v1 in the API's error shape (JSON, or an
// OperationOutcome under /v1/fhir) with a request id, instead of a line
// of plain text. Other paths keep net/http's answer.
//
// net/http has no hook for these: it writes them straight to the
// connection and closes it. The wrapper recognises that one write by its
// fixed form (the status line followed at once by "Content-Type:
// text/plain; charset=utf-8" and "Connection: close", no Date header —
// responses of handlers always carry Date and sort Connection first) and
// takes the path from the request line it read. Under TLS served by the
// program itself (TLS_CERT_FILE) the connection is encrypted below this
// layer, so these answers stay net/http's there; behind a load balancer
// that terminates TLS they are rewritten.
func ProtocolErrors(ln net.Listener) net.Listener { return protocolListener{ln} }

type protocolListener struct{ net.Listener }

func (l protocolListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &protocolConn{Conn: c}, nil
}

// protocolConn keeps the start of the request being read (until its
// first line is complete) to know the path of a protocol error.
type protocolConn struct {
	net.Conn
	mu   sync.Mutex
	line []byte // the request line read so far, since the last response
	done bool   // line is complete (or too long to matter)
}

const maxRequestLine = 8 << 10

func (c *protocolConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		if !c.done {
			b := p[:n]
			if i := bytes.IndexByte(b, '\n'); i >= 0 {
				b, c.done = b[:i], true
			}
			c.line = append(c.line, b[:min(len(b), maxRequestLine-len(c.line))]...)
			if len(c.line) >= maxRequestLine {
				c.done = true
			}
		}
		c.mu.Unlock()
	}
	return n, err
}

// protocolErrorHeaders is what follows the status line in net/http's own
// error answers.
const protocolErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c *protocolConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	line := c.line
	c.line, c.done = nil, false // the next read starts a new request
	c.mu.Unlock()
	if status, text, ok := protocolError(p); ok {
		if path := requestPath(line); path == "/v1" || strings.HasPrefix(path, "/v1/") {
			if _, err := c.Conn.Write(protocolAnswer(path, status, text)); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	return c.Conn.Write(p)
}

// protocolError recognises one of net/http's own error answers and
// returns its status and the text after the status code.
func protocolError(p []byte) (int, string, bool) {
	rest, ok := bytes.CutPrefix(p, []byte("HTTP/1.1 "))
	if !ok || len(rest) < 4 || rest[3] != ' ' {
		return 0, "", false
	}
	status, err := strconv.Atoi(string(rest[:3]))
	if err != nil || status < 400 {
		return 0, "", false
	}
	i := bytes.Index(rest, []byte(protocolErrorHeaders))
	if i < 0 || bytes.IndexByte(rest[:i], '\n') >= 0 {
		return 0, "", false
	}
	return status, string(rest[4:i]), true
}

// requestPath is the path of a request line "GET /v1/x?y HTTP/1.1", or "".
func requestPath(line []byte) string {
	f := strings.Fields(string(line))
	if len(f) < 2 {
		return ""
	}
	target := f[1]
	if i := strings.IndexAny(target, "?#"); i >= 0 {
		target = target[:i]
	}
	return target
}

// protocolAnswer is the API's answer to a protocol error of status, whose
// net/http text is text ("Bad Request: missing required Host header").
func protocolAnswer(path string, status int, text string) []byte {
	code, msg := "INVALID_REQUEST", "The request is not valid HTTP/1.1."
	switch status {
	case http.StatusRequestHeaderFieldsTooLarge:
		code, msg = "HEADERS_TOO_LARGE", "The request line and headers are larger than "+strconv.Itoa(MaxHeaderBytes>>10)+" KiB."
	case http.StatusNotImplemented:
		code, msg = "UNSUPPORTED_TRANSFER_ENCODING", "The Transfer-Encoding is not supported: send chunked alone, or a Content-Length."
	case http.StatusHTTPVersionNotSupported:
		code, msg = "UNSUPPORTED_HTTP_VERSION", "The HTTP version is not supported: use HTTP/1.1 (or HTTP/2 over TLS)."
	default:
		// net/http's reason names the rule, never the offending value.
		if _, why, ok := strings.Cut(text, ": "); ok && why != "" {
			msg = "The request is not valid HTTP/1.1: " + why + "."
		}
	}
	id := random.ID("req")
	ct, body := api.ProtocolErrorBody(path, status, code, msg, id)
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\n")
	b.WriteString("Connection: close\r\n")
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	b.WriteString("Content-Type: " + ct + "\r\n")
	b.WriteString("Date: " + time.Now().UTC().Format(http.TimeFormat) + "\r\n")
	b.WriteString("X-Content-Type-Options: nosniff\r\n")
	b.WriteString("X-Request-Id: " + id + "\r\n")
	b.WriteString("X-Timestamp: " + time.Now().UTC().Format(time.RFC3339) + "\r\n\r\n")
	b.Write(body)
	return b.Bytes()
}
