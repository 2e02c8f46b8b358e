//! One archiving pass ([`run_pass`]), run by the `archive` job on a schedule and by
//! `ancora admin archive run`. Per tenant, in order:
//!
//! 1. contents still stored as plaintext (written before encryption at rest) are encrypted;
//! 2. every proved batch whose proof is final is copied: its catalog segment and its
//!    encrypted contents ([`super::layout`]), each read back and checked against its SHA-256;
//!    only then is the batch marked archived;
//! 3. archived batches past the tenant's hot period lose their hot contents (the drop is
//!    conditional on the archived mark in the same statement, so nothing is dropped without a
//!    verified cold copy);
//! 4. unless the tenant is under legal hold, archived contents past the keep period are
//!    deleted from the archive and the batch gets its tombstone; digests, roots, proofs,
//!    anchors and checkpoints are never deleted;
//! 5. contents fetched back by cold reads are dropped once their time is up.
//!
//! Then final anchors and signed checkpoints are copied. A store that fails stops the pass
//! with an error (the job retries with backoff); everything done before it is committed and
//! not repeated.

use std::time::Instant;

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::layout::{
    self, AnchorObject, CheckpointObject, ContentsObject, SealedContent, Segment, TenantObject,
};
use super::retention::Policy;
use super::store::put_verified;
use super::{Archive, ArchiveError};
use crate::db;
use crate::domain::TenantId;
use crate::services::Services;

/// Most batches (and anchors, checkpoints) one pass copies per tenant; a pass that stops at
/// this asks for another one at once ([`PassReport::more`]).
pub const PASS_LIMIT: i64 = 200;

/// What a pass did.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PassReport {
    /// Plaintext content rows encrypted.
    pub encrypted: u64,
    /// Batches copied to the archive (segment and contents, verified).
    pub batches_archived: u64,
    /// Objects written and verified.
    pub objects: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Batches whose hot contents were dropped.
    pub batches_cooled: u64,
    /// Hot content rows dropped (after their cold copy was verified).
    pub contents_dropped: u64,
    /// Batches whose contents expired (tombstones left).
    pub batches_expired: u64,
    /// Restored contents dropped.
    pub restored_dropped: u64,
    /// Anchors copied.
    pub anchors: u64,
    /// Checkpoints copied.
    pub checkpoints: u64,
    /// The keys of the objects written (at most the first thousand).
    pub written: Vec<String>,
    /// Whether work is left that the pass's limits stopped it from doing.
    pub more: bool,
    /// Seconds the pass took.
    pub seconds: f64,
}

impl PassReport {
    fn wrote(&mut self, key: String) {
        self.objects += 1;
        if self.written.len() < 1000 {
            self.written.push(key);
        }
    }

    /// One line for people.
    pub fn summary(&self) -> String {
        format!(
            "archived {} batches ({} objects, {} bytes), dropped {} hot contents of {} batches, expired {} batches, copied {} anchors and {} checkpoints, encrypted {} plaintext contents{}",
            self.batches_archived,
            self.objects,
            self.bytes,
            self.contents_dropped,
            self.batches_cooled,
            self.batches_expired,
            self.anchors,
            self.checkpoints,
            self.encrypted,
            if self.more { "; more to do" } else { "" }
        )
    }
}

/// Runs one pass over every tenant and the system objects.
pub async fn run_pass(svc: &Services) -> Result<PassReport, ArchiveError> {
    let started = Instant::now();
    let mut report = PassReport::default();
    let tenants = {
        let mut tx = svc.db.system_tx().await?;
        let t = db::archive::tenant_ids(&mut tx).await?;
        tx.commit().await?;
        t
    };
    let result = async {
        svc.archive.store().check().await?;
        for tenant in tenants {
            tenant_pass(svc, tenant, &mut report).await?;
        }
        system_pass(svc, &mut report).await
    }
    .await;
    report.seconds = started.elapsed().as_secs_f64();
    svc.metrics.archive_objects.inc_by(report.objects);
    svc.metrics.archive_bytes.inc_by(report.bytes);
    match result {
        Ok(()) => Ok(report),
        Err(e) => Err(svc.archive.count(&svc.metrics, e)),
    }
}

/// Encrypts up to `limit` plaintext rows of the tenant; returns how many.
pub async fn encrypt_plaintext(
    svc: &Services,
    tenant: TenantId,
    limit: i64,
) -> Result<u64, ArchiveError> {
    let mut tx = svc.db.tenant_tx(tenant).await?;
    let rows = db::archive::plaintext_contents(&mut tx, tenant, limit).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let (ids, plain): (Vec<String>, Vec<Vec<u8>>) = rows.into_iter().unzip();
    let sealed = svc.archive.seal(&mut tx, tenant, &ids, &plain).await?;
    db::archive::store_encrypted(&mut tx, tenant, &ids, &sealed).await?;
    tx.commit().await?;
    Ok(ids.len() as u64)
}

