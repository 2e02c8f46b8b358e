//! The Chainweb backend's view of the `anchors` table: the columns it owns (`tx_ref`,
//! `block_hash`, `block_height`, `details`, `error`) and its states (`pending` → `submitted`
//! → `confirmed` → `final`, or `failed`). `final` itself is set by
//! [`crate::services::anchoring::tick::finalize`]. Anchors are system rows: no tenant is involved.

use sqlx::PgConnection;
use uuid::Uuid;

/// A Chainweb anchor as its confirming job reads and writes it.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainwebRow {
    /// The anchor id.
    pub id: Uuid,
    /// `pending`, `submitted`, `confirmed`, `final` or `failed`.
    pub state: String,
    /// The anchor tree root.
    pub root: Vec<u8>,
    /// The current request key.
    pub tx_ref: Option<String>,
    /// The block the transaction is in, once confirmed (base64url).
    pub block_hash: Option<String>,
    /// Its height.
    pub block_height: Option<i64>,
    /// The backend's record ([`crate::services::anchoring::chainweb::Details`]).
    pub details: serde_json::Value,
    /// Why the anchor failed.
    pub error: Option<String>,
}

/// Notes the backend's starting details on a new chainweb anchor (the anchorer's transaction).
pub async fn start(
    conn: &mut PgConnection,
    anchor: Uuid,
    details: &serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE anchors SET details = $2 WHERE id = $1 AND backend = 'chainweb'",
        anchor,
        details
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One chainweb anchor, locked for the caller's transaction, or `None`.
pub async fn lock(conn: &mut PgConnection, anchor: Uuid) -> sqlx::Result<Option<ChainwebRow>> {
    sqlx::query_as!(
        ChainwebRow,
        "SELECT id, state, root, tx_ref, block_hash, block_height, details, error \
         FROM anchors WHERE id = $1 AND backend = 'chainweb' FOR UPDATE",
        anchor
    )
    .fetch_optional(&mut *conn)
    .await
}

/// One chainweb anchor, or `None`.
pub async fn get(conn: &mut PgConnection, anchor: Uuid) -> sqlx::Result<Option<ChainwebRow>> {
    sqlx::query_as!(
        ChainwebRow,
        "SELECT id, state, root, tx_ref, block_hash, block_height, details, error \
         FROM anchors WHERE id = $1 AND backend = 'chainweb'",
        anchor
    )
    .fetch_optional(&mut *conn)
    .await
}

/// Writes the columns the backend owns (state, request key, block, details, error).
pub async fn save(conn: &mut PgConnection, row: &ChainwebRow) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE anchors SET state = $2, tx_ref = $3, block_hash = $4, block_height = $5, \
                details = $6, error = $7 \
         WHERE id = $1 AND backend = 'chainweb'",
        row.id,
        row.state,
        row.tx_ref,
        row.block_hash,
        row.block_height,
        row.details,
        row.error
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Puts failed chainweb anchors (`anchor`, or all) back to `pending` with their failure count
/// reset and the error cleared; returns their ids.
pub async fn reset_failed(
    conn: &mut PgConnection,
    anchor: Option<Uuid>,
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        "UPDATE anchors SET state = 'pending', error = NULL, \
                            details = details || jsonb_build_object('failures', 0) \
         WHERE backend = 'chainweb' AND state = 'failed' AND ($1::uuid IS NULL OR id = $1) \
         RETURNING id",
        anchor
    )
    .fetch_all(&mut *conn)
    .await
}

/// The backend's record (details) of the final chainweb anchor in block `block_hash`
/// (base64url), if this service has one: it holds the header the SPV proof was verified
/// against.
pub async fn final_in_block(
    conn: &mut PgConnection,
    block_hash: &str,
) -> sqlx::Result<Option<serde_json::Value>> {
    sqlx::query_scalar!(
        "SELECT details FROM anchors \
         WHERE backend = 'chainweb' AND state = 'final' AND block_hash = $1 LIMIT 1",
        block_hash
    )
    .fetch_optional(&mut *conn)
    .await
}
