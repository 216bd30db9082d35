-- +goose Up
-- live_datastore is where an organization's live FHIR data is: the shared
-- live datastore ('live') or its dedicated one ('org_…'). It follows the
-- plan, but only once a move (datastore_moves) has copied and verified the
-- data: until then requests keep using the old one. Organizations already
-- on Enterprise have their data in their dedicated datastore.
ALTER TABLE organizations ADD COLUMN live_datastore TEXT NOT NULL DEFAULT 'live';
UPDATE organizations SET live_datastore = lower(id) WHERE plan = 'enterprise';

-- One row per organization whose live data moved or moves between
-- datastores. phase: idle (no move yet), copying (copy and catch-up passes;
-- writes go to source), fenced (writes to source refused for a moment while
-- the last changes are copied and the copy is verified), switched (requests
-- use target; the source copy is deleted after a grace period), done,
-- cancelled (the plan changed back before the switch). cursor_type and
-- cursor_id are where the current pass has got to, so a restarted server
-- resumes it; lease_holder and lease_until keep it to one worker.
CREATE TABLE datastore_moves (
    org_id       TEXT PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    source       TEXT NOT NULL DEFAULT '',
    target       TEXT NOT NULL DEFAULT '',
    phase        TEXT NOT NULL CHECK (phase IN ('idle', 'copying', 'fenced', 'switched', 'done', 'cancelled')),
    pass         INTEGER NOT NULL DEFAULT 0,
    cursor_type  TEXT NOT NULL DEFAULT '',
    cursor_id    TEXT NOT NULL DEFAULT '',
    total        BIGINT NOT NULL DEFAULT 0,
    checked      BIGINT NOT NULL DEFAULT 0,
    copied       BIGINT NOT NULL DEFAULT 0,
    error        TEXT NOT NULL DEFAULT '',
    lease_holder TEXT NOT NULL DEFAULT '',
    lease_until  TIMESTAMP,
    started_at   TIMESTAMP,
    switched_at  TIMESTAMP,
    finished_at  TIMESTAMP,
    updated_at   TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE datastore_moves;
ALTER TABLE organizations DROP COLUMN live_datastore;
