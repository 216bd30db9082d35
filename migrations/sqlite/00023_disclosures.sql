-- +goose Up
-- The accounting of disclosures: one row per request (or bulk job) and
-- patient and operation (read, search, include, export, create, update,
-- patch, delete), with the references of that patient's resources it
-- touched (space-separated Type/id). Ids only, never content. Kept like
-- the audit trail (HIPAA asks for six years of accounting).
CREATE TABLE disclosures (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id     TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    env        TEXT NOT NULL,
    actor_type TEXT NOT NULL,
    actor_id   TEXT NOT NULL,
    request_id TEXT NOT NULL DEFAULT '',
    route      TEXT NOT NULL DEFAULT '',
    operation  TEXT NOT NULL,
    bulk_job   TEXT NOT NULL DEFAULT '',
    resources  TEXT NOT NULL
);
CREATE INDEX disclosures_patient ON disclosures (org_id, patient_id, created_at);

-- +goose Down
DROP TABLE disclosures;
