package store

import (
	"context"

	"github.com/clinikapi/clinikapi/internal/quota"
	"github.com/clinikapi/clinikapi/internal/usage"
)

var (
	_ usage.Store = (*DB)(nil)
	_ quota.Store = (*DB)(nil)
)

const usageColumns = 15

// InsertUsage implements usage.Store with one multi-row INSERT.
func (db *DB) InsertUsage(ctx context.Context, rs []usage.Record) error {
	if len(rs) == 0 {
		return nil
	}
	args := make([]any, 0, len(rs)*usageColumns)
	for _, r := range rs {
		args = append(args, utc(r.Time), r.OrgID, r.KeyID, r.Env, r.Method, r.Route, r.Status, r.Latency.Microseconds(), r.BytesIn, r.BytesOut, r.RequestID, r.Code, r.ResourceType, r.ClientIP, r.UAFamily)
	}
	return db.insertValues(ctx, `INSERT INTO usage_records (created_at, org_id, key_id, env, method, route, status, latency_us, bytes_in, bytes_out, request_id, code, resource_type, client_ip, ua_family)`, "",
		len(rs), usageColumns, usage.BatchSize, args)
}

// AddQuota implements quota.Store.
func (db *DB) AddQuota(ctx context.Context, orgID, period, pool string, delta int64) (int64, error) {
	var total int64
	err := db.writing(func() error {
		return db.sql.QueryRowContext(ctx, `INSERT INTO quota_counters (org_id, period, pool, used) VALUES ($1, $2, $3, $4)
		ON CONFLICT (org_id, period, pool) DO UPDATE SET used = quota_counters.used + excluded.used
		RETURNING used`, orgID, period, pool, delta).Scan(&total)
	})
	return total, err
}
