//! The append-only audit log: every privileged action, one row each.
//!
//! A tenant's rows are anchored like its events: [`record`] also stores, in the same
//! transaction, an event `audit-<row id>` (submitter `audit`) whose digest is the SHA-256 of
//! the row's canonical JSON ([`canonical_json`]), and wakes the tenant's batch job. The normal
//! batch → anchor → prove pipeline then proves it, and anyone holding the row can recompute
//! the digest. Platform rows (no tenant) are not anchored.

use crate::domain::TenantId;
use ancora_proof::event::{ContentDigest, EventLeaf};
use sqlx::PgConnection;
use time::OffsetDateTime;

/// The submitter bound into the leaf of every audit event.
pub const AUDIT_SUBMITTER: &str = "audit";

/// How soon after an audit row the tenant's batch job runs (at the latest).
pub const AUDIT_BATCH_AFTER: time::Duration = time::Duration::seconds(1);

/// One privileged action.
#[derive(Debug)]
pub struct AuditEntry<'a> {
    /// The tenant it concerns; `None` for platform actions (written with no tenant set).
    pub tenant: Option<TenantId>,
    /// Who: `api_key:<prefix>`, `user:<email>`, `cli`, `bootstrap`.
    pub actor: &'a str,
    /// What, dotted: `submitter_key.created`, `api_key.created`, `tenant.created`, …
    pub action: &'a str,
    /// The id of the thing acted on.
    pub subject: Option<&'a str>,
    /// Anything else worth keeping (never secrets).
    pub details: serde_json::Value,
}

/// The event id that anchors audit row `id`.
pub fn event_id(id: i64) -> String {
    format!("audit-{id}")
}

/// The canonical JSON of a stored audit row: one object with the keys `action`, `actor`,
/// `at` (RFC 3339, UTC, microseconds), `details`, `id`, `subject`, `tenant_id`, sorted, at
/// every depth, with no whitespace (serde_json's maps are ordered by key). Its SHA-256 is the
/// digest of the row's audit event.
pub fn canonical_json(
    id: i64,
    tenant: TenantId,
    entry: &AuditEntry<'_>,
    at: OffsetDateTime,
) -> Vec<u8> {
    let at = at
        .to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let row = serde_json::json!({
        "action": entry.action,
        "actor": entry.actor,
        "at": at,
        "details": entry.details,
        "id": id,
        "subject": entry.subject,
        "tenant_id": tenant.to_string(),
    });
    serde_json::to_vec(&row).unwrap_or_default()
}

/// Appends an entry in the caller's transaction (tenant transaction for tenant actions); a
/// tenant's entry is also stored as that tenant's event `audit-<id>` and its batch job is
/// enqueued, all in the same transaction.
pub async fn record(conn: &mut PgConnection, entry: AuditEntry<'_>) -> sqlx::Result<()> {
    let row = sqlx::query!(
        "INSERT INTO audit_log (tenant_id, actor, action, subject, details) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id, at",
        entry.tenant.map(|t| t.0),
        entry.actor,
        entry.action,
        entry.subject,
        entry.details
    )
    .fetch_one(&mut *conn)
    .await?;
    if let Some(tenant) = entry.tenant {
        anchor(conn, tenant, row.id, &entry, row.at).await?;
    }
    Ok(())
}

/// Stores audit row `id` as the tenant's event and wakes its batch job.
async fn anchor(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: i64,
    entry: &AuditEntry<'_>,
    at: OffsetDateTime,
) -> sqlx::Result<()> {
    let canonical = canonical_json(id, tenant, entry, at);
    let digest = ContentDigest::sha256_of(&canonical);
    let micros = i64::try_from(at.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX);
    let leaf = EventLeaf {
        tenant_id: tenant.bytes(),
        event_id: event_id(id),
        digest,
        submitter: AUDIT_SUBMITTER.to_owned(),
        received_at_micros: micros,
    };
    let leaf_hash = leaf
        .leaf_hash()
        .map_err(|e| sqlx::Error::Protocol(format!("audit event leaf: {e}")))?;
    // One row, written here rather than through `events::insert_new` (the ingest path's bulk
    // statement), so the two can change independently. The id is new: the audit row's id is.
    crate::db::events::lock_for_ingest(&mut *conn, tenant).await?;
    sqlx::query!(
        "INSERT INTO events (tenant_id, id, digest_alg, digest, metadata, submitter, received_at, \
                             received_at_micros, leaf_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        tenant.0,
        leaf.event_id,
        digest.algorithm.prefix(),
        digest.bytes.as_slice(),
        serde_json::from_slice::<serde_json::Value>(&canonical).ok(),
        AUDIT_SUBMITTER,
        at,
        micros,
        leaf_hash.as_bytes().as_slice()
    )
    .execute(&mut *conn)
    .await?;
    crate::db::jobs::enqueue_batch_job(conn, tenant, OffsetDateTime::now_utc() + AUDIT_BATCH_AFTER)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn the_canonical_json_sorts_keys_at_every_depth_and_has_no_whitespace() {
        let tenant = TenantId(Uuid::from_u128(0x018f_3c2a_7b10_7c00_8000_1234_5678_9abc));
        let entry = AuditEntry {
            tenant: Some(tenant),
            actor: "user:a@example.test",
            action: "api_key.created",
            subject: Some("k1"),
            details: serde_json::json!({ "role": "submitter", "name": "ci" }),
        };
        let at = time::macros::datetime!(2026-01-01 12:00:00.000123 UTC);
        let text = String::from_utf8(canonical_json(7, tenant, &entry, at)).expect("utf-8");
        assert_eq!(
            text,
            "{\"action\":\"api_key.created\",\"actor\":\"user:a@example.test\",\
             \"at\":\"2026-01-01T12:00:00.000123Z\",\"details\":{\"name\":\"ci\",\"role\":\"submitter\"},\
             \"id\":7,\"subject\":\"k1\",\"tenant_id\":\"018f3c2a-7b10-7c00-8000-123456789abc\"}"
        );
        assert_eq!(event_id(7), "audit-7");
    }
}
