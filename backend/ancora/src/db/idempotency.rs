//! Idempotency keys: a retried request with the same `Idempotency-Key` gets the first
//! response. The record is written in the same transaction as the work it answers for, and
//! concurrent requests with one key are serialised by a transaction-scoped advisory lock.

use sqlx::PgConnection;

use crate::domain::TenantId;

/// A stored first response.
#[derive(Debug)]
pub struct StoredResponse {
    /// SHA-256 of the canonical request the key was first used with.
    pub request_hash: Vec<u8>,
    /// HTTP status of the first response.
    pub status: i32,
    /// Its JSON body.
    pub response: serde_json::Value,
}

/// Waits until no other transaction holds `key` of `tenant`, then holds it until commit or
/// rollback, so a retry that overtakes the first request waits for its outcome.
pub async fn lock(conn: &mut PgConnection, tenant: TenantId, key: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0)) AS l",
        format!("idempotency:{tenant}:{key}")
    )
    .fetch_one(conn)
    .await?;
    Ok(())
}

/// The first response stored under `key`, if any.
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

/// Stores the first response under `key`.
pub async fn insert(
    conn: &mut PgConnection,
    tenant: TenantId,
    key: &str,
    request_hash: &[u8],
    status: u16,
    response: &serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO idempotency_keys (tenant_id, key, request_hash, status, response) \
         VALUES ($1, $2, $3, $4, $5)",
        tenant.0,
        key,
        request_hash,
        i32::from(status),
        response
    )
    .execute(conn)
    .await?;
    Ok(())
}
