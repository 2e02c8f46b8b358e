//! Disaster recovery ([`rebuild`]): an empty, migrated database is filled from the archive
//! (`ancora admin rebuild-catalog --from-archive URL`), and every batch is verified again
//! against its trust point before it counts as restored.
//!
//! Order: checkpoints, then anchors with their batch roots; the transparency log is replayed
//! leaf by leaf from the anchors (its nodes recomputed) and each archived checkpoint's root is
//! compared with the replayed log's; then each tenant (`tenant.json`) and its segments, every
//! object checked against nothing but itself (the archive is the only copy left), every bundle
//! assembled from the restored rows and verified with this server's trust (the configured
//! log key must be the one that signed the checkpoints). What the archive did not hold yet
//! (events not batched, batches not proved when the database was lost) is not restored.

use ancora_proof::Hash;
use ancora_proof::bundle::verify_bundle;
use anyhow::Context as _;
use serde::Serialize;
use uuid::Uuid;

use super::ArchiveError;
use super::layout::{self, AnchorObject, CheckpointObject, Segment, TenantObject};
use super::store::{ArchiveStore, sha256};
use crate::db;
use crate::domain::TenantId;
use crate::services::Services;
use crate::services::anchoring::tlog;

/// What a rebuild restored.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RebuildReport {
    /// Tenants.
    pub tenants: u64,
    /// Batches (every one verified).
    pub batches: u64,
    /// Events.
    pub events: u64,
    /// Bundles assembled and verified.
    pub bundles_verified: u64,
    /// Anchors.
    pub anchors: u64,
    /// Checkpoints (each root checked against the replayed log).
    pub checkpoints: u64,
}

impl RebuildReport {
    /// One line for people.
    pub fn summary(&self) -> String {
        format!(
            "restored {} tenants, {} batches, {} events ({} bundles verified), {} anchors, {} checkpoints",
            self.tenants,
            self.batches,
            self.events,
            self.bundles_verified,
            self.anchors,
            self.checkpoints
        )
    }
}

fn bad(what: String) -> ArchiveError {
    ArchiveError::Internal(anyhow::anyhow!(what))
}

fn check_schema(key: &str, schema: i64) -> Result<(), ArchiveError> {
    if schema > layout::schema_version() {
        return Err(bad(format!(
            "{key} was written by a newer Ancora (schema {schema}); upgrade before rebuilding"
        )));
    }
    Ok(())
}

async fn read_json<T: serde::de::DeserializeOwned>(
    store: &dyn ArchiveStore,
    key: &str,
) -> Result<(T, Vec<u8>), ArchiveError> {
    let bytes = store.get(key).await?;
    let v = serde_json::from_slice(&bytes).map_err(|e| bad(format!("{key}: {e}")))?;
    Ok((v, bytes))
}

