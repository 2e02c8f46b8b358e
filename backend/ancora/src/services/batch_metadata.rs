//! Batch metadata, the seed's shape: `{batchId, merkleRoot, submitter, timestamp, chainId,
//! blockHeight, blockHash, txHash, proofUri, retentionPolicy}`, `null` where not known (yet).
//! One definition for `GET /v1/batches/{batchId}`, the `/v1/audit/catalog` entries and
//! `/v1/audit/proof/{batchId}`.
//!
//! * `merkleRoot` — the batch tree's root, base64url (as everywhere in the API);
//! * `submitter` — who submitted the batch's first event (the API key's prefix);
//! * `timestamp` — when the batch root was anchored on its first trust point (Ancora's signed
//!   log, the fast path), RFC 3339; `null` before;
//! * `chainId`, `txHash` — under the `chainweb` backend, the chain the root is written on
//!   (known as soon as the batch closes) and the transaction's request key (once sent);
//! * `blockHeight`, `blockHash` — the Chainweb block holding that transaction, once the anchor
//!   is final (confirmation depth reached, SPV proof verified); these four are `null` under
//!   `tlog`, which writes no chain;
//! * `proofUri` — the URL answering every event's proof of the batch (`GET /v1/proof/{batchId}`);
//! * `retentionPolicy` — the tenant's retention as it applies to this batch: the policy
//!   (`hot`, `keep`, `legalHold`, and the two periods in seconds), when its contents leave
//!   Postgres for the archive (`hotUntil`) and when they expire (`expiresAt`, `null` under a
//!   legal hold), and what has happened (`archivedAt`, `contentsExpiredAt`). Both periods run
//!   from the batch's creation, as the archiver counts them. Digests, roots and proofs never
//!   expire.

use serde::Serialize;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::batches::{self, MetadataRow};
use crate::domain::TenantId;
use crate::services::Settings;
use crate::services::archive::retention::{Policy, format_duration};
use crate::services::settings::AnchorBackendKind;

/// One batch's metadata.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchMetadata {
    /// The batch id.
    pub batch_id: Uuid,
    /// The tree root, base64url.
    pub merkle_root: String,
    /// The submitter of its first event.
    pub submitter: Option<String>,
    /// When its root was anchored (first trust point).
    #[serde(with = "time::serde::rfc3339::option")]
    pub timestamp: Option<OffsetDateTime>,
    /// Chainweb: the chain written.
    pub chain_id: Option<u32>,
    /// Chainweb: the block's height, once final.
    pub block_height: Option<i64>,
    /// Chainweb: the block's hash (base64url), once final.
    pub block_hash: Option<String>,
    /// Chainweb: the request key, once sent.
    pub tx_hash: Option<String>,
    /// Where the batch's proofs are.
    pub proof_uri: String,
    /// The tenant's retention as it applies to this batch.
    pub retention_policy: BatchRetention,
}

/// The retention of one batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchRetention {
    /// How long contents stay hot (in Postgres), e.g. `30d`.
    pub hot: String,
    /// How long contents are kept before they expire, e.g. `10y`.
    pub keep: String,
    /// The hot period in seconds.
    pub hot_seconds: i64,
    /// The keep period in seconds.
    pub keep_seconds: i64,
    /// While on, nothing of the tenant expires.
    pub legal_hold: bool,
    /// When the contents may leave Postgres for the archive.
    #[serde(with = "time::serde::rfc3339::option")]
    pub hot_until: Option<OffsetDateTime>,
    /// When the contents expire; `null` under a legal hold.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// When the contents were copied to the archive, `null` before.
    #[serde(with = "time::serde::rfc3339::option")]
    pub archived_at: Option<OffsetDateTime>,
    /// When the contents expired, `null` before. The batch's digests, root and proofs stay.
    #[serde(with = "time::serde::rfc3339::option")]
    pub contents_expired_at: Option<OffsetDateTime>,
}

/// The retention `policy` as it applies to the batch of `row`.
pub fn retention_of(policy: &Policy, row: &MetadataRow) -> BatchRetention {
    let after = |secs: i64| row.created_at.checked_add(time::Duration::seconds(secs));
    BatchRetention {
        hot: format_duration(policy.hot_secs),
        keep: format_duration(policy.keep_secs),
        hot_seconds: policy.hot_secs,
        keep_seconds: policy.keep_secs,
        legal_hold: policy.legal_hold,
        hot_until: after(policy.hot_secs),
        expires_at: after(policy.keep_secs).filter(|_| !policy.legal_hold),
        archived_at: row.archived_at,
        contents_expired_at: row.contents_expired_at,
    }
}

/// Builds the metadata of a stored row under the tenant's retention `policy`.
pub fn from_row(settings: &Settings, policy: &Policy, row: &MetadataRow) -> BatchMetadata {
    let chainweb_anchor = row.backend.as_deref() == Some("chainweb");
    let is_final = chainweb_anchor && row.anchor_state.as_deref() == Some("final");
    let chain_id = match (row.chain, chainweb_anchor) {
        (Some(c), true) => u32::try_from(c).ok(),
        // Not anchored yet: the chain it will be written on, under the chainweb backend.
        _ if row.backend.is_none() && settings.anchor_backend == AnchorBackendKind::Chainweb => {
            Some(settings.chainweb.chain_for(row.target_chain))
        }
        _ => None,
    };
    BatchMetadata {
        batch_id: row.id,
        merkle_root: ancora_proof::hash::b64url_encode(&row.root),
        submitter: row.submitter.clone(),
        timestamp: row.anchored_at,
        chain_id,
        block_height: row.block_height.filter(|_| is_final),
        block_hash: row.block_hash.clone().filter(|_| is_final),
        tx_hash: row.tx_ref.clone().filter(|_| chainweb_anchor),
        proof_uri: proof_uri(settings, row.id),
        retention_policy: retention_of(policy, row),
    }
}

