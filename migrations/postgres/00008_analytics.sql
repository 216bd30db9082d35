-- +goose Up
-- Why an API request was refused before reaching a handler (RATE_LIMITED,
-- MONTHLY_QUOTA_EXCEEDED, ...); empty for requests that were served.
ALTER TABLE usage_records ADD COLUMN code TEXT NOT NULL DEFAULT '';
CREATE INDEX usage_records_org_id ON usage_records (org_id, id);
CREATE INDEX usage_records_time ON usage_records (created_at);

-- Usage aggregates per organization, environment, key and route pattern at
-- three grains: 'm' (minute), 'h' (hour), 'd' (day). Rebuilt from
-- usage_records by the usage.rollup job; h0..h15 count requests per fixed
-- latency bucket (internal/analytics.Bounds).
CREATE TABLE usage_rollups (
    org_id     TEXT NOT NULL,
    grain      TEXT NOT NULL,
    bucket     TIMESTAMPTZ NOT NULL,
    env        TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    method     TEXT NOT NULL,
    route      TEXT NOT NULL,
    requests   BIGINT NOT NULL,
    s2xx       BIGINT NOT NULL,
    s4xx       BIGINT NOT NULL,
    s5xx       BIGINT NOT NULL,
    rate_limited BIGINT NOT NULL,
    quota_rejected BIGINT NOT NULL,
    bytes_in   BIGINT NOT NULL,
    bytes_out  BIGINT NOT NULL,
    latency_us BIGINT NOT NULL,
    h0 BIGINT NOT NULL, h1 BIGINT NOT NULL, h2 BIGINT NOT NULL, h3 BIGINT NOT NULL,
    h4 BIGINT NOT NULL, h5 BIGINT NOT NULL, h6 BIGINT NOT NULL, h7 BIGINT NOT NULL,
    h8 BIGINT NOT NULL, h9 BIGINT NOT NULL, h10 BIGINT NOT NULL, h11 BIGINT NOT NULL,
    h12 BIGINT NOT NULL, h13 BIGINT NOT NULL, h14 BIGINT NOT NULL, h15 BIGINT NOT NULL,
    PRIMARY KEY (org_id, grain, bucket, env, key_id, method, route)
);
CREATE INDEX usage_rollups_grain_bucket ON usage_rollups (grain, bucket);

-- Where the rollup has got to: minutes before rolled_to are final.
CREATE TABLE usage_rollup_state (
    name      TEXT PRIMARY KEY,
    rolled_to TIMESTAMPTZ NOT NULL,
    last_id   BIGINT NOT NULL
);

-- +goose Down
DROP TABLE usage_rollup_state;
DROP TABLE usage_rollups;
DROP INDEX usage_records_time;
DROP INDEX usage_records_org_id;
ALTER TABLE usage_records DROP COLUMN code;
