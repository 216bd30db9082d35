package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app"
	"github.com/clinikapi/clinikapi/internal/bench"
	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/random"
	"github.com/clinikapi/clinikapi/internal/seed"
)

// noisySearch is the costliest search a client may send, every limit of
// the search used to the full: a :contains match on a common letter, five
// sort keys, a counted total, the largest page and four _revinclude.
const noisySearch = "/v1/fhir/Patient?name:contains=%s&_sort=-birthdate,family,given,address-city,-_lastUpdated&_count=100&_total=accurate" +
	"&_revinclude=Encounter:subject&_revinclude=Observation:subject&_revinclude=Observation:patient&_revinclude=Encounter:patient"

// noisyScenario measures how much one tenant's costliest searches slow
// another tenant's reads by id in the same datastore: tenant B (the seeded
// organization) reads by id with a quarter of the clients, in alternating
// rounds alone (quiet) and while tenant A (a second organization, seeded
// the same) sends noisySearch from every client (noisy), and reports B's
// latencies of both and their p99 ratio.
func noisyScenario(ctx context.Context, stdout io.Writer, a *app.App, target, keyB string, idsB []string, seedN, concurrency int, duration time.Duration, rounds int) error {
	_, o, err := a.CreateUser(ctx, "bench-noisy-"+time.Now().Format("150405.000000")+"@clinikapi.invalid", random.Token(), "", "Noisy tenant")
	if err != nil {
		return err
	}
	if err := a.DB.SetOrgLimits(ctx, o.ID, "enterprise", 1_000_000_000, time.Now()); err != nil {
		return err
	}
	k, err := a.Keys.Create(ctx, apikey.Actor{OrgID: o.ID}, apikey.CreateInput{Name: "noisy load test", Env: apikey.Test})
	if err != nil {
		return err
	}
	s, _, err := a.Records.Datastore(ctx, o.ID, "test")
	if err != nil {
		return err
	}
	if _, err := seed.Run(ctx, s, datastore.Tenant(o.ID), max(100, seedN), 4, nil); err != nil {
		return err
	}
	if err := s.Analyze(ctx); err != nil {
		return err
	}
	letters := []string{"e", "a", "o", "n", "r", "i"}
	noisy := bench.Target{Name: "tenant A, costliest search", Headers: map[string]string{"x-api-key": k.Secret},
		URL:  target + fmt.Sprintf(noisySearch, "e"),
		Next: func(c, n int) string { return target + fmt.Sprintf(noisySearch, letters[(c+n)%len(letters)]) }}
	read := bench.Target{Name: "tenant B, read by id", Headers: map[string]string{"x-api-key": keyB}, URL: target + "/v1/fhir/Patient/" + idsB[0],
		Next: func(c, n int) string { return target + "/v1/fhir/Patient/" + idsB[(c*7919+n*104729)%len(idsB)] }}
	probe, err := send(ctx, "GET", noisy.URL, k.Secret, nil)
	if err != nil {
		return err
	}
	if probe.status != 200 {
		return fmt.Errorf("tenant A's search answered %d: %s", probe.status, strings.TrimSpace(string(probe.body)))
	}
	clientsB := max(1, concurrency/4)
	per := duration / time.Duration(rounds)
	warm := min(per/4, time.Second) // A's load is on before B's measurement starts
	fmt.Fprintf(stdout, "\nnoisy neighbour: tenant B reads by id with %d clients, alone (quiet) and while tenant A sends %d clients' costliest searches (%d bytes a page); %s per side in %d rounds\n",
		clientsB, concurrency, len(probe.body), duration, rounds)
	before := s.QueueStats()
	var quiet, loud, noise []bench.Result
	for range rounds {
		quiet = append(quiet, bench.Run(ctx, read, clientsB, per, 200))
		var wg sync.WaitGroup
		var n bench.Result
		wg.Add(1)
		go func() {
			defer wg.Done()
			n = bench.Run(ctx, noisy, concurrency, per+warm, 0)
		}()
		select {
		case <-time.After(warm):
		case <-ctx.Done():
		}
		loud = append(loud, bench.Run(ctx, read, clientsB, per, 200))
		wg.Wait()
		noise = append(noise, n)
	}
	q, l, n := bench.Merge(quiet...), bench.Merge(loud...), bench.Merge(noise...)
	after := s.QueueStats()
	fmt.Fprintln(stdout, "quiet:", q)
	fmt.Fprintln(stdout, "noisy:", l)
	fmt.Fprintln(stdout, "      ", n)
	waits := after.Waits - before.Waits
	var mean time.Duration
	if waits > 0 {
		mean = (after.WaitTotal - before.WaitTotal) / time.Duration(waits)
	}
	fmt.Fprintf(stdout, "datastore turns: %d requests waited (mean %s), %d gave up waiting\n", waits, mean.Round(time.Microsecond), after.TimedOut-before.TimedOut)
	fmt.Fprintf(stdout, "tenant B's read by id, noisy / quiet: p50 %.2f×  p99 %.2f× (goal ≤ 5×)\n", float64(l.P50)/float64(q.P50), float64(l.P99)/float64(q.P99))
	return nil
}
