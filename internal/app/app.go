// Package app is the composition root: it builds every service from the
// configuration, choosing one implementation per integration, and tears them
// down again. Nothing else constructs services.
package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/clinikapi/clinikapi/internal/account"
	"github.com/clinikapi/clinikapi/internal/account/builtin"
	"github.com/clinikapi/clinikapi/internal/account/supabase"
	"github.com/clinikapi/clinikapi/internal/analytics"
	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/audit"
	"github.com/clinikapi/clinikapi/internal/billing"
	"github.com/clinikapi/clinikapi/internal/bulk"
	"github.com/clinikapi/clinikapi/internal/config"
	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/disclosure"
	"github.com/clinikapi/clinikapi/internal/encryption"
	"github.com/clinikapi/clinikapi/internal/fhir/searchparam"
	"github.com/clinikapi/clinikapi/internal/idempotency"
	"github.com/clinikapi/clinikapi/internal/jobs"
	"github.com/clinikapi/clinikapi/internal/mail"
	"github.com/clinikapi/clinikapi/internal/memory"
	"github.com/clinikapi/clinikapi/internal/metrics"
	"github.com/clinikapi/clinikapi/internal/org"
	"github.com/clinikapi/clinikapi/internal/privacy"
	"github.com/clinikapi/clinikapi/internal/product"
	"github.com/clinikapi/clinikapi/internal/quota"
	"github.com/clinikapi/clinikapi/internal/ratelimit"
	"github.com/clinikapi/clinikapi/internal/records"
	"github.com/clinikapi/clinikapi/internal/redis"
	"github.com/clinikapi/clinikapi/internal/resource"
	"github.com/clinikapi/clinikapi/internal/store"
	"github.com/clinikapi/clinikapi/internal/suborg"
	"github.com/clinikapi/clinikapi/internal/usage"
	outbound "github.com/clinikapi/clinikapi/internal/webhook"
	"github.com/clinikapi/clinikapi/web"
	"github.com/clinikapi/clinikapi/web/api"
	"github.com/clinikapi/clinikapi/web/dashboard"
	"github.com/clinikapi/clinikapi/web/httperr"
	"github.com/clinikapi/clinikapi/web/webhook"
)

// Version is the program's version, shown in the CapabilityStatement.
var Version = "0.1.0"

// Options replace parts of the world in tests.
type Options struct {
	Now    func() time.Time // the clock; time.Now when nil
	Mailer mail.Mailer      // replaces SMTP / log mail
	// Subscriptions cancels subscriptions when an organization closes;
	// billing's (Stripe, or development billing) when nil.
	Subscriptions privacy.SubscriptionCanceller
	// WebhookResolver looks up webhook hosts (net.DefaultResolver when
	// nil); WebhookRoots are the CAs webhook receivers may present (the
	// system's when nil). Tests point both at a local receiver.
	WebhookResolver outbound.Resolver
	WebhookRoots    *x509.CertPool
	// Server marks the instance that serves requests (serve, bench). On
	// the embedded SQLite store it holds the data directory's lock while
	// it is open, so a second server on the same files fails to start
	// (store.LockDataDir); admin commands run beside a server.
	Server bool
	// WrapValidator, when set, wraps the FHIR validator every datastore
	// checks resources with: tests make a request fail inside the API
	// (a panicking validation) through it.
	WrapValidator func(datastore.Validator) datastore.Validator
	// PlainDatastores leaves the pages of the SQLite datastores
	// unencrypted. It exists for one measurement only, the encryption
	// comparison of clinikapi bench (whose plain side is a throw-away
	// directory); serve never sets it.
	PlainDatastores bool
}

