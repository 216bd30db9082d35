-- +goose Up
-- Outbound webhooks. An endpoint's signing secrets are sealed (AES-GCM
-- under a server secret): they must be kept to sign with. old_secret signs
-- beside secret until old_secret_until (a roll with overlap). tenant_id
-- pins the endpoint to one tenant (a sub-organization); NULL: all.
CREATE TABLE webhook_endpoints (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url              TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    events           TEXT NOT NULL,
    environment      TEXT NOT NULL DEFAULT '' CHECK (environment IN ('', 'live', 'test')),
    tenant_id        TEXT,
    secret           TEXT NOT NULL,
    old_secret       TEXT NOT NULL DEFAULT '',
    old_secret_until TIMESTAMP,
    disabled         BOOLEAN NOT NULL DEFAULT FALSE,
    created_by       TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id, created_at);

-- One event for one endpoint. event_id is the payload's id and the
-- X-Clinik-Delivery-Id header; (endpoint_id, event_id) is unique, so a relay
-- repeated after a failure queues it once. A dispatcher claims a due
-- delivery by leasing it (lease_holder, lease_until).
CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    org_id          TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    event           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'refused')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_holder    TEXT NOT NULL DEFAULT '',
    lease_until     TIMESTAMP,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint_due ON webhook_deliveries (status, endpoint_id, next_attempt_at);
CREATE INDEX webhook_deliveries_updated ON webhook_deliveries (updated_at);

-- Every send of a delivery: the delivery log (Analytics → Webhook logs).
-- response is the start of the receiver's answer (bounded); error says
-- why it failed or was refused. Never the payload's resource content:
-- payloads carry ids only.
CREATE TABLE webhook_attempts (
    id              TEXT PRIMARY KEY,
    delivery_id     TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    endpoint_id     TEXT NOT NULL,
    org_id          TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    event           TEXT NOT NULL,
    attempt         INTEGER NOT NULL,
    at              TIMESTAMP NOT NULL,
    outcome         TEXT NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'refused')),
    status_code     INTEGER NOT NULL DEFAULT 0,
    latency_us      BIGINT NOT NULL DEFAULT 0,
    response        TEXT NOT NULL DEFAULT '',
    error           TEXT NOT NULL DEFAULT '',
    next_attempt_at TIMESTAMP
);
CREATE INDEX webhook_attempts_org ON webhook_attempts (org_id, at DESC, id DESC);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
