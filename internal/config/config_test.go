package config

import (
	"strings"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/memory"
)

func TestDefaults(t *testing.T) {
	c, err := Load(FromMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.BaseURL != "http://localhost:8080" || !strings.HasSuffix(c.DataDir, "/data") || c.DatabaseURL != "" || c.Supabase.Enabled() || c.SecureCookies() || c.CacheMemory != memory.Default() || c.ReadCacheOff {
		t.Fatalf("defaults: %+v", c)
	}
	if c.GOGCSet {
		t.Fatal("GOGCSet without GOGC in the environment")
	}
	if c, err := Load(FromMap(map[string]string{"GOGC": "200"})); err != nil || !c.GOGCSet {
		t.Fatalf("GOGC=200: GOGCSet %v, %v", c.GOGCSet, err)
	}
	if c, err := Load(FromMap(map[string]string{"CLINIKAPI_READ_CACHE_MB": "0"})); err != nil || !c.ReadCacheOff {
		t.Fatalf("read cache off: %v, %v", c.ReadCacheOff, err)
	}
	for v, want := range map[string]int64{"1GiB": 1 << 30, "64MiB": 64 << 20, "300MB": 300e6, "512 MiB": 512 << 20} {
		if c, err := Load(FromMap(map[string]string{"CLINIKAPI_CACHE_MEMORY": v})); err != nil || int64(c.CacheMemory) != want {
			t.Errorf("CLINIKAPI_CACHE_MEMORY=%s: %d, %v; want %d", v, c.CacheMemory, err, want)
		}
	}
	for v, want := range map[string]string{"1MiB": `"1MiB" is outside 16MiB to 1TiB`, "2XB": `unknown unit "XB"`, "-5MiB": "is not a size", "99999999999TiB": "too large"} {
		if _, err := Load(FromMap(map[string]string{"CLINIKAPI_CACHE_MEMORY": v})); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CLINIKAPI_CACHE_MEMORY=%s: error %v, want it to say %s", v, err, want)
		}
	}
	if c.SearchIndexEveryParameter {
		t.Fatal("the search index stores every parameter by default")
	}
	if c.QueryTimeout != 2*time.Second {
		t.Fatalf("query timeout: %v, want 2s", c.QueryTimeout)
	}
	for v, want := range map[string]time.Duration{"500ms": 500 * time.Millisecond, "10s": 10 * time.Second} {
		if c, err := Load(FromMap(map[string]string{"CLINIKAPI_QUERY_TIMEOUT": v})); err != nil || c.QueryTimeout != want {
			t.Fatalf("CLINIKAPI_QUERY_TIMEOUT=%s: %v, %v", v, c.QueryTimeout, err)
		}
	}
	for _, v := range []string{"0s", "-1s", "5ms", "2h", "fast"} {
		if _, err := Load(FromMap(map[string]string{"CLINIKAPI_QUERY_TIMEOUT": v})); err == nil {
			t.Errorf("CLINIKAPI_QUERY_TIMEOUT=%s accepted", v)
		}
	}
	if c.TenantShare != 0 {
		t.Fatalf("tenant share: %d, want 0 (a quarter of the pool)", c.TenantShare)
	}
	if c, err := Load(FromMap(map[string]string{"CLINIKAPI_DATASTORE_TENANT_SHARE": "3"})); err != nil || c.TenantShare != 3 {
		t.Fatalf("CLINIKAPI_DATASTORE_TENANT_SHARE=3: %d, %v", c.TenantShare, err)
	}
	for _, v := range []string{"-1", "1001", "two"} {
		if _, err := Load(FromMap(map[string]string{"CLINIKAPI_DATASTORE_TENANT_SHARE": v})); err == nil || !strings.HasPrefix(err.Error(), "CLINIKAPI_DATASTORE_TENANT_SHARE:") {
			t.Errorf("CLINIKAPI_DATASTORE_TENANT_SHARE=%s: %v, want an error naming it", v, err)
		}
	}
	if c, err := Load(FromMap(map[string]string{"CLINIKAPI_SEARCH_INDEX": "every-parameter"})); err != nil || !c.SearchIndexEveryParameter {
		t.Fatalf("every-parameter index: %v, %v", c.SearchIndexEveryParameter, err)
	}
}

