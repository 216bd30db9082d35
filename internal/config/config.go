// Package config turns the process environment into a validated Config.
//
// Every variable is optional: with none set, ClinikAPI runs embedded (SQLite
// under ./data, built-in accounts, log mailer). A bad value stops start-up
// with one error that names the variable.
package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/clinikapi/clinikapi/internal/memory"
)

// Config is everything the program reads from its environment.
type Config struct {
	Addr    string // listen address, host:port
	DataDir string // SQLite files and other local state
	// ExportDir holds bulk export files and staged imports
	// (CLINIKAPI_EXPORT_DIR; default <DataDir>/exports).
	ExportDir string
	// EncryptionKey (CLINIKAPI_ENCRYPTION_KEY) or EncryptionKeyFile
	// (CLINIKAPI_ENCRYPTION_KEY_FILE) is the master key of encryption at
	// rest; without either the embedded default makes one in DataDir.
	EncryptionKey     string
	EncryptionKeyFile string
	BaseURL           string // public URL of the dashboard, used in e-mailed links

	// TrustProxy makes client IPs come from X-Forwarded-For (behind a load
	// balancer); otherwise the TCP peer address is the client IP.
	TrustProxy bool

	DatabaseURL string // postgres://… ; empty means SQLite under DataDir
	// CacheMemory is the memory every cache of the process shares
	// (CLINIKAPI_CACHE_MEMORY, a size such as 256MiB; default memory.Default,
	// an eighth of the memory the process may use, 256 MiB to 4 GiB):
	// the read cache of the SQLite datastores, SQLite's page caches and
	// the API key cache, whatever the number of datastores (see
	// memory.Budget).
	CacheMemory memory.Budget
	// GOGCSet says the Go runtime's GOGC is in the environment: the
	// operator paces the garbage collector, and a server does not tune it
	// (memory.TuneGC).
	GOGCSet bool
	// ReadCacheOff turns off the cache of resources served to reads by id
	// (CLINIKAPI_READ_CACHE_MB=0, kept for measurements without it).
	// PostgreSQL datastores are always read.
	ReadCacheOff bool
	// SearchIndexEveryParameter stores each search value under every
	// parameter that has it, as servers before values were kept once did
	// (CLINIKAPI_SEARCH_INDEX=every-parameter; default compact): for a
	// rolling deploy or a rollback across that change.
	SearchIndexEveryParameter bool
	// QueryTimeout bounds every read and search of a FHIR datastore
	// (CLINIKAPI_QUERY_TIMEOUT; default 2s): past it the query is
	// cancelled and the request answered with an error.
	QueryTimeout time.Duration
	RedisURL     string // redis://… ; shares rate limits and key revocation across instances
	RedisPrefix  string // key and channel prefix, so deployments can share one Redis

	// TenantShare is the connections of a FHIR datastore one tenant's
	// searches (and, on PostgreSQL, writes) may use at once
	// (CLINIKAPI_DATASTORE_TENANT_SHARE; default 0: a quarter of the
	// pool, 2 on SQLite, 5 on PostgreSQL, and for searches at most the
	// host's cores).
	TenantShare int

	LogFormat string // "json" or "text"
	LogLevel  string // "debug", "info", "warn", "error"

	Supabase Supabase
	Stripe   Stripe
	SMTP     SMTP
	TLS      TLS
	PostHog  PostHog

	SessionIdleTimeout time.Duration
	SessionMaxAge      time.Duration

	// MetricsToken is the bearer token /metrics asks for; without one
	// /metrics answers 404.
	MetricsToken string

	// WebhookAllowLoopback lets outbound webhooks go to loopback addresses
	// (a local test receiver): CLINIKAPI_WEBHOOK_ALLOW_LOOPBACK, off by
	// default, refused in production (Production).
	WebhookAllowLoopback bool
}

// Production reports whether the configuration is a production one: a
// public https:// base URL (not localhost), or a live Stripe key.
func (c Config) Production() bool {
	if strings.HasPrefix(c.Stripe.SecretKey, "sk_live_") || strings.HasPrefix(c.Stripe.SecretKey, "rk_live_") {
		return true
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || u.Scheme != "https" {
		return false
	}
	host := u.Hostname()
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return false
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return false
	}
	return true
}

