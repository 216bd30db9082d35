package store

import (
	"bytes"
	"context"
	"encoding/binary"
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

// rowWriter takes one row's values in column order: the values of the
// write-behind tables, written either as binary COPY (copyWriter) or as
// arguments of a multi-row INSERT (argsWriter), from one description of
// each table's row.
type rowWriter interface {
	text(s string)
	nullText(s string) // "" is NULL
	int4(v int32)
	int8(v int64)
	// time writes a timestamptz or timestamp (both microseconds since
	// PostgreSQL's epoch in binary; the times written are UTC).
	time(t time.Time)
}

// copyWriter encodes rows in binary COPY format.
type copyWriter struct{ b []byte }

func (w *copyWriter) row(cols int) { w.b = binary.BigEndian.AppendUint16(w.b, uint16(cols)) }

func (w *copyWriter) text(s string) {
	w.b = binary.BigEndian.AppendUint32(w.b, uint32(len(s)))
	w.b = append(w.b, s...)
}

func (w *copyWriter) nullText(s string) {
	if s == "" {
		w.b = binary.BigEndian.AppendUint32(w.b, math.MaxUint32) // -1: NULL
		return
	}
	w.text(s)
}

func (w *copyWriter) int4(v int32) {
	w.b = binary.BigEndian.AppendUint32(w.b, 4)
	w.b = binary.BigEndian.AppendUint32(w.b, uint32(v))
}

func (w *copyWriter) int8(v int64) {
	w.b = binary.BigEndian.AppendUint32(w.b, 8)
	w.b = binary.BigEndian.AppendUint64(w.b, uint64(v))
}

func (w *copyWriter) time(t time.Time) { w.int8(t.UnixMicro() - pgEpochMicros) }

// argsWriter collects rows as statement arguments.
type argsWriter struct{ args []any }

func (w *argsWriter) text(s string) { w.args = append(w.args, s) }

func (w *argsWriter) nullText(s string) {
	if s == "" {
		w.args = append(w.args, nil)
		return
	}
	w.args = append(w.args, s)
}

func (w *argsWriter) int4(v int32)     { w.args = append(w.args, v) }
func (w *argsWriter) int8(v int64)     { w.args = append(w.args, v) }
func (w *argsWriter) time(t time.Time) { w.args = append(w.args, t) }

// copyBinary writes n rows into table's cols with one binary COPY on c:
// row(i, w) writes the values of row i, in the order of cols.
func copyBinary(ctx context.Context, c *pgx.Conn, table string, cols []string, n int, row func(i int, w rowWriter)) error {
	w := &copyWriter{b: make([]byte, 0, len(copyHeader)+n*(2+len(cols)*24)+2)}
	w.b = append(w.b, copyHeader...)
	for i := range n {
		w.row(len(cols))
		row(i, w)
	}
	w.b = binary.BigEndian.AppendUint16(w.b, math.MaxUint16) // the trailer, -1
	q := "COPY " + pgx.Identifier{table}.Sanitize() + " (" + strings.Join(quoted(cols), ", ") + ") FROM STDIN (FORMAT binary)"
	_, err := c.PgConn().CopyFrom(ctx, bytes.NewReader(w.b), q)
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