func TestErrorsNameTheVariable(t *testing.T) {
	for want, vars := range map[string]map[string]string{
		"CLINIKAPI_ADDR":              {"CLINIKAPI_ADDR": "nope"},
		"CLINIKAPI_BASE_URL":          {"CLINIKAPI_BASE_URL": "ftp://x"},
		"DATABASE_URL":                {"DATABASE_URL": "sqlite://x"},
		"CLINIKAPI_SEARCH_INDEX":      {"CLINIKAPI_SEARCH_INDEX": "full"},
		"REDIS_URL":                   {"REDIS_URL": "http://x"},
		"SUPABASE_ANON_KEY":           {"SUPABASE_URL": "https://p.supabase.co"},
		"SUPABASE_URL":                {"SUPABASE_JWT_SECRET": "s"},
		"SUPABASE_GITHUB_ENABLED":     {"SUPABASE_GITHUB_ENABLED": "maybe"},
		"CLINIKAPI_LOG_LEVEL":         {"CLINIKAPI_LOG_LEVEL": "loud"},
		"TLS_CERT_FILE, TLS_KEY_FILE": {"TLS_CERT_FILE": "/x.pem"},
		"CLINIKAPI_READ_CACHE_MB":     {"CLINIKAPI_READ_CACHE_MB": "64"},
		"CLINIKAPI_CACHE_MEMORY":      {"CLINIKAPI_CACHE_MEMORY": "lots"},
		"CLINIKAPI_QUERY_TIMEOUT":     {"CLINIKAPI_QUERY_TIMEOUT": "2"},
	} {
		_, err := Load(FromMap(vars))
		if err == nil || !strings.HasPrefix(err.Error(), want+":") {
			t.Errorf("%v: error %v, want it to start with %s:", vars, err, want)
		}
	}
}

func TestHTTPSBaseURLMakesCookiesSecure(t *testing.T) {
	c, err := Load(FromMap(map[string]string{"CLINIKAPI_BASE_URL": "https://dash.example.com/"}))
	if err != nil || !c.SecureCookies() || c.BaseURL != "https://dash.example.com" {
		t.Fatalf("%+v %v", c, err)
	}
}

// TestWebhookLoopbackOnlyOutsideProduction: the local-receiver setting is
// off by default, works in development, and stops start-up in production.
func TestWebhookLoopbackOnlyOutsideProduction(t *testing.T) {
	c, err := Load(FromMap(map[string]string{}))
	if err != nil || c.WebhookAllowLoopback || c.Production() {
		t.Fatalf("default: allow %v production %v err %v", c.WebhookAllowLoopback, c.Production(), err)
	}
	for _, dev := range []map[string]string{
		{"CLINIKAPI_WEBHOOK_ALLOW_LOOPBACK": "true"},
		{"CLINIKAPI_WEBHOOK_ALLOW_LOOPBACK": "true", "CLINIKAPI_BASE_URL": "https://localhost:8443"},
		{"CLINIKAPI_WEBHOOK_ALLOW_LOOPBACK": "true", "STRIPE_SECRET_KEY": "sk_test_123"},
	} {
		if c, err := Load(FromMap(dev)); err != nil || !c.WebhookAllowLoopback {
			t.Fatalf("%v: %v", dev, err)
		}
	}
	for _, prod := range []map[string]string{
		{"CLINIKAPI_WEBHOOK_ALLOW_LOOPBACK": "true", "CLINIKAPI_BASE_URL": "https://dashboard.example.com"},
		{"CLINIKAPI_WEBHOOK_ALLOW_LOOPBACK": "true", "STRIPE_SECRET_KEY": "sk_live_123"},
	} {
		_, err := Load(FromMap(prod))
		if err == nil || !strings.Contains(err.Error(), "CLINIKAPI_WEBHOOK_ALLOW_LOOPBACK") {
			t.Fatalf("%v: %v, want start-up refused naming the variable", prod, err)
		}
	}
}
