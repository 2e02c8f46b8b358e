//! Submitter keys: the Ed25519 public keys of devices and systems that sign their events.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::TenantId;

/// One registered key.
#[derive(Debug, Clone)]
pub struct SubmitterKey {
    /// Id.
    pub id: Uuid,
    /// Name events refer to in their `key` field.
    pub name: String,
    /// 32-byte Ed25519 public key.
    pub public_key: Vec<u8>,
    /// Registration time.
    pub created_at: OffsetDateTime,
    /// Revocation time; a revoked key verifies nothing.
    pub revoked_at: Option<OffsetDateTime>,
}

/// The unique constraint on (tenant, name).
pub const NAME_TAKEN: &str = "submitter_keys_tenant_id_name_key";

/// Registers a key. Fails with a unique violation on [`NAME_TAKEN`] when the name is used.
pub async fn insert(
    conn: &mut PgConnection,
    tenant: TenantId,
    name: &str,
    public_key: &[u8; 32],
) -> sqlx::Result<SubmitterKey> {
    sqlx::query_as!(
        SubmitterKey,
        "INSERT INTO submitter_keys (id, tenant_id, name, public_key) VALUES ($1, $2, $3, $4) \
         RETURNING id, name, public_key, created_at, revoked_at",
        Uuid::now_v7(),
        tenant.0,
        name,
        public_key.as_slice()
    )
    .fetch_one(conn)
    .await
}

/// Every key of the tenant, oldest first.
pub async fn list(conn: &mut PgConnection, tenant: TenantId) -> sqlx::Result<Vec<SubmitterKey>> {
    sqlx::query_as!(
        SubmitterKey,
        "SELECT id, name, public_key, created_at, revoked_at FROM submitter_keys \
         WHERE tenant_id = $1 ORDER BY created_at, id",
        tenant.0
    )
    .fetch_all(conn)
    .await
}

/// The unrevoked keys with these names.
pub async fn active_by_names(
    conn: &mut PgConnection,
    tenant: TenantId,
    names: &[String],
) -> sqlx::Result<Vec<SubmitterKey>> {
    sqlx::query_as!(
        SubmitterKey,
        "SELECT id, name, public_key, created_at, revoked_at FROM submitter_keys \
         WHERE tenant_id = $1 AND name = ANY($2) AND revoked_at IS NULL",
        tenant.0,
        names
    )
    .fetch_all(conn)
    .await
}

/// Revokes a key (idempotent: a revoked key keeps its first revocation time). `None` when the
/// tenant has no key with this id.
pub async fn revoke(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: Uuid,
) -> sqlx::Result<Option<SubmitterKey>> {
    sqlx::query_as!(
        SubmitterKey,
        "UPDATE submitter_keys SET revoked_at = COALESCE(revoked_at, now()) \
         WHERE tenant_id = $1 AND id = $2 \
         RETURNING id, name, public_key, created_at, revoked_at",
        tenant.0,
        id
    )
    .fetch_optional(conn)
    .await
}
