package store

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/fhir"
)

// PostgreSQL's own paths of a FHIR datastore. A statement on PostgreSQL is
// a round trip to a server process that competes for the same cores as
// the API, and each round trip costs both sides more than the work the
// statement does (an index lookup, a few inserted rows). So:
//
//   - reads by id are served from the read cache, kept exact across
//     instances (CacheSync); those it misses that arrive together are
//     answered by one statement (readBatcher): each read still sees every
//     write committed before it started — the statement that answers it
//     starts after it arrived;
//   - a create's statements (resource, history, audit outbox, index rows)
//     are sent as one pipeline (pgx.Batch), which PostgreSQL runs as one
//     implicit transaction: one round trip instead of ten.

// readBatcher gathers concurrent reads by id of one datastore into one
// statement. At most maxReadBatches statements run at a time; a read that
// arrives while they all run waits for the next one, which takes every
// read waiting (up to maxReadsPerBatch). A lone read runs at once: no
// read waits for company.
type readBatcher struct {
	db *DB

	mu      sync.Mutex
	queue   []*pendingRead
	running int
}

const (
	maxReadBatches   = 2
	maxReadsPerBatch = 256
)

type pendingRead struct {
	ctx             context.Context
	tenant, typ, id string
	rec             datastore.Record
	found           bool
	err             error
	done            chan struct{}
}

// batchRead is the statement: the keys as three arrays, each row tagged
// with the position of the read it answers. Every row is matched on its
// own read's tenant, type and id (the primary key), so a read can only
// ever get its own tenant's resource.
const batchRead = `SELECT k.n, r.type, r.id, r.version, r.last_updated, r.deleted, r.content
FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS k(tenant, type, id, n)
JOIN resources r ON r.tenant = k.tenant AND r.type = k.type AND r.id = k.id`

// get reads one resource, in a batch with the reads arriving meanwhile.
func (b *readBatcher) get(ctx context.Context, tenant, typ, id string) (datastore.Record, error) {
	p := &pendingRead{ctx: ctx, tenant: tenant, typ: typ, id: id, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, p)
	lead := b.running < maxReadBatches
	var batch []*pendingRead
	if lead {
		b.running++
		batch = b.take()
	}
	b.mu.Unlock()
	if lead {
		b.run(batch)
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return datastore.Record{}, ctx.Err()
	}
	if p.err != nil {
		return datastore.Record{}, p.err
	}
	if !p.found {
		return datastore.Record{}, errs.E(errs.NotFound, "%s not found.", typ)
	}
	return p.rec, nil
}

// take removes up to maxReadsPerBatch reads from the queue (b.mu held).
func (b *readBatcher) take() []*pendingRead {
	n := min(len(b.queue), maxReadsPerBatch)
	batch := make([]*pendingRead, n)
	copy(batch, b.queue[:n])
	b.queue = append(b.queue[:0], b.queue[n:]...)
	return batch
}

// run answers batch, then keeps answering what queued meanwhile (on a
// goroutine of its own, so the read that led returns at once).
func (b *readBatcher) run(batch []*pendingRead) {
	b.answer(batch)
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

// answer runs one statement for batch and hands each read its row.
func (b *readBatcher) answer(batch []*pendingRead) {
	defer func() {
		for _, p := range batch {
			close(p.done)
		}
	}()
	live := batch[:0:0]
	for _, p := range batch {
		if p.ctx.Err() == nil { // gone already: nobody waits for it
			live = append(live, p)
		}
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := batchContext(live)
	defer cancel()
	tenants, types, ids := make([]string, len(live)), make([]string, len(live)), make([]string, len(live))
	for i, p := range live {
		tenants[i], types[i], ids[i] = p.tenant, p.typ, p.id
	}
	err := b.db.raw(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, batchRead, tenants, types, ids)
		if err != nil {
			return err
		}
		return scanNumbered(rows, func(n int64, r datastore.Record) error {
			if n < 1 || int(n) > len(live) {
				return errors.New("datastore: batch read row out of range")
			}
			p := live[n-1]
			p.rec, p.found = r, true
			return nil
		})
	})
	if err != nil {
		for _, p := range live {
			p.err, p.found = err, false
		}
	}
}

