package store

import (
	"context"
	"runtime"

	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/fair"
)

// Fair use of a datastore's connections by its tenants (internal/fair).
// The pool is shared by every tenant of the datastore; unchecked, one
// tenant's costly searches, each within the search limits and the time
// budget, could take every connection and keep another tenant's read
// waiting for them. So the work is split in lanes:
//
//   - searches, histories, includes and bulk-export reads (and on
//     PostgreSQL the writes other than creates, each of which takes a
//     pooled connection) pass the work gate: at most workSlots of them
//     use connections at once, at most the tenant share
//     (CLINIKAPI_DATASTORE_TENANT_SHARE; default a quarter of the pool)
//     for one tenant, and when they are all taken the waiting requests
//     are served round-robin across tenants;
//   - searches and the other reads of that lane are held to the search
//     share, by default also at most the host's cores: a costly search
//     is CPU work in the database, so more of them at once than there are
//     cores adds no throughput for their tenant, only queueing for every
//     other tenant's statements on those cores (measured: on PostgreSQL,
//     5 at once put another tenant's p99 read at 7× its quiet figure, 2
//     at once at 2.5×). On PostgreSQL that is a gate of its own in front
//     of the work gate (writes pass only the latter, so a tenant's
//     writes still use its whole share); on SQLite the work gate is the
//     search lane already;
//   - reads by id pass no gate: the connections the work gate leaves
//     (reservedConns) are theirs, upkeep's (the checkpointer, the outbox
//     relays) and on PostgreSQL the create batches', so they never queue
//     behind anyone's searches — on SQLite most are served by the read
//     cache anyway, on PostgreSQL the read batcher uses at most
//     maxReadBatches connections and the create batcher maxCreateBatches
//     (2 and 2 of a reserve of 5);
//   - on SQLite, writes pass the commit gate: a commit batch takes at most
//     maxBatch writes; a tenant alone may fill it, but once another
//     tenant's write waits, freed places go first to tenants under a
//     quarter of them, so that write makes the next commit. On
//     PostgreSQL, creates pass a gate of that kind in front of the create
//     batches (createBatcher), which hold maxCreateBatches connections
//     for every tenant's creates, not one each.
//
// A request waits for its turn within its context: past the time budget
// of a read or search it gets the budget's answer (datastore.Store.bounded).

// Pool sizes of a datastore's connections.
// (SQLite's is sqliteMaxConns.)
const postgresPool = 20

// reservedConns are the connections of a pool the work gate leaves to
// reads by id, upkeep and (PostgreSQL) the create batches: a quarter of
// the pool, at least 2.
func reservedConns(pool int) int { return max(2, pool/4) }

// DefaultTenantShare is the connections of pool one tenant's writes other
// than creates (on PostgreSQL) may use at once when CLINIKAPI_DATASTORE_TENANT_SHARE is not
// set.
func DefaultTenantShare(pool int) int { return max(1, pool/4) }

// DefaultSearchShare is the connections of pool one tenant's searches may
// use at once when CLINIKAPI_DATASTORE_TENANT_SHARE is not set: the tenant
// share, at most the host's cores.
func DefaultSearchShare(pool int) int { return min(DefaultTenantShare(pool), max(1, runtime.NumCPU())) }

// workSlots is how many connections the work gate hands out: the pool
// less the reserve and, on SQLite, the committer's writing connection.
func workSlots(d Dialect) int {
	if d == SQLite {
		return sqliteMaxConns - 1 - reservedConns(sqliteMaxConns)
	}
	return postgresPool - reservedConns(postgresPool)
}

// setGates makes the gates with a tenant share of share connections (0:
// the defaults).
func (d *Datastore) setGates(share int) {
	pool := postgresPool
	if d.db.dialect == SQLite {
		pool = sqliteMaxConns
		d.commits = fair.NewLending(maxBatch, maxBatch/4)
		d.creates = d.commits
	} else {
		places := maxCreateBatches * maxCreatesPerBatch
		d.creates = fair.NewLending(places, places/4)
	}
	searchShare, writeShare := share, share
	if share <= 0 {
		searchShare, writeShare = DefaultSearchShare(pool), DefaultTenantShare(pool)
	}
	if d.db.dialect == SQLite {
		d.work = fair.New(workSlots(SQLite), searchShare)
		return
	}
	d.work = fair.New(workSlots(Postgres), writeShare)
	d.searches = fair.New(workSlots(Postgres), searchShare)
}

// commitWriters is how many writers hold or wait for a commit-lane slot
// (SQLite).
func (d *Datastore) commitWriters() int {
	if d.commits == nil {
		return 0
	}
	s := d.commits.Stats()
	return s.Held + s.Waiting
}

// SetTenantShare sets the connections one tenant's searches (and on
// PostgreSQL writes) may use at once; 0 restores the defaults (a quarter
// of the pool; for searches at most the host's cores). At most the work
// lane's size is used. Call it before the datastore serves requests.
func (d *Datastore) SetTenantShare(n int) { d.setGates(n) }

// WorkGate exposes the gate a search queues at first (its figures, and
// the hook tests use to keep a tenant's slots taken): the search gate on
// PostgreSQL, the work gate on SQLite.
func (d *Datastore) WorkGate() *fair.Gate {
	if d.searches != nil {
		return d.searches
	}
	return d.work
}

// QueueStats implements the figures datastore.Store.QueueStats reports:
// the work lane's, with the search and create gates' (PostgreSQL) or the
// commit lane's (SQLite) added.
func (d *Datastore) QueueStats() fair.Stats {
	s := d.work.Stats()
	creates := d.creates
	if creates == d.commits {
		creates = nil // counted once
	}
	for _, g := range []*fair.Gate{d.searches, d.commits, creates} {
		if g != nil {
			s = s.Add(g.Stats())
		}
	}
	return s
}

// slot takes a search-lane slot for tenant; the caller runs the returned
// release when its statements are done.
func (d *Datastore) slot(ctx context.Context, tenant datastore.Tenant) (func(), error) {
	if d.searches == nil {
		return d.work.Acquire(ctx, string(tenant))
	}
	releaseSearch, err := d.searches.Acquire(ctx, string(tenant))
	if err != nil {
		return nil, err
	}
	release, err := d.work.Acquire(ctx, string(tenant))
	if err != nil {
		releaseSearch()
		return nil, err
	}
	return func() { release(); releaseSearch() }, nil
}

// writeSlot takes tenant's turn to write: a place in the commit batches
// on SQLite, a work slot (a connection) on PostgreSQL.
func (d *Datastore) writeSlot(ctx context.Context, tenant datastore.Tenant) (func(), error) {
	if d.commits != nil {
		return d.commits.Acquire(ctx, string(tenant))
	}
	return d.work.Acquire(ctx, string(tenant))
}

// createSlot takes tenant's turn to create: a place in the commit batches
// on SQLite, in the create batches on PostgreSQL.
func (d *Datastore) createSlot(ctx context.Context, tenant datastore.Tenant) (func(), error) {
	return d.creates.Acquire(ctx, string(tenant))
}
