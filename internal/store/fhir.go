package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/fair"
	"github.com/clinikapi/clinikapi/internal/fhir"
)

// Datastore is the SQL backend of one FHIR datastore: a SQLite file of its
// own, or a PostgreSQL schema of its own. Every statement filters on the
// tenant.
type Datastore struct {
	db     *DB
	get    *sql.Stmt // the read by id, prepared once: parsing it costs more than running it
	writes *committer
	cache  *ReadCache // shared by the process's datastores; nil when off
	// cacheID tells this datastore's entries in the shared cache apart.
	cacheID uint64
	// sync, on PostgreSQL, keeps the cache exact across instances (see
	// CacheSync); schema names the datastore in its notifications.
	sync   *CacheSync
	schema string
	reads  *readBatcher   // PostgreSQL only
	create *createBatcher // PostgreSQL only
	// work, searches, commits and creates share the connections and the
	// commit and create batches fairly between tenants (see fhir_fair.go);
	// searches is PostgreSQL only, commits SQLite only (where creates is
	// commits).
	work, searches, commits, creates *fair.Gate
}

// maxCachedRows bounds the multi-row index INSERTs kept prepared: a
// resource's rows of one table (a Patient has 15 strings) fit; a rare
// larger batch is parsed each time.
const maxCachedRows = 32

// exec runs a write statement in tx: prepared once and reused on SQLite's
// writing connection, parsed each time on PostgreSQL (where each write
// takes a pooled connection).
func (d *Datastore) exec(ctx context.Context, tx *sql.Tx, cache bool, query string, args ...any) (sql.Result, error) {
	if d.writes == nil || !cache {
		return tx.ExecContext(ctx, query, args...)
	}
	// A create runs about ten statements, and parsing one costs about as
	// much as running it, inside the one writer's turn.
	st, err := d.db.prepared(ctx, query, func() string { return query })
	if err != nil {
		return nil, err
	}
	return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
}

var _ datastore.Backend = (*Datastore)(nil)

var schemaName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// OpenDatastore opens (creating and migrating) the datastore called name:
// the SQLite file fhir-<name>.db under dataDir, or, with a PostgreSQL
// databaseURL, the schema fhir_<name> in that database. Reads by id are
// served from cache, which every datastore of the process shares (nil:
// none); see ReadCache for why it is exact. On PostgreSQL, which other
// instances write too, only a cache with a CacheSync serves, while the
// sync runs (see CacheSync). key, on SQLite, is the file's data
// key: its pages are encrypted with it (a plain file is encrypted in place
// first); nil keeps them plain.
func OpenDatastore(ctx context.Context, databaseURL, dataDir, name string, key []byte, cache *ReadCache, log *slog.Logger) (*Datastore, error) {
	if !schemaName.MatchString(name) {
		return nil, fmt.Errorf("datastore name %q is not valid", name)
	}
	var db *DB
	var err error
	schema := datastoreSchema(databaseURL, name)
	if databaseURL == "" {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, err
		}
		path := DatastoreFile(dataDir, name)
		if key != nil {
			if err := EncryptDatastoreFile(ctx, path, key, log); err != nil {
				return nil, err
			}
		}
		db, err = OpenSQLite(ctx, path, key)
	} else {
		db, err = openSchema(ctx, databaseURL, schema)
	}
	if err != nil {
		return nil, err
	}
	if err := db.migrate(ctx, log, "fhir/"+string(db.dialect)); err != nil {
		db.Close()
		return nil, err
	}
	get, err := db.sql.PrepareContext(ctx, `SELECT `+recordColumns+` FROM resources WHERE tenant = $1 AND type = $2 AND id = $3`)
	if err != nil {
		db.Close()
		return nil, err
	}
	d := &Datastore{db: db, get: get}
	if db.dialect == SQLite {
		// SQLite has one writer at a time: batch writes into shared
		// commits. PostgreSQL runs writes in parallel; only its creates,
		// the bulk of writes, are batched (createBatcher).
		d.writes = newCommitter(db)
		d.writes.writers = d.commitWriters
		if cache != nil {
			d.cache, d.cacheID = cache, cache.register()
		}
	} else {
		d.reads, d.create = newReadBatcher(db), newCreateBatcher(db)
		if cache != nil && cache.sync != nil {
			d.cache, d.sync, d.schema = cache, cache.sync, schema
			d.cacheID = d.sync.register(schema)
		}
	}
	d.setGates(0)
	return d, nil
}

