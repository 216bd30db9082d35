-- +goose Up
-- A string index row carries its resource's last_updated (that of the
-- version that wrote it: every write replaces a resource's index rows), so
-- a name search in the default order (newest first) finds its page from
-- the index alone, instead of looking up each match's resource row to
-- sort them (296 lookups for name=smi over 10,000 patients).
ALTER TABLE idx_string ADD COLUMN last_updated BIGINT NOT NULL DEFAULT 0;
UPDATE idx_string x SET last_updated = r.last_updated FROM resources r
WHERE r.tenant = x.tenant AND r.type = x.type AND r.id = x.id;
DROP INDEX idx_string_search;
CREATE INDEX idx_string_search ON idx_string (tenant, type, param, text, id) INCLUDE (last_updated);

-- +goose Down
DROP INDEX idx_string_search;
CREATE INDEX idx_string_search ON idx_string (tenant, type, param, text, id);
ALTER TABLE idx_string DROP COLUMN last_updated;
