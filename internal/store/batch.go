package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// committer is group commit for one database: concurrent writes queue up,
// and one goroutine runs as many as are waiting (up to maxBatch) in one
// transaction, each inside its own savepoint, so one failing write does not
// undo the others. A commit — the costly part, an fsync on PostgreSQL and
// the journal work on SQLite — is then shared by the whole batch.
type committer struct {
	db   *DB
	jobs chan *writeJob
	stop chan struct{}
	wg   sync.WaitGroup
}

type writeJob struct {
	ctx  context.Context
	fn   func(*sql.Tx) error
	done chan error
}

const maxBatch = 64

func newCommitter(db *DB) *committer {
	c := &committer{db: db, jobs: make(chan *writeJob, 1024), stop: make(chan struct{})}
	c.wg.Add(1)
	go c.run()
	return c
}

// do runs fn in a batch transaction and returns its own error.
func (c *committer) do(ctx context.Context, fn func(*sql.Tx) error) error {
	j := &writeJob{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case c.jobs <- j:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stop:
		return fmt.Errorf("datastore is closing")
	}
	select {
	case err := <-j.done:
		return err
	case <-ctx.Done():
		// The write may still commit; the caller only stops waiting.
		return ctx.Err()
	}
}

func (c *committer) run() {
	defer c.wg.Done()
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
		batch := []*writeJob{first}
	drain:
		for len(batch) < maxBatch {
			select {
			case j := <-c.jobs:
				batch = append(batch, j)
			default:
				break drain
			}
		}
		c.commit(batch)
	}
}

func (c *committer) commit(batch []*writeJob) {
	errsOf := make([]error, len(batch))
	err := c.db.tx(context.Background(), func(tx *sql.Tx) error {
		for i, j := range batch {
			if j.ctx.Err() != nil {
				errsOf[i] = j.ctx.Err()
				continue
			}
			if len(batch) == 1 {
				errsOf[i] = j.fn(tx)
				return errsOf[i]
			}
			if _, err := tx.Exec(`SAVEPOINT w`); err != nil {
				return err
			}
			if errsOf[i] = j.fn(tx); errsOf[i] != nil {
				if _, err := tx.Exec(`ROLLBACK TO SAVEPOINT w`); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(`RELEASE SAVEPOINT w`); err != nil {
				return err
			}
		}
		return nil
	})
	for i, j := range batch {
		switch {
		case errsOf[i] != nil:
			j.done <- errsOf[i]
		default:
			j.done <- err // nil, or the commit's failure
		}
	}
}

func (c *committer) close() {
	close(c.stop)
	c.wg.Wait()
}
