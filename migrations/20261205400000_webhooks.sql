-- Webhooks (issue 15): a tenant's endpoints and the deliveries made to them.
--
-- An endpoint is an https URL (checked against private addresses when registered and again at
-- every send), the event types it wants and the secret its deliveries are signed with (HMAC-SHA256;
-- shown once when created, never listed, never logged). A delivery is one notification to one
-- endpoint — one per batch and type, whatever the number of events it lists — retried with
-- backoff for a day by the `webhook_delivery` job; its id is the event id receivers dedupe on.

CREATE TABLE webhook_endpoints (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants(id),
    url         text NOT NULL CHECK (length(url) <= 2048),
    events      text[] NOT NULL CHECK (cardinality(events) > 0),
    secret      text NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id, created_at);

CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants(id),
    endpoint_id     uuid NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_type      text NOT NULL,
    -- what it is about: a batch id (event.proved, batch.proved, batch.final) or an anchor id
    subject         text NOT NULL,
    payload         jsonb NOT NULL,
    -- pending (to be sent, or retried at next_attempt_at), delivered, failed (gave up)
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    last_status     integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_attempt_at timestamptz,
    next_attempt_at timestamptz,
    delivered_at    timestamptz,
    -- a prove job run twice makes one delivery
    UNIQUE (endpoint_id, event_type, subject)
);
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries (tenant_id, created_at DESC);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['webhook_endpoints', 'webhook_deliveries']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = ancora_current_tenant()) '
                       'WITH CHECK (tenant_id = ancora_current_tenant())', t);
    END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_endpoints, webhook_deliveries TO ancora_app;
