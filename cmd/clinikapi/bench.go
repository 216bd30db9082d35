package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/analytics"
	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app"
	"github.com/clinikapi/clinikapi/internal/bench"
	"github.com/clinikapi/clinikapi/internal/config"
	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/random"
	"github.com/clinikapi/clinikapi/internal/seed"
)

// benchCmd load-tests the API on 127.0.0.1. Each scenario runs alternating
// rounds against the server and, where a comparison makes sense, against a
// bare echo handler answering the same bytes (status, headers and body,
// copied from a probe of the server), so the pipeline's cost is a ratio
// measured in one run and both sides send and parse the same response.
func benchCmd(ctx context.Context, getenv config.Getenv, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("url", "", "base URL of a running server on this machine (default: start one on 127.0.0.1 with a fresh SQLite database, or DATABASE_URL)")
	key := fs.String("key", "", "API key for --url (the embedded server makes its own)")
	scenarios := fs.String("scenario", "pipeline,read,search,create", "comma-separated: pipeline (unknown route through the whole chain), read (FHIR read by id), search (name search), create (FHIR create), create-idempotent (the same with a new Idempotency-Key on each), noisy (one tenant's reads by id while another sends the costliest allowed searches, in rounds against quiet ones; embedded server only), cross (updates on one instance read back at once on a second one on the same PostgreSQL database, counting stale reads; embedded server on PostgreSQL only)")
	seedN := fs.Int("seed", 2000, "patients to seed first, each with an encounter and two observations (embedded server only)")
	duration := fs.Duration("duration", 8*time.Second, "measuring time per target and scenario")
	concurrency := fs.Int("concurrency", 16, "concurrent keep-alive clients")
	rounds := fs.Int("rounds", 4, "alternating rounds per target")
	warmup := fs.Duration("warmup", 2*time.Second, "unmeasured load on each scenario's target before its rounds (0: none), so they measure the steady state")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measurements (embedded server included) to this file")
	disclosures := fs.Bool("disclosures", false, "for read and search, alternate rounds with the accounting of disclosures recorded and paused, and report the ratio (embedded server only)")
	restricted := fs.Bool("restricted", false, "for pipeline and read, alternate rounds with an unrestricted key and a key restricted to resource types and an IP allowlist, and report the ratio")
	restrictedKey := fs.String("restricted-key", "", "with --url and --restricted: a key of the same organization restricted to Patient (read) and allowlisted for this machine")
	encrypted := fs.Bool("encryption", false, "for read, search and create, alternate rounds with a second embedded server whose datastore pages are not encrypted (seeded alike, in a directory of its own), and report the ratio (embedded SQLite server only)")
	dataDir := fs.String("data", "", "keep the embedded server's data in this directory and reuse it next time: the seed (and its organization and test key, in bench-state.json) is made once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var ids []string
	var pause func(bool)
	var embedded *app.App
	var plain *benchServer
	if *target == "" {
		srv, err := embeddedServer(ctx, getenv, *dataDir, *seedN, false, stdout, stderr)
		if err != nil {
			return err
		}
		defer srv.stop()
		*target, *key, ids = srv.base, srv.key, srv.ids
		pause = srv.app.Disclosures.Pause
		if *restrictedKey == "" {
			*restrictedKey = srv.restrictedKey
		}
		embedded = srv.app
		if *encrypted && getenv("DATABASE_URL") == "" {
			dir := *dataDir
			if dir != "" {
				dir += "-plain"
			}
			if plain, err = embeddedServer(ctx, getenv, dir, *seedN, true, stdout, stderr); err != nil {
				return err
			}
			defer plain.stop()
		}
	} else if *key == "" {
		return errors.New("--key is required with --url")
	} else if *restricted && *restrictedKey == "" {
		return errors.New("--restricted with --url needs --restricted-key: a key restricted to Patient:read and allowlisted for this machine")
	}
	if len(ids) == 0 {
		// Against an external server: make a few patients to read.
		for i := range 100 {
			body, _ := jsonOf(seed.Patient(rand.New(rand.NewPCG(uint64(i), 7)), i))
			res, err := send(ctx, "POST", *target+"/v1/fhir/Patient", *key, body)
			if err != nil || res.status != 201 {
				return fmt.Errorf("creating patients to read: %v (status %d)", err, res.status)
			}
			ids = append(ids, res.id)
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for _, sc := range strings.Split(*scenarios, ",") {
		sc = strings.TrimSpace(sc)
		if sc == "noisy" {
			if embedded == nil {
				return errors.New("the noisy scenario needs the embedded server (no --url)")
			}
			if err := noisyScenario(ctx, stdout, embedded, *target, *key, ids, *seedN, *concurrency, *duration, *rounds); err != nil {
				return err
			}
			continue
		}
		if sc == "cross" {
			if embedded == nil {
				return errors.New("the cross scenario needs the embedded server (no --url)")
			}
			if err := crossScenario(ctx, stdout, stderr, getenv, *target, *key, ids, *concurrency, *duration); err != nil {
				return err
			}
			continue
		}
		t, compare, err := scenarioTarget(sc, *target, *key, ids)
		if err != nil {
			return err
		}
		if *encrypted && (sc == "read" || sc == "search" || sc == "create") {
			if embedded == nil || plain == nil {
				return errors.New("--encryption needs the embedded server on SQLite (no --url, no DATABASE_URL)")
			}
			pt, _, err := scenarioTarget(sc, plain.base, plain.key, plain.ids)
			if err != nil {
				return err
			}
			if err := compareEncryption(ctx, stdout, t, pt, embedded, plain.app, *concurrency, *duration, *warmup, *rounds); err != nil {
				return err
			}
			continue
		}
		if *disclosures && pause != nil && (sc == "read" || sc == "search") {
			if err := compareDisclosures(ctx, stdout, t, pause, *concurrency, *duration, *rounds); err != nil {
				return err
			}
			continue
		}
		if *restricted && (sc == "pipeline" || sc == "read") {
			if err := compareRestricted(ctx, stdout, t, *restrictedKey, *concurrency, *duration, *rounds); err != nil {
				return err
			}
			continue
		}
		if err := runScenario(ctx, stdout, t, compare, *concurrency, *duration, *warmup, *rounds); err != nil {
			return err
		}
	}
	return nil
}

// scenarioTarget is the load of scenario sc against the server at base.
// compare says whether a bare echo handler answering the same bytes is a
// meaningful comparison (not for searches and creates, whose answers vary).
func scenarioTarget(sc, base, key string, ids []string) (t bench.Target, compare bool, err error) {
	hdr := map[string]string{"x-api-key": key}
	switch sc {
	case "pipeline":
		return bench.Target{Name: "API pipeline", URL: base + "/v1/pipeline-probe", Headers: hdr}, true, nil // no such route: the whole chain, then 404
	case "read":
		return bench.Target{Name: "FHIR read by id", Headers: hdr, URL: base + "/v1/fhir/Patient/" + ids[0],
			Next: func(c, n int) string { return base + "/v1/fhir/Patient/" + ids[(c*7919+n*104729)%len(ids)] }}, true, nil
	case "search":
		return bench.Target{Name: "FHIR name search", Headers: hdr, URL: base + "/v1/fhir/Patient?name=smi&_count=20",
			Next: func(c, n int) string {
				return base + "/v1/fhir/Patient?_count=20&name=" + strings.ToLower(seed.Family(c*31 + n)[:3])
			}}, false, nil
	case "create", "create-idempotent":
		// Synthetic patients like the seed's (names, birth dates,
		// addresses vary), made before measuring.
		r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
		bodies := make([][]byte, 4096)
		for i := range bodies {
			bodies[i], _ = jsonOf(seed.Patient(r, 1_000_000+i))
		}
		t = bench.Target{Name: "FHIR create", Method: "POST", Body: bodies[0], URL: base + "/v1/fhir/Patient",
			NextBody: func(c, n int) []byte { return bodies[(c*7919+n)%len(bodies)] },
			Headers:  map[string]string{"x-api-key": key, "Content-Type": "application/fhir+json"}}
		if sc == "create-idempotent" {
			t.Name, t.Unique = "FHIR create, Idempotency-Key", "Idempotency-Key"
		}
		return t, false, nil
	}
	return t, false, fmt.Errorf("unknown scenario %q", sc)
}

// compareEncryption runs t, against the server whose datastore pages are
// encrypted, and p, the same load against a second embedded server whose
// datastores are plain and seeded alike, in alternating rounds, and prints
// the throughput ratio. Before each round both servers write what they
// left buffered (usage, audit, disclosures), so that neither server's
// background work falls on the other's rounds.
func compareEncryption(ctx context.Context, stdout io.Writer, t, p bench.Target, enc, plain *app.App, concurrency int, duration, warmup time.Duration, rounds int) error {
	probe, err := send(ctx, methodOf(t), t.URL, t.Headers["x-api-key"], t.Body)
	if err != nil {
		return fmt.Errorf("probe %s: %w", t.URL, err)
	}
	if warmup > 0 {
		bench.Run(ctx, t, concurrency, warmup, 0)
		bench.Run(ctx, p, concurrency, warmup, 0)
	}
	settle := func(bool) {
		_ = enc.Flush(ctx)
		_ = plain.Flush(ctx)
	}
	fmt.Fprintf(stdout, "\n%s, datastore pages encrypted vs plain: %d clients, %s per side in %d rounds, after %s unmeasured\n", t.Name, concurrency, duration, rounds, warmup)
	es, ps := alternate(ctx, t, p, settle, probe.status, concurrency, duration, rounds)
	e, pl := bench.Merge(es...), bench.Merge(ps...)
	fmt.Fprintln(stdout, "plain:    ", pl)
	fmt.Fprintln(stdout, "encrypted:", e)
	fmt.Fprintf(stdout, "%s encrypted / plain: throughput %.3f (median of rounds %.3f)   p50 latency ratio %.2f\n", t.Name, e.PerSecond()/pl.PerSecond(), roundRatio(es, ps), float64(e.P50)/float64(pl.P50))
	return nil
}

// compareDisclosures runs t in alternating rounds with the accounting of
// disclosures recorded and paused, and prints the throughput ratio.
func compareDisclosures(ctx context.Context, stdout io.Writer, t bench.Target, pause func(bool), concurrency int, duration time.Duration, rounds int) error {
	probe, err := send(ctx, methodOf(t), t.URL, t.Headers["x-api-key"], t.Body)
	if err != nil {
		return fmt.Errorf("probe %s: %w", t.URL, err)
	}
	fmt.Fprintf(stdout, "\n%s, disclosures recorded vs paused: %d clients, %s per side in %d rounds\n", t.Name, concurrency, duration, rounds)
	ons, offs := alternate(ctx, t, t, func(on bool) { pause(!on) }, probe.status, concurrency, duration, rounds)
	on, off := bench.Merge(ons...), bench.Merge(offs...)
	fmt.Fprintln(stdout, "paused:  ", off)
	fmt.Fprintln(stdout, "recorded:", on)
	fmt.Fprintf(stdout, "%s with disclosures / without: throughput %.3f (median of rounds %.3f)   p50 latency ratio %.2f\n", t.Name, on.PerSecond()/off.PerSecond(), roundRatio(ons, offs), float64(on.P50)/float64(off.P50))
	return nil
}

// compareRestricted runs t in alternating rounds with its key and with a
// restricted, allowlisted key of the same organization (the same answer
// expected), and prints the throughput ratio.
func compareRestricted(ctx context.Context, stdout io.Writer, t bench.Target, restrictedKey string, concurrency int, duration time.Duration, rounds int) error {
	probe, err := send(ctx, methodOf(t), t.URL, t.Headers["x-api-key"], t.Body)
	if err != nil {
		return fmt.Errorf("probe %s: %w", t.URL, err)
	}
	rt := t
	rt.Name, rt.Headers = t.Name+", restricted", maps.Clone(t.Headers)
	rt.Headers["x-api-key"] = restrictedKey
	rprobe, err := send(ctx, methodOf(rt), rt.URL, restrictedKey, rt.Body)
	if err != nil {
		return fmt.Errorf("probe %s: %w", rt.URL, err)
	}
	if rprobe.status != probe.status {
		return fmt.Errorf("the restricted key gets %d on %s where the unrestricted one gets %d: %s", rprobe.status, pathOf(t.URL), probe.status, rprobe.body)
	}
	fmt.Fprintf(stdout, "\n%s, restricted key (resource types, IP allowlist) vs unrestricted: %s %s → %d; %d clients, %s per side in %d rounds\n",
		t.Name, methodOf(t), pathOf(t.URL), probe.status, concurrency, duration, rounds)
	rs, us := alternate(ctx, rt, t, nil, probe.status, concurrency, duration, rounds)
	r, u := bench.Merge(rs...), bench.Merge(us...)
	fmt.Fprintln(stdout, u)
	fmt.Fprintln(stdout, r)
	fmt.Fprintf(stdout, "%s restricted / unrestricted: throughput %.3f (median of rounds %.3f)   p50 latency ratio %.2f\n", t.Name, r.PerSecond()/u.PerSecond(), roundRatio(rs, us), float64(r.P50)/float64(u.P50))
	return nil
}

// alternate measures a and b in alternating rounds, b first in even
// rounds and a first in odd ones, so both see the same machine and neither
// always follows the other; set, when given, is called with true before
// each round of a and false before each of b.
func alternate(ctx context.Context, a, b bench.Target, set func(bool), status, concurrency int, duration time.Duration, rounds int) (as, bs []bench.Result) {
	per := duration / time.Duration(rounds)
	one := func(isA bool) {
		if set != nil {
			set(isA)
		}
		if isA {
			as = append(as, bench.Run(ctx, a, concurrency, per, status))
		} else {
			bs = append(bs, bench.Run(ctx, b, concurrency, per, status))
		}
	}
	for i := range rounds {
		one(i%2 == 1)
		one(i%2 == 0)
	}
	if set != nil {
		set(true)
	}
	return as, bs
}

// roundRatio is the median over rounds of a's throughput over b's in the
// same round: a burst of load from elsewhere on the machine moves one
// round's ratio, not the median.
func roundRatio(as, bs []bench.Result) float64 {
	rs := make([]float64, len(as))
	for i := range as {
		rs[i] = as[i].PerSecond() / bs[i].PerSecond()
	}
	slices.Sort(rs)
	if n := len(rs); n%2 == 0 {
		return (rs[n/2-1] + rs[n/2]) / 2
	}
	return rs[len(rs)/2]
}

func runScenario(ctx context.Context, stdout io.Writer, t bench.Target, compare bool, concurrency int, duration, warmup time.Duration, rounds int) error {
	probe, err := send(ctx, methodOf(t), t.URL, t.Headers["x-api-key"], t.Body)
	if err != nil {
		return fmt.Errorf("probe %s: %w", t.URL, err)
	}
	fmt.Fprintf(stdout, "\n%s: %s %s → %d (%d bytes); %d clients, %s per target in %d rounds, after %s unmeasured\n",
		t.Name, methodOf(t), pathOf(t.URL), probe.status, len(probe.body), concurrency, duration, rounds, warmup)
	if warmup > 0 {
		// Steady state: the caches hold what the rounds read (the read
		// cache fills on a first read of each id), as a running server's do.
		bench.Run(ctx, t, concurrency, warmup, 0)
	}
	if !compare {
		var ps []bench.Result
		for range rounds {
			ps = append(ps, bench.Run(ctx, t, concurrency, duration/time.Duration(rounds), probe.status))
		}
		fmt.Fprintln(stdout, bench.Merge(ps...))
		return nil
	}
	bare := echo.New()
	bare.HideBanner, bare.HidePort = true, true
	bare.Any("/*", func(c echo.Context) error {
		h := c.Response().Header()
		for k, v := range probe.header {
			h[k] = v
		}
		return c.Blob(probe.status, probe.ctype, probe.body)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: bare}
	go srv.Serve(ln)
	defer srv.Close()
	plain := bench.Target{Name: "bare echo handler", URL: "http://" + ln.Addr().String() + pathOf(t.URL)}
	ps, bs := alternate(ctx, t, plain, nil, probe.status, concurrency, duration, rounds)
	p, b := bench.Merge(ps...), bench.Merge(bs...)
	fmt.Fprintln(stdout, b)
	fmt.Fprintln(stdout, p)
	fmt.Fprintf(stdout, "%s / bare throughput: %.2f   p50 latency ratio: %.2f\n", t.Name, p.PerSecond()/b.PerSecond(), float64(p.P50)/float64(b.P50))
	return nil
}

type sent struct {
	status int
	ctype  string
	header http.Header // as answered, but for what net/http writes itself
	body   []byte
	id     string
}

func send(ctx context.Context, method, url, key string, body []byte) (sent, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, _ := http.NewRequestWithContext(ctx, method, url, r)
	req.Header.Set("x-api-key", key)
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return sent{}, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := sent{status: res.StatusCode, ctype: res.Header.Get("Content-Type"), header: res.Header.Clone(), body: b}
	for _, k := range []string{"Content-Type", "Content-Length", "Date", "Connection", "Transfer-Encoding"} {
		out.header.Del(k)
	}
	if loc := res.Header.Get("Location"); loc != "" {
		parts := strings.Split(loc, "/")
		for i, p := range parts {
			if p == "Patient" && i+1 < len(parts) {
				out.id = parts[i+1]
			}
		}
	}
	return out, nil
}

func methodOf(t bench.Target) string {
	if t.Method == "" {
		return http.MethodGet
	}
	return t.Method
}

func pathOf(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		if j := strings.IndexByte(u[i+3:], '/'); j >= 0 {
			return u[i+3+j:]
		}
	}
	return u
}

// benchServer is the embedded server of a load test.
type benchServer struct {
	base string
	// key is the organization's unrestricted test key; restrictedKey one
	// restricted to what the scenarios use (Patient, Encounter,
	// Observation: read) and allowlisted for this machine among other
	// networks, as a least-privilege key would be.
	key, restrictedKey string
	ids                []string
	app                *app.App
	stop               func()
}

// benchRestrictions are the restricted key's.
var benchRestrictions = apikey.CreateInput{Name: "load test, restricted", Env: apikey.Test,
	ResourceTypes: "Patient:read, Encounter:read, Observation:read, appointments:read",
	AllowIPs:      "10.0.0.0/8, 192.168.0.0/16, 2001:db8::/32, 127.0.0.0/8, ::1"}

// embeddedServer starts the whole program on 127.0.0.1 with a fresh SQLite
// database (or DATABASE_URL / REDIS_URL when set), an Enterprise
// organization whose rate limit is lifted for the measurement, a test key
// and a restricted one, and n seeded patients in the test datastore. With
// dataDir, the data stays there and a later run reuses the seed
// (bench-state.json names its keys and patient ids).
func embeddedServer(ctx context.Context, getenv config.Getenv, dataDir string, n int, plainDatastores bool, stdout, stderr io.Writer) (*benchServer, error) {
	dir, keep := dataDir, dataDir != ""
	var err error
	if keep {
		err = os.MkdirAll(dir, 0o700)
	} else {
		dir, err = os.MkdirTemp("", "clinikapi-bench-")
	}
	if err != nil {
		return nil, err
	}
	cleanup := func() {
		if !keep {
			os.RemoveAll(dir)
		}
	}
	cfg, err := config.Load(func(k string) string {
		switch k {
		case "CLINIKAPI_DATA_DIR":
			return dir
		case "DATABASE_URL", "REDIS_URL", "CLINIKAPI_READ_CACHE_MB", "CLINIKAPI_CACHE_MEMORY", "CLINIKAPI_DATASTORE_TENANT_SHARE", "CLINIKAPI_QUERY_TIMEOUT":
			return getenv(k) // measure on PostgreSQL / Redis, or without the read cache, when given
		}
		return ""
	})
	if err != nil {
		cleanup()
		return nil, err
	}
	a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), app.Options{Server: true, PlainDatastores: plainDatastores})
	if err != nil {
		cleanup()
		return nil, err
	}
	fail := func(err error) (*benchServer, error) {
		a.Close()
		cleanup()
		return nil, err
	}
	statePath := filepath.Join(dir, "bench-state.json")
	var st benchState
	if b, err := os.ReadFile(statePath); keep && err == nil {
		if err := json.Unmarshal(b, &st); err != nil {
			return fail(fmt.Errorf("%s: %w", statePath, err))
		}
		fmt.Fprintf(stdout, "reusing the seed in %s: %d patients\n", dir, len(st.PatientIDs))
		if st.RestrictedKey == "" { // a state of an earlier version
			p, err := a.Keys.Verify(ctx, st.Key)
			if err != nil {
				return fail(fmt.Errorf("%s: its key: %w", statePath, err))
			}
			r, err := a.Keys.Create(ctx, apikey.Actor{OrgID: p.OrgID}, benchRestrictions)
			if err != nil {
				return fail(err)
			}
			st.RestrictedKey = r.Secret
			b, _ := json.Marshal(st)
			if err := os.WriteFile(statePath, b, 0o600); err != nil {
				return fail(err)
			}
		}
	} else {
		_, o, err := a.CreateUser(ctx, "bench-"+time.Now().Format("150405.000000")+"@clinikapi.invalid", random.Token(), "", "Load test") // nobody signs in as it
		if err != nil {
			return fail(err)
		}
		if err := a.DB.SetOrgLimits(ctx, o.ID, "enterprise", 1_000_000_000, time.Now()); err != nil {
			return fail(err)
		}
		k, err := a.Keys.Create(ctx, apikey.Actor{OrgID: o.ID}, apikey.CreateInput{Name: "load test", Env: apikey.Test})
		if err != nil {
			return fail(err)
		}
		r, err := a.Keys.Create(ctx, apikey.Actor{OrgID: o.ID}, benchRestrictions)
		if err != nil {
			return fail(err)
		}
		st = benchState{Key: k.Secret, RestrictedKey: r.Secret}
		if n > 0 {
			s, _, err := a.Records.Datastore(ctx, o.ID, "test")
			if err != nil {
				return fail(err)
			}
			start := time.Now()
			res, err := seed.Run(ctx, s, datastore.Tenant(o.ID), n, 4, nil)
			if err != nil {
				return fail(err)
			}
			d := time.Since(start)
			fmt.Fprintf(stdout, "seeded %d patients (%d resources) in %s: %.0f resources/s through the datastore (validation, index, SQL)\n",
				n, res.Resources, d.Round(time.Millisecond), float64(res.Resources)/d.Seconds())
			st.PatientIDs = res.PatientIDs
		}
		if keep {
			b, _ := json.Marshal(st)
			if err := os.WriteFile(statePath, b, 0o600); err != nil {
				return fail(err)
			}
		}
	}
	// Catch the usage rollup up with the records earlier runs left, so the
	// measurement sees the steady state: one run's worth of records per
	// rollup, not a backlog.
	if _, err := a.Jobs.RunNow(ctx, analytics.JobRollup); err != nil {
		return fail(err)
	}
	a.Start(ctx)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	srv := &http.Server{Handler: a.HTTP, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return &benchServer{base: "http://" + ln.Addr().String(), key: st.Key, restrictedKey: st.RestrictedKey, ids: st.PatientIDs, app: a, stop: func() {
		srv.Close()
		a.Close()
		cleanup()
	}}, nil
}

// benchState is what a kept bench data directory remembers: a local test
// key of the load-test organization (mode 0600, like the database beside it).
type benchState struct {
	Key           string   `json:"key"`
	RestrictedKey string   `json:"restrictedKey,omitempty"`
	PatientIDs    []string `json:"patientIds"`
}

func jsonOf(v any) ([]byte, error) { return json.Marshal(v) }
