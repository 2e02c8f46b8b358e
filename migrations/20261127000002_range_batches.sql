-- Batches are ranges of a tenant's arrival order, and proofs are stored compactly.
--
-- Before: closing a batch UPDATEd every event row (batch_id, leaf_index), which rewrote the row
-- and touched every index of `events`, and the prover stored each event's whole bundle (~2 KB
-- of JSON, most of it the anchor step and trust point that every event of the batch shares).
-- Measured on this machine kind, per event: the UPDATE ~27 µs and the bundle insert ~19 µs of
-- Postgres time, against ~11 µs for the event insert itself.
--
-- After:
-- * A batch is the tenant's events with `first_seq <= seq <= last_seq`, leaf `i` the `i`-th
--   in `seq` order. Batches of a tenant never overlap and follow one another; the tenant's
--   `batch_cursors.last_seq` is the end of its last batch, and every event after it is pending.
--   Event rows are written once, at ingest. (How the batcher knows every event up to a `seq`
--   is committed: see backend/ancora/src/workers/batch.rs.)
-- * A proof row holds what is the event's own (its leaf index and the binary proof object up to
--   the batch root); what every event of the batch shares (the anchor step and the trust point)
--   is stored once, on the batch. A proof read joins the three rows by primary key and
--   re-checks every step (`Bundle::build`); legacy rows keep their whole `bundle`.

CREATE TABLE batch_cursors (
    tenant_id  uuid PRIMARY KEY REFERENCES tenants (id),
    last_seq   bigint NOT NULL
);
ALTER TABLE batch_cursors ENABLE ROW LEVEL SECURITY;
ALTER TABLE batch_cursors FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON batch_cursors
    USING (tenant_id = ancora_current_tenant())
    WITH CHECK (tenant_id = ancora_current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON batch_cursors TO ancora_app;

-- events_tenant_seq (tenant_id, seq) exists since 20261126000004_portal.sql and serves every
-- range read; the global seq index served nothing once every read names the tenant.
CREATE INDEX batches_tenant_last_seq ON batches (tenant_id, last_seq);

-- Existing data must already have the range shape (it has whenever batches were closed one at a
-- time over the oldest pending events and no event committed late); a database where it does
-- not cannot be converted without re-batching, and this says so instead of guessing.
DO $$
DECLARE bad bigint;
BEGIN
    SELECT count(*) INTO bad
    FROM (SELECT e.batch_id, b.id AS range_batch, e.leaf_index,
                 (row_number() OVER (PARTITION BY b.id ORDER BY e.seq) - 1) AS rank,
                 e.seq <= (SELECT max(last_seq) FROM batches y WHERE y.tenant_id = e.tenant_id)
                     AS before_cursor
          FROM events e
          LEFT JOIN LATERAL (SELECT id, first_seq FROM batches x
                             WHERE x.tenant_id = e.tenant_id AND x.last_seq >= e.seq
                             ORDER BY x.last_seq LIMIT 1) b ON b.first_seq <= e.seq) m
    WHERE m.batch_id IS DISTINCT FROM m.range_batch
       OR (m.batch_id IS NOT NULL AND m.leaf_index IS DISTINCT FROM m.rank)
       OR (m.batch_id IS NULL AND m.before_cursor);
    IF bad > 0 THEN
        RAISE EXCEPTION '% stored events are not in the batch their arrival order gives; '
                        'this database cannot be converted to range batches', bad;
    END IF;
END
$$;

INSERT INTO batch_cursors (tenant_id, last_seq)
SELECT t.id, COALESCE((SELECT max(last_seq) FROM batches b WHERE b.tenant_id = t.id), 0)
FROM tenants t;

-- Compact proofs: the event's own part; the batch holds the shared part. The leaf index moves
-- from the event row to the proof row (kept for rows that hold a whole bundle).
ALTER TABLE proofs ALTER COLUMN bundle DROP NOT NULL;
ALTER TABLE proofs ADD COLUMN leaf_index integer;
ALTER TABLE proofs ADD COLUMN batch_proof bytea;
UPDATE proofs p SET leaf_index = e.leaf_index
FROM events e WHERE e.tenant_id = p.tenant_id AND e.id = p.event_id;
ALTER TABLE proofs ADD CONSTRAINT proofs_whole_or_compact
    CHECK (bundle IS NOT NULL OR (leaf_index IS NOT NULL AND batch_proof IS NOT NULL));
-- Reads by batch go through the batch's seq range and the primary key.
DROP INDEX proofs_batch;

DROP FUNCTION ancora_stale_pending_tenants(interval);
DROP INDEX events_pending;
DROP INDEX events_batch;
DROP INDEX events_seq;
ALTER TABLE events DROP COLUMN batch_id, DROP COLUMN leaf_index;

-- The batch holding a tenant's event (by its seq), if any. Runs as the caller (row-level
-- security applies).
CREATE FUNCTION ancora_batch_of(p_tenant uuid, p_seq bigint) RETURNS uuid
    LANGUAGE sql STABLE
