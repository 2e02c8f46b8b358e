//! SPV-as-a-Service's store: verified Chainweb SPV proofs per tenant (`spv_proofs`, under
//! row-level security). Only verified proofs are ever written; the caller verifies first.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::TenantId;

/// A stored, verified proof.
#[derive(Clone, Debug, PartialEq)]
pub struct SpvProof {
    /// Its id.
    pub id: Uuid,
    /// The chain the transaction ran on.
    pub chain_id: i32,
    /// The chain the proof leads to.
    pub target_chain_id: i32,
    /// The request key, base64url.
    pub request_key: String,
    /// The `/pact/spv` response string.
    pub proof: String,
    /// The target block header (object encoding).
    pub header: serde_json::Value,
    /// Its hash, base64url.
    pub block_hash: String,
    /// Its height.
    pub block_height: i64,
    /// The proven CommandResult.
    pub subject: serde_json::Value,
    /// When it was verified.
    pub verified_at: OffsetDateTime,
}

/// Stores a verified proof, or returns the one stored already for the same tenant,
/// transaction and target chain (the first one wins).
pub async fn insert_verified(
    conn: &mut PgConnection,
    tenant: TenantId,
    p: &SpvProof,
) -> sqlx::Result<SpvProof> {
    let inserted = sqlx::query!(
        "INSERT INTO spv_proofs (id, tenant_id, chain_id, target_chain_id, request_key, proof, \
                                 header, block_hash, block_height, subject) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (tenant_id, chain_id, request_key, target_chain_id) DO NOTHING",
        p.id,
        tenant.0,
        p.chain_id,
        p.target_chain_id,
        p.request_key,
        p.proof,
        p.header,
        p.block_hash,
        p.block_height,
        p.subject
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let found = find(conn, tenant, p.chain_id, &p.request_key, p.target_chain_id).await?;
    match found {
        Some(stored) => Ok(stored),
        None if inserted == 0 => Err(sqlx::Error::RowNotFound),
        None => Ok(p.clone()),
    }
}

/// The tenant's proof of one transaction for one target chain.
pub async fn find(
    conn: &mut PgConnection,
    tenant: TenantId,
    chain: i32,
    request_key: &str,
    target: i32,
) -> sqlx::Result<Option<SpvProof>> {
    sqlx::query_as!(
        SpvProof,
        "SELECT id, chain_id, target_chain_id, request_key, proof, header, block_hash, \
                block_height, subject, verified_at \
         FROM spv_proofs \
         WHERE tenant_id = $1 AND chain_id = $2 AND request_key = $3 AND target_chain_id = $4",
        tenant.0,
        chain,
        request_key,
        target
    )
    .fetch_optional(&mut *conn)
    .await
}

/// The tenant's proof by id.
pub async fn get(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: Uuid,
) -> sqlx::Result<Option<SpvProof>> {
    sqlx::query_as!(
        SpvProof,
        "SELECT id, chain_id, target_chain_id, request_key, proof, header, block_hash, \
                block_height, subject, verified_at \
         FROM spv_proofs WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        id
    )
    .fetch_optional(&mut *conn)
    .await
}
