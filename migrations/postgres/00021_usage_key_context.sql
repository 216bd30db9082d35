-- +goose Up
-- What a key's own page and the leaked-key report need of each request:
-- the resource type it used, the client address and the user agent's
-- family (a product name such as curl or node, never the full string).
ALTER TABLE usage_records ADD COLUMN resource_type TEXT NOT NULL DEFAULT '';
ALTER TABLE usage_records ADD COLUMN client_ip TEXT NOT NULL DEFAULT '';
ALTER TABLE usage_records ADD COLUMN ua_family TEXT NOT NULL DEFAULT '';
CREATE INDEX usage_records_key_time ON usage_records (key_id, created_at);

-- +goose Down
DROP INDEX usage_records_key_time;
ALTER TABLE usage_records DROP COLUMN ua_family;
ALTER TABLE usage_records DROP COLUMN client_ip;
ALTER TABLE usage_records DROP COLUMN resource_type;