AS $$
    SELECT b.id FROM (SELECT id, first_seq FROM batches
                      WHERE tenant_id = p_tenant AND last_seq >= p_seq
                      ORDER BY last_seq LIMIT 1) b
    WHERE b.first_seq <= p_seq
$$;

-- An event's leaf index in its batch (its rank in seq order), if batched.
CREATE FUNCTION ancora_leaf_index(p_tenant uuid, p_seq bigint) RETURNS integer
    LANGUAGE sql STABLE
AS $$
    SELECT (SELECT count(*) FROM events e
            WHERE e.tenant_id = p_tenant AND e.seq >= b.first_seq AND e.seq < p_seq)::integer
    FROM (SELECT first_seq FROM batches
          WHERE tenant_id = p_tenant AND last_seq >= p_seq
          ORDER BY last_seq LIMIT 1) b
    WHERE b.first_seq <= p_seq
$$;

-- The sweeper's question (see 20261126000002_workers.sql), for range batches: per tenant, the
-- events after its cursor.
CREATE FUNCTION ancora_stale_pending_tenants(p_older_than interval)
    RETURNS TABLE (tenant_id uuid, pending bigint, oldest timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
AS $$
    SELECT t.id, p.n, p.oldest
    FROM tenants t
    LEFT JOIN batch_cursors c ON c.tenant_id = t.id
    -- the oldest pending events only (counted up to 1 000): a tenant far behind must not make
    -- every sweep count its whole backlog
    CROSS JOIN LATERAL (SELECT count(*) AS n, min(x.received_at) AS oldest
                        FROM (SELECT e.received_at FROM events e
                              WHERE e.tenant_id = t.id AND e.seq > COALESCE(c.last_seq, 0)
                              ORDER BY e.seq LIMIT 1000) x) p
    WHERE p.oldest < now() - p_older_than
$$;
GRANT EXECUTE ON FUNCTION ancora_stale_pending_tenants(interval) TO ancora_app;
GRANT EXECUTE ON FUNCTION ancora_batch_of(uuid, bigint), ancora_leaf_index(uuid, bigint) TO ancora_app;

ALTER TABLE batches ADD COLUMN anchor_proof bytea;
ALTER TABLE batches ADD COLUMN anchor_root bytea CHECK (length(anchor_root) = 32);
ALTER TABLE batches ADD COLUMN trust_point json;

-- Foreign keys off the hot path. Measured on this machine kind (psql, 200 000 rows): an event
-- insert with the tenants foreign key 12.5 µs, without 8.1 µs (each check takes a KEY SHARE
-- lock on the tenant's row, a MultiXact once ingests run concurrently); a proof insert with
-- its foreign key to events 11.6 µs, without 3.9 µs (the check locks, and so rewrites and
-- WAL-logs, the event's row). What they guarded is held by the code and by row-level
-- security: events are inserted only in the transaction of an authenticated tenant
-- (`tenant_id = ancora_current_tenant()` is the insert's policy check) and tenants are never
-- deleted; proofs are inserted only by the prover, for the events it has just read in the
-- same transaction, next to the batch row it then marks proved. Nothing deletes events,
-- batches or proofs.
ALTER TABLE events DROP CONSTRAINT events_tenant_id_fkey;
ALTER TABLE proofs DROP CONSTRAINT proofs_tenant_id_event_id_fkey;
ALTER TABLE proofs DROP CONSTRAINT proofs_batch_id_fkey;

-- Admission control (backend/ancora/src/backpressure.rs): per tenant, how long ago its oldest
-- batch that is not proved yet closed. Read a few times a second with no tenant set; like the
-- sweeper's function it answers only that, never event data.
CREATE INDEX batches_unproved ON batches (created_at) WHERE state <> 'proved';
CREATE FUNCTION ancora_proof_lags()
    RETURNS TABLE (tenant_id uuid, lag_seconds double precision)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
AS $$
    SELECT b.tenant_id, extract(epoch FROM clock_timestamp() - min(b.created_at))::double precision
    FROM batches b
    WHERE b.state <> 'proved'
    GROUP BY b.tenant_id
$$;
GRANT EXECUTE ON FUNCTION ancora_proof_lags() TO ancora_app;

-- Usage counters in 16 shards per tenant, day and metric, so concurrent ingests of a tenant do
-- not queue on one row until each other's commit (backend/ancora/src/db/usage.rs).
ALTER TABLE usage_counters ADD COLUMN shard smallint NOT NULL DEFAULT 0 CHECK (shard BETWEEN 0 AND 15);
ALTER TABLE usage_counters DROP CONSTRAINT usage_counters_pkey;
ALTER TABLE usage_counters ADD PRIMARY KEY (tenant_id, day, metric, shard);
