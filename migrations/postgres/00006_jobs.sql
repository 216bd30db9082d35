-- +goose Up
-- One row per kind of background job: the lease that keeps runs from
-- overlapping across instances, and the outcome of the last run.
CREATE TABLE job_state (
    kind        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    lease_until TIMESTAMPTZ NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    ok          BOOLEAN NOT NULL DEFAULT FALSE,
    summary     TEXT NOT NULL DEFAULT '',
    error       TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE job_state;
