-- +goose Up
-- A tenant listed here is being moved to another datastore and is in the
-- short final step of the move: its writes to this datastore are refused
-- (503, Retry-After) while the last changes are copied and the copy is
-- verified, and afterwards, until every instance routes it to the new
-- datastore. Every write checks it in its own transaction; SQLite runs
-- one write transaction at a time, so a write either committed before the
-- fence (and is copied) or sees it.
CREATE TABLE tenant_fences (
    tenant TEXT PRIMARY KEY,
    since  BIGINT NOT NULL
);

-- +goose Down
DROP TABLE tenant_fences;
