-- Ancora core schema: tenants, people, keys, events, batches, anchors, the transparency log,
-- proofs, jobs, idempotency, usage and the audit log.
--
-- Tenant isolation has two walls. The code scopes every tenant query by tenant id; behind it,
-- every tenant table has row-level security keyed on the session setting `ancora.tenant_id`,
-- FORCEd so that even the table owner obeys it. The application runs its queries as the role
-- `ancora_app` (SET ROLE after connecting), which has no BYPASSRLS. System tables that hold no
-- tenant data (jobs, the anchor queue, anchors, the log) carry no tenant policy.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ancora_app') THEN
        CREATE ROLE ancora_app NOLOGIN;
    END IF;
    -- The connecting role switches to ancora_app for application queries.
    IF NOT pg_has_role(current_user, 'ancora_app', 'MEMBER') THEN
        EXECUTE format('GRANT ancora_app TO %I', current_user);
    END IF;
END
$$;

-- The tenant of the current transaction, or NULL when none is set.
CREATE FUNCTION ancora_current_tenant() RETURNS uuid
    LANGUAGE sql STABLE
AS $$ SELECT NULLIF(current_setting('ancora.tenant_id', true), '')::uuid $$;

-- ---------------------------------------------------------------------------------------------
-- Tenants and people
-- ---------------------------------------------------------------------------------------------

