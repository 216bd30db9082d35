-- +goose Up
-- No query reads usage_records by (org_id, created_at): the request log
-- pages by (org_id, id), rollups and the purge go by created_at. One index
-- fewer to write on every API request.
DROP INDEX usage_records_org_time;

-- +goose Down
CREATE INDEX usage_records_org_time ON usage_records (org_id, created_at);
