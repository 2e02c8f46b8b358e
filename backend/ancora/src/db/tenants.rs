//! Tenants: creation, the signature policy, status counts.

use sqlx::PgConnection;
use time::OffsetDateTime;

use crate::domain::TenantId;

/// Creates a tenant.
pub async fn insert(conn: &mut PgConnection, id: TenantId, name: &str) -> sqlx::Result<()> {
    sqlx::query!("INSERT INTO tenants (id, name) VALUES ($1, $2)", id.0, name)
        .execute(conn)
        .await?;
    Ok(())
}

/// True when at least one tenant exists.
pub async fn any_exists(conn: &mut PgConnection) -> sqlx::Result<bool> {
    sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM tenants) AS "e!""#)
        .fetch_one(conn)
        .await
}

/// The tenant's name, or `None` when there is no such tenant.
pub async fn name(conn: &mut PgConnection, id: TenantId) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!("SELECT name FROM tenants WHERE id = $1", id.0)
        .fetch_optional(conn)
        .await
}

/// Whether every event of the tenant must carry a valid submitter signature.
pub async fn requires_signatures(conn: &mut PgConnection, id: TenantId) -> sqlx::Result<bool> {
    let v = sqlx::query_scalar!("SELECT require_signatures FROM tenants WHERE id = $1", id.0)
        .fetch_optional(conn)
        .await?;
    Ok(v.unwrap_or(false))
}

/// Sets the signature policy.
pub async fn set_requires_signatures(
    conn: &mut PgConnection,
    id: TenantId,
    required: bool,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE tenants SET require_signatures = $2 WHERE id = $1",
        id.0,
        required
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A tenant's counts for `ancora admin status`.
#[derive(Debug)]
pub struct TenantStatus {
    /// All events.
    pub events: i64,
    /// Events not yet in a batch.
    pub pending: i64,
    /// All batches.
    pub batches: i64,
    /// When the tenant's last batch was anchored.
    pub last_anchor: Option<OffsetDateTime>,
}

/// Counts for one tenant (in its tenant transaction). `events` and `pending` count what the
/// tenant submitted, not the audit log's own events (submitter `audit`).
pub async fn status(conn: &mut PgConnection, id: TenantId) -> sqlx::Result<TenantStatus> {
    sqlx::query_as!(
        TenantStatus,
        r#"SELECT (SELECT count(*) FROM events WHERE tenant_id = $1 AND submitter <> 'audit')
                      AS "events!",
                  (SELECT count(*) FROM events
                    WHERE tenant_id = $1 AND submitter <> 'audit'
                      AND seq > (SELECT COALESCE(max(last_seq), 0) FROM batch_cursors WHERE tenant_id = $1))
                      AS "pending!",
                  (SELECT count(*) FROM batches WHERE tenant_id = $1) AS "batches!",
                  (SELECT max(anchored_at) FROM batches WHERE tenant_id = $1) AS "last_anchor""#,
        id.0
    )
    .fetch_one(conn)
    .await
}
