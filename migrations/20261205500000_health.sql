-- The service's health at a glance, for the worker's metrics sampler and `ancora admin status`
-- (backend/ancora/src/db/health.rs). It crosses tenants, so like the sweeper's and admission
-- control's functions it runs as its owner and answers only counts and ages, never event data.
--
-- Pending events: per tenant, the events after its batch cursor (an index range on
-- events_tenant_seq each). Unproved batches: the partial index batches_unproved.
CREATE FUNCTION ancora_health_tenants()
    RETURNS TABLE (pending_events bigint, unproved_batches bigint, oldest_unproved_seconds double precision)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
AS $$
    SELECT
        (SELECT COALESCE(sum(p.n), 0)::bigint
         FROM tenants t
         LEFT JOIN batch_cursors c ON c.tenant_id = t.id
         CROSS JOIN LATERAL (SELECT count(*) AS n FROM events e
                             WHERE e.tenant_id = t.id AND e.seq > COALESCE(c.last_seq, 0)) p),
        (SELECT count(*) FROM batches WHERE state <> 'proved'),
        (SELECT COALESCE(extract(epoch FROM clock_timestamp() - min(created_at)), 0)::double precision
         FROM batches WHERE state <> 'proved')
$$;
GRANT EXECUTE ON FUNCTION ancora_health_tenants() TO ancora_app;