// batchContext is the context of a statement shared by reads: none of
// them may cut it short for the others (a client gone, its own earlier
// deadline), so it ends at the latest of their deadlines. Each read still
// stops waiting at its own.
func batchContext(batch []*pendingRead) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, p := range batch {
		d, ok := p.ctx.Deadline()
		if !ok {
			d = time.Now().Add(defaultStatementTimeout)
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.WithoutCancel(batch[0].ctx), latest)
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

// fencedCode is the SQLSTATE tenant_write_check raises for a fenced tenant.
const fencedCode = "CK001"

// insertPipelined is Insert on PostgreSQL: every statement of the create
// in one pipeline, run by PostgreSQL as one implicit transaction (the
// first failure rolls it all back).
func (d *Datastore) insertPipelined(ctx context.Context, tenant datastore.Tenant, rec datastore.Record, idx []fhir.Value) error {
	b := &pgx.Batch{}
	// The fence check first: a tenant being moved refuses the write
	// (see tenant_write_check), as Insert's transaction does elsewhere.
	b.Queue(`SELECT tenant_write_check($1)`, string(tenant))
	q, args, rest := createStatement(tenant, rec, d.indexStatements(tenant, rec, idx))
	b.Queue(q, args...)
	for _, st := range rest {
		b.Queue(st.query, st.args...)
	}
	if len(rec.Outbox) > 0 {
		b.Queue(`INSERT INTO audit_outbox (event) VALUES ($1)`, string(rec.Outbox))
	}
	if len(rec.Webhook) > 0 {
		b.Queue(`INSERT INTO webhook_outbox (event) VALUES ($1)`, string(rec.Webhook))
	}
	err := d.db.raw(ctx, func(c *pgx.Conn) error { return c.SendBatch(ctx, b).Close() })
	if isUnique(err) {
		return errs.E(errs.Conflict, "%s/%s already exists.", rec.Type, rec.ID)
	}
	if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == fencedCode {
		return datastore.ErrFenced
	}
	return err
}

// createStatement is one statement writing a new resource, its first
// version and its index rows: the version and each index table's
// multi-row INSERT as data-modifying CTEs (which always run) of the
// resource's INSERT, whose unique key refuses a resource that exists.
// PostgreSQL executes one statement for them instead of one each (about
// eight), and the resource's values are sent once for both rows. Index
// INSERTs past maxCreateArgs bind arguments (a resource with thousands of
// index rows) are returned in rest, to run on their own.
func createStatement(tenant datastore.Tenant, rec datastore.Record, sts []indexStatement) (q string, args []any, rest []indexStatement) {
	args = []any{string(tenant), rec.Type, rec.ID, rec.Version, rec.LastUpdated.UnixMicro(), rec.Deleted, string(rec.Content)}
	const row = ` (tenant, ` + recordColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7)`
	var b strings.Builder
	b.WriteString(`WITH h AS (INSERT INTO resource_history` + row + `)`)
	for i, st := range sts {
		if len(args)+len(st.args) > maxCreateArgs {
			rest = sts[i:]
			break
		}
		b.WriteString(", x" + itoa(i) + " AS (")
		b.WriteString(placeholderRe.ReplaceAllStringFunc(st.query, func(p string) string {
			n, _ := strconv.Atoi(p[1:])
			return "$" + itoa(n+len(args))
		}))
		b.WriteString(")")
		args = append(args, st.args...)
	}
	b.WriteString(` INSERT INTO resources` + row)
	return b.String(), args, rest
}

// maxCreateArgs bounds the bind arguments of a create's statement
// (PostgreSQL takes at most 65,535).
const maxCreateArgs = 10_000

// placeholderRe matches a bind placeholder of an index INSERT (whose text
// holds no other $).
var placeholderRe = regexp.MustCompile(`\$[0-9]+`)

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
