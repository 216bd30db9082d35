-- +goose Up
-- Bulk export and import jobs. A worker claims a pending job (or one whose
-- lease ran out: its instance died) by setting lease_holder/lease_until.
-- errors holds "line N: reason" strings (never values); files the export's
-- NDJSON files as JSON [{"type","name","count","bytes"}].
CREATE TABLE bulk_jobs (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL,
    env               TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('export', 'import')),
    status            TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    resource_types    TEXT NOT NULL DEFAULT '',
    since             TIMESTAMP,
    dedicated         BOOLEAN NOT NULL DEFAULT FALSE,
    total_records     INTEGER NOT NULL DEFAULT 0,
    processed_records INTEGER NOT NULL DEFAULT 0,
    errors            TEXT NOT NULL DEFAULT '[]',
    files             TEXT NOT NULL DEFAULT '[]',
    actor_type        TEXT NOT NULL,
    actor_id          TEXT NOT NULL DEFAULT '',
    lease_holder      TEXT NOT NULL DEFAULT '',
    lease_until       TIMESTAMP,
    attempts          INTEGER NOT NULL DEFAULT 0,
    created_at        TIMESTAMP NOT NULL,
    started_at        TIMESTAMP,
    finished_at       TIMESTAMP,
    expires_at        TIMESTAMP,
    files_removed     BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX bulk_jobs_org ON bulk_jobs (org_id, created_at DESC);
CREATE INDEX bulk_jobs_work ON bulk_jobs (status, created_at);

-- Closed organizations: API keys revoked, PHI deleted after delete_after
-- unless an owner cancels first (the row is then removed).
CREATE TABLE org_closures (
    org_id       TEXT PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    closed_by    TEXT NOT NULL,
    closed_at    TIMESTAMP NOT NULL,
    delete_after TIMESTAMP NOT NULL,
    deleted_at   TIMESTAMP
);

-- +goose Down
DROP TABLE org_closures;
DROP TABLE bulk_jobs;
