-- API keys are cached by every API process (issue 13): a change that can make a cached key
-- stop working — revoked, role or hash changed, deleted, or its tenant's status changed — is
-- announced on the channel `ancora_api_keys` when its transaction commits, whichever code path
-- (API, portal, admin CLI, plain SQL) made it. Payload: `key:<key id>` or `tenant:<tenant id>`.
-- `last_used_at` moves announce nothing.
CREATE FUNCTION ancora_announce_api_key_change() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_TABLE_NAME = 'tenants' THEN
        PERFORM pg_notify('ancora_api_keys', 'tenant:' || OLD.id::text);
    ELSE
        PERFORM pg_notify('ancora_api_keys', 'key:' || OLD.id::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER api_keys_announce_change
    AFTER UPDATE ON api_keys
    FOR EACH ROW
    WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
          OR OLD.role IS DISTINCT FROM NEW.role
          OR OLD.key_hash IS DISTINCT FROM NEW.key_hash
          OR OLD.tenant_id IS DISTINCT FROM NEW.tenant_id
          OR OLD.prefix IS DISTINCT FROM NEW.prefix)
    EXECUTE FUNCTION ancora_announce_api_key_change();

CREATE TRIGGER api_keys_announce_delete
    AFTER DELETE ON api_keys
    FOR EACH ROW
    EXECUTE FUNCTION ancora_announce_api_key_change();

CREATE TRIGGER tenants_announce_status
    AFTER UPDATE ON tenants
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION ancora_announce_api_key_change();
