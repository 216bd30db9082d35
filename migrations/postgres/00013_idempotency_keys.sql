-- +goose Up
-- Idempotency-Key: the answer to the first POST or PATCH with a key, kept
-- per organization and environment for 24 hours, so that a retry gets the
-- same answer without a second write. state is pending while the first
-- request runs; fingerprint is a hash of its method, path and body.
CREATE TABLE idempotency_keys (
    org_id      TEXT NOT NULL,
    env         TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'done')),
    status      INTEGER NOT NULL DEFAULT 0,
    headers     TEXT NOT NULL DEFAULT '{}',
    body        TEXT NOT NULL DEFAULT '',
    resource    TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, env, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
