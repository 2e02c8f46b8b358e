-- Portal: browser sessions, login throttling, invitations and password resets, the mail outbox.
--
-- Sessions are tower-sessions' Postgres store table, created here (not by the store's own
-- migrate()) so that every table the service uses is in reviewed, versioned SQL. The shape is
-- exactly what tower-sessions-sqlx-store 0.15 expects: schema "tower_sessions", table
-- "session". The store queries it as the connecting role; it holds no tenant rows, only a
-- serialized map (user id, selected tenant, CSRF token) per random 128-bit session id.

CREATE SCHEMA IF NOT EXISTS tower_sessions;
CREATE TABLE IF NOT EXISTS tower_sessions.session (
    id           text PRIMARY KEY NOT NULL,
    data         bytea NOT NULL,
    expiry_date  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS session_expiry ON tower_sessions.session (expiry_date);

-- Failed logins, by account (lower-cased email, whether or not the account exists) and by
-- client IP. Login is refused while either has too many recent failures; rows older than the
-- window are deleted on the next failure, so the table stays small.
CREATE TABLE login_failures (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope   text NOT NULL CHECK (scope IN ('account', 'ip')),
    key     text NOT NULL CHECK (length(key) BETWEEN 1 AND 320),
    at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_key ON login_failures (scope, key, at);

-- Invitations to a tenant and password resets share one mechanism: a single-use link whose
-- token (32 random bytes) is stored only as its SHA-256. A tenant invitation carries the
-- tenant and role; a reset carries neither.
CREATE TABLE invitations (
    id           uuid PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('invite', 'reset')),
    tenant_id    uuid REFERENCES tenants (id),
    email        text NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    role         text CHECK (role IN ('owner', 'admin', 'auditor', 'submitter', 'billing')),
    token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    invited_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    CHECK ((kind = 'invite') = (tenant_id IS NOT NULL AND role IS NOT NULL))
);
CREATE INDEX invitations_tenant ON invitations (tenant_id, created_at);

-- A tenant sees its own invitations; resets (no tenant) are read only through the function
-- below, which looks one token up by its hash, before any tenant is known.
ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invitations
    USING (tenant_id IS NOT DISTINCT FROM ancora_current_tenant())
    WITH CHECK (tenant_id IS NOT DISTINCT FROM ancora_current_tenant());

CREATE FUNCTION ancora_find_invitation(p_hash bytea)
    RETURNS TABLE (id uuid, kind text, tenant_id uuid, tenant_name text, email text, role text,
                   expires_at timestamptz, used_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
AS $$
    SELECT i.id, i.kind, i.tenant_id, t.name, i.email, i.role, i.expires_at, i.used_at
    FROM invitations i LEFT JOIN tenants t ON t.id = i.tenant_id
    WHERE i.token_hash = p_hash
$$;

-- Marks one invitation used; true only for the first caller (a reused link gets false).
CREATE FUNCTION ancora_use_invitation(p_id uuid)
    RETURNS boolean
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public
AS $$
    WITH used AS (
        UPDATE invitations SET used_at = now()
        WHERE id = p_id AND used_at IS NULL AND expires_at > now()
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM used)
$$;

-- Mail that would be sent. Without a mail server configured, this table (and the log) is
-- where invitation and reset links go; a mailer, when configured, sends and stamps sent_at.
CREATE TABLE outbox (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    to_email    text NOT NULL,
    subject     text NOT NULL,
    body        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);

-- The catalog pages a tenant's events newest first and filters by batch state and chain.
CREATE INDEX IF NOT EXISTS events_tenant_seq ON events (tenant_id, seq);

GRANT SELECT, INSERT, UPDATE, DELETE ON login_failures, invitations, outbox TO ancora_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ancora_app;
GRANT EXECUTE ON FUNCTION ancora_find_invitation(bytea), ancora_use_invitation(uuid) TO ancora_app;
