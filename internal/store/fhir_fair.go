package store

import (
	"context"

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
//     PostgreSQL the writes, each of which takes a pooled connection) pass
//     the work gate: at most workSlots of them use connections at once,
//     at most the tenant share (CLINIKAPI_DATASTORE_TENANT_SHARE; default
//     a quarter of the pool) for one tenant, and when they are all taken
//     the waiting requests are served round-robin across tenants;
//   - reads by id pass no gate: the connections the work gate leaves
//     (reservedConns) are theirs and upkeep's (the checkpointer, the
//     outbox relays), so they never queue behind anyone's searches — on
//     SQLite most are served by the read cache anyway, on PostgreSQL the
//     read batcher uses at most maxReadBatches connections;
//   - on SQLite, writes pass the commit gate: a commit batch takes at most
//     maxBatch writes; a tenant alone may fill it, but once another
//     tenant's write waits, freed places go first to tenants under a
//     quarter of them, so that write makes the next commit.
//
// A request waits for its turn within its context: past the time budget
// of a read or search it gets the budget's answer (datastore.Store.bounded).

// Pool sizes of a datastore's connections.
// (SQLite's is sqliteMaxConns.)
const postgresPool = 20

// reservedConns are the connections of a pool the work gate leaves to
// reads by id and upkeep: a quarter of the pool, at least 2.
func reservedConns(pool int) int { return max(2, pool/4) }

// DefaultTenantShare is the connections of pool one tenant's searches may
// use at once when CLINIKAPI_DATASTORE_TENANT_SHARE is not set.
func DefaultTenantShare(pool int) int { return max(1, pool/4) }

// workSlots is how many connections the work gate hands out: the pool
// less the reserve and, on SQLite, the committer's writing connection.
func workSlots(d Dialect) int {
	if d == SQLite {
		return sqliteMaxConns - 1 - reservedConns(sqliteMaxConns)
	}
	return postgresPool - reservedConns(postgresPool)
}

// setGates makes the gates with a tenant share of share connections (0:
// the default).
func (d *Datastore) setGates(share int) {
	pool := postgresPool
	if d.db.dialect == SQLite {
		pool = sqliteMaxConns
		d.commits = fair.NewLending(maxBatch, maxBatch/4)
	}
	if share <= 0 {
		share = DefaultTenantShare(pool)
	}
	d.work = fair.New(workSlots(d.db.dialect), share)
}

// SetTenantShare sets the connections one tenant's searches (and on
// PostgreSQL writes) may use at once; 0 restores the default, a quarter
// of the pool. At most the work lane's size is used. Call it before the
// datastore serves requests.
func (d *Datastore) SetTenantShare(n int) { d.setGates(n) }

// WorkGate exposes the work lane's gate (its figures, and the hook tests
// use to keep a tenant's slots taken).
func (d *Datastore) WorkGate() *fair.Gate { return d.work }

// QueueStats implements the figures datastore.Store.QueueStats reports:
// the work lane's, with the commit lane's added on SQLite.
func (d *Datastore) QueueStats() fair.Stats {
	s := d.work.Stats()
	if d.commits != nil {
		s = s.Add(d.commits.Stats())
	}
	return s
}

// slot takes a work slot for tenant; the caller runs the returned release
// when its statements are done.
func (d *Datastore) slot(ctx context.Context, tenant datastore.Tenant) (func(), error) {
	return d.work.Acquire(ctx, string(tenant))
}

// writeSlot takes tenant's turn to write: a place in the commit batches
// on SQLite, a work slot (a connection) on PostgreSQL.
func (d *Datastore) writeSlot(ctx context.Context, tenant datastore.Tenant) (func(), error) {
	if d.commits != nil {
		return d.commits.Acquire(ctx, string(tenant))
	}
	return d.slot(ctx, tenant)
}