/// `GET /v1/proof/{batchId}` on this service's public URL.
pub fn proof_uri(settings: &Settings, batch: Uuid) -> String {
    format!(
        "{}/v1/proof/{batch}",
        settings.public_url.trim_end_matches('/')
    )
}

/// The metadata of the tenant's batches `ids`, in the order asked (missing ones left out).
pub async fn for_batches(
    conn: &mut PgConnection,
    settings: &Settings,
    tenant: TenantId,
    ids: &[Uuid],
) -> sqlx::Result<Vec<(BatchMetadata, String)>> {
    let rows = batches::metadata(&mut *conn, tenant, ids).await?;
    let policy = crate::db::archive::retention(&mut *conn, tenant)
        .await?
        .map(Policy::from)
        .unwrap_or_default();
    let mut by_id: std::collections::HashMap<Uuid, MetadataRow> =
        rows.into_iter().map(|r| (r.id, r)).collect();
    Ok(ids
        .iter()
        .filter_map(|id| by_id.remove(id))
        .map(|r| (from_row(settings, &policy, &r), r.state))
        .collect())
}

/// The metadata of one batch and its state (`closed | anchored | proved`), or `None` when the
/// tenant has no such batch.
pub async fn for_batch(
    conn: &mut PgConnection,
    settings: &Settings,
    tenant: TenantId,
    id: Uuid,
) -> sqlx::Result<Option<(BatchMetadata, String)>> {
    Ok(for_batches(conn, settings, tenant, &[id])
        .await?
        .into_iter()
        .next())
}

/// Where a batch's contents are, as the portal marks events and batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentsState {
    /// In Postgres (not archived yet, or not batched yet).
    Hot,
    /// Copied to the cold archive; read back from it on demand.
    Archived,
    /// Past the keep period: deleted (a tombstone). Digests, root and proofs stay.
    Expired,
    /// The tenant's data key was shredded: no copy can be read any more.
    Destroyed,
}

impl ContentsState {
    /// The state of a batch archived at `archived_at` whose contents expired at `expired_at`,
    /// in a tenant whose key was shredded or not.
    pub fn of(
        archived_at: Option<OffsetDateTime>,
        expired_at: Option<OffsetDateTime>,
        shredded: bool,
    ) -> Self {
        match (shredded, expired_at, archived_at) {
            (true, _, _) => ContentsState::Destroyed,
            (false, Some(_), _) => ContentsState::Expired,
            (false, None, Some(_)) => ContentsState::Archived,
            (false, None, None) => ContentsState::Hot,
        }
    }

    /// `hot`, `archived`, `expired` or `destroyed`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentsState::Hot => "hot",
            ContentsState::Archived => "archived",
            ContentsState::Expired => "expired",
            ContentsState::Destroyed => "destroyed",
        }
    }
}

/// Where the contents of the tenant's events are: a lookup from batch id (`None` for an event
/// not batched yet) to its [`ContentsState`]. Unknown batches read as hot.
#[derive(Clone, Debug, Default)]
pub struct ContentsStates {
    shredded: bool,
    by_batch: std::collections::HashMap<Uuid, ContentsState>,
}

impl ContentsStates {
    /// The state of the contents of `batch`'s events.
    pub fn of(&self, batch: Option<Uuid>) -> ContentsState {
        match batch.and_then(|b| self.by_batch.get(&b)) {
            Some(s) => *s,
            None => ContentsState::of(None, None, self.shredded),
        }
    }
}

/// The [`ContentsStates`] of the tenant's batches `ids`, in the caller's transaction.
pub async fn contents_states(
    conn: &mut PgConnection,
    tenant: TenantId,
    ids: &[Uuid],
) -> sqlx::Result<ContentsStates> {
    let shredded = crate::db::archive::tenant_key(&mut *conn, tenant)
        .await?
        .is_some_and(|k| k.shredded_at.is_some());
    let rows = if ids.is_empty() {
        Vec::new()
    } else {
        batches::metadata(&mut *conn, tenant, ids).await?
    };
    Ok(ContentsStates {
        shredded,
        by_batch: rows
            .into_iter()
            .map(|r| {
                let s = ContentsState::of(r.archived_at, r.contents_expired_at, shredded);
                (r.id, s)
            })
            .collect(),
    })
}

#[cfg(test)]
mod contents_tests {
    use super::*;

    #[test]
    fn a_shredded_key_wins_then_expiry_then_archiving() {
        let now = Some(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(ContentsState::of(None, None, false), ContentsState::Hot);
        assert_eq!(ContentsState::of(now, None, false), ContentsState::Archived);
        assert_eq!(ContentsState::of(now, now, false), ContentsState::Expired);
        assert_eq!(ContentsState::of(now, now, true), ContentsState::Destroyed);
        let states = ContentsStates::default();
        assert_eq!(states.of(Some(Uuid::nil())), ContentsState::Hot);
    }
}
