package web_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

// metricValue reads the sample of series (name with its labels) from a
// text exposition; ok is false when it is absent.
func metricValue(body, series string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// TestMetricsShowMemory: /metrics, served by the Prometheus client
// library, has the Go runtime's and the process's figures and every
// cache's against its share of CLINIKAPI_CACHE_MEMORY, and the read
// cache (SQLite) and the API key cache count their hits.
func TestMetricsShowMemory(t *testing.T) {
	const token = "metrics-token-0123456789abcdef"
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, map[string]string{"CLINIKAPI_METRICS_TOKEN": token, "CLINIKAPI_CACHE_MEMORY": "64MiB"})
		_, k := newOrgWithKey(t, env, "memory@example.com", apikey.ScopeAll)
		created := fhirCall(t, env, "POST", "/v1/fhir/Patient", k.Secret, patientJSON)
		id, _ := created.Body["id"].(string)
		if created.Status != 201 || id == "" {
			t.Fatalf("create: %d %s", created.Status, created.Raw)
		}
		for range 3 {
			if r := fhirCall(t, env, "GET", "/v1/fhir/Patient/"+id, k.Secret, ""); r.Status != 200 {
				t.Fatalf("read: %d %s", r.Status, r.Raw)
			}
		}
		req, _ := http.NewRequest("GET", env.Server.URL+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		body := string(b)
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("/metrics: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
		}
		for _, name := range []string{"go_memstats_alloc_bytes", "go_memstats_heap_inuse_bytes", "go_memstats_sys_bytes", "go_goroutines", "go_gc_cycles_total", "process_resident_memory_bytes", "process_open_fds"} {
			if v, ok := metricValue(body, name); !ok || v <= 0 {
				t.Errorf("%s: %v (present %v)", name, v, ok)
			}
		}
		if v, _ := metricValue(body, "clinikapi_cache_memory_budget_bytes"); v != 64<<20 {
			t.Errorf("cache memory budget: %v, want %d", v, 64<<20)
		}
		wantBudget := map[string]float64{"read_cache": 32 << 20, "sqlite_page_cache": 24 << 20, "api_key_cache": 8 << 20}
		if engine == "postgres" {
			wantBudget["sqlite_page_cache"] = 0 // PostgreSQL caches its own pages
		}
		var sum float64
		for kind, want := range wantBudget {
			got, ok := metricValue(body, `clinikapi_cache_budget_bytes{cache="`+kind+`"}`)
			// The API key cache counts whole entries of its share.
			if !ok || got > want || got < want*0.99 {
				t.Errorf("%s budget: %v (present %v), want %v", kind, got, ok, want)
			}
			sum += got
			for _, series := range []string{"clinikapi_cache_bytes", "clinikapi_cache_entries", "clinikapi_cache_hits_total", "clinikapi_cache_misses_total", "clinikapi_cache_evictions_total"} {
				if _, ok := metricValue(body, series+`{cache="`+kind+`"}`); !ok {
					t.Errorf("/metrics lacks %s for %s", series, kind)
				}
			}
		}
		if sum > 64<<20 {
			t.Errorf("the caches' budgets add up to %v, more than the 64 MiB set", sum)
		}
		if v, _ := metricValue(body, `clinikapi_cache_hits_total{cache="api_key_cache"}`); v < 3 {
			t.Errorf("API key cache hits: %v after four calls with one key", v)
		}
		if engine == "sqlite" {
			if v, _ := metricValue(body, `clinikapi_cache_hits_total{cache="read_cache"}`); v < 1 {
				t.Errorf("read cache hits: %v after three reads of one patient", v)
			}
			if v, _ := metricValue(body, `clinikapi_cache_bytes{cache="read_cache"}`); v <= 0 {
				t.Errorf("read cache bytes: %v", v)
			}
			if v, _ := metricValue(body, `clinikapi_cache_bytes{cache="sqlite_page_cache"}`); v <= 0 {
				t.Errorf("SQLite memory in use: %v", v)
			}
		}
		if strings.Contains(body, k.Secret) || strings.Contains(body, id) {
			t.Error("/metrics leaks a key or a resource id")
		}
	})
}
