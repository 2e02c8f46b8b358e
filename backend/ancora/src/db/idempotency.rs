//! Idempotency keys: a retried request with the same `Idempotency-Key` gets the first
//! answer. A key is first *claimed* (status 0, with a lease), the work runs, then the answer is
//! stored on the claim ([`finish`]) — inside the work's own transaction where the work is one
//! transaction (ingest), so the answer commits with what it answers for. Concurrent requests
//! with one key meet at the claim's row: one claims it, the others find it.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::TenantId;

/// How long a key holds its first answer.
pub const RETENTION_HOURS: i32 = 24;

/// A key's row as another request finds it.
#[derive(Debug)]
pub struct StoredResponse {
    /// SHA-256 of the canonical request the key was first used with.
    pub request_hash: Vec<u8>,
    /// HTTP status of the first answer; 0 while its request is still running.
    pub status: i32,
    /// Its JSON body (`null` while running).
    pub response: serde_json::Value,
}

/// Claims `key` of `tenant` for the request `claim` with a lease of `lease_secs`: a new key,
/// an expired one (older than [`RETENTION_HOURS`]) or a claim whose lease ended is taken.
/// True when this request holds the key now; false when another request's row stands (read
/// it with [`find`]). Waits for a concurrent claim of the same key to commit or roll back.
pub async fn claim(
    conn: &mut PgConnection,
    tenant: TenantId,
    key: &str,
    request_hash: &[u8],
    claim: Uuid,
    lease_secs: i64,
) -> sqlx::Result<bool> {
    let row = sqlx::query_scalar!(
        r#"INSERT INTO idempotency_keys
               (tenant_id, key, request_hash, status, response, claim, locked_until, created_at)
           VALUES ($1, $2, $3, 0, 'null'::jsonb, $4,
                   clock_timestamp() + make_interval(secs => $5), clock_timestamp())
           ON CONFLICT (tenant_id, key) DO UPDATE
               SET request_hash = EXCLUDED.request_hash, status = 0, response = 'null'::jsonb,
                   claim = EXCLUDED.claim, locked_until = EXCLUDED.locked_until,
                   created_at = EXCLUDED.created_at
               WHERE idempotency_keys.created_at
                         < clock_timestamp() - make_interval(hours => $6)
                  OR (idempotency_keys.status = 0
                      AND coalesce(idempotency_keys.locked_until, '-infinity') < clock_timestamp())
           RETURNING claim"#,
        tenant.0,
        key,
        request_hash,
        claim,
        lease_secs as f64,
        RETENTION_HOURS,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.flatten() == Some(claim))
}

/// The row stored under `key`, if any.
pub async fn find(
    conn: &mut PgConnection,
    tenant: TenantId,
    key: &str,
) -> sqlx::Result<Option<StoredResponse>> {
    sqlx::query_as!(
        StoredResponse,
        "SELECT request_hash, status, response FROM idempotency_keys \
         WHERE tenant_id = $1 AND key = $2",
        tenant.0,
        key
    )
    .fetch_optional(conn)
    .await
}

/// Stores the first answer on the claim `claim` of `key`; false when the claim is no longer
/// this request's or already holds an answer (then nothing changes).
pub async fn finish(
    conn: &mut PgConnection,
    tenant: TenantId,
    key: &str,
    claim: Uuid,
    status: u16,
    response: &serde_json::Value,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE idempotency_keys SET status = $4, response = $5, locked_until = NULL \
         WHERE tenant_id = $1 AND key = $2 AND claim = $3 AND status = 0",
        tenant.0,
        key,
        claim,
        i32::from(status),
        response
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Drops the claim `claim` of `key` while it holds no answer (the work failed and changed
/// nothing; a retry may run it again).
pub async fn release(
    conn: &mut PgConnection,
    tenant: TenantId,
    key: &str,
    claim: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM idempotency_keys \
         WHERE tenant_id = $1 AND key = $2 AND claim = $3 AND status = 0",
        tenant.0,
        key,
        claim
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes up to `limit` of the tenant's keys older than [`RETENTION_HOURS`] (bounded, so
/// a claim never pays for a large backlog).
pub async fn delete_expired(
    conn: &mut PgConnection,
    tenant: TenantId,
    limit: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key IN ( \
             SELECT key FROM idempotency_keys WHERE tenant_id = $1 \
               AND created_at < clock_timestamp() - make_interval(hours => $2) \
             ORDER BY created_at LIMIT $3)",
        tenant.0,
        RETENTION_HOURS,
        limit
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
