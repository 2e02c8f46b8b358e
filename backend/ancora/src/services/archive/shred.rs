//! Crypto-shredding ([`shred`]): a tenant's data key is destroyed, so every copy of its
//! contents (hot rows, archived objects, backups of either) is ciphertext nobody can read.
//! Proofs stay valid: leaves commit to digests, never to contents. Refused under legal hold.

use serde_json::json;

use super::ArchiveError;
use super::archiver::write_tenant_object;
use crate::db;
use crate::domain::TenantId;
use crate::services::Services;

/// What a shred did.
#[derive(Clone, Debug, Default)]
pub struct Shredded {
    /// False when the key had been destroyed before (the archive copy is rewritten anyway).
    pub key_destroyed_now: bool,
    /// Hot content rows deleted.
    pub hot_rows_deleted: u64,
}

/// Destroys the tenant's data key, deletes its hot contents, records `tenant.shredded` and
/// rewrites the archive's `tenant.json` without the wrapped key. Running it again after a
/// failure (the archive unavailable) finishes the job.
pub async fn shred(
    svc: &Services,
    tenant: TenantId,
    actor: &str,
) -> Result<Shredded, ArchiveError> {
    let mut tx = svc.db.tenant_tx(tenant).await?;
    if db::tenants::name(&mut tx, tenant).await?.is_none() {
        return Err(ArchiveError::NotFound(format!(
            "no tenant with id {tenant}"
        )));
    }
    let policy = db::archive::retention_for_update(&mut tx, tenant)
        .await?
        .map(super::retention::Policy::from)
        .unwrap_or_default();
    if policy.legal_hold {
        return Err(ArchiveError::LegalHold(
            "the tenant is under legal hold: its contents cannot be destroyed; lift the hold first"
                .into(),
        ));
    }
    let destroyed = db::archive::shred_key(&mut tx, tenant).await?;
    let deleted = db::archive::delete_all_contents(&mut tx, tenant).await?;
    if destroyed {
        db::audit::record(
            &mut tx,
            db::audit::AuditEntry {
                tenant: Some(tenant),
                actor,
                action: "tenant.shredded",
                subject: Some(&tenant.to_string()),
                details: json!({ "hotContentsDeleted": deleted }),
            },
        )
        .await?;
    }
    tx.commit().await?;
    svc.archive.keyring().forget(tenant);
    write_tenant_object(svc, tenant)
        .await
        .map_err(|e| svc.archive.count(&svc.metrics, e))?;
    Ok(Shredded {
        key_destroyed_now: destroyed,
        hot_rows_deleted: deleted,
    })
}
