package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/errs"
)

// PostgreSQL's own paths of a FHIR datastore. A statement on PostgreSQL is
// a round trip to a server process that competes for the same cores as
// the API, and each round trip, and each commit, costs both sides more
// than the work the statement does (an index lookup, a few inserted
// rows). So concurrent requests of one kind share statements (batcher):
//
//   - reads by id are served from the read cache, kept exact across
//     instances (CacheSync); those it misses that arrive together are
//     answered by one statement (readBatcher): each read still sees every
//     write committed before it started — the statement that answers it
//     starts after it arrived;
//   - creates that arrive together are written by one pipeline, which
//     PostgreSQL runs as one transaction (createBatcher): the fence check
//     of their tenants, then one statement writing every resource, first
//     version, index row and outbox event of the batch from arrays. One
//     round trip and one commit (one WAL flush) for the batch instead of
//     one per create, and the same few prepared statements whatever the
//     batch holds.

// batcher gathers concurrent requests of one kind into shared work. At
// most maxBatches batches run at a time; a request that arrives while
// they all run waits for the next one, which takes every request waiting
// (up to size of them, and while their weight stays within maxWeight; a
// lone heavy request still goes alone). A lone request runs at once: none
// waits for company.
type batcher[T interface{ base() *pending }] struct {
	maxBatches, size int
	// spill is how many requests must be waiting for a batch to start
	// beside one already running (0: at once). Waiting for a queue that
	// deep keeps batches large while one pipeline keeps up, and adds
	// pipelines only when it does not.
	spill     int
	weight    func(T) int // nil: no bound but size
	maxWeight int
	// answer serves the batch's requests whose callers still wait, with
	// the context of the work they share (batchContext); it sets their
	// answers, and the batcher then closes every request's done.
	answer func(ctx context.Context, live []T)

	mu      sync.Mutex
	queue   []T
	running int
}

// pending is what every batched request carries: its caller's context,
// its answer's error, and done, closed once it is answered.
type pending struct {
	ctx  context.Context
	err  error
	done chan struct{}
}

func newPending(ctx context.Context) pending { return pending{ctx: ctx, done: make(chan struct{})} }

func (p *pending) base() *pending { return p }

// wait waits for p's answer, or for its caller's context to end.
func (p *pending) wait() error {
	select {
	case <-p.done:
		return p.err
	case <-p.ctx.Done():
		return p.ctx.Err()
	}
}

// submit queues p and, if a batch may start, runs it on this goroutine.
// The caller waits for p's answer itself (pending.wait).
func (b *batcher[T]) submit(p T) {
	b.mu.Lock()
	b.queue = append(b.queue, p)
	lead := b.running == 0 || (b.running < b.maxBatches && len(b.queue) >= b.spill)
	var batch []T
	if lead {
		b.running++
		batch = b.take()
	}
	b.mu.Unlock()
	if lead {
		b.run(batch)
	}
}

// take removes the next batch from the queue (b.mu held).
func (b *batcher[T]) take() []T {
	n, w := 0, 0
	for n < len(b.queue) && n < b.size {
		if b.weight != nil {
			w += b.weight(b.queue[n])
			if n > 0 && w > b.maxWeight {
				break
			}
		}
		n++
	}
	batch := make([]T, n)
	copy(batch, b.queue[:n])
	rest := copy(b.queue, b.queue[n:])
	clear(b.queue[rest:]) // no request outlives its batch here
	b.queue = b.queue[:rest]
	return batch
}

// run answers batch, then keeps answering what queued meanwhile (on a
// goroutine of its own, so the request that led returns at once).
func (b *batcher[T]) run(batch []T) {
	served := false
	defer func() {
		if !served { // answer panicked: its batch is answered (serve), its turn given back
			b.mu.Lock()
			b.running--
			b.mu.Unlock()
		}
	}()
	b.serve(batch)
	served = true
	b.mu.Lock()
	if len(b.queue) == 0 {
		b.running--
		b.mu.Unlock()
		return
	}
	next := b.take()
	b.mu.Unlock()
	go b.run(next)
}

