-- +goose Up
-- The audit trail is a hash chain per organization (org_id NULL: the chain
-- of account events outside organizations, keyed '' in the heads). Each
-- event carries its position in its chain (chain_seq, from 1), the hash of
-- the event before it (prev_hash, '' for the first) and its own hash (see
-- README, "Tamper-evident audit trail"). The head holds the last position
-- and hash of each chain; it is updated in the transaction that appends, so
-- appends to one chain are serialised (a row lock on PostgreSQL, the write
-- lock on SQLite) and removing the newest events shows too.
ALTER TABLE audit_events ADD COLUMN chain_seq BIGINT;
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN hash TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX audit_events_chain ON audit_events (COALESCE(org_id, ''), chain_seq);
CREATE TABLE audit_chain_heads (
    chain_id TEXT PRIMARY KEY,
    seq      BIGINT NOT NULL,
    hash     TEXT NOT NULL
);

-- +goose Down
DROP TABLE audit_chain_heads;
DROP INDEX audit_events_chain;
ALTER TABLE audit_events DROP COLUMN hash;
ALTER TABLE audit_events DROP COLUMN prev_hash;
ALTER TABLE audit_events DROP COLUMN chain_seq;
