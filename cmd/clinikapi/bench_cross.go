package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clinikapi/clinikapi/internal/app"
	"github.com/clinikapi/clinikapi/internal/config"
)

// crossScenario measures read-after-write across two instances on one
// PostgreSQL database: a second instance (B) starts beside the embedded
// one (A); each of concurrency writers updates a patient of its own on A
// and at once reads it on B, counting the reads that answer an older
// version than the update's (stale reads: there must be none), while as
// many readers keep reading the same patients on B (so B's read cache
// holds them).
func crossScenario(ctx context.Context, stdout, stderr io.Writer, getenv config.Getenv, a, key string, ids []string, concurrency int, duration time.Duration) error {
	if getenv("DATABASE_URL") == "" {
		return errors.New("the cross scenario needs PostgreSQL (DATABASE_URL): two instances share one database")
	}
	dir, err := os.MkdirTemp("", "clinikapi-bench-b-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg, err := config.Load(func(k string) string {
		switch k {
		case "CLINIKAPI_DATA_DIR":
			return dir
		case "DATABASE_URL", "REDIS_URL", "CLINIKAPI_READ_CACHE_MB", "CLINIKAPI_CACHE_MEMORY", "CLINIKAPI_DATASTORE_TENANT_SHARE", "CLINIKAPI_QUERY_TIMEOUT":
			return getenv(k)
		}
		return ""
	})
	if err != nil {
		return err
	}
	inst, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), app.Options{Server: true})
	if err != nil {
		return err
	}
	defer inst.Close()
	inst.Start(ctx)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: inst.HTTP, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	b := "http://" + ln.Addr().String()
	n := min(concurrency, len(ids))
	fmt.Fprintf(stdout, "\nTwo instances, one database: %d writers each update a patient on A and read it back on B at once; %d readers read the same patients on B; %s\n", n, n, duration)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4 * concurrency}}
	do := func(method, url string, body []byte) (int, string, []byte, error) {
		req, _ := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		req.Header.Set("x-api-key", key)
		if body != nil {
			req.Header.Set("Content-Type", "application/fhir+json")
		}
		res, err := client.Do(req)
		if err != nil {
			return 0, "", nil, err
		}
		defer res.Body.Close()
		out, err := io.ReadAll(res.Body)
		return res.StatusCode, res.Header.Get("ETag"), out, err
	}
	// Each writer's patient, as stored.
	patients := make([]map[string]any, n)
	for i := range n {
		st, _, body, err := do("GET", a+"/v1/fhir/Patient/"+ids[i], nil)
		if err != nil || st != 200 {
			return fmt.Errorf("reading patient %d: %v (status %d)", i, err, st)
		}
		if err := json.Unmarshal(body, &patients[i]); err != nil {
			return err
		}
	}
	var writes, readBacks, stale, reads, failures atomic.Int64
	runCtx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(2)
		go func() { // writer
			defer wg.Done()
			p := patients[i]
			for k := 0; runCtx.Err() == nil; k++ {
				p["active"] = k%2 == 0
				body, _ := json.Marshal(p)
				st, etag, _, err := do("PUT", a+"/v1/fhir/Patient/"+ids[i], body)
				if runCtx.Err() != nil {
					return
				}
				if err != nil || st != 200 || etag == "" {
					failures.Add(1)
					continue
				}
				writes.Add(1)
				st, got, _, err := do("GET", b+"/v1/fhir/Patient/"+ids[i], nil)
				if err != nil || st != 200 {
					failures.Add(1)
					continue
				}
				readBacks.Add(1)
				if got != etag {
					stale.Add(1)
				}
			}
		}()
		go func() { // reader on B
			defer wg.Done()
			for runCtx.Err() == nil {
				st, _, _, err := do("GET", b+"/v1/fhir/Patient/"+ids[i], nil)
				if runCtx.Err() != nil {
					return
				}
				if err != nil || st != 200 {
					failures.Add(1)
					continue
				}
				reads.Add(1)
			}
		}()
	}
	wg.Wait()
	s := duration.Seconds()
	fmt.Fprintf(stdout, "updates on A %d (%.0f/s), read back on B %d, stale reads %d; other reads on B %d (%.0f/s); failed requests %d\n",
		writes.Load(), float64(writes.Load())/s, readBacks.Load(), stale.Load(), reads.Load(), float64(reads.Load())/s, failures.Load())
	if stale.Load() > 0 {
		return fmt.Errorf("%d stale reads on B", stale.Load())
	}
	return nil
}
