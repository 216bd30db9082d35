-- +goose Up
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    env          TEXT NOT NULL CHECK (env IN ('test', 'live')),
    scope        TEXT NOT NULL CHECK (scope IN ('read', 'write', '*')),
    prefix       TEXT NOT NULL,
    last4        TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ
);
CREATE INDEX api_keys_org ON api_keys (org_id, created_at DESC);

-- Only SHA-256 hashes of key strings are stored. A rolled key keeps its old
-- secret until expires_at (the grace period); the current secret has none.
CREATE TABLE api_key_secrets (
    hash       TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ
);
CREATE INDEX api_key_secrets_key ON api_key_secrets (key_id);

-- +goose Down
DROP TABLE api_key_secrets;
DROP TABLE api_keys;