// App is the assembled program.
type App struct {
	Config      config.Config
	Log         *slog.Logger
	DB          *store.DB
	Audit       *audit.Log
	Disclosures *disclosure.Log
	// MasterKey is the master key of encryption at rest, KeySource where
	// it came from and KeyFile its file, if any.
	MasterKey   encryption.Key
	KeySource   encryption.Source
	KeyFile     string
	Accounts    *account.Service
	Orgs        *org.Service
	Keys        *apikey.Service
	Usage       *usage.Recorder
	Quota       *quota.Meter
	Builtin     *builtin.Provider    // nil when Supabase Auth signs people in
	Redis       *redis.Client        // nil without REDIS_URL
	Data        *datastore.Router    // the FHIR datastores
	ReadCache   *store.ReadCache     // reads by id of every datastore; nil when off
	CacheSync   *store.CacheSync     // keeps ReadCache exact across PostgreSQL instances; nil on SQLite
	Records     *records.Service     // every data operation on FHIR resources
	Mover       *records.Mover       // moves live data when a plan changes datastore
	Idempotency *idempotency.Service // answers kept for retries with an Idempotency-Key
	Jobs        *jobs.Runner         // periodic background jobs
	Product     product.Tracker      // product analytics (PostHog or none)
	Consents    *product.Consents    // who refused product analytics
	Billing     *billing.Service     // Stripe, or development billing
	Analytics   *analytics.Service   // usage aggregates, request log, retention
	Bulk        *bulk.Service        // bulk export and import jobs
	Privacy     *privacy.Service     // organization closure, scheduled deletion, account deletion
	SubOrgs     *suborg.Service      // sub-organizations: a tenant each under one organization
	Webhooks    *outbound.Service    // outbound webhooks: endpoints, relay, dispatcher
	HTTP        http.Handler

	// StripeWebhook verifies webhook signatures; nil without STRIPE_WEBHOOK_SECRET.
	StripeWebhook billing.EventParser
	planInval     apikey.Invalidator
	forgetPlan    func(orgID string)
	supabase      *supabase.Provider // nil with built-in accounts
	sessionInval  apikey.Invalidator
	// sessionsListening is closed by the session listener's first
	// subscription (see SessionsListening).
	sessionsListening chan struct{}
	sessionsUp        sync.Once

	registry    *metrics.Registry // operator metrics, and the requests in flight
	closers     []func() error
	files       *encryption.Files // export files and staged imports
	stopWorkers func()
	now         func() time.Time
	opt         Options
}

