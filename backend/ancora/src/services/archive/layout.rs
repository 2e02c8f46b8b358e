//! The archive's key layout and object formats, version 1. Everything Ancora needs to rebuild
//! its catalog lives under `v1/`:
//!
//! ```text
//! v1/tenants/<tenant>/tenant.json                     the tenant, its wrapped data key, retention
//! v1/tenants/<tenant>/<yyyy>/<mm>/<batch>/segment.json the catalog segment: the batch, its events,
//!                                                      their proofs (every bundle rebuilds from it)
//! v1/tenants/<tenant>/<yyyy>/<mm>/<batch>/contents.json the batch's contents, encrypted
//! v1/anchors/<yyyy>/<mm>/<anchor>.json                an anchor, its batch roots, its log leaf
//! v1/checkpoints/<size, 20 digits>.json               a signed checkpoint of the log
//! ```
//!
//! `<yyyy>/<mm>` is the month the batch closed (or the anchor was made), in UTC. Rows are kept
//! as Postgres's `row_to_json` gives them (`bytea` as `\x…` hex, times in ISO 8601), with the
//! migration version they were written at (`schema`), so a rebuild puts them back with
//! `json_populate_record`. Contents are the tenant's ciphertexts (`base64`), never plaintext;
//! without the tenant's data key (shredded) they are noise. Objects are written whole, read
//! back and checked against their SHA-256 before the hot copy is dropped.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::TenantId;

/// The layout's version (the first key segment).
pub const VERSION: &str = "v1";

/// The key of a tenant's `tenant.json`.
pub fn tenant_key(tenant: TenantId) -> String {
    format!("{VERSION}/tenants/{tenant}/tenant.json")
}

/// The key prefix of a tenant's objects.
pub fn tenant_prefix(tenant: TenantId) -> String {
    format!("{VERSION}/tenants/{tenant}/")
}

/// The folder of a batch's objects (no trailing slash).
pub fn batch_folder(tenant: TenantId, closed: OffsetDateTime, batch: Uuid) -> String {
    format!(
        "{VERSION}/tenants/{tenant}/{:04}/{:02}/{batch}",
        closed.year(),
        u8::from(closed.month())
    )
}

/// The segment object in a batch folder.
pub fn segment_key(folder: &str) -> String {
    format!("{folder}/segment.json")
}

/// The contents object in a batch folder.
pub fn contents_key(folder: &str) -> String {
    format!("{folder}/contents.json")
}

/// The key of an anchor's object.
pub fn anchor_key(made: OffsetDateTime, anchor: Uuid) -> String {
    format!(
        "{VERSION}/anchors/{:04}/{:02}/{anchor}.json",
        made.year(),
        u8::from(made.month())
    )
}

/// The key of a checkpoint's object.
pub fn checkpoint_key(size: i64) -> String {
    format!("{VERSION}/checkpoints/{size:020}.json")
}

/// `tenant.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantObject {
    /// `ancora.tenant.v1`.
    pub format: String,
    /// The migration version the rows were written at.
    pub schema: i64,
    /// `{tenant, key, retention}` rows.
    pub rows: serde_json::Value,
}

/// `segment.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Segment {
    /// `ancora.segment.v1`.
    pub format: String,
    /// The migration version the rows were written at.
    pub schema: i64,
    /// The tenant.
    pub tenant: TenantId,
    /// The batch row.
    pub batch: serde_json::Value,
    /// The events' rows, in order.
    pub events: serde_json::Value,
    /// The proofs' rows, in order: empty for a batch that stores its tree (every bundle is
    /// read off the batch row and the events).
    pub proofs: serde_json::Value,
}

/// `contents.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentsObject {
    /// `ancora.contents.v1`.
    pub format: String,
    /// The tenant.
    pub tenant: TenantId,
    /// The batch.
    pub batch: Uuid,
    /// Each event's encrypted content.
    pub contents: Vec<SealedContent>,
}

/// One event's encrypted content.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SealedContent {
    /// The event id.
    pub id: String,
    /// The ciphertext, base64.
    pub sealed: String,
}

/// An anchor's object.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnchorObject {
    /// `ancora.anchor.v1`.
    pub format: String,
    /// The migration version the rows were written at.
    pub schema: i64,
    /// `{anchor, queue, leaf}` rows.
    pub rows: serde_json::Value,
}

/// A checkpoint's object.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointObject {
    /// `ancora.checkpoint.v1`.
    pub format: String,
    /// The migration version the row was written at.
    pub schema: i64,
    /// The checkpoint row.
    pub row: serde_json::Value,
}

/// The migration version this build writes rows at (the latest embedded migration).
pub fn schema_version() -> i64 {
    crate::db::MIGRATOR
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_documented_layout() {
        let t: TenantId = "0192f0c4-0000-7000-8000-000000000001".parse().expect("id");
        let b: Uuid = "0192f0c4-0000-7000-8000-0000000000b1".parse().expect("id");
        let closed = time::macros::datetime!(2026-03-09 12:00 UTC);
        let folder = batch_folder(t, closed, b);
        assert_eq!(
            segment_key(&folder),
            "v1/tenants/0192f0c4-0000-7000-8000-000000000001/2026/03/0192f0c4-0000-7000-8000-0000000000b1/segment.json"
        );
        assert_eq!(
            checkpoint_key(42),
            "v1/checkpoints/00000000000000000042.json"
        );
        assert!(super::super::store::check_key(&contents_key(&folder)).is_ok());
    }
}
