//! Platform operators: create a tenant and invite its first owner.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::extract::Form;
use super::{Chrome, PortalError, PortalResult, Viewer, invite};
use crate::db::{audit, tenants};
use crate::domain::TenantId;
use crate::http::AppState;
use crate::services::authorization::Action;

/// The operator page.
#[derive(Template, WebTemplate)]
#[template(path = "portal/operator.html")]
pub struct OperatorPage {
    /// Layout.
    pub chrome: Chrome,
    /// Outcome.
    pub message: Option<String>,
}

/// GET /operator/tenants.
pub async fn page(viewer: Viewer) -> PortalResult<Response> {
    viewer.require_platform(Action::ManageTenants)?;
    Ok(OperatorPage {
        chrome: viewer.chrome("Tenants", None, ""),
        message: None,
    }
    .into_response())
}

/// The new-tenant form.
#[derive(Deserialize)]
pub struct NewTenant {
    name: String,
    owner_email: String,
}

/// POST /operator/tenants.
pub async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(f): Form<NewTenant>,
) -> PortalResult<Response> {
    let actor = viewer.require_platform(Action::ManageTenants)?;
    let name = f.name.trim();
    let email = f.owner_email.trim();
    if name.is_empty() || name.len() > 200 || !email.contains('@') {
        return Err(PortalError::BadRequest(
            "Give the tenant a name and its owner an email address.".into(),
        ));
    }
    let id = TenantId::new();
    let mut sys = state.db.system_tx().await?;
    tenants::insert(&mut sys, id, name).await?;
    audit::record(
        &mut sys,
        audit::AuditEntry {
            tenant: None,
            actor: &actor.audit_name(),
            action: "tenant.created",
            subject: Some(&id.to_string()),
            details: serde_json::json!({ "name": name }),
        },
    )
    .await?;
    sys.commit().await?;
    let mut tx = state.db.tenant_tx(id).await?;
    invite::issue(
        &state,
        &mut tx,
        "invite",
        Some((id, name)),
        email,
        Some("owner"),
        &actor.audit_name(),
    )
    .await?;
    tx.commit().await?;
    let message = Some(format!(
        "Tenant {name} created ({id}); {email} is invited as its owner."
    ));
    Ok(OperatorPage {
        chrome: viewer.chrome("Tenants", None, ""),
        message,
    }
    .into_response())
}
