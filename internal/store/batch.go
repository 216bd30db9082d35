package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// committer is group commit for one database: concurrent writes queue up,
// and one goroutine runs as many as are waiting (up to maxBatch) in one
// transaction, so the commit — the journal work on SQLite — is shared by the
// whole batch. A failing write does not undo the others (see commit).
//
// Every batch runs on the same connection: the index pages a write walks
// stay in its page cache from batch to batch (SQLite drops a connection's
// cache when another connection wrote meanwhile, which a sole writer never
// sees), and the writes' prepared statements live there. (A larger cache
// than the pool's 32 MiB, 128 or 512 MiB, measured no faster.)
type committer struct {
	db   *DB
	conn *sql.Conn // the writing connection, opened on first use
	jobs chan *writeJob
	stop chan struct{}
	// writers, if set, is how many writers are at work on the database
	// (holding or waiting for a write slot): see gather.
	writers func() int
	delay   time.Duration // the longest gather waits for them: commitDelay
	// finished is closed when run returns: a job queued after run drained
	// the queue for the last time is answered from it.
	finished chan struct{}
	wg       sync.WaitGroup
}

type writeJob struct {
	ctx   context.Context
	fn    txFunc
	after func() // may be nil; see do
	done  chan error
}

// txFunc is a write run inside a transaction. Its ctx carries the writer's
// values but not its cancellation: once a batch runs, a client that went
// away must not interrupt the statements of the others (and with no
// cancellation to watch, the SQLite driver runs them on the calling
// thread).
type txFunc func(ctx context.Context, tx *sql.Tx) error

const maxBatch = 64

func newCommitter(db *DB) *committer {
	c := &committer{db: db, jobs: make(chan *writeJob, 1024), stop: make(chan struct{}), finished: make(chan struct{}), delay: commitDelay}
	c.wg.Add(1)
	go c.run()
	return c
}

// do runs fn in a batch transaction and returns its own error. after, if
// not nil, runs exactly once: on the committing goroutine as soon as the
// transaction that ran fn has ended (committed or rolled back), whether or
// not the caller still waits, or here when fn will never run. A write whose
// caller gave up may commit later, and what must follow its commit (the
// read cache's release, see readCache.hold) follows it all the same.
func (c *committer) do(ctx context.Context, fn txFunc, after func()) error {
	j := &writeJob{ctx: ctx, fn: fn, after: after, done: make(chan error, 1)}
	select {
	case c.jobs <- j:
	case <-ctx.Done():
		j.runAfter()
		return ctx.Err()
	case <-c.stop:
		j.runAfter()
		return fmt.Errorf("datastore is closing")
	}
	select {
	case err := <-j.done:
		return err
	case <-ctx.Done():
		// The write may still commit; the caller only stops waiting.
		return ctx.Err()
	case <-c.finished:
		// run answers a job before it returns, so an answer is here now
		// or never.
		select {
		case err := <-j.done:
			return err
		default:
			j.runAfter()
			return fmt.Errorf("datastore is closing")
		}
	}
}

// runAfter runs the job's after hook, if any.
func (j *writeJob) runAfter() {
	if j.after != nil {
		j.after()
	}
}

func (c *committer) run() {
	defer c.wg.Done()
	defer close(c.finished)
	for {
		var first *writeJob
		select {
		case first = <-c.jobs:
		case <-c.stop:
			// Finish what is queued.
			for {
				select {
				case j := <-c.jobs:
					c.commit([]*writeJob{j})
				default:
					return
				}
			}
		}
		batch := c.gather(first)
		c.commit(batch)
	}
}

// gather takes first and every job queued behind it, up to maxBatch. When
// more writers are at work than queued (c.writers), it waits up to
// commitDelay for them: under concurrent load the writers otherwise split
// into cohorts that alternate, each committing about half of them, and
// every commit writes the index pages it touched again, whatever the
// number of writes sharing them. A lone writer never waits.
func (c *committer) gather(first *writeJob) []*writeJob {
	batch := []*writeJob{first}
	var deadline *time.Timer
	for len(batch) < maxBatch {
		select {
		case j := <-c.jobs:
			batch = append(batch, j)
			continue
		default:
		}
		if c.writers == nil || c.writers() <= len(batch) {
			break
		}
		if deadline == nil {
			deadline = time.NewTimer(c.delay)
			defer deadline.Stop()
		}
		select {
		case j := <-c.jobs:
			batch = append(batch, j)
			continue
		case <-deadline.C:
		case <-c.stop:
		}
		break
	}
	return batch
}

// commitDelay is the longest a batch waits for writers at work to queue.
const commitDelay = 100 * time.Microsecond

// commit runs the batch in one transaction. Should any write fail, the
// transaction is rolled back and each write runs again in a transaction of
// its own, so a failure is reported to its writer only. Writes rarely fail,
// so the common case pays for one BEGIN and one COMMIT per batch.
func (c *committer) commit(batch []*writeJob) {
	live := batch[:0:0]
	for _, j := range batch {
		if err := j.ctx.Err(); err != nil {
			j.finish(err)
			continue
		}
		live = append(live, j)
	}
	if len(live) == 0 {
		return
	}
	err := c.tx(func(tx *sql.Tx) error {
		for _, j := range live {
			if err := j.fn(context.WithoutCancel(j.ctx), tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil || len(live) == 1 {
		for _, j := range live {
			j.finish(err)
		}
		return
	}
	for _, j := range live {
		j.finish(c.tx(func(tx *sql.Tx) error { return j.fn(context.WithoutCancel(j.ctx), tx) }))
	}
}

// finish answers a job whose transaction has ended (or that will not
// run), after running its after hook.
func (j *writeJob) finish(err error) {
	j.runAfter()
	j.done <- err
}

// tx runs fn in a transaction on the writing connection, holding the
// database's write lock.
func (c *committer) tx(fn func(*sql.Tx) error) error {
	return c.db.writing(func() error {
		ctx := context.Background()
		if c.conn == nil {
			conn, err := c.db.sql.Conn(ctx)
			if err != nil {
				return err
			}
			markWriter(conn)
			c.conn = conn
		}
		tx, err := c.conn.BeginTx(ctx, nil)
		if err != nil {
			// Give the connection back (database/sql discards a broken
			// one) and take one afresh for the next batch.
			c.conn.Close()
			c.conn = nil
			return err
		}
		if err := fn(tx); err != nil {
			_ = tx.Rollback()
			return err
		}
		return tx.Commit()
	})
}

func (c *committer) close() {
	close(c.stop)
	c.wg.Wait()
	if c.conn != nil {
		c.conn.Close()
	}
}
