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
