//! Tenant settings: the signature policy (every event must be signed by a registered
//! submitter key). Changing it is audited.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::extract::{Form, Path};
use super::{Chrome, PortalResult, Viewer};
use crate::db::{audit, tenants};
use crate::http::AppState;
use crate::services::authorization::Action;

/// The settings page.
#[derive(Template, WebTemplate)]
#[template(path = "portal/settings.html")]
pub struct SettingsPage {
    /// Layout.
    pub chrome: Chrome,
    /// Tenant id.
    pub tenant_id: String,
    /// Tenant name.
    pub tenant_name: String,
    /// The policy.
    pub require_signatures: bool,
    /// May change.
    pub can_change: bool,
    /// Form action.
    pub action: String,
    /// Outcome.
    pub message: Option<String>,
}

/// GET /t/{tenant}/settings.
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::ReadSettings, &tenant)?;
    let mut tx = state.db.tenant_tx(ctx.tenant).await?;
    let require = tenants::requires_signatures(&mut tx, ctx.tenant).await?;
    tx.commit().await?;
    Ok(SettingsPage {
        chrome: viewer.chrome("Settings", Some(&ctx), "settings"),
        tenant_id: ctx.tenant.to_string(),
        tenant_name: ctx.tenant_name.clone(),
        require_signatures: require,
        can_change: ctx.can(Action::ChangeSettings),
        action: format!("/t/{}/settings", ctx.tenant),
        message: None,
    }
    .into_response())
}

/// The settings form (an unchecked checkbox sends nothing).
#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    require_signatures: Option<String>,
}

/// POST /t/{tenant}/settings.
pub async fn save(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
    Form(f): Form<SettingsForm>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::ChangeSettings, &tenant)?;
    let required = f.require_signatures.is_some();
    let mut tx = state.db.tenant_tx(ctx.tenant).await?;
    tenants::set_requires_signatures(&mut tx, ctx.tenant, required).await?;
    audit::record(
        &mut tx,
        audit::AuditEntry {
            tenant: Some(ctx.tenant),
            actor: &ctx.actor.audit_name(),
            action: "policy.changed",
            subject: Some("require_signatures"),
            details: serde_json::json!({ "require_signatures": required }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(SettingsPage {
        chrome: viewer.chrome("Settings", Some(&ctx), "settings"),
        tenant_id: ctx.tenant.to_string(),
        tenant_name: ctx.tenant_name.clone(),
        require_signatures: required,
        can_change: true,
        action: format!("/t/{}/settings", ctx.tenant),
        message: Some("Saved.".into()),
    }
    .into_response())
}
