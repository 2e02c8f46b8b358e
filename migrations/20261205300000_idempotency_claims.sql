-- Idempotency keys on every POST that creates something. A key is claimed before the work
-- runs (status 0, `claim` names the request holding it, `locked_until` is its lease: a claim
-- whose holder died is taken over once the lease ends), then holds the first answer (status
-- and JSON body) for 24 hours. The (tenant, created_at) index serves the bounded clean-up of
-- expired keys.
ALTER TABLE idempotency_keys ADD COLUMN claim uuid;
ALTER TABLE idempotency_keys ADD COLUMN locked_until timestamptz;
CREATE INDEX idempotency_keys_created ON idempotency_keys (tenant_id, created_at);

-- `/v1` bodies are camelCase now: first answers of `POST /v1/events` stored before keep
-- replaying in the new shape.
UPDATE idempotency_keys
SET response = jsonb_build_object('receipts', (
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'id', r -> 'id',
               'digest', r -> 'digest',
               'leafHash', r -> 'leaf_hash',
               'receivedAt', r -> 'received_at',
               'receivedAtMicros', r -> 'received_at_micros',
               'statusUrl', r -> 'status_url') ORDER BY n), '[]'::jsonb)
    FROM jsonb_array_elements(response -> 'receipts') WITH ORDINALITY AS x (r, n)))
WHERE jsonb_typeof(response -> 'receipts') = 'array'
  AND response -> 'receipts' -> 0 ? 'leaf_hash';
