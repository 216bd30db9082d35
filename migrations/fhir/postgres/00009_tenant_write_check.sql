-- +goose Up
-- tenant_write_check is tenant_fenced for a write sent as one pipeline
-- (a create on PostgreSQL): it raises instead of answering, so a fenced
-- tenant's write fails, and rolls back, inside the pipeline's implicit
-- transaction. SQLSTATE CK001 is read as datastore.ErrFenced.
-- +goose StatementBegin
CREATE FUNCTION tenant_write_check(t TEXT) RETURNS VOID LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF tenant_fenced(t) THEN
        RAISE EXCEPTION 'the tenant''s writes are fenced for a datastore move' USING ERRCODE = 'CK001';
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION tenant_write_check(TEXT);
