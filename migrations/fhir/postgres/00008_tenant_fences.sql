-- +goose Up
-- A tenant listed here is being moved to another datastore and is in the
-- short final step of the move: its writes to this datastore are refused
-- (503, Retry-After) while the last changes are copied and the copy is
-- verified, and afterwards, until every instance routes it to the new
-- datastore.
CREATE TABLE tenant_fences (
    tenant TEXT PRIMARY KEY,
    since  BIGINT NOT NULL
);

-- tenant_fenced is the check every write runs first in its transaction.
-- It takes a shared transaction-level advisory lock on the tenant, held
-- until the write commits; the fence is set under the exclusive lock, so
-- it waits for the writes already running and every later write sees it.
-- The function is VOLATILE, so the lookup after the lock runs on a fresh
-- snapshot (READ COMMITTED) and sees a fence committed while it waited.
-- +goose StatementBegin
CREATE FUNCTION tenant_fenced(t TEXT) RETURNS BOOLEAN LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtext('clinikapi.fence'), hashtext(t));
    RETURN EXISTS (SELECT 1 FROM tenant_fences WHERE tenant = t);
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION tenant_fenced(TEXT);
DROP TABLE tenant_fences;
