-- +goose Up
-- Secrets the instances share (signing paging cursors and download links),
-- made once on first start.
CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    secret     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE server_secrets;
