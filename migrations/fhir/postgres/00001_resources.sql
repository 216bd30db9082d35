-- +goose Up
-- FHIR resources of one datastore (test, live, or an organization's
-- dedicated one). Every row carries its tenant (organization id); every
-- query filters on it.
CREATE TABLE resources (
    tenant       TEXT NOT NULL,
    type         TEXT NOT NULL,
    id           TEXT NOT NULL,
    version      INTEGER NOT NULL,
    last_updated BIGINT NOT NULL, -- unix microseconds
    deleted      BOOLEAN NOT NULL DEFAULT false,
    content      TEXT NOT NULL,
    PRIMARY KEY (tenant, type, id)
);
CREATE INDEX resources_updated ON resources (tenant, type, last_updated DESC, id);

CREATE TABLE resource_history (
    tenant       TEXT NOT NULL,
    type         TEXT NOT NULL,
    id           TEXT NOT NULL,
    version      INTEGER NOT NULL,
    last_updated BIGINT NOT NULL,
    deleted      BOOLEAN NOT NULL DEFAULT false,
    content      TEXT NOT NULL,
    PRIMARY KEY (tenant, type, id, version)
);

-- Search index, one table per parameter type, written with the resource.
CREATE TABLE idx_string (
    tenant TEXT NOT NULL, type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
    text TEXT COLLATE "C" NOT NULL, exact TEXT NOT NULL
);
CREATE INDEX idx_string_search ON idx_string (tenant, type, param, text);
CREATE INDEX idx_string_owner ON idx_string (tenant, type, id);

CREATE TABLE idx_token (
    tenant TEXT NOT NULL, type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
    system TEXT NOT NULL, code TEXT NOT NULL
);
CREATE INDEX idx_token_search ON idx_token (tenant, type, param, code, system);
CREATE INDEX idx_token_owner ON idx_token (tenant, type, id);

CREATE TABLE idx_reference (
    tenant TEXT NOT NULL, type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
    ref_type TEXT NOT NULL, ref_id TEXT NOT NULL, url TEXT NOT NULL
);
CREATE INDEX idx_reference_search ON idx_reference (tenant, type, param, ref_id, ref_type);
CREATE INDEX idx_reference_target ON idx_reference (tenant, ref_type, ref_id);
CREATE INDEX idx_reference_owner ON idx_reference (tenant, type, id);

CREATE TABLE idx_date (
    tenant TEXT NOT NULL, type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
    start_at BIGINT NOT NULL, end_at BIGINT NOT NULL -- unix microseconds, [start, end)
);
CREATE INDEX idx_date_search ON idx_date (tenant, type, param, start_at);
CREATE INDEX idx_date_owner ON idx_date (tenant, type, id);

CREATE TABLE idx_number (
    tenant TEXT NOT NULL, type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL, system TEXT NOT NULL, code TEXT NOT NULL -- system/code: quantity units
);
CREATE INDEX idx_number_search ON idx_number (tenant, type, param, value);
CREATE INDEX idx_number_owner ON idx_number (tenant, type, id);

CREATE TABLE idx_uri (
    tenant TEXT NOT NULL, type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
    url TEXT NOT NULL
);
CREATE INDEX idx_uri_search ON idx_uri (tenant, type, param, url);
CREATE INDEX idx_uri_owner ON idx_uri (tenant, type, id);

-- +goose Down
DROP TABLE idx_uri;
DROP TABLE idx_number;
DROP TABLE idx_date;
DROP TABLE idx_reference;
DROP TABLE idx_token;
DROP TABLE idx_string;
DROP TABLE resource_history;
DROP TABLE resources;
