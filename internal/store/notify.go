package store

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clinikapi/clinikapi/internal/apikey"
)

// keysChannel is the PostgreSQL NOTIFY channel for API key changes.
const keysChannel = "clinikapi_api_keys"

// KeyNotifier invalidates API key caches across instances with PostgreSQL
// LISTEN/NOTIFY. It needs no other service than the database itself.
type KeyNotifier struct {
	db  *DB
	dsn string
	log *slog.Logger
}

var _ apikey.Invalidator = (*KeyNotifier)(nil)

// KeyNotifier returns the invalidator for a PostgreSQL database (nil on
// SQLite, where one process owns the database).
func (db *DB) KeyNotifier(dsn string, log *slog.Logger) *KeyNotifier {
	if db.dialect != Postgres {
		return nil
	}
	return &KeyNotifier{db: db, dsn: dsn, log: log}
}

// Publish implements apikey.Invalidator.
func (n *KeyNotifier) Publish(ctx context.Context, keyID string) error {
	_, err := n.db.sql.ExecContext(ctx, `SELECT pg_notify($1, $2)`, keysChannel, keyID)
	return err
}

// Subscribe implements apikey.Invalidator on a dedicated connection. After a
// lost connection it resets the cache and listens again.
func (n *KeyNotifier) Subscribe(ctx context.Context, fn func(keyID string), reset func()) error {
	for {
		err := n.listen(ctx, fn, reset)
		if ctx.Err() != nil {
			return nil
		}
		reset()
		n.log.Warn("postgres: key invalidation listener interrupted; reconnecting", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (n *KeyNotifier) listen(ctx context.Context, fn func(string), reset func()) error {
	conn, err := pgx.Connect(ctx, n.dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+keysChannel); err != nil {
		return err
	}
	reset() // anything published before LISTEN took effect was missed
	return notifications(ctx, conn, fn)
}

// notifications hands the payload of each notification conn receives to
// fn until ctx is cancelled (nil) or the connection fails.
func notifications(ctx context.Context, conn *pgx.Conn, fn func(string)) error {
	for {
		note, err := conn.WaitForNotification(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
		fn(note.Payload)
	}
}

// KeyChanges follows the key changes that other processes record on a
// SQLite database (api_key_changes, written in the transaction of every
// change: keysChanged), such as an admin command revoking a key beside a
// running server. It needs no other service than the database file.
type KeyChanges struct {
	db    *DB
	log   *slog.Logger
	every time.Duration
}

// Key changes are read every keyChangesPoll and kept keyChangesKept, well
// beyond the key cache's 5 minutes: a process that could not read them for
// longer forgets its whole cache.
const (
	keyChangesPoll  = 500 * time.Millisecond
	keyChangesKept  = 10 * time.Minute
	keyChangesPrune = time.Minute
	keyChangesBatch = 1000
)

var _ apikey.ChangeFeed = (*KeyChanges)(nil)

// KeyChanges returns the key change feed of a SQLite database (nil on
// PostgreSQL, where NOTIFY carries the changes).
func (db *DB) KeyChanges(log *slog.Logger) *KeyChanges {
	if db.dialect != SQLite {
		return nil
	}
	return &KeyChanges{db: db, log: log, every: keyChangesPoll}
}

// Subscribe implements apikey.ChangeFeed: it calls fn for every key changed
// after it started, at most one poll interval late, until ctx ends.
func (c *KeyChanges) Subscribe(ctx context.Context, fn func(keyID string), reset func()) error {
	last := int64(-1) // not read yet
	var ok, pruned time.Time
	t := time.NewTicker(c.every)
	defer t.Stop()
	for {
		var err error
		if last < 0 {
			err = c.db.sql.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM api_key_changes`).Scan(&last)
			if err == nil {
				reset() // anything cached before now may predate a change
			} else {
				last = -1
			}
		} else {
			last, err = c.poll(ctx, last, fn)
		}
		now := time.Now()
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			c.log.Warn("sqlite: reading key changes failed; retrying", "err", err)
		default:
			if !ok.IsZero() && now.Sub(ok) >= keyChangesKept/2 {
				reset() // changes may have been pruned unread
			}
			ok = now
			if now.Sub(pruned) >= keyChangesPrune {
				pruned = now
				if _, err := c.db.execWrite(ctx, `DELETE FROM api_key_changes WHERE created_at < $1`, utc(now.Add(-keyChangesKept))); err != nil && ctx.Err() == nil {
					c.log.Warn("sqlite: pruning key changes failed; retrying", "err", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// poll hands every change after id last to fn and returns the last id read.
func (c *KeyChanges) poll(ctx context.Context, last int64, fn func(string)) (int64, error) {
	for {
		rows, err := c.db.sql.QueryContext(ctx, `SELECT id, key_id FROM api_key_changes WHERE id > $1 ORDER BY id LIMIT $2`, last, keyChangesBatch)
		if err != nil {
			return last, err
		}
		var keys []string
		next := last
		for rows.Next() {
			var key string
			if err := rows.Scan(&next, &key); err != nil {
				rows.Close()
				return last, err
			}
			keys = append(keys, key)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return last, err
		}
		for _, k := range keys {
			fn(k)
		}
		last = next
		if len(keys) < keyChangesBatch {
			return last, nil
		}
	}
}
