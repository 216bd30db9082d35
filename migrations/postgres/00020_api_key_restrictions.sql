-- +goose Up
-- Restrictions and state of a key beyond its scope: the resource types it
-- may use (per scope; '' = every type), the client networks it may come
-- from ('' = anywhere), its own rate limit (0 = the organization's), a
-- reversible disable, and notes for people.
ALTER TABLE api_keys ADD COLUMN resource_types TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN ip_allowlist TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN per_minute INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN disabled_at TIMESTAMPTZ;
ALTER TABLE api_keys ADD COLUMN notes TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE api_keys DROP COLUMN notes;
ALTER TABLE api_keys DROP COLUMN disabled_at;
ALTER TABLE api_keys DROP COLUMN per_minute;
ALTER TABLE api_keys DROP COLUMN ip_allowlist;
ALTER TABLE api_keys DROP COLUMN resource_types;
