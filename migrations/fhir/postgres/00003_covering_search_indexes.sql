-- +goose Up
-- The search indexes end with the resource id, so a search reads ids from
-- the index alone instead of visiting every matching index row's table row.
DROP INDEX idx_string_search;
CREATE INDEX idx_string_search ON idx_string (tenant, type, param, text, id);
DROP INDEX idx_token_search;
CREATE INDEX idx_token_search ON idx_token (tenant, type, param, code, system, id);
DROP INDEX idx_reference_search;
CREATE INDEX idx_reference_search ON idx_reference (tenant, type, param, ref_id, ref_type, id);
DROP INDEX idx_date_search;
CREATE INDEX idx_date_search ON idx_date (tenant, type, param, start_at, end_at, id);
DROP INDEX idx_number_search;
CREATE INDEX idx_number_search ON idx_number (tenant, type, param, value, system, code, id);
DROP INDEX idx_uri_search;
CREATE INDEX idx_uri_search ON idx_uri (tenant, type, param, url, id);

-- +goose Down
DROP INDEX idx_uri_search;
CREATE INDEX idx_uri_search ON idx_uri (tenant, type, param, url);
DROP INDEX idx_number_search;
CREATE INDEX idx_number_search ON idx_number (tenant, type, param, value);
DROP INDEX idx_date_search;
CREATE INDEX idx_date_search ON idx_date (tenant, type, param, start_at);
DROP INDEX idx_reference_search;
CREATE INDEX idx_reference_search ON idx_reference (tenant, type, param, ref_id, ref_type);
DROP INDEX idx_token_search;
CREATE INDEX idx_token_search ON idx_token (tenant, type, param, code, system);
DROP INDEX idx_string_search;
CREATE INDEX idx_string_search ON idx_string (tenant, type, param, text);
