//! The append-only audit log: every privileged action, one row each.

use sqlx::PgConnection;

use crate::domain::TenantId;

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

/// Appends an entry in the caller's transaction (tenant transaction for tenant actions).
pub async fn record(conn: &mut PgConnection, entry: AuditEntry<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO audit_log (tenant_id, actor, action, subject, details) \
         VALUES ($1, $2, $3, $4, $5)",
        entry.tenant.map(|t| t.0),
        entry.actor,
        entry.action,
        entry.subject,
        entry.details
    )
    .execute(conn)
    .await?;
    Ok(())
}
