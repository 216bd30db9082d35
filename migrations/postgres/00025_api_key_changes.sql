-- +goose Up
-- The same table as on SQLite, so that both engines have one schema. On
-- PostgreSQL key changes reach the other instances by NOTIFY (or Redis)
-- and nothing is written here.
CREATE TABLE api_key_changes (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_id     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX api_key_changes_created ON api_key_changes (created_at);

-- +goose Down
DROP TABLE api_key_changes;