// write runs fn in a transaction: batched on SQLite, its own on
// PostgreSQL. after, if not nil, runs exactly once, when that transaction
// has ended, even when ctx is cancelled first (see committer.do).
func (d *Datastore) write(ctx context.Context, fn txFunc, after func()) error {
	if d.writes != nil {
		return d.writes.do(ctx, fn, after)
	}
	err := d.db.tx(ctx, func(tx *sql.Tx) error { return fn(ctx, tx) })
	if after != nil {
		after()
	}
	return err
}

// DatastoreFile is the SQLite file of the datastore called name.
func DatastoreFile(dataDir, name string) string {
	return filepath.Join(dataDir, "fhir-"+name+".db")
}

// EncryptDatastoreFile encrypts a plain datastore file in place, saying so.
func EncryptDatastoreFile(ctx context.Context, path string, key []byte, log *slog.Logger) error {
	start := time.Now()
	done, err := EncryptSQLiteInPlace(ctx, path, key)
	if err != nil {
		return err
	}
	if done {
		log.Info("encryption at rest: datastore file encrypted in place (AES-256 pages); it opens only with its data key from now on",
			"file", filepath.Base(path), "took", time.Since(start).Round(time.Millisecond).String())
	}
	return nil
}

// datastoreSchema names the PostgreSQL schema of a datastore: fhir_<name>,
// or <control schema>_fhir_<name> when DATABASE_URL sets a search_path, so
// that deployments (and tests) sharing one database keep apart.
func datastoreSchema(databaseURL, name string) string {
	if u, err := url.Parse(databaseURL); err == nil {
		if sp := u.Query().Get("search_path"); sp != "" && schemaName.MatchString(sp) {
			return sp + "_fhir_" + name
		}
	}
	return "fhir_" + name
}

// DatastoreNames lists the datastores that exist: the fhir-<name>.db files
// under dataDir, or the datastore schemas of the PostgreSQL database.
func DatastoreNames(ctx context.Context, databaseURL, dataDir string) ([]string, error) {
	var names []string
	if databaseURL == "" {
		files, err := filepath.Glob(filepath.Join(dataDir, "fhir-*.db"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "fhir-"), ".db")
			if schemaName.MatchString(name) {
				names = append(names, name)
			}
		}
		return names, nil
	}
	db, err := openPostgres(ctx, databaseURL)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	prefix := datastoreSchema(databaseURL, "")
	rows, err := db.sql.QueryContext(ctx, `SELECT schema_name FROM information_schema.schemata WHERE starts_with(schema_name, $1) ORDER BY schema_name`, prefix)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		if name := strings.TrimPrefix(s, prefix); schemaName.MatchString(name) {
			names = append(names, name)
		}
	}
	return names, rows.Err()
}

