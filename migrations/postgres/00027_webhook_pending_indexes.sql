-- +goose Up
-- The dispatcher's indexes hold pending deliveries only: a delivery leaves
-- them when it is finished, so they stay as small as the work waiting (the
-- delivery log keeps finished ones for 30 days), and recording an attempt
-- writes fewer index pages.
DROP INDEX webhook_deliveries_due;
DROP INDEX webhook_deliveries_endpoint_due;
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_pending ON webhook_deliveries (endpoint_id, next_attempt_at) WHERE status = 'pending';

-- +goose Down
DROP INDEX webhook_deliveries_endpoint_pending;
DROP INDEX webhook_deliveries_pending;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint_due ON webhook_deliveries (status, endpoint_id, next_attempt_at);