// Supabase holds the Supabase Auth settings; Enabled reports whether they are set.
type Supabase struct {
	URL            string
	AnonKey        string
	ServiceRoleKey string
	JWTSecret      string
	GitHub         bool // offer "Continue with GitHub"
}

// Enabled reports whether sign-in goes through Supabase Auth.
func (s Supabase) Enabled() bool { return s.URL != "" }

// Stripe holds the billing settings; without a secret key billing runs as
// development billing (plans switched locally, no payments).
type Stripe struct {
	SecretKey     string
	WebhookSecret string
	APIURL        string            // API base URL (tests: stripe-mock); empty for api.stripe.com
	Prices        map[string]string // plan id → Stripe price id (starter, pro, team)
	MeterEvent    string            // Billing Meter event name for overage requests
}

// Enabled reports whether real payments go through Stripe.
func (s Stripe) Enabled() bool { return s.SecretKey != "" }

// SMTP holds the outgoing mail settings; empty URL means mail is logged only.
type SMTP struct {
	URL  string
	From string
}

// TLS holds the certificate files for built-in TLS.
type TLS struct {
	CertFile string
	KeyFile  string
}

// Enabled reports whether the server terminates TLS itself.
func (t TLS) Enabled() bool { return t.CertFile != "" }

// SecureCookies reports whether cookies must carry the Secure attribute.
func (c Config) SecureCookies() bool {
	return c.TLS.Enabled() || strings.HasPrefix(c.BaseURL, "https://")
}

// Getenv is the shape of os.Getenv, so tests can pass a map.
type Getenv func(string) string

// FromMap adapts a map to Getenv.
func FromMap(m map[string]string) Getenv { return func(k string) string { return m[k] } }

