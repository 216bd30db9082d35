-- +goose Up
-- A bulk job runs against the datastore its organization's plan gives its
-- environment when it runs (the records service decides, as for every
-- request); it no longer records a routing decision of its own.
ALTER TABLE bulk_jobs DROP COLUMN dedicated;

-- +goose Down
ALTER TABLE bulk_jobs ADD COLUMN dedicated BOOLEAN NOT NULL DEFAULT FALSE;
