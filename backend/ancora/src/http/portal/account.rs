//! The person's own account: change password; and "forgot password", which sends a reset
//! link through the same single-use mechanism as invitations.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::extract::Form;
use super::{Chrome, PortalError, PortalResult, Viewer, invite};
use crate::db::{audit, portal as q};
use crate::http::AppState;
use crate::services::passwords as password;

/// The account page.
#[derive(Template, WebTemplate)]
#[template(path = "portal/account.html")]
pub struct AccountPage {
    /// Layout.
    pub chrome: Chrome,
    /// Outcome of the last change.
    pub message: Option<String>,
    /// Error of the last change.
    pub error: Option<String>,
}

/// GET /account.
pub async fn page(viewer: Viewer) -> PortalResult<Response> {
    viewer.signed_in()?;
    Ok(AccountPage {
        chrome: viewer.chrome("Your account", None, ""),
        message: None,
        error: None,
    }
    .into_response())
}

/// The change-password form.
#[derive(Deserialize)]
pub struct ChangeForm {
    current: String,
    new: String,
    confirm: String,
}

/// POST /account.
pub async fn change_password(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(f): Form<ChangeForm>,
) -> PortalResult<Response> {
    let actor = viewer.signed_in()?.clone();
    let render = |error: Option<String>, message: Option<String>| AccountPage {
        chrome: viewer.chrome("Your account", None, ""),
        message,
        error,
    };
    let mut tx = state.db.system_tx().await?;
    let user = q::user_by_id(&mut tx, actor.user_id)
        .await?
        .ok_or(PortalError::NotFound)?;
    let current_ok = user
        .password_hash
        .as_deref()
        .is_some_and(|h| password::verify_password(&f.current, h));
    if !current_ok {
        return Ok(
            render(Some("Your current password is not correct.".into()), None).into_response(),
        );
    }
    if f.new != f.confirm {
        return Ok(render(Some("The two new passwords differ.".into()), None).into_response());
    }
    if let Err(e) = password::check_policy(&f.new) {
        return Ok(render(Some(e), None).into_response());
    }
    let phc = password::hash_password(&f.new).map_err(|e| PortalError::Internal(e.into()))?;
    q::set_password(&mut tx, user.id, &phc).await?;
    audit::record(
        &mut tx,
        audit::AuditEntry {
            tenant: None,
            actor: &actor.audit_name(),
            action: "user.password_changed",
            subject: Some(&user.id.to_string()),
            details: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(render(None, Some("Your password has been changed.".into())).into_response())
}

/// The forgot-password page.
#[derive(Template, WebTemplate)]
#[template(path = "portal/forgot.html")]
pub struct ForgotPage {
    /// Layout.
    pub chrome: Chrome,
    /// Set after submitting.
    pub sent: bool,
}

/// GET /forgot.
pub async fn forgot_page(viewer: Viewer) -> PortalResult<Response> {
    Ok(ForgotPage {
        chrome: viewer.chrome("Reset your password", None, ""),
        sent: false,
    }
    .into_response())
}

/// The forgot-password form.
#[derive(Deserialize)]
pub struct ForgotForm {
    email: String,
}

/// POST /forgot: the answer is the same whether or not the account exists.
pub async fn forgot_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(f): Form<ForgotForm>,
) -> PortalResult<Response> {
    let mut tx = state.db.system_tx().await?;
    if let Some(user) = q::user_by_email(&mut tx, f.email.trim()).await?
        && !user.disabled
    {
        invite::issue(
            &state,
            &mut tx,
            "reset",
            None,
            &user.email,
            None,
            "user:self",
        )
        .await?;
    }
    tx.commit().await?;
    Ok(ForgotPage {
        chrome: viewer.chrome("Reset your password", None, ""),
        sent: true,
    }
    .into_response())
}
