-- +goose Up
-- A second order of the string index: within a parameter and the first
-- three characters of a value (recentHead in internal/store), newest
-- first. The first page of a three-character prefix search (name=smi)
-- then reads its rows in page order and stops at the page's end, instead
-- of reading and sorting every match (thousands over 100,000 patients).
-- IF NOT EXISTS: on a large table it may be built beforehand with CREATE
-- INDEX CONCURRENTLY (README), which holds no writes.
CREATE INDEX IF NOT EXISTS idx_string_recent ON idx_string (tenant, type, param, left(text, 3), last_updated DESC, id) INCLUDE (text);

-- +goose Down
DROP INDEX IF EXISTS idx_string_recent;
