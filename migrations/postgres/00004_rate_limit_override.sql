-- +goose Up
-- A per-organization rate limit that replaces the plan's (Enterprise
-- contracts, load tests); NULL means the plan's limit.
ALTER TABLE organizations ADD COLUMN rate_limit_per_min INTEGER;

-- +goose Down
ALTER TABLE organizations DROP COLUMN rate_limit_per_min;
