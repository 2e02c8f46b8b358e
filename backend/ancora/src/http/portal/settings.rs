//! Tenant settings: the signature policy (every event must be signed by a registered
//! submitter key), the retention policy (hot and keep periods, legal hold) and, for owners,
//! crypto-shredding the tenant's contents. Every change is audited: the signature policy here,
//! retention and shredding by their services ([`retention::set`], [`shred::shred`]), which
//! also hold every rule; this file only reads forms and says what happened.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::extract::{Form, Path};
use super::fmt::ts;
use super::{Chrome, Ctx, PortalError, PortalResult, Viewer};
use crate::db::{archive, audit, tenants};
use crate::http::AppState;
use crate::services::archive::ArchiveError;
use crate::services::archive::retention::{
    self, Change, RetentionError, format_duration, parse_duration,
};
use crate::services::archive::shred;
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
    /// Outcomes of the last form.
    pub notes: Notes,
    /// The retention policy now: hot period, e.g. `30d`.
    pub hot: String,
    /// Keep period, e.g. `10y`.
    pub keep: String,
    /// Legal hold.
    pub legal_hold: bool,
    /// The retention form's values (what was typed, after a refusal).
    pub hot_input: String,
    /// The same for keep.
    pub keep_input: String,
    /// May change retention.
    pub can_manage_retention: bool,
    /// The retention form's action.
    pub retention_action: String,
    /// May destroy the contents (owners).
    pub can_shred: bool,
    /// The shred form's action.
    pub shred_action: String,
    /// When the data key was destroyed, if it was.
    pub shredded_at: Option<String>,
}

/// What the last submitted form did: one sentence per section, success or refusal.
#[derive(Clone, Debug, Default)]
pub struct Notes {
    /// Signature policy saved.
    pub message: Option<String>,
    /// Retention saved.
    pub retention_ok: Option<String>,
    /// Retention refused.
    pub retention_error: Option<String>,
    /// Contents destroyed.
    pub shred_ok: Option<String>,
    /// Shred refused.
    pub shred_error: Option<String>,
}

/// Typed retention values to show again after a refusal.
struct Typed {
    hot: String,
    keep: String,
}

/// Renders the page as it stands after `notes`, answering `status`.
async fn render(
    state: &AppState,
    viewer: &Viewer,
    ctx: &Ctx,
    notes: Notes,
    typed: Option<Typed>,
    status: StatusCode,
) -> PortalResult<Response> {
    let mut tx = state.db.tenant_tx(ctx.tenant).await?;
    let require = tenants::requires_signatures(&mut tx, ctx.tenant).await?;
    let shredded_at = archive::tenant_key(&mut tx, ctx.tenant)
        .await?
        .and_then(|k| k.shredded_at);
    tx.commit().await?;
    let policy = retention::get(&state.db, ctx.tenant).await?;
    let (hot, keep) = (
        format_duration(policy.hot_secs),
        format_duration(policy.keep_secs),
    );
    let typed = typed.unwrap_or_else(|| Typed {
        hot: hot.clone(),
        keep: keep.clone(),
    });
    let base = format!("/t/{}/settings", ctx.tenant);
    let page = SettingsPage {
        chrome: viewer.chrome("Settings", Some(ctx), "settings"),
        tenant_id: ctx.tenant.to_string(),
        tenant_name: ctx.tenant_name.clone(),
        require_signatures: require,
        can_change: ctx.can(Action::ChangeSettings),
        notes,
        hot,
        keep,
        legal_hold: policy.legal_hold,
        hot_input: typed.hot,
        keep_input: typed.keep,
        can_manage_retention: ctx.can(Action::ManageRetention),
        retention_action: format!("{base}/retention"),
        can_shred: ctx.can(Action::ShredContents),
        shred_action: format!("{base}/shred"),
        shredded_at: shredded_at.map(ts),
        action: base,
    };
    Ok((status, page).into_response())
}

/// GET /t/{tenant}/settings.
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::ReadSettings, &tenant)?;
    render(
        &state,
        &viewer,
        &ctx,
        Notes::default(),
        None,
        StatusCode::OK,
    )
    .await
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
    let notes = Notes {
        message: Some("Saved.".into()),
        ..Notes::default()
    };
    render(&state, &viewer, &ctx, notes, None, StatusCode::OK).await
}

