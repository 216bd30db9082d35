-- +goose Up
-- A person's choice about product analytics (the cookie banner and the
-- Account page), kept so it follows them across browsers. No row: not asked yet.
CREATE TABLE analytics_consent (
    user_id    TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    choice     TEXT NOT NULL CHECK (choice IN ('granted', 'refused')),
    decided_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE analytics_consent;
