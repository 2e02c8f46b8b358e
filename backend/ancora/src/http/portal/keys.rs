//! API keys: create (the key is shown once), list with prefix, role and last use, revoke.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret as _;
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{Form, Path};
use super::fmt::{ts, ts_opt};
use super::{Chrome, Ctx, PortalError, PortalResult, Viewer};
use crate::db::{api_keys, audit, portal_pages as q};
use crate::domain::Role;
use crate::http::AppState;
use crate::services::authorization::Action;

/// A key as listed.
#[derive(Clone, Debug)]
pub struct Key {
    /// Revoke target.
    pub revoke: String,
    /// Name.
    pub name: String,
    /// Prefix.
    pub prefix: String,
    /// Role.
    pub role: String,
    /// Created.
    pub created: String,
    /// Last use.
    pub last_used: String,
    /// Revoked at, if.
    pub revoked: Option<String>,
}

/// The keys page.
#[derive(Template, WebTemplate)]
#[template(path = "portal/keys.html")]
pub struct KeysPage {
    /// Layout.
    pub chrome: Chrome,
    /// Keys.
    pub keys: Vec<Key>,
    /// May create and revoke.
    pub can_manage: bool,
    /// Roles a key can carry.
    pub roles: Vec<&'static str>,
    /// Form action.
    pub action: String,
    /// A key just created: shown this once.
    pub created_key: Option<String>,
    /// Outcome.
    pub message: Option<String>,
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    ctx: &Ctx,
    created_key: Option<String>,
    message: Option<String>,
) -> PortalResult<KeysPage> {
    let mut tx = state.db.tenant_tx(ctx.tenant).await?;
    let keys = q::api_keys(&mut tx, ctx.tenant).await?;
    tx.commit().await?;
    Ok(KeysPage {
        chrome: viewer.chrome("API keys", Some(ctx), "keys"),
        keys: keys
            .into_iter()
            .map(|k| Key {
                revoke: format!("/t/{}/keys/{}/revoke", ctx.tenant, k.id),
                name: k.name,
                prefix: k.prefix,
                role: k.role,
                created: ts(k.created_at),
                last_used: ts_opt(k.last_used_at),
                revoked: k.revoked_at.map(ts),
            })
            .collect(),
        can_manage: ctx.can(Action::ManageApiKeys),
        roles: Role::ALL
            .into_iter()
            .filter(|r| *r != Role::Owner)
            .map(Role::as_str)
            .collect(),
        action: format!("/t/{}/keys", ctx.tenant),
        created_key,
        message,
    })
}

/// GET /t/{tenant}/keys.
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::ReadApiKeys, &tenant)?;
    Ok(render(&state, &viewer, &ctx, None, None)
        .await?
        .into_response())
}

/// The create form.
#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
    role: String,
}

/// POST /t/{tenant}/keys.
pub async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
    Form(f): Form<CreateForm>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::ManageApiKeys, &tenant)?;
    let role: Role = f.role.parse().map_err(PortalError::BadRequest)?;
    if role == Role::Owner {
        return Err(PortalError::BadRequest(
            "An API key cannot be an owner.".into(),
        ));
    }
    let name: String = f.name.trim().chars().take(100).collect();
    let key = api_keys::generate();
    let mut tx = state.db.tenant_tx(ctx.tenant).await?;
    let id = api_keys::insert(&mut tx, ctx.tenant, &name, role, &key).await?;
    audit::record(
        &mut tx,
        audit::AuditEntry {
            tenant: Some(ctx.tenant),
            actor: &ctx.actor.audit_name(),
            action: "api_key.created",
            subject: Some(&id.to_string()),
            details: serde_json::json!({ "prefix": key.prefix, "role": role, "name": name }),
        },
    )
    .await?;
    tx.commit().await?;
    let shown = key.key.expose_secret().to_owned();
    let mut page = render(&state, &viewer, &ctx, Some(shown), None)
        .await?
        .into_response();
    // The page carries a secret: never cache it.
    page.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(page)
}

/// POST /t/{tenant}/keys/{key}/revoke.
pub async fn revoke(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((tenant, key)): Path<(String, String)>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::ManageApiKeys, &tenant)?;
    let id: Uuid = key.parse().map_err(|_| PortalError::NotFound)?;
    let mut tx = state.db.tenant_tx(ctx.tenant).await?;
    let prefix = q::revoke_api_key(&mut tx, ctx.tenant, id)
        .await?
        .ok_or(PortalError::NotFound)?;
    audit::record(
        &mut tx,
        audit::AuditEntry {
            tenant: Some(ctx.tenant),
            actor: &ctx.actor.audit_name(),
            action: "api_key.revoked",
            subject: Some(&id.to_string()),
            details: serde_json::json!({ "prefix": prefix }),
        },
    )
    .await?;
    tx.commit().await?;
    let msg = format!("Key {prefix} is revoked; requests made with it are refused from now on.");
    Ok(render(&state, &viewer, &ctx, None, Some(msg))
        .await?
        .into_response())
}
