package app

import (
	"context"
	"fmt"
	"sort"

	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/fhir"
	"github.com/clinikapi/clinikapi/internal/fhir/searchparam"
	"github.com/clinikapi/clinikapi/internal/fhir/validate"
	"github.com/clinikapi/clinikapi/internal/resource"
	"github.com/clinikapi/clinikapi/internal/store"
)

// schemaValidator adapts the R4 JSON-schema validator to the datastore.
type schemaValidator struct{ v *validate.Validator }

func (s schemaValidator) Validate(resourceType string, res fhir.Resource) []datastore.Issue {
	issues := s.v.ValidateValue(resourceType, map[string]any(res))
	if len(issues) == 0 {
		return nil
	}
	out := make([]datastore.Issue, len(issues))
	for i, is := range issues {
		out[i] = datastore.Issue{Path: is.Path, Constraint: is.Constraint}
	}
	return out
}

// registryIndex adapts the search-parameter registry to the datastore.
// With everyParameter it keeps every value under every parameter (no
// Compact): searches read the same either way.
type registryIndex struct {
	r              *searchparam.Registry
	everyParameter bool
}

func (x registryIndex) Extract(res fhir.Resource) ([]fhir.Value, error) { return x.r.Extract(res) }
func (x registryIndex) Compact(t string, vals []fhir.Value) []fhir.Value {
	if x.everyParameter {
		return vals
	}
	return x.r.Compact(t, vals)
}
func (x registryIndex) Lookup(t, code string) (fhir.SearchParam, bool) { return x.r.Lookup(t, code) }
func (x registryIndex) Types() []string                                { return x.r.Types() }

// Params lists a type's search parameters (for the CapabilityStatement).
func (x registryIndex) Params(t string) []fhir.SearchParam {
	m := x.r.For(t)
	out := make([]fhir.SearchParam, 0, len(m))
	for _, p := range m {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// fhirParts builds the datastore router over SQLite files or PostgreSQL
// schemas, with schema validation and the search index (the R4 search
// parameters plus those over ClinikAPI's extensions, resource.Index).
func (a *App) fhirParts(ctx context.Context, opt Options) (*datastore.Router, resource.Index, []byte, error) {
	reg := resource.Index{Base: registryIndex{r: searchparam.Default(), everyParameter: a.Config.SearchIndexEveryParameter}}
	val := schemaValidator{validate.Default()}
	var checker datastore.Validator = val
	if opt.WrapValidator != nil {
		checker = opt.WrapValidator(val)
	}
	// Compile every type's schema in the background so no request pays
	// the first-use compile (about 1 ms per type).
	go func() {
		if err := val.v.Precompile(); err != nil {
			a.Log.Error("FHIR schema precompile failed", "err", err)
		}
	}()
	cfg := a.Config
	if !cfg.ReadCacheOff {
		a.ReadCache = store.NewReadCache(cfg.CacheMemory.ReadCache())
		if cfg.DatabaseURL != "" && a.ReadCache != nil {
			// Other instances write the same tables: the cache serves
			// while Start runs the sync that keeps it exact.
			a.CacheSync = store.NewCacheSync(a.DB, cfg.DatabaseURL, a.ReadCache, a.Log)
		}
	}
	router := datastore.NewRouter(func(ctx context.Context, name string) (datastore.Backend, error) {
		key, err := a.DatastoreKey(ctx, name)
		if err != nil {
			return nil, err
		}
		d, err := store.OpenDatastore(ctx, cfg.DatabaseURL, cfg.DataDir, name, key, a.ReadCache, a.Log)
		if err == nil {
			d.SetTenantShare(cfg.TenantShare)
		}
		return d, err
	}, checker, reg, a.now)
	router.SetBudget(cfg.QueryTimeout)
	secret, err := a.DB.ServerSecret(ctx, "cursor")
	if err != nil {
		return nil, reg, nil, err
	}
	return router, reg, secret, nil
}

// Reindex rewrites the search index of every datastore from the stored
// resources (datastore.Store.Reindex), calling report as each is done.
func (a *App) Reindex(ctx context.Context, everyParameter bool, report func(name string, st datastore.ReindexStats)) error {
	names, err := store.DatastoreNames(ctx, a.Config.DatabaseURL, a.Config.DataDir)
	if err != nil {
		return err
	}
	for _, name := range names {
		s, err := a.Data.Named(ctx, name)
		if err != nil {
			return err
		}
		st, err := s.Reindex(ctx, everyParameter)
		if err != nil {
			return fmt.Errorf("datastore %s: %w", name, err)
		}
		report(name, st)
	}
	return nil
}
