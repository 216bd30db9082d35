-- +goose Up
-- One row per authenticated API request: metadata only, never bodies,
-- query values or PHI. Purged after 90 days.
CREATE TABLE usage_records (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at  TIMESTAMP NOT NULL,
    org_id      TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    env         TEXT NOT NULL,
    method      TEXT NOT NULL,
    route       TEXT NOT NULL,
    status      INTEGER NOT NULL,
    latency_us  BIGINT NOT NULL,
    bytes_in    BIGINT NOT NULL,
    bytes_out   BIGINT NOT NULL,
    request_id  TEXT NOT NULL
);
CREATE INDEX usage_records_org_time ON usage_records (org_id, created_at);

-- Monthly request pools per organization: pool is 'all' (Sandbox plan),
-- 'live' or 'sandbox'; period is 'YYYY-MM' (UTC).
CREATE TABLE quota_counters (
    org_id TEXT NOT NULL,
    period TEXT NOT NULL,
    pool   TEXT NOT NULL,
    used   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, period, pool)
);

-- +goose Down
DROP TABLE quota_counters;
DROP TABLE usage_records;