// openSchema connects to databaseURL with search_path set to schema,
// creating the schema first.
func openSchema(ctx context.Context, databaseURL, schema string) (*DB, error) {
	admin, err := openPostgres(ctx, databaseURL)
	if err != nil {
		return nil, err
	}
	_, err = admin.sql.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS `+schema)
	admin.Close()
	if err != nil && !isUnique(err) { // concurrent creators race on the catalog
		return nil, fmt.Errorf("create schema %s: %w", schema, err)
	}
	u, err := url.Parse(databaseURL)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return openPostgres(ctx, u.String())
}

// Close implements datastore.Backend.
func (d *Datastore) Close() error {
	if d.writes != nil {
		d.writes.close()
	}
	if d.cache != nil {
		if d.sync != nil {
			d.sync.forgetSchema(d.schema, d.cacheID)
		}
		d.cache.forgetDatastore(d.cacheID)
	}
	d.get.Close()
	return d.db.Close()
}

// Analyze implements datastore.Backend. On PostgreSQL it vacuums too:
// rows written since the last vacuum are not yet marked visible to all,
// so an index-only scan (a search's ids, the order of its page) would
// visit each of their table rows; autovacuum gets there, but only some
// time after a bulk load. It covers the datastore's own tables only: the
// database also holds the control plane (and the other datastores), whose
// statistics taken in passing — the audit trail or usage records of a
// young instance, nearly empty — would stand for them until autovacuum
// next analyzes them, if it runs at all, and plans chosen on those
// estimates scan whole tables.
func (d *Datastore) Analyze(ctx context.Context) error {
	return d.db.writing(func() error {
		stmt := `ANALYZE`
		if d.db.dialect == Postgres {
			tables, err := d.tables(ctx)
			if err != nil {
				return err
			}
			stmt = `VACUUM (ANALYZE) ` + strings.Join(tables, ", ")
		}
		_, err := d.db.sql.ExecContext(ctx, stmt)
		return err
	})
}

// tables lists the datastore's tables on PostgreSQL (its schema's),
// quoted and qualified for a statement.
func (d *Datastore) tables(ctx context.Context) ([]string, error) {
	rows, err := d.db.sql.QueryContext(ctx, `SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables
		WHERE schemaname = current_schema() ORDER BY tablename`)
	if err != nil {
		return nil, err
	}
	out, err := scanStrings(rows)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("datastore schema has no tables")
	}
	return out, nil
}

// scanStrings reads rows of one text column and closes them.
func scanStrings(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// SQL exposes the pool for tests that inspect raw tables.
func (d *Datastore) SQL() *sql.DB { return d.db.sql }

const recordColumns = `type, id, version, last_updated, deleted, content`

func scanRecord(row interface{ Scan(...any) error }) (datastore.Record, error) {
	var r datastore.Record
	var lu int64
	var content string
	if err := row.Scan(&r.Type, &r.ID, &r.Version, &lu, &r.Deleted, &content); err != nil {
		return datastore.Record{}, err
	}
	r.LastUpdated = time.UnixMicro(lu).UTC()
	r.Content = []byte(content)
	return r, nil
}

func scanRecords(rows *sql.Rows) ([]datastore.Record, error) {
	defer rows.Close()
	var out []datastore.Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Insert implements datastore.Backend.
// A new resource has nothing to invalidate in the read cache: misses are
// not cached.
func (d *Datastore) Insert(ctx context.Context, tenant datastore.Tenant, rec datastore.Record, idx []fhir.Value) error {
	release, err := d.createSlot(ctx, tenant)
	if err != nil {
		return err
	}
	defer release()
	if d.create != nil {
		_, rows := d.indexRows(tenant, rec, idx)
		return d.create.create(ctx, tenant, rec, rows)
	}
	return d.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := d.fenced(ctx, tx, tenant); err != nil {
			return err
		}
		if _, err := d.exec(ctx, tx, true, `INSERT INTO resources (tenant, `+recordColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			string(tenant), rec.Type, rec.ID, rec.Version, rec.LastUpdated.UnixMicro(), rec.Deleted, string(rec.Content)); err != nil {
			if isUnique(err) {
				return errs.E(errs.Conflict, "%s/%s already exists.", rec.Type, rec.ID)
			}
			return err
		}
		if err := d.insertHistory(ctx, tx, tenant, rec); err != nil {
			return err
		}
		if err := d.insertOutbox(ctx, tx, rec); err != nil {
			return err
		}
		return d.insertIndex(ctx, tx, tenant, rec, idx)
	}, nil)
}

// insertOutbox stores a write's events in its transaction: its audit
// event and its webhook event, each in its own outbox.
func (d *Datastore) insertOutbox(ctx context.Context, tx *sql.Tx, rec datastore.Record) error {
	if len(rec.Outbox) > 0 {
		if _, err := d.exec(ctx, tx, true, `INSERT INTO audit_outbox (event) VALUES ($1)`, string(rec.Outbox)); err != nil {
			return err
		}
	}
	if len(rec.Webhook) > 0 {
		if _, err := d.exec(ctx, tx, true, `INSERT INTO webhook_outbox (event) VALUES ($1)`, string(rec.Webhook)); err != nil {
			return err
		}
	}
	return nil
}

var (
	_ datastore.OutboxBackend  = (*Datastore)(nil)
	_ datastore.WebhookBackend = (*Datastore)(nil)
)

// OutboxEvents implements datastore.OutboxBackend.
func (d *Datastore) OutboxEvents(ctx context.Context, limit int) ([]datastore.OutboxEvent, error) {
	return d.outboxEvents(ctx, "audit_outbox", limit)
}

// DeleteOutbox implements datastore.OutboxBackend.
func (d *Datastore) DeleteOutbox(ctx context.Context, seqs []int64) error {
	return d.deleteOutbox(ctx, "audit_outbox", seqs)
}

// WebhookEvents implements datastore.WebhookBackend.
func (d *Datastore) WebhookEvents(ctx context.Context, limit int) ([]datastore.OutboxEvent, error) {
	return d.outboxEvents(ctx, "webhook_outbox", limit)
}

// DeleteWebhookEvents implements datastore.WebhookBackend.
func (d *Datastore) DeleteWebhookEvents(ctx context.Context, seqs []int64) error {
	return d.deleteOutbox(ctx, "webhook_outbox", seqs)
}

// outboxEvents reads the oldest events of an outbox table.
func (d *Datastore) outboxEvents(ctx context.Context, table string, limit int) ([]datastore.OutboxEvent, error) {
	rows, err := d.db.sql.QueryContext(ctx, `SELECT seq, event FROM `+table+` ORDER BY seq LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []datastore.OutboxEvent
	for rows.Next() {
		var e datastore.OutboxEvent
		var ev string
		if err := rows.Scan(&e.Seq, &ev); err != nil {
			return nil, err
		}
		e.Event = []byte(ev)
		out = append(out, e)
	}
	return out, rows.Err()
}

// deleteOutbox deletes events of an outbox table by their numbers, not a
// range of them: on PostgreSQL a transaction that took a lower number may
// commit after a higher one was read.
func (d *Datastore) deleteOutbox(ctx context.Context, table string, seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	var b strings.Builder
	args := make([]any, len(seqs))
	for i, seq := range seqs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(i+1))
		args[i] = seq
	}
	return d.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := d.exec(ctx, tx, false, `DELETE FROM `+table+` WHERE seq IN (`+b.String()+`)`, args...)
		return err
	}, nil)
}