// Load reads and validates the configuration.
func Load(getenv Getenv) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	c := Config{
		Addr:               or(get("CLINIKAPI_ADDR"), ":8080"),
		DataDir:            or(get("CLINIKAPI_DATA_DIR"), "data"),
		ExportDir:          get("CLINIKAPI_EXPORT_DIR"),
		EncryptionKey:      get("CLINIKAPI_ENCRYPTION_KEY"),
		EncryptionKeyFile:  get("CLINIKAPI_ENCRYPTION_KEY_FILE"),
		BaseURL:            strings.TrimRight(get("CLINIKAPI_BASE_URL"), "/"),
		DatabaseURL:        get("DATABASE_URL"),
		RedisURL:           get("REDIS_URL"),
		RedisPrefix:        or(get("CLINIKAPI_REDIS_PREFIX"), "clinikapi:"),
		MetricsToken:       get("CLINIKAPI_METRICS_TOKEN"),
		LogFormat:          get("CLINIKAPI_LOG_FORMAT"),
		LogLevel:           or(get("CLINIKAPI_LOG_LEVEL"), "info"),
		GOGCSet:            get("GOGC") != "",
		SessionIdleTimeout: 24 * time.Hour,
		SessionMaxAge:      7 * 24 * time.Hour,
		Supabase: Supabase{
			URL:            strings.TrimRight(get("SUPABASE_URL"), "/"),
			AnonKey:        get("SUPABASE_ANON_KEY"),
			ServiceRoleKey: get("SUPABASE_SERVICE_ROLE_KEY"),
			JWTSecret:      get("SUPABASE_JWT_SECRET"),
		},
		Stripe: Stripe{
			SecretKey: get("STRIPE_SECRET_KEY"), WebhookSecret: get("STRIPE_WEBHOOK_SECRET"), APIURL: strings.TrimRight(get("STRIPE_API_URL"), "/"),
			Prices:     map[string]string{"starter": get("STRIPE_PRICE_STARTER"), "pro": get("STRIPE_PRICE_PRO"), "team": get("STRIPE_PRICE_TEAM")},
			MeterEvent: or(get("STRIPE_METER_EVENT_NAME"), "clinikapi_overage_requests"),
		},
		SMTP: SMTP{URL: get("SMTP_URL"), From: or(get("SMTP_FROM"), "ClinikAPI <no-reply@localhost>")},
		TLS:  TLS{CertFile: get("TLS_CERT_FILE"), KeyFile: get("TLS_KEY_FILE")},
	}
	var err error
	if c.Supabase.GitHub, err = parseBool(get, "SUPABASE_GITHUB_ENABLED"); err != nil {
		return Config{}, err
	}
	if c.TrustProxy, err = parseBool(get, "CLINIKAPI_TRUST_PROXY"); err != nil {
		return Config{}, err
	}
	if c.CacheMemory, err = parseCacheMemory(get("CLINIKAPI_CACHE_MEMORY")); err != nil {
		return Config{}, err
	}
	switch v := get("CLINIKAPI_READ_CACHE_MB"); v {
	case "":
	case "0":
		c.ReadCacheOff = true
	default:
		return Config{}, fmt.Errorf("CLINIKAPI_READ_CACHE_MB: %q is no longer a size: every cache shares CLINIKAPI_CACHE_MEMORY whatever the number of datastores; set that instead, or 0 here to turn the read cache off", v)
	}
	if c.QueryTimeout, err = parseDuration(get, "CLINIKAPI_QUERY_TIMEOUT", DefaultQueryTimeout, 10*time.Millisecond, time.Minute); err != nil {
		return Config{}, err
	}
	if c.TenantShare, err = parseInt(get, "CLINIKAPI_DATASTORE_TENANT_SHARE", 0, 0, 1000); err != nil {
		return Config{}, err
	}
	switch v := get("CLINIKAPI_SEARCH_INDEX"); v {
	case "", "compact":
	case "every-parameter":
		c.SearchIndexEveryParameter = true
	default:
		return Config{}, fmt.Errorf("CLINIKAPI_SEARCH_INDEX: must be compact or every-parameter, not %q", v)
	}
	if c.WebhookAllowLoopback, err = parseBool(get, "CLINIKAPI_WEBHOOK_ALLOW_LOOPBACK"); err != nil {
		return Config{}, err
	}
	if c.PostHog, err = loadPostHog(get); err != nil {
		return Config{}, err
	}
	if err := c.validate(get); err != nil {
		return Config{}, err
	}
	if c.WebhookAllowLoopback && c.Production() {
		return Config{}, fmt.Errorf("CLINIKAPI_WEBHOOK_ALLOW_LOOPBACK: refused in production (a public https:// CLINIKAPI_BASE_URL or a live Stripe key): it would let webhooks reach this machine's own services")
	}
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		return Config{}, fmt.Errorf("CLINIKAPI_METRICS_TOKEN must be at least 16 characters (e.g. openssl rand -hex 24)")
	}
	return c, nil
}