// serve answers batch: the requests whose callers have gone get their
// contexts' errors, answer serves the others.
func (b *batcher[T]) serve(batch []T) {
	defer func() {
		for _, p := range batch {
			close(p.base().done)
		}
	}()
	live := batch[:0:0]
	var ctxs []context.Context
	for _, p := range batch {
		if err := p.base().ctx.Err(); err != nil { // gone already: nobody waits for it
			p.base().err = err
			continue
		}
		live = append(live, p)
		ctxs = append(ctxs, p.base().ctx)
	}
	if len(live) > 0 {
		ctx, cancel := batchContext(ctxs)
		defer cancel()
		b.answer(ctx, live)
	}
}

// readBatcher gathers concurrent reads by id of one datastore into one
// statement (at most maxReadBatches at a time, of maxReadsPerBatch reads;
// the second only once readSpill reads wait behind the first, which
// makes larger batches: each costs the same round trip, executor start
// and pair of system calls on both sides whatever it holds, and reads
// that miss the read cache went 14,286–15,690 a second against
// 12,440–13,655 with the second batch started as soon as one read
// waited, three alternating pairs of clinikapi bench with the read
// cache off; with a spill of 16 or 32, about one batch at a time,
// 13,453–14,087).
type readBatcher struct {
	db      *DB
	batches batcher[*pendingRead]
}

const (
	maxReadBatches   = 2
	maxReadsPerBatch = 256
	readSpill        = 8
)

func newReadBatcher(db *DB) *readBatcher {
	r := &readBatcher{db: db}
	r.batches = batcher[*pendingRead]{maxBatches: maxReadBatches, size: maxReadsPerBatch, spill: readSpill, answer: r.answer}
	return r
}

type pendingRead struct {
	pending
	tenant, typ, id string
	rec             datastore.Record
	found           bool
}

// batchRead is the statement: the keys as three arrays, each row tagged
// with the position of the read it answers. Every row is matched on its
// own read's tenant, type and id (the primary key), so a read can only
// ever get its own tenant's resource.
const batchRead = `SELECT k.n, r.type, r.id, r.version, r.last_updated, r.deleted, r.content
FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS k(tenant, type, id, n)
JOIN resources r ON r.tenant = k.tenant AND r.type = k.type AND r.id = k.id`

// genericPlan goes before batchRead, in the same pipeline (one implicit
// transaction, so the setting ends with it, whether the read succeeds or
// fails): batchRead is then planned once per connection, not at every
// batch. PostgreSQL otherwise keeps planning it afresh, because a plan
// made for the batch's own arrays (whose lengths it then knows) always
// looks cheaper than the generic plan, made for arrays of 100 keys; and
// the planning of that join was a third of PostgreSQL's time in reads by
// id that miss the read cache — a quarter more of those reads a second
// with the plan made once (clinikapi bench, read cache off). It is
// set_config, not SET LOCAL, which logs a warning at every batch: a
// pipeline's implicit transaction is not a transaction block.
const genericPlan = `SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`

// get reads one resource, in a batch with the reads arriving meanwhile.
func (b *readBatcher) get(ctx context.Context, tenant, typ, id string) (datastore.Record, error) {
	p := &pendingRead{pending: newPending(ctx), tenant: tenant, typ: typ, id: id}
	b.batches.submit(p)
	if err := p.wait(); err != nil {
		return datastore.Record{}, err
	}
	if !p.found {
		return datastore.Record{}, errs.E(errs.NotFound, "%s not found.", typ)
	}
	return p.rec, nil
}

// answer runs one statement for live and hands each read its row.
func (b *readBatcher) answer(ctx context.Context, live []*pendingRead) {
	tenants, types, ids := make([]string, len(live)), make([]string, len(live)), make([]string, len(live))
	for i, p := range live {
		tenants[i], types[i], ids[i] = p.tenant, p.typ, p.id
	}
	q := &pgx.Batch{}
	q.Queue(genericPlan)
	q.Queue(batchRead, tenants, types, ids).Query(func(rows pgx.Rows) error {
		return scanNumbered(rows, func(n int64, r datastore.Record) error {
			if n < 1 || int(n) > len(live) {
				return errors.New("datastore: batch read row out of range")
			}
			p := live[n-1]
			p.rec, p.found = r, true
			return nil
		})
	})
	err := b.db.raw(ctx, func(c *pgx.Conn) error { return c.SendBatch(ctx, q).Close() })
	if err != nil {
		for _, p := range live {
			p.err, p.found = err, false
		}
	}
}