func (d *Datastore) insertHistory(ctx context.Context, tx *sql.Tx, tenant datastore.Tenant, rec datastore.Record) error {
	_, err := d.exec(ctx, tx, true, `INSERT INTO resource_history (tenant, `+recordColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		string(tenant), rec.Type, rec.ID, rec.Version, rec.LastUpdated.UnixMicro(), rec.Deleted, string(rec.Content))
	return err
}

// hold holds rec's resource in the read cache for a write (see
// readCache): it returns the release to run once the write's transaction
// has ended, or nil without a cache.
func (d *Datastore) hold(tenant datastore.Tenant, rec datastore.Record) func() {
	if d.cache == nil {
		return nil
	}
	k := d.key(tenant, rec.Type, rec.ID)
	d.cache.hold(k)
	return func() { d.cache.release(k) }
}

// key is a resource's key in the read cache.
func (d *Datastore) key(tenant datastore.Tenant, typ, id string) cacheKey {
	return cacheKey{d.cacheID, string(tenant), typ, id}
}

// Get implements datastore.Backend.
func (d *Datastore) Get(ctx context.Context, tenant datastore.Tenant, typ, id string) (datastore.Record, error) {
	var k cacheKey
	var gen uint64
	// On PostgreSQL the cache serves only while it is known to be in step
	// with the other instances (CacheSync.healthy).
	cached := d.cache != nil && (d.sync == nil || d.sync.healthy())
	if cached {
		k = d.key(tenant, typ, id)
		if r, ok := d.cache.get(k); ok {
			return r, nil
		}
		gen = d.cache.begin(k)
	}
	var r datastore.Record
	var err error
	if d.reads != nil {
		r, err = d.reads.get(ctx, string(tenant), typ, id)
	} else if r, err = scanRecord(d.get.QueryRowContext(ctx, string(tenant), typ, id)); err != nil {
		err = notFound(err, typ+" not found.")
	}
	if err != nil {
		return r, err
	}
	if cached {
		d.cache.put(k, r, gen)
	}
	return r, nil
}

