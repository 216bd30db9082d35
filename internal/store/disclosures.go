package store

import (
	"context"
	"strings"

	"github.com/clinikapi/clinikapi/internal/disclosure"
)

var _ disclosure.Store = (*DB)(nil)

var disclosureColumnNames = []string{"org_id", "patient_id", "created_at", "env", "actor_type", "actor_id", "request_id", "route", "operation", "bulk_job", "resources"}

// disclosureInsertRows is the most disclosures one multi-row INSERT
// writes on SQLite.
const disclosureInsertRows = 200

// disclosureRow writes d's values in the order of disclosureColumnNames.
func disclosureRow(w rowWriter, d disclosure.Disclosure) {
	w.text(d.OrgID)
	w.text(d.PatientID)
	w.time(utc(d.At))
	w.text(d.Env)
	w.text(d.ActorType)
	w.text(d.ActorID)
	w.text(d.RequestID)
	w.text(d.Route)
	w.text(d.Operation)
	w.text(d.BulkJob)
	w.text(strings.Join(d.Resources, " "))
}

// InsertDisclosures implements disclosure.Store: all of ds or none, in
// one COPY on PostgreSQL, in multi-row INSERTs of disclosureInsertRows
// within one transaction on SQLite.
func (db *DB) InsertDisclosures(ctx context.Context, ds []disclosure.Disclosure) error {
	return db.insertRows(ctx, "disclosures", disclosureColumnNames, len(ds), disclosureInsertRows, func(i int, w rowWriter) { disclosureRow(w, ds[i]) })
}

// ListDisclosures implements disclosure.Store.
func (db *DB) ListDisclosures(ctx context.Context, f disclosure.Filter) ([]disclosure.Entry, error) {
	q := `SELECT seq, org_id, patient_id, created_at, env, actor_type, actor_id, request_id, route, operation, bulk_job, resources
		FROM disclosures WHERE org_id = $1 AND patient_id = $2`
	args := []any{f.OrgID, f.PatientID}
	add := func(cond string, v any) {
		args = append(args, v)
		q += " AND " + strings.ReplaceAll(cond, "?", "$"+itoa(len(args)))
	}
	if !f.After.IsZero() {
		add("created_at >= ?", utc(f.After))
	}
	if !f.Before.IsZero() {
		add("created_at < ?", utc(f.Before))
	}
	if f.BeforeSeq > 0 {
		add("seq < ?", f.BeforeSeq)
	}
	args = append(args, f.Limit)
	q += " ORDER BY seq DESC LIMIT $" + itoa(len(args))
	rows, err := db.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []disclosure.Entry
	for rows.Next() {
		var e disclosure.Entry
		var res string
		if err := rows.Scan(&e.Seq, &e.OrgID, &e.PatientID, &e.At, &e.Env, &e.ActorType, &e.ActorID, &e.RequestID, &e.Route, &e.Operation, &e.BulkJob, &res); err != nil {
			return nil, err
		}
		e.Resources = strings.Fields(res)
		out = append(out, e)
	}
	return out, rows.Err()
}
