-- Workers: what the job runner needs beyond the core schema.
--
-- The batcher runs inside one tenant's transaction, so row-level security hides every other
-- tenant's events from it. The safety-net sweeper must find tenants whose pending events were
-- never batched (a lost wake-up, a job that kept failing) without a tenant set: this function,
-- owned by the migrating role like ancora_authenticate_api_key, answers only that question and
-- returns tenant ids and counts, never event data.

CREATE FUNCTION ancora_stale_pending_tenants(p_older_than interval)
    RETURNS TABLE (tenant_id uuid, pending bigint, oldest timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
AS $$
    SELECT e.tenant_id, count(*), min(e.received_at)
    FROM events e
    WHERE e.batch_id IS NULL
    GROUP BY e.tenant_id
    HAVING min(e.received_at) < now() - p_older_than
$$;

-- Claims look for due jobs whose lease is free or expired; the core index only covers
-- never-claimed jobs, and a crashed worker's job keeps its locked_until.
CREATE INDEX jobs_due ON jobs (run_at);

-- The prover reads an anchor's batch roots in tree order (anchor_queue_anchor covers it) and
-- the catalog pages a tenant's batches by (created_at, id) (batches_tenant_created covers it).

GRANT EXECUTE ON FUNCTION ancora_stale_pending_tenants(interval) TO ancora_app;