// Replace implements datastore.Backend.
func (d *Datastore) Replace(ctx context.Context, tenant datastore.Tenant, rec datastore.Record, prev int, idx []fhir.Value) error {
	release, err := d.writeSlot(ctx, tenant)
	if err != nil {
		return err
	}
	defer release()
	fn := func(ctx context.Context, tx *sql.Tx) error {
		if err := d.fenced(ctx, tx, tenant); err != nil {
			return err
		}
		if prev == 0 {
			if _, err := d.exec(ctx, tx, true, `INSERT INTO resources (tenant, `+recordColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				string(tenant), rec.Type, rec.ID, rec.Version, rec.LastUpdated.UnixMicro(), rec.Deleted, string(rec.Content)); err != nil {
				if isUnique(err) {
					return errs.E(errs.Conflict, "Version conflict: %s/%s was created meanwhile.", rec.Type, rec.ID)
				}
				return err
			}
		} else {
			res, err := d.exec(ctx, tx, true, `UPDATE resources SET version = $1, last_updated = $2, deleted = $3, content = $4
				WHERE tenant = $5 AND type = $6 AND id = $7 AND version = $8`,
				rec.Version, rec.LastUpdated.UnixMicro(), rec.Deleted, string(rec.Content), string(tenant), rec.Type, rec.ID, prev)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return errs.E(errs.Conflict, "Version conflict: %s/%s changed meanwhile.", rec.Type, rec.ID)
			}
		}
		if err := d.insertHistory(ctx, tx, tenant, rec); err != nil {
			return err
		}
		if err := d.insertOutbox(ctx, tx, rec); err != nil {
			return err
		}
		if err := d.deleteIndex(ctx, tx, tenant, rec); err != nil {
			return err
		}
		if rec.Deleted {
			return nil
		}
		return d.insertIndex(ctx, tx, tenant, rec, idx)
	}
	finish := func(context.Context, error) {}
	if prev != 0 { // a resource that does not exist yet is in no instance's cache
		fn, finish = d.invalidating(tenant, rec.Type, rec.ID, fn)
	}
	err = d.write(ctx, fn, d.hold(tenant, rec))
	finish(ctx, err)
	return err
}

// invalidating wraps fn, a transaction's writes that change tenant's
// resource typ/id (every resource of tenant when typ is empty): on
// PostgreSQL with the read cache, its invalidation is sent in the
// transaction, and finish, called with the transaction's outcome, waits
// for the other instances to have dropped the resource (see CacheSync).
func (d *Datastore) invalidating(tenant datastore.Tenant, typ, id string, fn txFunc) (txFunc, func(context.Context, error)) {
	if d.sync == nil {
		return fn, func(context.Context, error) {}
	}
	var n uint64
	wrapped := func(ctx context.Context, tx *sql.Tx) error {
		var err error
		if n, err = d.sync.invalidate(ctx, tx, d.schema, tenant, typ, id); err != nil {
			return err
		}
		return fn(ctx, tx)
	}
	return wrapped, func(ctx context.Context, err error) {
		switch {
		case n == 0:
		case err != nil:
			d.sync.done(n)
		default:
			d.sync.await(ctx, n, time.Now())
		}
	}
}

// deleteIndex deletes every search-index row of rec's resource.
func (d *Datastore) deleteIndex(ctx context.Context, tx *sql.Tx, tenant datastore.Tenant, rec datastore.Record) error {
	for _, t := range indexTables {
		if _, err := d.exec(ctx, tx, true, `DELETE FROM `+t+` WHERE tenant = $1 AND type = $2 AND id = $3`, string(tenant), rec.Type, rec.ID); err != nil {
			return err
		}
	}
	return nil
}

var indexTables = []string{"idx_string", "idx_token", "idx_reference", "idx_date", "idx_number", "idx_uri"}