// batchContext is the context of a statement shared by requests (ctxs,
// at least one): none of them may cut it short for the others (a client
// gone, its own earlier deadline), so it ends at the latest of their
// deadlines. Each request still stops waiting at its own.
func batchContext(ctxs []context.Context) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, c := range ctxs {
		d, ok := c.Deadline()
		if !ok {
			d = time.Now().Add(defaultStatementTimeout)
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.WithoutCancel(ctxs[0]), latest)
}

// defaultStatementTimeout bounds a shared statement none of whose callers
// set a deadline.
const defaultStatementTimeout = 30 * time.Second

// raw runs fn on a pooled connection's pgx.Conn (PostgreSQL only), for
// what database/sql cannot express: pipelines and array parameters
// decoded without reflection.
func (db *DB) raw(ctx context.Context, fn func(*pgx.Conn) error) error {
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error { return fn(dc.(*stdlib.Conn).Conn()) })
}

// createBatcher writes concurrent creates of one datastore together: at
// most maxCreateBatches pipelines at a time, each of at most
// maxCreatesPerBatch creates and about maxCreateBatchBytes of resources,
// events and index rows. A second pipeline starts only when
// createSpill creates wait behind the first: a statement's fixed cost
// (nine tables and their indexes opened, a commit) is most of a small
// batch's, and two pipelines of a few creates each, started as soon as
// one create waited, wrote fewer creates a second on a busy database
// server than one pipeline of larger batches (1,381–1,666 against
// 1,733–1,933 a second in alternating runs of clinikapi bench). But one
// pipeline at a time, waiting for a full batch (32) behind it, left a
// third of the machine idle while its commit waited on the disk: with a
// second pipeline once 8 wait, 2,701–3,477 creates a second against
// 2,329–3,037 (five alternating pairs, 16 clients).
type createBatcher struct {
	db      *DB
	batches batcher[*pendingCreate]
	hold    func(n int) // tests: runs first in every batch, with its size
}

const (
	maxCreateBatches    = 2
	maxCreatesPerBatch  = 32
	maxCreateBatchBytes = 4 << 20
	createSpill         = 8
)

func newCreateBatcher(db *DB) *createBatcher {
	c := &createBatcher{db: db}
	c.batches = batcher[*pendingCreate]{
		maxBatches: maxCreateBatches, size: maxCreatesPerBatch, spill: createSpill,
		weight: func(p *pendingCreate) int { return p.size }, maxWeight: maxCreateBatchBytes,
		answer: c.answer,
	}
	return c
}

type pendingCreate struct {
	pending
	tenant datastore.Tenant
	rec    datastore.Record
	rows   map[string][]indexRow // by table (Datastore.indexRows)
	size   int                   // about the bytes it sends
}

// indexRowBytes is about what an index row adds to a batch.
const indexRowBytes = 64

// create writes rec and its index rows, in a batch with the creates
// arriving meanwhile. Like a commit batch on SQLite, a create whose
// caller stops waiting may still commit.
func (c *createBatcher) create(ctx context.Context, tenant datastore.Tenant, rec datastore.Record, rows map[string][]indexRow) error {
	size := len(rec.Content) + len(rec.Outbox) + len(rec.Webhook)
	for table, rs := range rows {
		if len(rs) > 0 && "tenant, type, id, param, "+rs[0].cols != createColumns[table] {
			return fmt.Errorf("datastore: %s rows have columns %q", table, rs[0].cols)
		}
		size += indexRowBytes * len(rs)
	}
	p := &pendingCreate{pending: newPending(ctx), tenant: tenant, rec: rec, rows: rows, size: size}
	c.batches.submit(p)
	return p.wait()
}

// createColumns are createTables' columns by table.
var createColumns = func() map[string]string {
	m := map[string]string{}
	for _, t := range createTables {
		m[t.name] = t.cols
	}
	return m
}()

// answer writes live in one transaction (settle).
func (c *createBatcher) answer(ctx context.Context, live []*pendingCreate) {
	if c.hold != nil {
		c.hold(len(live))
	}
	c.settle(ctx, live)
}

