package api

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/idempotency"
	"github.com/clinikapi/clinikapi/web/httperr"
)

// answeredResource is the context key under which a handler names the
// resource its answer holds ("Type/id").
const answeredResource = "api.answered-resource"

// replayedHeaders are the headers of an answer a replay repeats.
var replayedHeaders = []string{echo.HeaderContentType, echo.HeaderLocation, "Etag", "Last-Modified"}

// Idempotent makes a POST or PATCH that carries an Idempotency-Key safe to
// retry (package idempotency has the rules): the first answer is kept and
// replayed, with Idempotent-Replayed: true, to a retry of the same request
// with the same key, and no second write happens. Requests without the
// header, and other methods, pass through.
func (p *Pipeline) Idempotent(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		keys := r.Header.Values(idempotency.Header)
		if len(keys) == 0 || r.Method != http.MethodPost && r.Method != http.MethodPatch {
			return next(c)
		}
		if len(keys) > 1 {
			return &errs.Error{Code: errs.Invalid, Reason: errs.ReasonValidation, Field: idempotency.Header,
				Message: "Send one Idempotency-Key header, not several."}
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return &Error{Status: 413, Code: "PAYLOAD_TOO_LARGE", Message: "The request body is too large."}
			}
			return bodyError(err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		pr := PrincipalOf(c)
		// Keys are the tenant's: a sub-organization's never meet its
		// parent's or a sibling's (their answers hold data).
		scope := idempotency.Scope{OrgID: pr.Tenant(), Env: string(pr.Env), Key: keys[0]}
		ctx := r.Context()
		// The request as a retry repeats it: method, path and query, the
		// headers that change its meaning, and the body.
		fingerprint := idempotency.Fingerprint(r.Method, r.URL.RequestURI()+"\n"+r.Header.Get("Content-Type")+"\n"+r.Header.Get("If-Match")+"\n"+r.Header.Get("If-None-Match"), body)
		kept, replay, err := p.Idempotency.Begin(ctx, scope, fingerprint)
		if err != nil {
			return err
		}
		res := c.Response()
		if replay && kept.Resource != "" {
			// The answer holds a resource: it must still be there for this
			// key's tenant (a read, audited like any other).
			typ, id, _ := strings.Cut(kept.Resource, "/")
			if _, err := p.Records.Read(ctx, actor(c), typ, id); err != nil {
				return err
			}
		}
		if replay {
			for k, v := range kept.Headers {
				res.Header().Set(k, v)
			}
			res.Header().Set(idempotency.ReplayedHeader, "true")
			if kept.Status >= 400 {
				// A replayed refusal counts under its code, as the first one did.
				c.Set(keyErrorCode, errorCodeOf(kept.Body))
			}
			res.WriteHeader(kept.Status)
			_, err := res.Write(kept.Body)
			return err
		}
		// Run the request, keeping a copy of what it answers.
		tee := &teeWriter{ResponseWriter: res.Writer}
		res.Writer = tee
		herr := next(c)
		if herr != nil {
			c.Error(herr) // the error answer is the answer to keep
		}
		res.Writer = tee.ResponseWriter
		if res.Status >= 500 || res.Status == httperr.StatusClientClosed || res.Status == http.StatusConflict {
			// Not an answer to keep (a failure on the server's side, a
			// client gone, a version conflict the client resolves and
			// retries): a retry runs the request again.
			if err := p.Idempotency.Release(ctx, scope); err != nil {
				return errors.Join(herr, err)
			}
			return herr
		}
		a := idempotency.Answer{Status: res.Status, Body: tee.body.Bytes(), Headers: map[string]string{}}
		if rec, ok := c.Get(answeredResource).(string); ok {
			a.Resource = rec
		}
		for _, h := range replayedHeaders {
			if v := res.Header().Get(h); v != "" {
				a.Headers[h] = v
			}
		}
		p.Idempotency.Complete(scope, fingerprint, a)
		// The answer is written; the error still tells the usage record
		// its code.
		return herr
	}
}

// teeWriter copies what is written through it.
type teeWriter struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (w *teeWriter) Write(b []byte) (int, error) {
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *teeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
