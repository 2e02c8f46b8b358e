-- Billing: each tenant's plan and Stripe customer, the meter-report cursor, and the Stripe
-- webhook events already handled.
--
-- Usage itself stays in `usage_counters` (per tenant, UTC day, metric), written in the same
-- statement as the action it counts: an event is counted by the insert that stores it (the
-- events' primary key is the source key, so an id stored before, or a request replayed
-- under its Idempotency-Key, adds nothing), an SPV request in the transaction that answers
-- it, proof reads by the process that served them (flushed every second).

-- A tenant without a row is on the configured default plan (ANCORA_DEFAULT_PLAN).
CREATE TABLE tenant_billing (
    tenant_id            uuid PRIMARY KEY REFERENCES tenants (id),
    plan                 text NOT NULL CHECK (length(plan) BETWEEN 1 AND 64),
    -- Created at Checkout, or linked by an operator (`ancora admin plan set --stripe-customer`).
    stripe_customer      text UNIQUE CHECK (stripe_customer ~ '^cus_[A-Za-z0-9]+$'),
    stripe_subscription  text,
    -- Set by invoice.payment_failed, cleared by invoice.paid: after the grace period the
    -- tenant runs with the limits of `free` (its plan is kept).
    payment_failed_at    timestamptz,
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- How much of each usage counter has been reported to Stripe. A report is first written as
-- pending (its identifier, value and the total it brings the cursor to), then sent, then
-- settled: a process killed after sending resends the same identifier, which Stripe ignores.
CREATE TABLE billing_meter_cursors (
    tenant_id           uuid NOT NULL REFERENCES tenants (id),
    metric              text NOT NULL,
    reported            bigint NOT NULL DEFAULT 0 CHECK (reported >= 0),
    pending_identifier  text,
    pending_value       bigint CHECK (pending_value > 0),
    pending_through     bigint,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, metric),
    CHECK ((pending_identifier IS NULL) = (pending_value IS NULL)
           AND (pending_value IS NULL) = (pending_through IS NULL))
);

-- Stripe webhook events handled, by Stripe's event id: each is applied once. No tenant data
-- (the id and type only), so no tenant policy, like the job queue.
CREATE TABLE stripe_webhook_events (
    id           text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 255),
    type         text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tenant_billing', 'billing_meter_cursors']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = ancora_current_tenant()) '
                       'WITH CHECK (tenant_id = ancora_current_tenant())', t);
    END LOOP;
END
$$;

-- A Stripe webhook names a customer, not a tenant: this function, owned by the migrating
-- role, finds the one tenant linked to a customer and nothing else.
CREATE FUNCTION ancora_tenant_of_stripe_customer(p_customer text) RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
AS $$ SELECT tenant_id FROM tenant_billing WHERE stripe_customer = p_customer $$;

-- The usage reporter walks the tenants that have a Stripe customer.
CREATE FUNCTION ancora_stripe_billed_tenants()
    RETURNS TABLE (tenant_id uuid, stripe_customer text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
AS $$ SELECT tenant_id, stripe_customer FROM tenant_billing WHERE stripe_customer IS NOT NULL
      ORDER BY tenant_id $$;

GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_billing, billing_meter_cursors, stripe_webhook_events TO ancora_app;
GRANT EXECUTE ON FUNCTION ancora_tenant_of_stripe_customer(text), ancora_stripe_billed_tenants() TO ancora_app;
