-- +goose Up
-- Webhook events are applied in one transaction each, in a total order per
-- organization's subscription: (last_event_at, last_event_rank,
-- last_event_id) is the newest event applied (created second, then a rank
-- from the event type and subscription status, then the event id).
-- sync_ticket numbers the reads of a subscription's current state from
-- Stripe; synced_ticket is the number of the read last applied, so that a
-- read that started earlier never overwrites one that started later.
ALTER TABLE org_billing ADD COLUMN last_event_rank INTEGER NOT NULL DEFAULT 0;
ALTER TABLE org_billing ADD COLUMN last_event_id TEXT NOT NULL DEFAULT '';
ALTER TABLE org_billing ADD COLUMN sync_ticket BIGINT NOT NULL DEFAULT 0;
ALTER TABLE org_billing ADD COLUMN synced_ticket BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE org_billing DROP COLUMN synced_ticket;
ALTER TABLE org_billing DROP COLUMN sync_ticket;
ALTER TABLE org_billing DROP COLUMN last_event_id;
ALTER TABLE org_billing DROP COLUMN last_event_rank;
