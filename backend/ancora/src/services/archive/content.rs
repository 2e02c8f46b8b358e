//! Reading an event's content ([`read`]): the hot copy when there is one, else the batch's
//! archived contents object, checked against the SHA-256 recorded when it was archived (a copy
//! that differs is reported, never served), decrypted, and kept hot for
//! `ANCORA_ARCHIVE_RESTORE_TTL_S` so the next reads are fast.

use std::time::Instant;

use base64::Engine as _;
use time::OffsetDateTime;

use super::ArchiveError;
use super::layout::{self, ContentsObject};
use super::store::get_verified;
use crate::db;
use crate::domain::TenantId;
use crate::services::Services;

/// Where a content was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Postgres.
    Hot,
    /// The archive (now kept hot for a while).
    Cold,
}

/// The decrypted content of `event_id`, and where it came from.
pub async fn read(
    svc: &Services,
    tenant: TenantId,
    event_id: &str,
) -> Result<(Vec<u8>, Source), ArchiveError> {
    let result = read_inner(svc, tenant, event_id).await;
    result.map_err(|e| svc.archive.count(&svc.metrics, e))
}

async fn read_inner(
    svc: &Services,
    tenant: TenantId,
    event_id: &str,
) -> Result<(Vec<u8>, Source), ArchiveError> {
    let archive = &svc.archive;
    let mut tx = svc.db.tenant_tx(tenant).await?;
    let key = archive.data_key_for_read(&mut tx, tenant).await?;
    if let Some((bytes, encrypted)) = db::archive::hot_content(&mut tx, tenant, event_id).await? {
        tx.commit().await?;
        if !encrypted {
            // Stored before encryption at rest; the next archiving pass encrypts it.
            return Ok((bytes, Source::Hot));
        }
        let key = key.ok_or(ArchiveError::Shredded)?;
        return Ok((key.decrypt(tenant, event_id, &bytes)?, Source::Hot));
    }
    let loc = db::archive::content_location(&mut tx, tenant, event_id)
        .await?
        .ok_or_else(|| ArchiveError::NotFound(format!("no event with id {event_id:?}")))?;
    tx.commit().await?;
    if loc.contents_expired_at.is_some() {
        return Err(ArchiveError::Expired);
    }
    let no_content = || ArchiveError::NotFound(format!("event {event_id:?} has no stored content"));
    let (Some(folder), Some(sum)) = (loc.archive_key, loc.contents_sha256) else {
        return Err(no_content());
    };
    let key = key.ok_or_else(no_content)?;
    let started = Instant::now();
    let bytes = get_verified(archive.store(), &layout::contents_key(&folder), &sum).await?;
    let object: ContentsObject = serde_json::from_slice(&bytes)
        .map_err(|e| ArchiveError::Internal(anyhow::anyhow!("contents object of {folder}: {e}")))?;
    let found = object
        .contents
        .into_iter()
        .find(|c| c.id == event_id)
        .ok_or_else(no_content)?;
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(found.sealed)
        .map_err(|e| ArchiveError::Internal(anyhow::anyhow!("contents object of {folder}: {e}")))?;
    let plain = key.decrypt(tenant, event_id, &sealed)?;
    svc.metrics.observe_cold_read(started.elapsed());
    let until = OffsetDateTime::now_utc()
        + time::Duration::try_from(archive.config().restore_ttl).unwrap_or(time::Duration::HOUR);
    let mut tx = svc.db.tenant_tx(tenant).await?;
    db::archive::restore_content(&mut tx, tenant, event_id, &sealed, until).await?;
    tx.commit().await?;
    Ok((plain, Source::Cold))
}
