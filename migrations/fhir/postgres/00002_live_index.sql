-- +goose Up
-- Searches, counts and lists read only current resources: with the deleted
-- flag in the index they never touch the table rows they skip or count.
DROP INDEX resources_updated;
CREATE INDEX resources_current ON resources (tenant, type, deleted, last_updated DESC, id);
-- Id lookups (search by other parameters) read the flag and the sort key here.
CREATE INDEX resources_lookup ON resources (tenant, type, id, deleted, last_updated);

-- +goose Down
DROP INDEX resources_lookup;
DROP INDEX resources_current;
CREATE INDEX resources_updated ON resources (tenant, type, last_updated DESC, id);