// New builds the program: it opens and migrates the database and wires
// every service.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, opt Options) (*App, error) {
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	a := &App{Config: cfg, Log: log, now: now, opt: opt, sessionsListening: make(chan struct{})}
	// SQLite's page caches share one budget in the process, whatever the
	// number of databases (the read cache and API key cache take theirs
	// below).
	store.SetSQLitePageBudget(cfg.CacheMemory.SQLitePages())
	if opt.Server {
		log.Info("cache memory", "mib", int64(cfg.CacheMemory)>>20, "set_by", "CLINIKAPI_CACHE_MEMORY (default: an eighth of the memory the process may use, 256 MiB to 4 GiB)")
		// Collect less often where memory allows: garbage may grow to
		// half the cache budget (see memory.TuneGC).
		memory.TuneGC(cfg.CacheMemory.GCHeadroom(), cfg.GOGCSet)
		if cfg.GOGCSet {
			log.Info("garbage collector paced by GOGC")
		} else {
			log.Info("garbage collector paced by the cache budget", "headroom_mib", cfg.CacheMemory.GCHeadroom()>>20, "gogc_now", memory.TunedGCPercent())
		}
	}
	// The database out of reach for now is answered 503, not 500.
	httperr.Transient = store.Unavailable
	if opt.Server && cfg.DatabaseURL == "" {
		release, err := store.LockDataDir(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, release)
	}
	db, err := store.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.DB = db
	a.closers = append(a.closers, db.Close)
	if err := db.Migrate(ctx, log); err != nil {
		a.Close()
		return nil, err
	}
	// Audit events written before the trail was a hash chain join it now
	// (once: they are chained from then on).
	if n, err := db.ChainAuditBacklog(ctx); err != nil {
		a.Close()
		return nil, fmt.Errorf("chaining the audit trail: %w", err)
	} else if n > 0 {
		log.Info("audit trail: earlier events chained", "events", n)
	}

	if err := a.openKeys(ctx); err != nil {
		a.Close()
		return nil, err
	}

	mailer := opt.Mailer
	if mailer == nil {
		if cfg.SMTP.URL != "" {
			if mailer, err = mail.NewSMTP(cfg.SMTP.URL, cfg.SMTP.From); err != nil {
				a.Close()
				return nil, err
			}
		} else {
			mailer = mail.Log{Logger: log}
		}
	}

	// Shared state across instances: Redis when configured, else the
	// database's own LISTEN/NOTIFY for key revocation and per-instance
	// memory for rate limits.
	var limiter ratelimit.Limiter = ratelimit.NewMemory(now)
	var inval apikey.Invalidator
	if n := db.KeyNotifier(cfg.DatabaseURL, log); n != nil {
		inval = n
	}
	if cfg.RedisURL != "" {
		rc, err := redis.Open(ctx, cfg.RedisURL, cfg.RedisPrefix, log, now)
		if err != nil {
			a.Close()
			return nil, err
		}
		a.closers = append(a.closers, rc.Close)
		a.Redis = rc
		limiter, inval = rc, rc
	}

	a.Audit = audit.New(db, log, now)
	a.Disclosures = disclosure.New(db, log, now)
	provider, err := a.identityProvider(cfg, mailer, now, inval)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.Accounts = account.NewService(provider, db, a.Audit, limiter, log, now)
	a.Orgs = org.NewService(db, a.Audit, mailer, cfg.BaseURL, log, now)
	a.Keys = apikey.NewService(db, a.Audit, inval, log, now)
	a.Keys.SetCacheBudget(cfg.CacheMemory.APIKeys())
	a.SubOrgs = &suborg.Service{Store: db, Audit: a.Audit, Now: now}
	a.Keys.Tenants = a.SubOrgs
	a.Usage = usage.NewRecorder(db, log)
	a.Quota = quota.NewMeter(db, now)
	a.Jobs = jobs.New(db, log, now)
	a.Consents = product.NewConsents(cfg.PostHog.Enabled(), db, a.Audit, log, now)
	if a.Product, err = a.productTracker(cfg, log); err != nil {
		a.Close()
		return nil, err
	}
	a.Accounts.Product = a.Product
	a.Analytics = &analytics.Service{Store: db, Audit: a.Audit, Now: now}
	a.Analytics.Register(a.Jobs)

	data, index, cursorSecret, err := a.fhirParts(ctx, opt)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.Data = data
	a.closers = append(a.closers, data.Close)
	orgPlans := &api.OrgPlans{Now: now, TTL: 10 * time.Second, Lookup: func(ctx context.Context, orgID string) (api.OrgPlan, error) {
		o, err := db.FindOrg(ctx, orgID)
		if err != nil {
			return api.OrgPlan{}, err
		}
		live, err := db.LiveDatastore(ctx, orgID)
		return api.OrgPlan{Plan: o.Plan, PerMinute: o.RateLimitPerMin, LiveDatastore: live}, err
	}}
	a.Keys.Types = resource.Names{FHIR: index.Types()}
	a.Keys.Uses = db
	if c := db.KeyChanges(log); c != nil {
		a.Keys.Changes = c // an admin command's key change reaches a server beside it
	}
	a.Keys.PlanLimit = func(ctx context.Context, orgID string) (int, error) {
		pl, err := orgPlans.PlanOf(ctx, orgID)
		return pl.PerMinute, err
	}
	contract, err := resource.LoadDefaultContract()
	if err != nil {
		a.Close()
		return nil, err
	}
	a.Records = &records.Service{
		Data: data, Plans: orgPlans, Contract: contract, Index: index, Normalize: searchparam.Normalize,
		Placement: orgPlans,
		Cursors:   datastore.Cursors{Secret: cursorSecret}, Audit: a.Audit, Disclosures: a.Disclosures, Now: now,
		Names: func(ctx context.Context) ([]string, error) {
			return store.DatastoreNames(ctx, cfg.DatabaseURL, cfg.DataDir)
		},
	}
	a.registry = a.metrics()
	if err := a.webhooks(ctx, opt); err != nil {
		a.Close()
		return nil, err
	}
	// The embedded SQLite store has one server (store.LockDataDir), which
	// can keep claims in memory; instances sharing PostgreSQL claim in it.
	a.Idempotency = &idempotency.Service{Store: db, Now: now, Wait: 10 * time.Second, Poll: 20 * time.Millisecond, Stale: 2 * time.Minute,
		Local: cfg.DatabaseURL == ""}
	if err := a.Idempotency.Load(ctx, 1_000_000); err != nil {
		a.Close()
		return nil, err
	}
	a.Jobs.Register(jobs.Job{Kind: "retention.idempotency_keys", Every: time.Hour, Run: func(ctx context.Context) (jobs.Result, error) {
		n, err := a.Idempotency.Purge(ctx)
		return jobs.Result{Summary: "deleted " + strconv.FormatInt(n, 10) + " idempotency keys older than 24 hours", Counts: map[string]int64{"keys": n}}, err
	}})
	a.newBilling(cfg, orgPlans, inval)
	a.Mover = &records.Mover{Records: a.Records, Store: db, Log: log, Now: now, Grace: 30 * time.Second, Changed: a.planChanged,
		SubTenants: func(ctx context.Context, orgID string) ([]string, error) {
			subs, err := a.SubOrgs.List(ctx, orgID)
			ids := make([]string, len(subs))
			for i, so := range subs {
				ids[i] = so.ID
			}
			return ids, err
		}}
	subs := opt.Subscriptions
	if subs == nil {
		subs = a.Billing
	}
	if err := a.dataRights(ctx, orgPlans, subs); err != nil {
		a.Close()
		return nil, err
	}

	srv := &web.Server{
		Dashboard: &dashboard.Handler{
			Accounts: a.Accounts, Orgs: a.Orgs, Keys: a.Keys, Audit: a.Audit, Disclosures: a.Disclosures, Log: log,
			Billing: a.Billing, Analytics: a.Analytics, Quota: a.Quota,
			BaseURL: cfg.BaseURL, SecureCookies: cfg.SecureCookies(), SessionMaxAge: cfg.SessionMaxAge, Now: now,
			Product: a.Product, Consents: a.Consents,
			Bulk: a.Bulk, Privacy: a.Privacy, SubOrgs: a.SubOrgs, Webhooks: a.Webhooks, Moves: a.Mover, Records: a.Records,
		},
		API: &api.Pipeline{
			Keys:        a.Keys,
			Limiter:     limiter,
			Quota:       a.Quota,
			Usage:       a.Usage,
			Now:         now,
			Plans:       orgPlans,
			Overage:     a.Billing.OverageOn,
			Idempotency: a.Idempotency,
			Records:     a.Records,
		},
		FHIR:         &api.FHIR{Records: a.Records, BaseURL: cfg.BaseURL, Types: index.Types()},
		Capabilities: &api.Capabilities{Types: index.Types(), Params: index, BaseURL: cfg.BaseURL, Version: Version, Started: now(), Keys: a.Keys},
		Stripe:       &webhook.Stripe{Billing: a.Billing, Parser: a.StripeWebhook, Log: log},
		DB:           a.readiness(), Jobs: a.Jobs, Log: log, Now: now, TLS: cfg.TLS.Enabled(), TrustProxy: cfg.TrustProxy,
		Metrics: a.registry, MetricsToken: cfg.MetricsToken,
	}
	srv.Resources = &api.Resources{Records: a.Records, BaseURL: cfg.BaseURL}
	srv.Bulk = &api.Bulk{Jobs: a.Bulk, BaseURL: cfg.BaseURL, Now: now}
	a.HTTP = srv.Handler()
	return a, nil
}

