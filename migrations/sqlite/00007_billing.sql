-- +goose Up
-- Each organization's subscription as Stripe (or development billing) last
-- said it, plus the overage switch. last_event_at orders subscription events
-- so that late deliveries never undo newer state.
CREATE TABLE org_billing (
    org_id                 TEXT PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    stripe_customer_id     TEXT UNIQUE,
    stripe_subscription_id TEXT,
    status                 TEXT NOT NULL DEFAULT '',
    current_period_end     TIMESTAMP,
    cancel_at_period_end   BOOLEAN NOT NULL DEFAULT FALSE,
    payment_failed         BOOLEAN NOT NULL DEFAULT FALSE,
    overage                BOOLEAN NOT NULL DEFAULT FALSE,
    scheduled_plan         TEXT NOT NULL DEFAULT '',
    last_event_at          TIMESTAMP,
    last_invoice_event_at  TIMESTAMP,
    updated_at             TIMESTAMP NOT NULL
);
CREATE INDEX org_billing_subscription ON org_billing (stripe_subscription_id);

-- Stripe event ids already processed: a redelivery is acknowledged and ignored.
CREATE TABLE stripe_events (
    id           TEXT PRIMARY KEY,
    type         TEXT NOT NULL,
    processed_at TIMESTAMP NOT NULL
);

-- Overage reported to Stripe usage billing per organization and month.
-- pending is a batch being sent under identifier (org, period, seq): a retry
-- resends the same batch with the same identifier, so it is never billed twice.
CREATE TABLE billing_overage (
    org_id   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    period   TEXT NOT NULL,
    reported BIGINT NOT NULL DEFAULT 0,
    seq      INTEGER NOT NULL DEFAULT 0,
    pending  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, period)
);

-- Electronically signed Business Associate Agreements.
CREATE TABLE baa_signatures (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id          TEXT NOT NULL,
    signer_name      TEXT NOT NULL,
    signer_title     TEXT NOT NULL,
    ip               TEXT NOT NULL DEFAULT '',
    document_version TEXT NOT NULL,
    signed_at        TIMESTAMP NOT NULL
);
CREATE INDEX baa_signatures_org ON baa_signatures (org_id, signed_at);

-- Enterprise plan requests from the Billing page.
CREATE TABLE enterprise_requests (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    message    TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE enterprise_requests;
DROP TABLE baa_signatures;
DROP TABLE billing_overage;
DROP TABLE stripe_events;
DROP TABLE org_billing;
