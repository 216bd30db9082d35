-- +goose Up
-- Sub-organizations: an isolated tenant of an organization (a clinic a
-- platform serves). Plan, rate limit, monthly pool, billing and datastore
-- routing stay with the parent organization; the datastore's tenant of
-- data written with a sub-organization's keys is the sub-organization's id.
-- closed_at/delete_after/deleted_at: closing schedules the deletion of its
-- data, as closing an organization does; with_org marks a closure that came
-- with the parent's (undone when the parent's closure is cancelled).
CREATE TABLE sub_orgs (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    closed_at    TIMESTAMP,
    closed_by    TEXT NOT NULL DEFAULT '',
    with_org     BOOLEAN NOT NULL DEFAULT FALSE,
    delete_after TIMESTAMP,
    deleted_at   TIMESTAMP
);
CREATE INDEX sub_orgs_org ON sub_orgs (org_id, created_at);
CREATE INDEX sub_orgs_due ON sub_orgs (delete_after);

-- The tenant a key's data lives under: NULL for the organization itself,
-- else one of its sub-organizations.
ALTER TABLE api_keys ADD COLUMN tenant_id TEXT;
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

-- The tenant a bulk job reads or writes (NULL: the organization itself).
ALTER TABLE bulk_jobs ADD COLUMN tenant_id TEXT;

-- +goose Down
ALTER TABLE bulk_jobs DROP COLUMN tenant_id;
DROP INDEX api_keys_tenant;
ALTER TABLE api_keys DROP COLUMN tenant_id;
DROP TABLE sub_orgs;
