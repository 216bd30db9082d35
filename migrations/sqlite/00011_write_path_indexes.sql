-- +goose Up
-- No query reads usage_records by (org_id, created_at): the request log
-- pages by (org_id, id), rollups and the purge go by created_at. One index
-- fewer to write on every API request.
DROP INDEX usage_records_org_time;
-- Ascending: new events go to the end of the organization's range, where
-- SQLite appends to the last page instead of splitting pages in the middle;
-- the audit log still reads newest first, walking the index backwards.
DROP INDEX audit_events_org_time;
CREATE INDEX audit_events_org_time ON audit_events (org_id, created_at);

-- +goose Down
DROP INDEX audit_events_org_time;
CREATE INDEX audit_events_org_time ON audit_events (org_id, created_at DESC);
CREATE INDEX usage_records_org_time ON usage_records (org_id, created_at);
