package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/seed"
)

// BenchmarkAPIPipeline is the whole /v1 middleware chain (request id,
// path check, override check, body limit, key auth, usage record, IP
// allowlist, scope, resource types, rate limit, quota) and the JSON answer
// of an unknown route, served in-process without a network: with an
// unrestricted key, and with a key restricted to resource types and an IP
// allowlist (the client's network last of four). The two should cost the
// same (goal: within 5%).
func BenchmarkAPIPipeline(b *testing.B) {
	env := apptest.New(b, "sqlite", nil)
	ctx := context.Background()
	_, o, err := env.App.CreateUser(ctx, "bench@example.com", pw, "", "Bench")
	if err != nil {
		b.Fatal(err)
	}
	if err := env.App.DB.SetOrgLimits(ctx, o.ID, "enterprise", 1_000_000_000, time.Now()); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		in   apikey.CreateInput
	}{
		{"unrestricted", apikey.CreateInput{Name: "bench", Env: apikey.Test}},
		{"restricted", apikey.CreateInput{Name: "bench restricted", Env: apikey.Test,
			ResourceTypes: "Patient:read, Encounter:read, Observation:read, appointments:read",
			AllowIPs:      "10.0.0.0/8, 2001:db8::/32, 198.51.100.0/24, 192.0.2.0/24"}}, // httptest's client is 192.0.2.1
	} {
		k, err := env.App.Keys.Create(ctx, apikey.Actor{OrgID: o.ID}, c.in)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			h := env.App.HTTP
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest(http.MethodGet, "/v1/pipeline-probe", nil)
					req.Header.Set("x-api-key", k.Secret)
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != http.StatusNotFound {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
			})
		})
	}
}

// BenchmarkBareEcho is the same answer from a bare echo handler, the
// baseline for BenchmarkAPIPipeline.
func BenchmarkBareEcho(b *testing.B) {
	e := echo.New()
	body := []byte(`{"error":"Not Found","message":"No such endpoint. See /v1/metadata for what this server supports.","code":"NOT_FOUND","requestId":"req_0000000000000000","issues":[{"severity":"error","code":"not-found","diagnostics":"No such endpoint."}],"issue":[{"severity":"error","code":"not-found","diagnostics":"No such endpoint."}]}`)
	e.GET("/v1/pipeline-probe", func(c echo.Context) error { return c.Blob(http.StatusNotFound, "application/json", body) })
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodGet, "/v1/pipeline-probe", nil)
			w := httptest.NewRecorder()
			e.ServeHTTP(w, req)
		}
	})
}

// BenchmarkFHIRRead is a read by id through the whole pipeline, in-process.
func BenchmarkFHIRRead(b *testing.B) {
	env := apptest.New(b, "sqlite", nil)
	ctx := context.Background()
	_, o, err := env.App.CreateUser(ctx, "bench@example.com", pw, "", "Bench")
	if err != nil {
		b.Fatal(err)
	}
	env.App.DB.SetOrgLimits(ctx, o.ID, "enterprise", 1_000_000_000, time.Now())
	k, _ := env.App.Keys.Create(ctx, apikey.Actor{OrgID: o.ID}, apikey.CreateInput{Name: "bench", Env: apikey.Test})
	req := httptest.NewRequest(http.MethodPost, "/v1/fhir/Patient", strings.NewReader(`{"resourceType":"Patient","name":[{"family":"Bench","given":["Mark"]}],"birthDate":"1970-01-01"}`))
	req.Header.Set("x-api-key", k.Secret)
	req.Header.Set("Content-Type", "application/fhir+json")
	w := httptest.NewRecorder()
	env.App.HTTP.ServeHTTP(w, req)
	if w.Code != 201 {
		b.Fatalf("create: %d %s", w.Code, w.Body)
	}
	loc := w.Header().Get("Location")
	path := loc[strings.Index(loc, "/v1/"):strings.Index(loc, "/_history")]
	h := env.App.HTTP
	// The same read with a key restricted to resource types and an IP
	// allowlist (httptest's client, 192.0.2.1, in the last of four networks).
	r, err := env.App.Keys.Create(ctx, apikey.Actor{OrgID: o.ID}, apikey.CreateInput{Name: "bench restricted", Env: apikey.Test,
		ResourceTypes: "Patient:read, Encounter:read, Observation:read", AllowIPs: "10.0.0.0/8, 2001:db8::/32, 198.51.100.0/24, 192.0.2.0/24"})
	if err != nil {
		b.Fatal(err)
	}
	for name, secret := range map[string]string{"unrestricted": k.Secret, "restricted": r.Secret} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest(http.MethodGet, path, nil)
					req.Header.Set("x-api-key", secret)
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
			})
		})
	}
}

