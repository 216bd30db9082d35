-- +goose Up
-- PostgreSQL's tenant_write_check has no counterpart here: SQLite writes
-- check the fence in their transaction (one writer at a time). This
-- migration keeps the two engines' versions in step.
SELECT 1;

-- +goose Down
SELECT 1;