// indexRow is one row for one index table.
type indexRow struct {
	table string
	cols  string
	vals  []any
}

func indexRowOf(v fhir.Value) (indexRow, bool) {
	switch v.Type {
	case fhir.String:
		return indexRow{"idx_string", "text, exact", []any{v.Text, v.Exact}}, true
	case fhir.Token:
		return indexRow{"idx_token", "system, code", []any{v.System, v.Code}}, true
	case fhir.Reference:
		return indexRow{"idx_reference", "ref_type, ref_id, url", []any{v.RefType, v.RefID, v.URL}}, true
	case fhir.Date:
		return indexRow{"idx_date", "start_at, end_at", []any{micros(v.Start), micros(v.End)}}, true
	case fhir.Number, fhir.Quantity:
		if math.IsNaN(v.Number) || math.IsInf(v.Number, 0) {
			return indexRow{}, false
		}
		return indexRow{"idx_number", "value, system, code", []any{v.Number, v.System, v.Code}}, true
	case fhir.URI:
		return indexRow{"idx_uri", "url", []any{v.URL}}, true
	}
	return indexRow{}, false
}

// redundant reports index values the resources table already answers: the
// id and last-updated columns, and the tenant tag (every row has a tenant).
func redundant(v fhir.Value) bool {
	return v.Param == "_id" || v.Param == "_lastUpdated" || (v.Param == "_tag" && v.System == datastore.TenantSystem)
}

// micros maps a time to unix microseconds; the zero time (an open start)
// becomes the smallest value.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64 / 2
	}
	return t.UnixMicro()
}

// indexStatement is one multi-row INSERT of index rows.
type indexStatement struct {
	query string
	args  []any
	rows  int
}

// indexRows gives rec's index rows by table, with the tables in the order
// of their first row. Each row's vals are its whole row: tenant, type, id,
// param, then the table's own columns.
func (d *Datastore) indexRows(tenant datastore.Tenant, rec datastore.Record, idx []fhir.Value) (order []string, byTable map[string][]indexRow) {
	byTable = map[string][]indexRow{}
	for _, v := range idx {
		if redundant(v) {
			continue
		}
		row, ok := indexRowOf(v)
		if !ok {
			continue
		}
		row.vals = append([]any{string(tenant), rec.Type, rec.ID, v.Param}, row.vals...)
		if row.table == "idx_string" && d.db.dialect == Postgres {
			// The resource's last_updated, so a name search sorts its
			// matches from the index alone (see stringPage).
			row.cols += ", last_updated"
			row.vals = append(row.vals, rec.LastUpdated.UnixMicro())
		}
		if byTable[row.table] == nil {
			order = append(order, row.table)
		}
		byTable[row.table] = append(byTable[row.table], row)
	}
	return order, byTable
}

// indexStatements gives the INSERTs of rec's index rows, one multi-row
// INSERT per table (of at most 200 rows).
func (d *Datastore) indexStatements(tenant datastore.Tenant, rec datastore.Record, idx []fhir.Value) []indexStatement {
	order, byTable := d.indexRows(tenant, rec, idx)
	var out []indexStatement
	for _, table := range order {
		rows := byTable[table]
		for len(rows) > 0 {
			n := min(len(rows), 200)
			var q strings.Builder
			q.WriteString(`INSERT INTO ` + table + ` (tenant, type, id, param, ` + rows[0].cols + `) VALUES `)
			var args []any
			for _, r := range rows[:n] {
				args = append(args, r.vals...)
			}
			d.db.values(&q, n, len(rows[0].vals)) // rows of one table have the same columns
			out = append(out, indexStatement{query: q.String(), args: args, rows: n})
			rows = rows[n:]
		}
	}
	return out
}

// insertIndex writes the index rows, one multi-row INSERT per table.
func (d *Datastore) insertIndex(ctx context.Context, tx *sql.Tx, tenant datastore.Tenant, rec datastore.Record, idx []fhir.Value) error {
	for _, st := range d.indexStatements(tenant, rec, idx) {
		if _, err := d.exec(ctx, tx, st.rows <= maxCachedRows, st.query, st.args...); err != nil {
			return err
		}
	}
	return nil
}

