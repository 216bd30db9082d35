-- +goose Up
-- Every change to a key (roll, revoke, restrict, disable, delete), written
-- in the change's own transaction. Other processes on the same SQLite
-- database (a server beside an admin command) read the new rows about
-- every 500 ms and drop those keys from their caches; rows are pruned after
-- 10 minutes. AUTOINCREMENT: ids are never reused after a prune.
CREATE TABLE api_key_changes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id     TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX api_key_changes_created ON api_key_changes (created_at);

-- +goose Down
DROP TABLE api_key_changes;