// BenchmarkFHIRCreate is a create through the whole pipeline, in-process;
// /idempotency-key sends a new Idempotency-Key with each (the answer kept
// for retries), for the cost of keeping answers.
func BenchmarkFHIRCreate(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchCreate(b, false) })
	b.Run("idempotency-key", func(b *testing.B) { benchCreate(b, true) })
}

func benchCreate(b *testing.B, withKey bool) {
	env := apptest.New(b, "sqlite", nil)
	ctx := context.Background()
	_, o, err := env.App.CreateUser(ctx, "bench@example.com", pw, "", "Bench")
	if err != nil {
		b.Fatal(err)
	}
	env.App.DB.SetOrgLimits(ctx, o.ID, "enterprise", 1_000_000_000, time.Now())
	k, _ := env.App.Keys.Create(ctx, apikey.Actor{OrgID: o.ID}, apikey.CreateInput{Name: "bench", Env: apikey.Test})
	body := `{"resourceType":"Patient","active":true,"identifier":[{"system":"urn:mrn","value":"MRN-1"}],"name":[{"use":"official","family":"Bench","given":["Mark"]}],"gender":"male","birthDate":"1970-01-01","telecom":[{"system":"phone","value":"+1-555-0100"},{"system":"email","value":"m@example.org"}],"address":[{"line":["1 Main St"],"city":"Springfield","state":"IL","postalCode":"62001","country":"US"}]}`
	h := env.App.HTTP
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/v1/fhir/Patient", strings.NewReader(body))
			req.Header.Set("x-api-key", k.Secret)
			req.Header.Set("Content-Type", "application/fhir+json")
			if withKey {
				req.Header.Set("Idempotency-Key", "bench-"+strconv.FormatInt(n.Add(1), 10))
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusCreated {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
}

// BenchmarkFHIRSearch is a name search over 5,000 seeded patients (with
// encounters and observations) through the whole pipeline, in-process.
func BenchmarkFHIRSearch(b *testing.B) {
	env := apptest.New(b, "sqlite", nil)
	ctx := context.Background()
	_, o, err := env.App.CreateUser(ctx, "bench@example.com", pw, "", "Bench")
	if err != nil {
		b.Fatal(err)
	}
	env.App.DB.SetOrgLimits(ctx, o.ID, "enterprise", 1_000_000_000, time.Now())
	k, _ := env.App.Keys.Create(ctx, apikey.Actor{OrgID: o.ID}, apikey.CreateInput{Name: "bench", Env: apikey.Test})
	s, _, err := env.App.Records.Datastore(ctx, o.ID, "test")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := seed.Run(ctx, s, datastore.Tenant(o.ID), 5000, 2, nil); err != nil {
		b.Fatal(err)
	}
	h := env.App.HTTP
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		n := 0
		for pb.Next() {
			n++
			req := httptest.NewRequest(http.MethodGet, "/v1/fhir/Patient?_count=20&name="+strings.ToLower(seed.Family(n)[:3]), nil)
			req.Header.Set("x-api-key", k.Secret)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
}
