-- +goose Up
-- The webhook events of data changes, written in the same transaction as
-- the change, so that a committed change always gets its event (even when
-- the server stops before sending it) and a rolled-back one never does.
-- The webhook relay turns them into deliveries in the control database
-- (one per subscribed endpoint, unique per endpoint and event, so a move
-- repeated after a failure makes them once) and deletes them here.
CREATE TABLE webhook_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL
);

-- +goose Down
DROP TABLE webhook_outbox;
