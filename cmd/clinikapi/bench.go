package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app"
	"github.com/clinikapi/clinikapi/internal/bench"
	"github.com/clinikapi/clinikapi/internal/config"
)

// benchCmd measures the API pipeline against a bare echo handler that
// returns the same bytes, in one run, alternating rounds so both see the
// same machine conditions.
func benchCmd(ctx context.Context, getenv config.Getenv, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("url", "", "base URL of a running server on this machine (default: start one on 127.0.0.1 with a fresh SQLite database)")
	key := fs.String("key", "", "API key for --url (a new test key is made for the embedded server)")
	path := fs.String("path", "/v1/patients", "API path to GET")
	duration := fs.Duration("duration", 10*time.Second, "total measuring time per target")
	concurrency := fs.Int("concurrency", 16, "concurrent keep-alive clients")
	rounds := fs.Int("rounds", 4, "alternating rounds per target")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *target == "" {
		base, k, stop, err := embeddedServer(ctx, getenv, stderr)
		if err != nil {
			return err
		}
		defer stop()
		*target, *key = base, k
	} else if *key == "" {
		return errors.New("--key is required with --url")
	}

	// Probe once: the bare handler answers exactly these bytes.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, *target+*path, nil)
	req.Header.Set("x-api-key", *key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("probe %s: %w", *target+*path, err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	status, ctype := res.StatusCode, res.Header.Get("Content-Type")

	bare := echo.New()
	bare.HideBanner, bare.HidePort = true, true
	bare.GET(*path, func(c echo.Context) error { return c.Blob(status, ctype, body) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	bareSrv := &http.Server{Handler: bare}
	go bareSrv.Serve(ln)
	defer bareSrv.Close()

	pipeline := bench.Target{Name: "API pipeline", URL: *target + *path, Headers: map[string]string{"x-api-key": *key}}
	plain := bench.Target{Name: "bare echo handler", URL: "http://" + ln.Addr().String() + *path}
	fmt.Fprintf(stdout, "GET %s → %d (%d bytes); %d clients, %s per target in %d alternating rounds\n", *path, status, len(body), *concurrency, *duration, *rounds)
	per := *duration / time.Duration(*rounds)
	var ps, bs []bench.Result
	for range *rounds {
		bs = append(bs, bench.Run(ctx, plain, *concurrency, per, status))
		ps = append(ps, bench.Run(ctx, pipeline, *concurrency, per, status))
	}
	p, b := bench.Merge(ps...), bench.Merge(bs...)
	fmt.Fprintln(stdout, b)
	fmt.Fprintln(stdout, p)
	fmt.Fprintf(stdout, "pipeline / bare throughput: %.2f   p50 latency ratio: %.2f\n", p.PerSecond()/b.PerSecond(), float64(p.P50)/float64(b.P50))
	return nil
}

// embeddedServer starts the whole program on 127.0.0.1 with a fresh SQLite
// database, an Enterprise organization whose rate limit is lifted for the
// measurement, and a test key.
func embeddedServer(ctx context.Context, getenv config.Getenv, stderr io.Writer) (base, key string, stop func(), err error) {
	dir, err := os.MkdirTemp("", "clinikapi-bench-")
	if err != nil {
		return "", "", nil, err
	}
	cfg, err := config.Load(func(k string) string {
		if k == "CLINIKAPI_DATA_DIR" {
			return dir
		}
		if k == "DATABASE_URL" || k == "REDIS_URL" {
			return getenv(k) // measure on PostgreSQL / Redis when given
		}
		return ""
	})
	if err != nil {
		return "", "", nil, err
	}
	a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), app.Options{})
	if err != nil {
		return "", "", nil, err
	}
	_, o, err := a.CreateUser(ctx, "bench@clinikapi.invalid", "bench password", "", "Load test")
	if err != nil {
		a.Close()
		return "", "", nil, err
	}
	if err := a.DB.SetOrgLimits(ctx, o.ID, "enterprise", 1_000_000_000, time.Now()); err != nil {
		a.Close()
		return "", "", nil, err
	}
	k, err := a.Keys.Create(ctx, apikey.Actor{OrgID: o.ID}, apikey.CreateInput{Name: "load test", Env: apikey.Test})
	if err != nil {
		a.Close()
		return "", "", nil, err
	}
	a.Start(ctx)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		a.Close()
		return "", "", nil, err
	}
	srv := &http.Server{Handler: a.HTTP, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), k.Secret, func() {
		srv.Close()
		a.Close()
		os.RemoveAll(dir)
	}, nil
}