// settle writes creates in one transaction and answers them. When
// PostgreSQL refuses the transaction for one of its creates (ownCreate: an
// id that exists, a value out of range, a fenced tenant), nothing of it was
// written, and its creates are written again in smaller parts for their
// own answers: each tenant's together, then, for a tenant whose creates
// fail again, each alone — but a fenced tenant's all fail at once (the
// fence is the tenant's). Any other failure (the connection, a timeout, a
// deadlock) is every create's answer: it says nothing of any one of them.
func (c *createBatcher) settle(ctx context.Context, creates []*pendingCreate) {
	err := c.write(ctx, creates)
	if err != nil && len(creates) > 1 && ownCreate(err) {
		var tenants []datastore.Tenant
		by := map[datastore.Tenant][]*pendingCreate{}
		for _, p := range creates {
			if by[p.tenant] == nil {
				tenants = append(tenants, p.tenant)
			}
			by[p.tenant] = append(by[p.tenant], p)
		}
		if len(tenants) > 1 {
			for _, t := range tenants {
				c.settle(ctx, by[t])
			}
			return
		}
		if !errors.Is(createError(err, creates[0].rec), datastore.ErrFenced) {
			for _, p := range creates {
				if p.err = p.ctx.Err(); p.err == nil { // gone meanwhile: not written
					c.settle(ctx, []*pendingCreate{p})
				}
			}
			return
		}
	}
	for _, p := range creates {
		p.err = createError(err, p.rec)
	}
}

// ownCreate reports whether PostgreSQL refused a batch of creates for one
// of them: a constraint (class 23: an id that exists), a value it does not
// take (class 22), or a fenced tenant.
func ownCreate(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "23") || strings.HasPrefix(pe.Code, "22") || pe.Code == fencedCode)
}

// createError is what a create's caller gets for err.
func createError(err error, rec datastore.Record) error {
	if isUnique(err) {
		return errs.E(errs.Conflict, "%s/%s already exists.", rec.Type, rec.ID)
	}
	if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == fencedCode {
		return datastore.ErrFenced
	}
	return err
}

// fencedCode is the SQLSTATE tenant_write_check raises for a fenced tenant.
const fencedCode = "CK001"

// createTables are the index tables createBatch writes, in its order, with
// their columns (as Datastore.indexRows gives them on PostgreSQL) and
// those columns' types.
var createTables = []struct {
	name, cols string
	types      []string
}{
	{"idx_string", "tenant, type, id, param, text, exact, last_updated", []string{"text", "text", "text", "text", "text", "text", "bigint"}},
	{"idx_token", "tenant, type, id, param, system, code", []string{"text", "text", "text", "text", "text", "text"}},
	{"idx_reference", "tenant, type, id, param, ref_type, ref_id, url", []string{"text", "text", "text", "text", "text", "text", "text"}},
	{"idx_date", "tenant, type, id, param, start_at, end_at", []string{"text", "text", "text", "text", "bigint", "bigint"}},
	{"idx_number", "tenant, type, id, param, value, system, code", []string{"text", "text", "text", "text", "float8", "text", "text"}},
	{"idx_uri", "tenant, type, id, param, url", []string{"text", "text", "text", "text", "text"}},
}

// createBatch writes a batch of creates from arrays, one statement whose
// text is the same whatever the batch holds (so it is prepared once per
// connection): the resources (whose primary key refuses one that exists)
// and, as data-modifying CTEs, which always run, their first versions,
// their rows of each index table, and their audit and webhook events. The
// resources' arrays are sent once for both of their tables.
var createBatch = func() string {
	n := 0
	unnest := func(types ...string) string {
		parts := make([]string, len(types))
		for i, t := range types {
			n++
			parts[i] = "$" + itoa(n) + "::" + t + "[]"
		}
		return "unnest(" + strings.Join(parts, ", ") + ")"
	}
	resources := unnest("text", "text", "text", "int", "bigint", "boolean", "text")
	var b strings.Builder
	b.WriteString("WITH h AS (INSERT INTO resource_history (tenant, " + recordColumns + ") SELECT * FROM " + resources + ")")
	for i, t := range createTables {
		b.WriteString(", x" + itoa(i) + " AS (INSERT INTO " + t.name + " (" + t.cols + ") SELECT * FROM " + unnest(t.types...) + ")")
	}
	b.WriteString(", ao AS (INSERT INTO audit_outbox (event) SELECT * FROM " + unnest("text") + ")")
	b.WriteString(", wo AS (INSERT INTO webhook_outbox (event) SELECT * FROM " + unnest("text") + ")")
	b.WriteString(" INSERT INTO resources (tenant, " + recordColumns + ") SELECT * FROM " + resources)
	return b.String()
}()

