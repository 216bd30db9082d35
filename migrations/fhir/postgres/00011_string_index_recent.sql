-- +goose Up
-- A second order of the string index: within a parameter and the first
-- three characters of a value, newest first. The first page of a prefix
-- search of three characters or more (name=smi) then reads its rows in
-- page order and stops at the page's end, instead of reading and sorting
-- every match (thousands for a short prefix over 100,000 patients). The
-- value is included, so the longer prefix is checked in the index too.
CREATE INDEX idx_string_recent ON idx_string (tenant, type, param, left(text, 3), last_updated DESC, id) INCLUDE (text);

-- +goose Down
DROP INDEX idx_string_recent;