// History implements datastore.Backend.
func (d *Datastore) History(ctx context.Context, tenant datastore.Tenant, typ, id string) ([]datastore.Record, error) {
	release, err := d.slot(ctx, tenant)
	if err != nil {
		return nil, err
	}
	defer release()
	rows, err := d.db.sql.QueryContext(ctx, `SELECT `+recordColumns+` FROM resource_history WHERE tenant = $1 AND type = $2 AND id = $3 ORDER BY version DESC`, string(tenant), typ, id)
	if err != nil {
		return nil, err
	}
	return scanRecords(rows)
}

// GetMany implements datastore.Backend.
func (d *Datastore) GetMany(ctx context.Context, tenant datastore.Tenant, refs []datastore.Ref) ([]datastore.Record, error) {
	release, err := d.slot(ctx, tenant)
	if err != nil {
		return nil, err
	}
	defer release()
	var out []datastore.Record
	for len(refs) > 0 {
		n := min(len(refs), 200)
		args := []any{string(tenant)}
		var conds []string
		for _, r := range refs[:n] {
			args = append(args, r.Type, r.ID)
			conds = append(conds, fmt.Sprintf("(type = $%d AND id = $%d)", len(args)-1, len(args)))
		}
		rows, err := d.db.sql.QueryContext(ctx, `SELECT `+recordColumns+` FROM resources WHERE tenant = $1 AND deleted = FALSE AND (`+strings.Join(conds, " OR ")+`)`, args...)
		if err != nil {
			return nil, err
		}
		got, err := scanRecords(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
		refs = refs[n:]
	}
	return out, nil
}

// Outgoing implements datastore.Backend.
func (d *Datastore) Outgoing(ctx context.Context, tenant datastore.Tenant, srcType string, srcIDs []string, param, targetType string) ([]datastore.Ref, error) {
	release, err := d.slot(ctx, tenant)
	if err != nil {
		return nil, err
	}
	defer release()
	args := []any{string(tenant), srcType, param}
	ph := make([]string, len(srcIDs))
	for i, id := range srcIDs {
		args = append(args, id)
		ph[i] = fmt.Sprintf("$%d", len(args))
	}
	q := `SELECT DISTINCT ref_type, ref_id FROM idx_reference WHERE tenant = $1 AND type = $2 AND param = $3 AND ref_id <> '' AND id IN (` + strings.Join(ph, ",") + `)`
	if targetType != "" {
		args = append(args, targetType)
		q += fmt.Sprintf(" AND ref_type = $%d", len(args))
	}
	rows, err := d.db.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []datastore.Ref
	for rows.Next() {
		var r datastore.Ref
		if err := rows.Scan(&r.Type, &r.ID); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Referencing implements datastore.Backend.
func (d *Datastore) Referencing(ctx context.Context, tenant datastore.Tenant, srcType, param string, targets []datastore.Ref, limit int) ([]datastore.Record, error) {
	release, err := d.slot(ctx, tenant)
	if err != nil {
		return nil, err
	}
	defer release()
	args := []any{string(tenant), srcType, param}
	var conds []string
	for _, t := range targets {
		args = append(args, t.Type, t.ID)
		conds = append(conds, fmt.Sprintf("(x.ref_type = $%d AND x.ref_id = $%d)", len(args)-1, len(args)))
	}
	args = append(args, limit)
	rows, err := d.db.sql.QueryContext(ctx, `SELECT `+prefixed("r", recordColumns)+` FROM resources r WHERE r.tenant = $1 AND r.type = $2 AND r.deleted = FALSE
		AND r.id IN (SELECT x.id FROM idx_reference x WHERE x.tenant = $1 AND x.type = $2 AND x.param = $3 AND (`+strings.Join(conds, " OR ")+`))
		ORDER BY r.id LIMIT $`+itoa(len(args)), args...)
	if err != nil {
		return nil, err
	}
	return scanRecords(rows)
}

func prefixed(alias, cols string) string {
	parts := strings.Split(cols, ", ")
	for i, p := range parts {
		parts[i] = alias + "." + p
	}
	return strings.Join(parts, ", ")
}