func (c *Config) validate(get func(string) string) error {
	if _, port, err := net.SplitHostPort(c.Addr); err != nil || port == "" {
		return fmt.Errorf("CLINIKAPI_ADDR: %q is not a host:port address (example: :8080 or 127.0.0.1:8080)", c.Addr)
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return fmt.Errorf("CLINIKAPI_DATA_DIR: %v", err)
	}
	c.DataDir = abs
	if c.ExportDir == "" {
		c.ExportDir = filepath.Join(abs, "exports")
	} else if c.ExportDir, err = filepath.Abs(c.ExportDir); err != nil {
		return fmt.Errorf("CLINIKAPI_EXPORT_DIR: %v", err)
	}
	if c.BaseURL == "" {
		c.BaseURL = defaultBaseURL(c.Addr, c.TLS.Enabled())
	} else if err := checkURL(c.BaseURL, "http", "https"); err != nil {
		return fmt.Errorf("CLINIKAPI_BASE_URL: %v", err)
	}
	if c.DatabaseURL != "" {
		if err := checkURL(c.DatabaseURL, "postgres", "postgresql"); err != nil {
			return fmt.Errorf("DATABASE_URL: %v", err)
		}
	}
	if c.RedisURL != "" {
		if err := checkURL(c.RedisURL, "redis", "rediss"); err != nil {
			return fmt.Errorf("REDIS_URL: %v", err)
		}
	}
	switch c.LogFormat {
	case "", "json", "text":
	default:
		return fmt.Errorf("CLINIKAPI_LOG_FORMAT: %q is not one of json, text", c.LogFormat)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("CLINIKAPI_LOG_LEVEL: %q is not one of debug, info, warn, error", c.LogLevel)
	}
	if s := c.Supabase; s.Enabled() {
		if err := checkURL(s.URL, "http", "https"); err != nil {
			return fmt.Errorf("SUPABASE_URL: %v", err)
		}
		if s.AnonKey == "" {
			return fmt.Errorf("SUPABASE_ANON_KEY: required when SUPABASE_URL is set")
		}
	} else {
		for _, k := range []string{"SUPABASE_ANON_KEY", "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_JWT_SECRET"} {
			if get(k) != "" {
				return fmt.Errorf("SUPABASE_URL: required when %s is set", k)
			}
		}
	}
	if c.Stripe.APIURL != "" {
		if err := checkURL(c.Stripe.APIURL, "http", "https"); err != nil {
			return fmt.Errorf("STRIPE_API_URL: %v", err)
		}
	}
	if c.Stripe.SecretKey != "" && !strings.HasPrefix(c.Stripe.SecretKey, "sk_") && !strings.HasPrefix(c.Stripe.SecretKey, "rk_") {
		return fmt.Errorf("STRIPE_SECRET_KEY: not a Stripe secret key (sk_… or rk_…)")
	}
	if c.SMTP.URL != "" {
		if err := checkURL(c.SMTP.URL, "smtp", "smtps"); err != nil {
			return fmt.Errorf("SMTP_URL: %v", err)
		}
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return fmt.Errorf("TLS_CERT_FILE, TLS_KEY_FILE: set both or neither")
	}
	for k, f := range map[string]string{"TLS_CERT_FILE": c.TLS.CertFile, "TLS_KEY_FILE": c.TLS.KeyFile} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%s: %v", k, err)
		}
	}
	return nil
}

func checkURL(raw string, schemes ...string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a valid URL")
	}
	for _, s := range schemes {
		if u.Scheme == s {
			if u.Host == "" {
				return fmt.Errorf("URL has no host")
			}
			return nil
		}
	}
	return fmt.Errorf("URL scheme must be one of %s", strings.Join(schemes, ", "))
}

func defaultBaseURL(addr string, tls bool) string {
	host, port, _ := net.SplitHostPort(addr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

func parseBool(get func(string) string, key string) (bool, error) {
	switch strings.ToLower(get(key)) {
	case "", "0", "false", "no", "off":
		return false, nil
	case "1", "true", "yes", "on":
		return true, nil
	}
	return false, fmt.Errorf("%s: %q is not a boolean (true or false)", key, get(key))
}

// DefaultQueryTimeout is the time budget of a datastore read or search.
const DefaultQueryTimeout = 2 * time.Second

// parseDuration reads a Go duration (2s, 500ms) from lo to hi.
func parseInt(get func(string) string, key string, def, lo, hi int) (int, error) {
	v := get(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s: %q is not a whole number from %d to %d", key, v, lo, hi)
	}
	return n, nil
}

func parseDuration(get func(string) string, key string, def, lo, hi time.Duration) (time.Duration, error) {
	v := get(key)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		return 0, fmt.Errorf("%s: %q is not a duration from %v to %v (example: 2s or 500ms)", key, v, lo, hi)
	}
	return d, nil
}

// parseCacheMemory reads CLINIKAPI_CACHE_MEMORY: a size with a unit from
// memory.MinBudget to 1 TiB.
func parseCacheMemory(v string) (memory.Budget, error) {
	if v == "" {
		return memory.Default(), nil
	}
	n, err := memory.ParseSize(v)
	if err != nil {
		return 0, fmt.Errorf("CLINIKAPI_CACHE_MEMORY: %w", err)
	}
	if n < memory.MinBudget || n > 1<<40 {
		return 0, fmt.Errorf("CLINIKAPI_CACHE_MEMORY: %q is outside 16MiB to 1TiB", v)
	}
	return memory.Budget(n), nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
