-- The cold archive (backend/ancora/src/services/archive/): encryption of contents at rest,
-- retention per tenant, and what the archiver has copied, verified, dropped and expired.
--
-- Contents are encrypted with a data key per tenant (AES-256-GCM), stored here wrapped by the
-- master key (ANCORA_MASTER_KEY): Postgres never holds a usable key. Shredding a tenant sets
-- wrapped_key to NULL; every copy of its contents, hot or archived, is then ciphertext nobody
-- can read, while proofs (which commit to digests, never to contents) stay valid.
CREATE TABLE tenant_keys (
    tenant_id      uuid PRIMARY KEY REFERENCES tenants (id),
    wrapped_key    bytea CHECK (wrapped_key IS NULL OR length(wrapped_key) = 60),
    -- The first 8 bytes of SHA-256 of the master key that wrapped it: a wrong master key is
    -- named as such instead of failing as a corrupt key.
    master_key_id  bytea NOT NULL CHECK (length(master_key_id) = 8),
    created_at     timestamptz NOT NULL DEFAULT now(),
    shredded_at    timestamptz,
    CHECK ((wrapped_key IS NULL) = (shredded_at IS NOT NULL))
);

-- Retention: contents stay hot (in Postgres) for hot_secs after receipt, are kept (in the
-- archive) for keep_secs after receipt, then deleted, unless the tenant is under legal hold.
-- No row: the defaults (services/archive/retention.rs).
CREATE TABLE tenant_retention (
    tenant_id   uuid PRIMARY KEY REFERENCES tenants (id),
    hot_secs    bigint NOT NULL CHECK (hot_secs >= 0),
    keep_secs   bigint NOT NULL CHECK (keep_secs >= hot_secs AND keep_secs <= 3153600000),
    legal_hold  boolean NOT NULL DEFAULT false,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Rows written before this migration are plaintext; the archiver encrypts them (it needs the
-- master key, which a migration does not have). restored_until: a copy fetched back from the
-- archive by a cold read, kept hot until then.
ALTER TABLE event_contents ADD COLUMN encrypted boolean NOT NULL DEFAULT false;
ALTER TABLE event_contents ADD COLUMN restored_until timestamptz;
CREATE INDEX event_contents_plaintext ON event_contents (tenant_id) WHERE NOT encrypted;

-- What the archiver did with a batch: the segment's key and the SHA-256 of its two objects
-- (checked on every cold read), when the hot contents were dropped, and the tombstone left
-- when its contents expired (its digests, roots and proofs stay).
ALTER TABLE batches ADD COLUMN archived_at timestamptz;
ALTER TABLE batches ADD COLUMN archive_key text;
ALTER TABLE batches ADD COLUMN archive_sha256 bytea CHECK (length(archive_sha256) = 32);
ALTER TABLE batches ADD COLUMN contents_sha256 bytea CHECK (length(contents_sha256) = 32);
ALTER TABLE batches ADD COLUMN hot_dropped_at timestamptz;
ALTER TABLE batches ADD COLUMN contents_expired_at timestamptz;
CREATE INDEX batches_unarchived ON batches (tenant_id, created_at) WHERE archived_at IS NULL AND state = 'proved';

ALTER TABLE anchors ADD COLUMN archived_at timestamptz;
ALTER TABLE tlog_checkpoints ADD COLUMN archived_at timestamptz;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tenant_keys', 'tenant_retention']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = ancora_current_tenant()) '
                       'WITH CHECK (tenant_id = ancora_current_tenant())', t);
    END LOOP;
END
$$;
GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_keys, tenant_retention TO ancora_app;