// identityProvider picks Supabase Auth when configured, built-in accounts otherwise.
func (a *App) identityProvider(cfg config.Config, mailer mail.Mailer, now func() time.Time, inval apikey.Invalidator) (account.Provider, error) {
	if cfg.Supabase.Enabled() {
		return a.newSupabase(cfg, now, a.Log, inval)
	}
	a.Builtin = builtin.New(a.DB, mailer, builtin.Options{
		IdleTimeout: cfg.SessionIdleTimeout, MaxAge: cfg.SessionMaxAge, BaseURL: cfg.BaseURL, Now: now,
	})
	return a.Builtin, nil
}

// CreateUser makes a built-in account and its organization (operator command).
func (a *App) CreateUser(ctx context.Context, email, password, name, orgName string) (account.User, org.Organization, error) {
	if a.Builtin == nil {
		return account.User{}, org.Organization{}, errors.New("create-user makes built-in accounts, but Supabase Auth is configured (SUPABASE_URL): create the user in Supabase and invite them from the dashboard")
	}
	email, err := account.NormalizeEmail(email)
	if err != nil {
		return account.User{}, org.Organization{}, err
	}
	if err := account.CheckPassword(password, email, name); err != nil {
		return account.User{}, org.Organization{}, err
	}
	if orgName, err = org.CheckName(orgName); err != nil {
		return account.User{}, org.Organization{}, err
	}
	u, err := a.Builtin.Register(ctx, email, password, name)
	if err != nil {
		return account.User{}, org.Organization{}, err
	}
	a.Audit.Record(ctx, audit.Event{ActorType: audit.ActorSystem, ActorID: "cli", Action: audit.UserSignedUp, TargetType: "user", TargetID: u.ID})
	o, err := a.Orgs.CreateForSystem(ctx, u.ID, orgName)
	if err != nil {
		return account.User{}, org.Organization{}, err
	}
	return u, o, nil
}

// Close stops the background work, writes what is still buffered, and
// releases everything New acquired, in reverse order.
func (a *App) Close() error {
	var errList []error
	if a.stopWorkers != nil {
		a.stopWorkers()
		a.stopWorkers = nil
	}
	if a.Usage != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := a.Flush(ctx); err != nil {
			errList = append(errList, err)
		}
		cancel()
		a.Usage = nil
	}
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](); err != nil {
			errList = append(errList, err)
		}
	}
	a.closers = nil
	return errors.Join(errList...)
}

// readiness checks every shared engine the instance depends on.
func (a *App) readiness() web.Pinger {
	return pingAll{a}
}

type pingAll struct{ a *App }

func (p pingAll) Ping(ctx context.Context) error {
	if err := p.a.DB.Ping(ctx); err != nil {
		return err
	}
	if p.a.Redis != nil {
		return p.a.Redis.Ping(ctx)
	}
	return nil
}