CREATE TABLE tenants (
    id                  uuid PRIMARY KEY,
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    -- Explicit Chainweb chain assignment; NULL means hash(tenant id) mod chain count.
    chain_id            integer CHECK (chain_id BETWEEN 0 AND 99),
    -- When true, every event must carry a valid submitter signature.
    require_signatures  boolean NOT NULL DEFAULT false,
    settings            jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    email          text NOT NULL,
    password_hash  text,
    is_operator    boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    disabled_at    timestamptz
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE memberships (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    user_id     uuid NOT NULL REFERENCES users (id),
    role        text NOT NULL CHECK (role IN ('owner', 'admin', 'auditor', 'submitter', 'billing')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id)
);

-- API keys: only a SHA-256 of the secret is stored (the secret is 32 random bytes, so a fast
-- hash is the right tool; argon2 is for low-entropy passwords). The prefix is shown to people.
CREATE TABLE api_keys (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    name          text NOT NULL DEFAULT '',
    prefix        text NOT NULL UNIQUE,
    key_hash      bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    role          text NOT NULL CHECK (role IN ('owner', 'admin', 'auditor', 'submitter', 'billing')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at);

-- Ed25519 keys of submitters (devices, systems) that sign their events.
CREATE TABLE submitter_keys (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    name        text NOT NULL,
    public_key  bytea NOT NULL CHECK (length(public_key) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    UNIQUE (tenant_id, name)
);

-- ---------------------------------------------------------------------------------------------
-- Events, batches, proofs (tenant data)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE events (
    tenant_id           uuid NOT NULL REFERENCES tenants (id),
    id                  text NOT NULL CHECK (length(id) BETWEEN 1 AND 256),
    -- Global arrival order; keyset pagination and batching follow it.
    seq                 bigint GENERATED ALWAYS AS IDENTITY,
    digest_alg          text NOT NULL CHECK (digest_alg IN ('sha256', 'sha512_256')),
    digest              bytea NOT NULL CHECK (length(digest) = 32),
    content_ref         text,
    metadata            jsonb,
    submitter           text NOT NULL,
    signature           bytea,
    signer_key_id       uuid,
    received_at         timestamptz NOT NULL,
    -- The exact microseconds bound into the leaf (timestamptz also has µs precision).
    received_at_micros  bigint NOT NULL,
    leaf_hash           bytea NOT NULL CHECK (length(leaf_hash) = 32),
    batch_id            uuid,
    leaf_index          integer,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX events_seq ON events (seq);
CREATE INDEX events_pending ON events (tenant_id, seq) WHERE batch_id IS NULL;
CREATE INDEX events_digest ON events (tenant_id, digest);
CREATE INDEX events_batch ON events (tenant_id, batch_id, leaf_index);
CREATE INDEX events_received ON events (tenant_id, received_at, seq);

-- Content submitted inline (base64) is kept hot here for a short window; the archive takes it.
CREATE TABLE event_contents (
    tenant_id  uuid NOT NULL,
    event_id   text NOT NULL,
    content    bytea NOT NULL,
    PRIMARY KEY (tenant_id, event_id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES events (tenant_id, id)
);

CREATE TABLE batches (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    state          text NOT NULL CHECK (state IN ('closed', 'anchored', 'proved')),
    size           integer NOT NULL CHECK (size > 0),
    root           bytea NOT NULL CHECK (length(root) = 32),
    target_chain   integer NOT NULL,
    -- Seed API: 'realtime' or 'window'; the ttl a client asked for, if any.
    policy         text NOT NULL DEFAULT 'window',
    first_seq      bigint NOT NULL,
    last_seq       bigint NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    anchor_id      uuid,
    anchor_index   integer,
    anchored_at    timestamptz,
    proved_at      timestamptz
);
CREATE INDEX batches_tenant_created ON batches (tenant_id, created_at, id);
CREATE INDEX batches_tenant_state ON batches (tenant_id, state, created_at);

CREATE TABLE proofs (
    tenant_id   uuid NOT NULL,
    event_id    text NOT NULL,
    batch_id    uuid NOT NULL REFERENCES batches (id),
    bundle      jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES events (tenant_id, id)
);
CREATE INDEX proofs_batch ON proofs (tenant_id, batch_id);

-- A retried request with the same Idempotency-Key gets the first response.
CREATE TABLE idempotency_keys (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash  bytea NOT NULL,
    status        integer NOT NULL,
    response      jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE usage_counters (
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    day        date NOT NULL,
    metric     text NOT NULL,
    count      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day, metric)
);

-- Append-only: a trigger refuses UPDATE and DELETE. Each row chains the previous row's hash.
-- tenant_id is NULL for platform actions.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   uuid REFERENCES tenants (id),
    actor       text NOT NULL,
    action      text NOT NULL,
    subject     text,
    details     jsonb NOT NULL DEFAULT '{}'::jsonb,
    ip          text,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, id);

CREATE FUNCTION ancora_refuse_change() RETURNS trigger
    LANGUAGE plpgsql
AS $$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION ancora_refuse_change();

-- ---------------------------------------------------------------------------------------------
-- System tables (no tenant data: hashes and references only)
-- ---------------------------------------------------------------------------------------------

-- Closed batch roots waiting for, or bound to, an anchor. batch_id is the primary key and
-- anchor_id is set once, in the transaction that creates the anchor, so a batch root can never
-- be anchored twice.
CREATE TABLE anchor_queue (
    batch_id      uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL,
    target_chain  integer NOT NULL,
    root          bytea NOT NULL CHECK (length(root) = 32),
    enqueued_at   timestamptz NOT NULL DEFAULT now(),
    anchor_id     uuid,
    anchor_index  integer
);
CREATE INDEX anchor_queue_waiting ON anchor_queue (target_chain, enqueued_at) WHERE anchor_id IS NULL;
CREATE INDEX anchor_queue_anchor ON anchor_queue (anchor_id, anchor_index);

CREATE TABLE anchors (
    id             uuid PRIMARY KEY,
    backend        text NOT NULL CHECK (backend IN ('tlog', 'chainweb')),
    target_chain   integer NOT NULL,
    state          text NOT NULL CHECK (state IN ('pending', 'submitted', 'confirmed', 'final', 'failed')),
    root           bytea NOT NULL UNIQUE CHECK (length(root) = 32),
    size           integer NOT NULL CHECK (size > 0),
    created_at     timestamptz NOT NULL DEFAULT now(),
    finalized_at   timestamptz,
    -- tlog: the log index of the anchor root and the checkpoint that first covered it.
    log_index      bigint UNIQUE,
    checkpoint_size bigint,
    -- chainweb: request key, block, SPV proof, header (filled by the Chainweb backend).
    tx_ref         text,
    block_hash     text,
    block_height   bigint,
    details        jsonb NOT NULL DEFAULT '{}'::jsonb,
    error          text
);
CREATE INDEX anchors_state ON anchors (state, created_at);

-- Ancora's transparency log. Leaves are anchor roots; nodes are the hashes of complete
-- subtrees, (level, index) covering leaves [index·2^level, (index+1)·2^level).
CREATE TABLE tlog_leaves (
    idx        bigint PRIMARY KEY CHECK (idx >= 0),
    anchor_id  uuid NOT NULL UNIQUE REFERENCES anchors (id),
    leaf_hash  bytea NOT NULL CHECK (length(leaf_hash) = 32)
);

CREATE TABLE tlog_nodes (
    level  smallint NOT NULL CHECK (level >= 0),
    idx    bigint NOT NULL CHECK (idx >= 0),
    hash   bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
);

CREATE TABLE tlog_checkpoints (
    size        bigint PRIMARY KEY CHECK (size > 0),
    root        bytea NOT NULL CHECK (length(root) = 32),
    note        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The log's signing key when none is configured (the embedded default). Exactly one row.
CREATE TABLE tlog_signer (
    id          smallint PRIMARY KEY CHECK (id = 1),
    origin      text NOT NULL,
    secret_key  bytea NOT NULL CHECK (length(secret_key) = 32),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Postgres job queue with leases. A job is claimed by setting locked_until in a short
-- transaction (FOR UPDATE SKIP LOCKED); its work commits each step; a crashed worker's lease
-- simply expires. dedupe_key keeps one pending job per logical task.
CREATE TABLE jobs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text NOT NULL,
    tenant_id     uuid,
    payload       jsonb NOT NULL DEFAULT '{}'::jsonb,
    dedupe_key    text UNIQUE,
    run_at        timestamptz NOT NULL DEFAULT now(),
    locked_until  timestamptz,
    attempts      integer NOT NULL DEFAULT 0,
    max_attempts  integer NOT NULL DEFAULT 25,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_ready ON jobs (run_at) WHERE locked_until IS NULL;

-- ---------------------------------------------------------------------------------------------
-- Row-level security
-- ---------------------------------------------------------------------------------------------

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['memberships', 'api_keys', 'submitter_keys', 'events', 'event_contents',
                             'batches', 'proofs', 'idempotency_keys', 'usage_counters']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = ancora_current_tenant()) '
                       'WITH CHECK (tenant_id = ancora_current_tenant())', t);
    END LOOP;
END
$$;

-- The audit log: a tenant sees its own rows; platform rows (tenant_id NULL) are written with no
-- tenant set and read only by platform code.
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log
    USING (tenant_id IS NOT DISTINCT FROM ancora_current_tenant())
    WITH CHECK (tenant_id IS NOT DISTINCT FROM ancora_current_tenant());

-- API-key authentication happens before the tenant is known: this function, owned by the
-- migrating role, looks one key up by its hash and nothing else.
CREATE FUNCTION ancora_authenticate_api_key(p_hash bytea)
    RETURNS TABLE (id uuid, tenant_id uuid, role text, prefix text, revoked boolean, tenant_active boolean)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
AS $$
    SELECT k.id, k.tenant_id, k.role, k.prefix, k.revoked_at IS NOT NULL, t.status = 'active'
    FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
    WHERE k.key_hash = p_hash
$$;

-- Memberships of one user across tenants (for login and the tenant switcher).
CREATE FUNCTION ancora_user_memberships(p_user uuid)
    RETURNS TABLE (tenant_id uuid, tenant_name text, role text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
AS $$
    SELECT m.tenant_id, t.name, m.role
    FROM memberships m JOIN tenants t ON t.id = m.tenant_id
    WHERE m.user_id = p_user
    ORDER BY t.name
$$;

GRANT USAGE ON SCHEMA public TO ancora_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ancora_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ancora_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO ancora_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ancora_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO ancora_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO ancora_app;
