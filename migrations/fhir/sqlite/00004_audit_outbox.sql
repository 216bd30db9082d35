-- +goose Up
-- The audit events of data changes, written in the same transaction as the
-- change they record, so that there is never a change without its event
-- nor an event without its change. The records service moves them into the
-- audit log (which carries each event's id, so a move repeated after a
-- failure writes it once) and deletes them here.
CREATE TABLE audit_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL
);

-- +goose Down
DROP TABLE audit_outbox;