// write runs one pipeline for creates, which PostgreSQL runs as one
// implicit transaction: the fence check of their tenants first (a tenant
// being moved refuses the write, see tenant_write_check), then createBatch.
func (c *createBatcher) write(ctx context.Context, creates []*pendingCreate) error {
	args, err := createArgs(creates)
	if err != nil {
		return err
	}
	var tenants []string
	seen := map[datastore.Tenant]bool{}
	for _, p := range creates {
		if !seen[p.tenant] {
			seen[p.tenant] = true
			tenants = append(tenants, string(p.tenant))
		}
	}
	// In one order for every batch: two batches taking their tenants'
	// locks in opposite orders, while fences are set on both, could
	// otherwise wait for each other.
	sort.Strings(tenants)
	b := &pgx.Batch{}
	b.Queue(`SELECT tenant_write_check(t) FROM unnest($1::text[]) AS t`, tenants)
	b.Queue(createBatch, args...)
	return c.db.raw(ctx, func(conn *pgx.Conn) error { return conn.SendBatch(ctx, b).Close() })
}

// createArgs gives createBatch's arguments for creates: the resources'
// seven arrays, each index table's column arrays, then the two outboxes'.
func createArgs(creates []*pendingCreate) ([]any, error) {
	n := len(creates)
	tenants, types, ids, contents := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	versions, updated, deleted := make([]int32, n), make([]int64, n), make([]bool, n)
	var audit, webhook []string
	for i, p := range creates {
		r := p.rec
		tenants[i], types[i], ids[i], versions[i] = string(p.tenant), r.Type, r.ID, int32(r.Version)
		updated[i], deleted[i], contents[i] = r.LastUpdated.UnixMicro(), r.Deleted, string(r.Content)
		if len(r.Outbox) > 0 {
			audit = append(audit, string(r.Outbox))
		}
		if len(r.Webhook) > 0 {
			webhook = append(webhook, string(r.Webhook))
		}
	}
	args := []any{tenants, types, ids, versions, updated, deleted, contents}
	for _, t := range createTables {
		var rows []indexRow // their columns checked by create
		for _, p := range creates {
			rows = append(rows, p.rows[t.name]...)
		}
		for j, typ := range t.types {
			col, err := indexColumn(rows, j, typ)
			if err != nil {
				return nil, fmt.Errorf("datastore: %s column %d: %w", t.name, j, err)
			}
			args = append(args, col)
		}
	}
	return append(args, audit, webhook), nil
}

// indexColumn is column j of rows as an array of typ.
func indexColumn(rows []indexRow, j int, typ string) (any, error) {
	switch typ {
	case "text":
		return columnOf[string](rows, j)
	case "bigint":
		return columnOf[int64](rows, j)
	case "float8":
		return columnOf[float64](rows, j)
	}
	return nil, fmt.Errorf("no array of %s", typ)
}

func columnOf[V any](rows []indexRow, j int) ([]V, error) {
	out := make([]V, len(rows))
	for i, r := range rows {
		v, ok := r.vals[j].(V)
		if !ok {
			return nil, fmt.Errorf("value of type %T", r.vals[j])
		}
		out[i] = v
	}
	return out, nil
}

// queryNumbered runs a query whose rows are a number, then the record
// columns (a search page in one round trip), and returns the records.
func (d *Datastore) queryNumbered(ctx context.Context, query string, args []any) ([]datastore.Record, error) {
	var out []datastore.Record
	err := d.db.raw(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		return scanNumbered(rows, func(_ int64, r datastore.Record) error {
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

// scanNumbered reads rows of a number and the record columns, closing
// rows, and calls fn with each.
func scanNumbered(rows pgx.Rows, fn func(n int64, r datastore.Record) error) error {
	defer rows.Close()
	for rows.Next() {
		var n, lu int64
		var r datastore.Record
		if err := rows.Scan(&n, &r.Type, &r.ID, &r.Version, &lu, &r.Deleted, &r.Content); err != nil {
			return err
		}
		r.LastUpdated = time.UnixMicro(lu).UTC()
		if err := fn(n, r); err != nil {
			return err
		}
	}
	return rows.Err()
}