/// Fills the (empty, migrated) database of `svc` from `store`, verifying as it goes.
pub async fn rebuild(
    svc: &Services,
    store: &dyn ArchiveStore,
) -> Result<RebuildReport, ArchiveError> {
    let mut report = RebuildReport::default();
    {
        let mut tx = svc.db.system_tx().await?;
        if !db::archive::is_empty(&mut tx).await? {
            return Err(bad(
                "the database is not empty: a catalog is rebuilt into a new, migrated database only"
                    .into(),
            ));
        }
        tx.commit().await?;
    }
    store.check().await?;
    restore_log(svc, store, &mut report).await?;
    let keys = store.list(&format!("{}/tenants/", layout::VERSION)).await?;
    let tenant_keys: Vec<&String> = keys
        .iter()
        .filter(|k| k.ends_with("/tenant.json"))
        .collect();
    let (mut max_seq, mut max_audit) = (0, 0);
    for key in tenant_keys {
        let (object, _) = read_json::<TenantObject>(store, key).await?;
        check_schema(key, object.schema)?;
        let tenant: TenantId = object.rows["tenant"]["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(format!("{key}: no tenant id")))?;
        {
            let mut tx = svc.db.tenant_tx(tenant).await?;
            db::archive::restore_tenant(&mut tx, &object.rows).await?;
            tx.commit().await?;
        }
        report.tenants += 1;
        let prefix = layout::tenant_prefix(tenant);
        let segments: Vec<&String> = keys
            .iter()
            .filter(|k| k.starts_with(&prefix) && k.ends_with("/segment.json"))
            .collect();
        for seg_key in segments {
            restore_batch(svc, store, tenant, seg_key, &keys, &mut report).await?;
        }
        let mut tx = svc.db.tenant_tx(tenant).await?;
        db::archive::restore_cursor(&mut tx, tenant).await?;
        let (seq, audit) = db::archive::restored_maxima(&mut tx, tenant).await?;
        tx.commit().await?;
        max_seq = max_seq.max(seq);
        max_audit = max_audit.max(audit);
    }
    db::archive::restore_sequences(svc.db.pool(), max_seq, max_audit).await?;
    Ok(report)
}

async fn restore_log(
    svc: &Services,
    store: &dyn ArchiveStore,
    report: &mut RebuildReport,
) -> Result<(), ArchiveError> {
    let mut tx = svc.db.system_tx().await?;
    let mut checkpoints = Vec::new();
    for key in store
        .list(&format!("{}/checkpoints/", layout::VERSION))
        .await?
    {
        let (object, _) = read_json::<CheckpointObject>(store, &key).await?;
        check_schema(&key, object.schema)?;
        db::archive::restore_checkpoint(&mut tx, &object.row).await?;
        let size = object.row["size"]
            .as_i64()
            .ok_or_else(|| bad(format!("{key}: no size")))?;
        checkpoints.push(size);
        report.checkpoints += 1;
    }
    let mut leaves: Vec<(i64, Uuid, Hash)> = Vec::new();
    for key in store.list(&format!("{}/anchors/", layout::VERSION)).await? {
        let (object, _) = read_json::<AnchorObject>(store, &key).await?;
        check_schema(&key, object.schema)?;
        db::archive::restore_anchor(&mut tx, &object.rows["anchor"], &object.rows["queue"]).await?;
        let leaf = &object.rows["leaf"];
        if !leaf.is_null() {
            let idx = leaf["idx"]
                .as_i64()
                .ok_or_else(|| bad(format!("{key}: leaf idx")))?;
            let anchor: Uuid = leaf["anchor_id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad(format!("{key}: leaf anchor")))?;
            let hash = leaf["leaf_hash"]
                .as_str()
                .and_then(|s| s.strip_prefix("\\x"))
                .and_then(|h| hex::decode(h).ok())
                .and_then(|b| Hash::from_slice(&b).ok())
                .ok_or_else(|| bad(format!("{key}: leaf hash")))?;
            leaves.push((idx, anchor, hash));
        }
        report.anchors += 1;
    }
    leaves.sort_by_key(|l| l.0);
    for (i, (idx, anchor, hash)) in leaves.iter().enumerate() {
        if *idx != i as i64 {
            return Err(bad(format!(
                "the archived log is missing leaf {i}: the log cannot be replayed"
            )));
        }
        tlog::replay_leaf(&mut tx, *idx, *anchor, hash).await?;
    }
    for size in checkpoints {
        let stored = db::tlog::checkpoint_at(&mut tx, size)
            .await?
            .context("restored checkpoint")?;
        let root =
            tlog::root_at(&mut tx, u64::try_from(size).map_err(anyhow::Error::from)?).await?;
        if root.0[..] != stored.root[..] {
            return Err(bad(format!(
                "the replayed log's root at size {size} is not the archived checkpoint's"
            )));
        }
    }
    tx.commit().await?;
    Ok(())
}

async fn restore_batch(
    svc: &Services,
    store: &dyn ArchiveStore,
    tenant: TenantId,
    seg_key: &str,
    keys: &[String],
    report: &mut RebuildReport,
) -> Result<(), ArchiveError> {
    let (segment, bytes) = read_json::<Segment>(store, seg_key).await?;
    check_schema(seg_key, segment.schema)?;
    if segment.tenant != tenant {
        return Err(bad(format!("{seg_key} belongs to another tenant")));
    }
    let folder = seg_key
        .strip_suffix("/segment.json")
        .unwrap_or(seg_key)
        .to_owned();
    let contents_key = layout::contents_key(&folder);
    let contents_sum = if keys.contains(&contents_key) {
        Some(sha256(&store.get(&contents_key).await?))
    } else {
        None
    };
    let mut tx = svc.db.tenant_tx(tenant).await?;
    let batch = db::archive::restore_segment(
        &mut tx,
        &segment.batch,
        &segment.events,
        &segment.proofs,
        &folder,
        &sha256(&bytes),
        contents_sum.as_ref().map(|s| &s[..]),
    )
    .await?;
    let bundles = crate::services::proofs::batch_bundles(&mut tx, tenant, batch, i64::MAX).await?;
    let trust = match bundles.first() {
        Some((_, b)) => {
            let first: ancora_proof::bundle::Bundle =
                serde_json::from_value(b.clone()).map_err(anyhow::Error::from)?;
            crate::services::proofs::server_trust(svc, Some(&first))
                .await?
                .trust
        }
        None => return Err(bad(format!("{seg_key}: the batch has no proofs"))),
    };
    for (id, b) in &bundles {
        let bundle: ancora_proof::bundle::Bundle =
            serde_json::from_value(b.clone()).map_err(anyhow::Error::from)?;
        let verdict = verify_bundle(&bundle, &trust);
        if !verdict.is_verified() {
            return Err(bad(format!(
                "event {id:?} of batch {batch} does not verify after the rebuild: {:?}",
                verdict.failures().collect::<Vec<_>>()
            )));
        }
        report.bundles_verified += 1;
    }
    tx.commit().await?;
    report.events += segment.events.as_array().map_or(0, |a| a.len() as u64);
    report.batches += 1;
    Ok(())
}
