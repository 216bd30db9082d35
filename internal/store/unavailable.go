package store

import (
	"database/sql/driver"
	"errors"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	sqlite3 "github.com/mattn/go-sqlite3"
)

// Unavailable reports whether err is the database being out of reach for
// now rather than a fault of the request or of this program: PostgreSQL
// refusing or cutting connections (too many clients, shutting down,
// starting up, a connection lost), a connection that could not be made,
// or SQLite still locked by another process after its busy timeout. Such
// a failure is answered 503 with a Retry-After (web/httperr), not 500: a
// client that retries a moment later succeeds.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch {
		case strings.HasPrefix(pg.Code, "08"): // connection exception
			return true
		case pg.Code == "53300", pg.Code == "53400": // too many connections, configuration limit
			return true
		case pg.Code == "57P01", pg.Code == "57P02", pg.Code == "57P03": // admin or crash shutdown, cannot connect now
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	if errors.Is(err, driver.ErrBadConn) {
		return true
	}
	var lite sqlite3.Error
	if errors.As(err, &lite) {
		return lite.Code == sqlite3.ErrBusy || lite.Code == sqlite3.ErrLocked
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