async fn tenant_pass(
    svc: &Services,
    tenant: TenantId,
    report: &mut PassReport,
) -> Result<(), ArchiveError> {
    loop {
        match encrypt_plaintext(svc, tenant, 1000).await {
            Ok(0) => break,
            Ok(n) => report.encrypted += n,
            // A shredded tenant's plaintext rows are deleted by the shred; nothing to seal.
            Err(ArchiveError::Shredded) => break,
            Err(e) => return Err(e),
        }
    }
    let (policy, batches) = {
        let mut tx = svc.db.tenant_tx(tenant).await?;
        let p = db::archive::retention(&mut tx, tenant)
            .await?
            .map(super::retention::Policy::from)
            .unwrap_or_default();
        let b = db::archive::unarchived_batches(&mut tx, tenant, PASS_LIMIT).await?;
        tx.commit().await?;
        (p, b)
    };
    let ready: Vec<_> = batches
        .into_iter()
        .filter(|b| is_final(svc, b.trust_point.as_ref()))
        .collect();
    if ready.len() as i64 >= PASS_LIMIT {
        report.more = true;
    }
    if !ready.is_empty() {
        report.wrote(write_tenant_object(svc, tenant).await?);
    }
    for b in ready {
        archive_batch(svc, tenant, b.id, b.created_at, report).await?;
    }
    cool(svc, tenant, &policy, report).await?;
    if !policy.legal_hold {
        expire(svc, tenant, &policy, report).await?;
    }
    let mut tx = svc.db.tenant_tx(tenant).await?;
    report.restored_dropped += db::archive::drop_restored(&mut tx, tenant).await?;
    tx.commit().await?;
    Ok(())
}

/// True when a batch's proof will not change any more (its Chainweb trust point, if one is
/// coming, is in).
fn is_final(svc: &Services, trust_point: Option<&serde_json::Value>) -> bool {
    match trust_point {
        None => false,
        Some(tp @ serde_json::Value::Array(_)) => {
            crate::services::proofs::finality(
                &serde_json::json!({ "trustPoints": tp }),
                &svc.settings,
            ) == "final"
        }
        Some(_) => true,
    }
}

