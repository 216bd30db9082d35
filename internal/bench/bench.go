// Package bench drives an HTTP server on this machine with a fixed number of
// concurrent keep-alive clients for a fixed time and reports throughput and
// latency percentiles. `clinikapi bench` uses it to compare the API pipeline
// against a bare echo handler returning the same bytes, in one run.
package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Target is what to request.
type Target struct {
	Name    string
	URL     string
	Headers map[string]string
	Method  string // GET when empty
	Body    []byte // sent with every request when set
	// NextBody, when set, gives the body of the n-th request of a client
	// (so creates do not all store the same resource); Body otherwise.
	NextBody func(client, n int) []byte
	// Next, when set, gives the URL of the n-th request of a client (to
	// spread reads over many ids); URL is used otherwise.
	Next func(client, n int) string
	// Unique, when set, is a header sent with a value of its own on every
	// request (Idempotency-Key).
	Unique string
}

// Result is one target's figures.
type Result struct {
	Name      string
	Requests  int
	Errors    int // transport errors and unexpected statuses
	Duration  time.Duration
	P50       time.Duration
	P95       time.Duration
	P99       time.Duration
	Statuses  map[int]int
	latencies []time.Duration
}

// PerSecond is the throughput.
func (r Result) PerSecond() float64 { return float64(r.Requests) / r.Duration.Seconds() }

// String formats the result as one table row.
func (r Result) String() string {
	return fmt.Sprintf("%-22s %9d req  %10.0f req/s  p50 %8s  p95 %8s  p99 %8s  errors %d  statuses %v",
		r.Name, r.Requests, r.PerSecond(), r.P50.Round(time.Microsecond), r.P95.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Errors, r.Statuses)
}

// Run sends requests to t from concurrency clients for d. wantStatus, if
// non-zero, counts other statuses as errors.
func Run(ctx context.Context, t Target, concurrency int, d time.Duration, wantStatus int) Result {
	run := strconv.FormatInt(time.Now().UnixNano(), 36) // Unique values differ between runs
	tr := &http.Transport{MaxIdleConns: concurrency * 2, MaxIdleConnsPerHost: concurrency * 2, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()

	type part struct {
		lat      []time.Duration
		errs     int
		statuses map[int]int
	}
	parts := make([]part, concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := part{lat: make([]time.Duration, 0, 1<<16), statuses: map[int]int{}}
			method := t.Method
			if method == "" {
				method = http.MethodGet
			}
			for n := 0; ctx.Err() == nil; n++ {
				u := t.URL
				if t.Next != nil {
					u = t.Next(i, n)
				}
				var body io.Reader
				if t.NextBody != nil {
					body = bytes.NewReader(t.NextBody(i, n))
				} else if t.Body != nil {
					body = bytes.NewReader(t.Body)
				}
				req, _ := http.NewRequest(method, u, body)
				for k, v := range t.Headers {
					req.Header.Set(k, v)
				}
				if t.Unique != "" {
					req.Header.Set(t.Unique, run+"-"+strconv.Itoa(i)+"-"+strconv.Itoa(n))
				}
				t0 := time.Now()
				res, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						p.errs++
					}
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				p.lat = append(p.lat, time.Since(t0))
				p.statuses[res.StatusCode]++
				if wantStatus != 0 && res.StatusCode != wantStatus {
					p.errs++
				}
			}
			parts[i] = p
		}()
	}
	wg.Wait()
	r := Result{Name: t.Name, Duration: time.Since(start), Statuses: map[int]int{}}
	for _, p := range parts {
		r.latencies = append(r.latencies, p.lat...)
		r.Errors += p.errs
		for k, v := range p.statuses {
			r.Statuses[k] += v
		}
	}
	r.Requests = len(r.latencies)
	slices.Sort(r.latencies)
	r.P50, r.P95, r.P99 = percentile(r.latencies, 50), percentile(r.latencies, 95), percentile(r.latencies, 99)
	return r
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[min(len(sorted)-1, max(0, i-1))]
}

// Merge combines results of the same target measured in several rounds.
func Merge(rs ...Result) Result {
	out := Result{Name: rs[0].Name, Statuses: map[int]int{}}
	for _, r := range rs {
		out.Requests += r.Requests
		out.Errors += r.Errors
		out.Duration += r.Duration
		out.latencies = append(out.latencies, r.latencies...)
		for k, v := range r.Statuses {
			out.Statuses[k] += v
		}
	}
	slices.Sort(out.latencies)
	out.P50, out.P95, out.P99 = percentile(out.latencies, 50), percentile(out.latencies, 95), percentile(out.latencies, 99)
	return out
}