/// The retention form (every field defaults, so a role check always comes first).
#[derive(Deserialize)]
pub struct RetentionForm {
    #[serde(default)]
    hot: String,
    #[serde(default)]
    keep: String,
    #[serde(default)]
    legal_hold: Option<String>,
}

/// POST /t/{tenant}/settings/retention: a refused change re-renders the page with the
/// service's reason (422, or 409 under legal hold) and changes nothing.
pub async fn save_retention(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
    Form(f): Form<RetentionForm>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::ManageRetention, &tenant)?;
    let parsed = parse_duration(&f.hot)
        .map_err(|e| format!("Hot: {e}"))
        .and_then(|hot| {
            parse_duration(&f.keep)
                .map(|keep| (hot, keep))
                .map_err(|e| format!("Keep: {e}"))
        });
    let outcome = match parsed {
        Err(e) => Err((StatusCode::UNPROCESSABLE_ENTITY, e)),
        Ok((hot, keep)) => {
            let change = Change {
                hot_secs: Some(hot),
                keep_secs: Some(keep),
                legal_hold: Some(f.legal_hold.is_some()),
            };
            match retention::set(&state.db, ctx.tenant, change, &ctx.actor.audit_name()).await {
                Ok(_) => Ok(()),
                Err(RetentionError::Invalid(m)) => Err((StatusCode::UNPROCESSABLE_ENTITY, m)),
                Err(RetentionError::LegalHold(m)) => Err((StatusCode::CONFLICT, m)),
                Err(e) => return Err(e.into()),
            }
        }
    };
    match outcome {
        Ok(()) => {
            let notes = Notes {
                retention_ok: Some("Retention saved.".into()),
                ..Notes::default()
            };
            render(&state, &viewer, &ctx, notes, None, StatusCode::OK).await
        }
        Err((status, reason)) => {
            let notes = Notes {
                retention_error: Some(format!("Nothing was changed. {reason}")),
                ..Notes::default()
            };
            let typed = Typed {
                hot: f.hot,
                keep: f.keep,
            };
            render(&state, &viewer, &ctx, notes, Some(typed), status).await
        }
    }
}

/// The shred form: the tenant's name or id, typed to confirm.
#[derive(Deserialize)]
pub struct ShredForm {
    #[serde(default)]
    confirm: String,
}

/// POST /t/{tenant}/settings/shred (owners only): destroys the tenant's data key once the
/// owner typed the tenant's name or id; refused with the reason under legal hold.
pub async fn shred_contents(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
    Form(f): Form<ShredForm>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::ShredContents, &tenant)?;
    let typed = f.confirm.trim();
    if typed.is_empty() || (typed != ctx.tenant_name && typed != ctx.tenant.to_string()) {
        let notes = Notes {
            shred_error: Some(format!(
                "Nothing was destroyed: to confirm, type the tenant's name ({}) or its id exactly.",
                ctx.tenant_name
            )),
            ..Notes::default()
        };
        return render(
            &state,
            &viewer,
            &ctx,
            notes,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let (notes, status) = match shred::shred(&state, ctx.tenant, &ctx.actor.audit_name()).await {
        Ok(done) => {
            let said = if done.key_destroyed_now {
                format!(
                    "The tenant's contents were destroyed: its data key is gone, {} hot contents were deleted and archived copies can no longer be read.",
                    done.hot_rows_deleted
                )
            } else {
                "The data key had already been destroyed; the archive's record was rewritten."
                    .to_owned()
            };
            let notes = Notes {
                shred_ok: Some(format!(
                    "{said} Digests, roots and proofs remain valid and verifiable."
                )),
                ..Notes::default()
            };
            (notes, StatusCode::OK)
        }
        Err(ArchiveError::LegalHold(m)) => {
            let notes = Notes {
                shred_error: Some(format!("Nothing was destroyed: {m}.")),
                ..Notes::default()
            };
            (notes, StatusCode::CONFLICT)
        }
        Err(ArchiveError::NotFound(_)) => return Err(PortalError::NotFound),
        Err(e) => return Err(PortalError::Internal(e.into())),
    };
    render(&state, &viewer, &ctx, notes, None, status).await
}

impl From<RetentionError> for PortalError {
    fn from(e: RetentionError) -> Self {
        match e {
            RetentionError::NoTenant(_) => PortalError::NotFound,
            RetentionError::Invalid(m) | RetentionError::LegalHold(m) => PortalError::BadRequest(m),
            RetentionError::Db(e) => PortalError::Internal(e.into()),
        }
    }
}