/// Writes `tenant.json` (the tenant, its wrapped data key or the record of its shredding, its
/// retention), verified.
pub async fn write_tenant_object(svc: &Services, tenant: TenantId) -> Result<String, ArchiveError> {
    let mut tx = svc.db.tenant_tx(tenant).await?;
    let rows = db::archive::tenant_rows(&mut tx, tenant)
        .await?
        .ok_or_else(|| ArchiveError::NotFound(format!("no tenant with id {tenant}")))?;
    tx.commit().await?;
    let object = TenantObject {
        format: "ancora.tenant.v1".into(),
        schema: layout::schema_version(),
        rows,
    };
    let bytes = to_json(&object)?;
    let key = layout::tenant_key(tenant);
    put_verified(svc.archive.store(), &key, bytes, None).await?;
    Ok(key)
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, ArchiveError> {
    serde_json::to_vec(v).map_err(|e| ArchiveError::Internal(e.into()))
}

/// The retain-until date of a batch's objects under Object Lock: its close plus the keep
/// period (what the tenant's policy keeps it for).
fn retain_until(closed: OffsetDateTime, policy: &Policy) -> Option<OffsetDateTime> {
    closed.checked_add(time::Duration::seconds(policy.keep_secs))
}

/// Copies one proved batch (its segment and, if any, its sealed contents) to the store,
/// verifies the copies and records them. A batch archived already (by a concurrent pass that
/// listed it too) is left alone: nothing is written.
pub async fn archive_batch(
    svc: &Services,
    tenant: TenantId,
    batch: Uuid,
    closed: OffsetDateTime,
    report: &mut PassReport,
) -> Result<(), ArchiveError> {
    let archive: &Archive = &svc.archive;
    let started = Instant::now();
    let (segment, contents, policy) = {
        let mut tx = svc.db.tenant_tx(tenant).await?;
        let Some((batch_row, events, proofs)) =
            db::archive::segment_rows(&mut tx, tenant, batch).await?
        else {
            return Ok(());
        };
        let contents = db::archive::batch_contents(&mut tx, tenant, batch).await?;
        let policy = db::archive::retention(&mut tx, tenant)
            .await?
            .map(super::retention::Policy::from)
            .unwrap_or_default();
        tx.commit().await?;
        let segment = Segment {
            format: "ancora.segment.v1".into(),
            schema: layout::schema_version(),
            tenant,
            batch: batch_row,
            events,
            proofs,
        };
        (segment, contents, policy)
    };
    if contents.iter().any(|(_, _, encrypted)| !encrypted) {
        return Err(ArchiveError::Internal(anyhow::anyhow!(
            "batch {batch} still has plaintext contents; they are encrypted first"
        )));
    }
    let folder = layout::batch_folder(tenant, closed, batch);
    let until = retain_until(closed, &policy);
    let mut contents_sum = None;
    if !contents.is_empty() {
        use base64::Engine as _;
        let object = ContentsObject {
            format: "ancora.contents.v1".into(),
            tenant,
            batch,
            contents: contents
                .into_iter()
                .map(|(id, sealed, _)| SealedContent {
                    id,
                    sealed: base64::engine::general_purpose::STANDARD.encode(sealed),
                })
                .collect(),
        };
        let bytes = to_json(&object)?;
        report.bytes += bytes.len() as u64;
        let key = layout::contents_key(&folder);
        let sum = put_verified(archive.store(), &key, bytes, until).await?;
        report.wrote(key);
        contents_sum = Some(sum);
    }
    let bytes = to_json(&segment)?;
    report.bytes += bytes.len() as u64;
    let key = layout::segment_key(&folder);
    let segment_sum = put_verified(archive.store(), &key, bytes, until).await?;
    report.wrote(key);
    let mut tx = svc.db.tenant_tx(tenant).await?;
    let recorded = db::archive::mark_archived(
        &mut tx,
        tenant,
        batch,
        &folder,
        &segment_sum,
        contents_sum.as_ref().map(|s| &s[..]),
    )
    .await?;
    tx.commit().await?;
    if !recorded {
        // A concurrent pass recorded its copy first; it read the same rows (the batch was
        // not archived yet when this one read them), so the objects are the same bytes.
        return Ok(());
    }
    report.batches_archived += 1;
    svc.metrics.observe_archive(started.elapsed());
    tracing::debug!(tenant_id = %tenant, batch_id = %batch, "batch archived");
    Ok(())
}

async fn cool(
    svc: &Services,
    tenant: TenantId,
    policy: &Policy,
    report: &mut PassReport,
) -> Result<(), ArchiveError> {
    let mut tx = svc.db.tenant_tx(tenant).await?;
    let due = db::archive::batches_to_cool(&mut tx, tenant, policy.hot_secs, PASS_LIMIT).await?;
    if due.len() as i64 >= PASS_LIMIT {
        report.more = true;
    }
    for batch in due {
        report.contents_dropped += db::archive::drop_hot(&mut tx, tenant, batch).await?;
        report.batches_cooled += 1;
    }
    tx.commit().await?;
    Ok(())
}

async fn expire(
    svc: &Services,
    tenant: TenantId,
    policy: &Policy,
    report: &mut PassReport,
) -> Result<(), ArchiveError> {
    let due = {
        let mut tx = svc.db.tenant_tx(tenant).await?;
        let d =
            db::archive::batches_to_expire(&mut tx, tenant, policy.keep_secs, PASS_LIMIT).await?;
        tx.commit().await?;
        d
    };
    if due.len() as i64 >= PASS_LIMIT {
        report.more = true;
    }
    for b in due {
        // The hold is read again before each deletion: a hold set while the pass runs stops
        // it before the next object goes.
        let mut tx = svc.db.tenant_tx(tenant).await?;
        let held = db::archive::retention(&mut tx, tenant)
            .await?
            .is_some_and(|p| p.legal_hold);
        tx.commit().await?;
        if held {
            return Ok(());
        }
        if let (true, Some(folder)) = (b.has_contents, &b.archive_key) {
            svc.archive
                .store()
                .delete(&layout::contents_key(folder))
                .await?;
        }
        let mut tx = svc.db.tenant_tx(tenant).await?;
        db::archive::mark_expired(&mut tx, tenant, b.id).await?;
        tx.commit().await?;
        report.batches_expired += 1;
    }
    Ok(())
}

async fn system_pass(svc: &Services, report: &mut PassReport) -> Result<(), ArchiveError> {
    let (anchors, checkpoints) = {
        let mut tx = svc.db.system_tx().await?;
        let a = db::archive::unarchived_anchors(&mut tx, PASS_LIMIT).await?;
        let c = db::archive::unarchived_checkpoints(&mut tx, PASS_LIMIT).await?;
        tx.commit().await?;
        (a, c)
    };
    if anchors.len() as i64 >= PASS_LIMIT || checkpoints.len() as i64 >= PASS_LIMIT {
        report.more = true;
    }
    for a in anchors {
        let bytes = to_json(&AnchorObject {
            format: "ancora.anchor.v1".into(),
            schema: layout::schema_version(),
            rows: a.rows,
        })?;
        report.bytes += bytes.len() as u64;
        let key = layout::anchor_key(a.created_at, a.id);
        put_verified(svc.archive.store(), &key, bytes, None).await?;
        report.wrote(key);
        let mut tx = svc.db.system_tx().await?;
        db::archive::mark_anchor_archived(&mut tx, a.id).await?;
        tx.commit().await?;
        report.anchors += 1;
    }
    for (size, row) in checkpoints {
        let bytes = to_json(&CheckpointObject {
            format: "ancora.checkpoint.v1".into(),
            schema: layout::schema_version(),
            row,
        })?;
        report.bytes += bytes.len() as u64;
        let key = layout::checkpoint_key(size);
        put_verified(svc.archive.store(), &key, bytes, None).await?;
        report.wrote(key);
        let mut tx = svc.db.system_tx().await?;
        db::archive::mark_checkpoint_archived(&mut tx, size).await?;
        tx.commit().await?;
        report.checkpoints += 1;
    }
    Ok(())
}
