//! Stored proof bundles: one row per event, written once by the prover, read by one indexed
//! lookup. Runs in the caller's tenant transaction.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::TenantId;

/// Stores the bundles of a batch's events (`event_ids[i]` ↔ `bundles[i]`, each the bundle's
/// compact JSON text); rows already stored (a
/// retried prove job) are kept as they are.
pub async fn insert_many(
    conn: &mut PgConnection,
    tenant: TenantId,
    batch: Uuid,
    event_ids: &[String],
    bundles: &[String],
) -> sqlx::Result<u64> {
    let n = sqlx::query_scalar!(
        r#"WITH ins AS (
               INSERT INTO proofs (tenant_id, event_id, batch_id, bundle)
               SELECT $1, u.event_id, $2, u.bundle::json
               FROM UNNEST($3::text[], $4::text[]) AS u(event_id, bundle)
               ON CONFLICT (tenant_id, event_id) DO NOTHING
               RETURNING 1)
           SELECT count(*) AS "n!" FROM ins"#,
        tenant.0,
        batch,
        event_ids,
        bundles
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(u64::try_from(n).unwrap_or_default())
}

/// One event's bundle, or `None` when it is not proved yet (or does not exist).
pub async fn get(
    conn: &mut PgConnection,
    tenant: TenantId,
    event_id: &str,
) -> sqlx::Result<Option<serde_json::Value>> {
    sqlx::query_scalar!(
        "SELECT bundle FROM proofs WHERE tenant_id = $1 AND event_id = $2",
        tenant.0,
        event_id
    )
    .fetch_optional(&mut *conn)
    .await
}

/// Every bundle of a batch, in tree order: `(event id, bundle)`.
pub async fn for_batch(
    conn: &mut PgConnection,
    tenant: TenantId,
    batch: Uuid,
) -> sqlx::Result<Vec<(String, serde_json::Value)>> {
    let rows = sqlx::query!(
        "SELECT p.event_id, p.bundle FROM proofs p \
         JOIN events e ON e.tenant_id = p.tenant_id AND e.id = p.event_id \
         WHERE p.tenant_id = $1 AND p.batch_id = $2 \
         ORDER BY e.leaf_index",
        tenant.0,
        batch
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.event_id, r.bundle)).collect())
}

/// The first stored bundle of a batch (every bundle of a batch shares its anchor step and
/// trust point), or `None` before the batch is proved.
pub async fn first_bundle(
    conn: &mut PgConnection,
    tenant: TenantId,
    batch: Uuid,
) -> sqlx::Result<Option<serde_json::Value>> {
    sqlx::query_scalar!(
        "SELECT bundle FROM proofs WHERE tenant_id = $1 AND batch_id = $2 LIMIT 1",
        tenant.0,
        batch
    )
    .fetch_optional(&mut *conn)
    .await
}
