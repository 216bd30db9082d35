package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The write-behind tables (usage records, audit events, disclosures) are
// written with COPY in PostgreSQL's binary format, encoded here rather than
// by pgx's type map: their values are a handful of plain Go types whose
// column types are fixed, and the general encoder (a plan looked up for
// each value) was most of what a flush cost the server.

// copyHeader starts a binary COPY stream: the signature, no flags, no
// header extension.
var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// pgEpochMicros is 2000-01-01T00:00:00Z, PostgreSQL's epoch, in Unix
// microseconds.
const pgEpochMicros = 946684800 * 1_000_000

// appendCopyValue appends v as one binary COPY field: nil is NULL, string
// is text, int32 integer, int64 bigint, float64 double precision, bool
// boolean, and time.Time timestamptz or timestamp (both microseconds
// since PostgreSQL's epoch; the times written are UTC). Any other type is
// refused, so a column whose Go value changes width fails in tests instead
// of writing wrong bytes.
func appendCopyValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return binary.BigEndian.AppendUint32(b, math.MaxUint32), nil // -1
	case string:
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		return append(b, v...), nil
	case int32:
		b = binary.BigEndian.AppendUint32(b, 4)
		return binary.BigEndian.AppendUint32(b, uint32(v)), nil
	case int64:
		b = binary.BigEndian.AppendUint32(b, 8)
		return binary.BigEndian.AppendUint64(b, uint64(v)), nil
	case float64:
		b = binary.BigEndian.AppendUint32(b, 8)
		return binary.BigEndian.AppendUint64(b, math.Float64bits(v)), nil
	case bool:
		b = binary.BigEndian.AppendUint32(b, 1)
		if v {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case time.Time:
		b = binary.BigEndian.AppendUint32(b, 8)
		return binary.BigEndian.AppendUint64(b, uint64(v.UnixMicro()-pgEpochMicros)), nil
	}
	return b, fmt.Errorf("store: COPY has no binary encoding for %T", v)
}

// copyBinary writes n rows into table's cols with one binary COPY on c:
// row(i, buf) appends the values of row i, in the order of cols, to buf
// (which is reused).
func copyBinary(ctx context.Context, c *pgx.Conn, table string, cols []string, n int, row func(i int, buf []any) []any) error {
	b := make([]byte, 0, len(copyHeader)+n*(2+len(cols)*24)+2)
	b = append(b, copyHeader...)
	vals := make([]any, 0, len(cols))
	var err error
	for i := range n {
		vals = row(i, vals[:0])
		if len(vals) != len(cols) {
			return fmt.Errorf("store: COPY into %s: row %d has %d values for %d columns", table, i, len(vals), len(cols))
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(cols)))
		for _, v := range vals {
			if b, err = appendCopyValue(b, v); err != nil {
				return fmt.Errorf("%w (COPY into %s)", err, table)
			}
		}
	}
	b = binary.BigEndian.AppendUint16(b, math.MaxUint16) // the trailer, -1
	q := "COPY " + pgx.Identifier{table}.Sanitize() + " (" + strings.Join(quoted(cols), ", ") + ") FROM STDIN (FORMAT binary)"
	_, err = c.PgConn().CopyFrom(ctx, bytes.NewReader(b), q)
	return err
}

// quoted returns the identifiers names, quoted for SQL.
func quoted(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = pgx.Identifier{n}.Sanitize()
	}
	return out
}
