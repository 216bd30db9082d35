-- +goose Up
-- Searches, counts and lists read only current resources: with the deleted
-- flag in the index they never touch the table rows they skip or count.
DROP INDEX resources_updated;
CREATE INDEX resources_current ON resources (tenant, type, deleted, last_updated DESC, id);

-- +goose Down
DROP INDEX resources_current;
CREATE INDEX resources_updated ON resources (tenant, type, last_updated DESC, id);
