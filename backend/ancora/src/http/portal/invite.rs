//! Single-use links: invitations to a tenant and password resets. The token (32 random bytes)
//! travels only in the link; the database keeps its SHA-256. With no mail server configured
//! (the only mode today) the link goes to the outbox table and to the log, as the operator's
//! way to deliver it. Unknown, expired and used links all get the same "not valid" page.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sha2::Digest as _;
use time::OffsetDateTime;

use super::extract::{Form, Path};
use super::{Chrome, PortalError, PortalResult, Viewer};
use crate::db::{Tx, audit, portal as q};
use crate::domain::TenantId;
use crate::http::{AppState, session};
use crate::services::passwords as password;

/// How long a link works.
pub const LINK_TTL: time::Duration = time::Duration::days(3);

/// Creates a link, queues its mail and logs it; returns the link.
pub async fn issue(
    state: &AppState,
    tx: &mut Tx,
    kind: &str,
    tenant: Option<(TenantId, &str)>,
    email: &str,
    role: Option<&str>,
    by: &str,
) -> PortalResult<String> {
    let token = super::fmt::b64url(&rand::random::<[u8; 32]>());
    let hash = sha2::Sha256::digest(token.as_bytes());
    q::insert_invitation(
        tx,
        q::NewInvitation {
            kind,
            tenant: tenant.map(|t| t.0),
            email,
            role,
            token_hash: &hash,
            invited_by: by,
            expires_at: OffsetDateTime::now_utc() + LINK_TTL,
        },
    )
    .await?;
    let link = format!(
        "{}/invite/{token}",
        state.settings.public_url.trim_end_matches('/')
    );
    let (subject, body) = match tenant {
        Some((_, name)) => (
            format!("You are invited to {name} on Ancora"),
            format!(
                "You have been invited to the tenant {name} as {}.\n\nSet your password here (the link works once, for 3 days):\n{link}\n",
                role.unwrap_or("member")
            ),
        ),
        None => (
            "Reset your Ancora password".to_owned(),
            format!("Choose a new password here (the link works once, for 3 days):\n{link}\n"),
        ),
    };
    q::queue_mail(tx, email, &subject, &body).await?;
    // No mail server: the log is how the operator delivers the link (single use, 3 days).
    tracing::info!(kind, to = %email, %link, "single-use link issued (no mail server configured)");
    Ok(link)
}

/// The set-password page of a link.
#[derive(Template, WebTemplate)]
#[template(path = "portal/invite.html")]
pub struct InvitePage {
    /// Layout.
    pub chrome: Chrome,
    /// `invite` or `reset`.
    pub kind: String,
    /// Who it is for.
    pub email: String,
    /// The tenant (invitations).
    pub tenant_name: String,
    /// The role (invitations).
    pub role: String,
    /// The account already has a password: confirm it instead of choosing one.
    pub existing: bool,
    /// Form action.
    pub action: String,
    /// Why the last attempt failed.
    pub error: Option<String>,
}

async fn find(state: &AppState, token: &str) -> PortalResult<(q::FoundInvitation, bool)> {
    let hash = sha2::Sha256::digest(token.as_bytes());
    let mut tx = state.db.system_tx().await?;
    let inv = q::find_invitation(&mut tx, &hash)
        .await?
        .filter(|i| i.used_at.is_none() && i.expires_at > OffsetDateTime::now_utc())
        .ok_or(PortalError::LinkGone)?;
    let existing = inv.kind == "invite"
        && q::user_by_email(&mut tx, &inv.email)
            .await?
            .is_some_and(|u| u.password_hash.is_some());
    Ok((inv, existing))
}

fn render(
    viewer: &Viewer,
    token: &str,
    inv: &q::FoundInvitation,
    existing: bool,
    error: Option<String>,
) -> InvitePage {
    InvitePage {
        chrome: viewer.chrome(
            if inv.kind == "invite" {
                "Accept invitation"
            } else {
                "Choose a new password"
            },
            None,
            "",
        ),
        kind: inv.kind.clone(),
        email: inv.email.clone(),
        tenant_name: inv.tenant_name.clone().unwrap_or_default(),
        role: inv.role.clone().unwrap_or_default(),
        existing,
        action: format!("/invite/{}", super::fmt::seg(token)),
        error,
    }
}

/// GET /invite/{token}.
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(token): Path<String>,
) -> PortalResult<Response> {
    let (inv, existing) = find(&state, &token).await?;
    Ok(render(&viewer, &token, &inv, existing, None).into_response())
}

/// The set-password form.
#[derive(Deserialize)]
pub struct SetForm {
    password: String,
    #[serde(default)]
    confirm: String,
}

/// POST /invite/{token}.
pub async fn submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(token): Path<String>,
    Form(f): Form<SetForm>,
) -> PortalResult<Response> {
    let (inv, existing) = find(&state, &token).await?;
    let again = |e: String| Ok(render(&viewer, &token, &inv, existing, Some(e)).into_response());
    let mut tx = state.db.system_tx().await?;
    let user_id = q::ensure_user(&mut tx, &inv.email).await?;
    if existing {
        let user = q::user_by_id(&mut tx, user_id)
            .await?
            .ok_or(PortalError::LinkGone)?;
        if !user
            .password_hash
            .as_deref()
            .is_some_and(|h| password::verify_password(&f.password, h))
        {
            return again("That is not the password of this account.".into());
        }
    } else {
        if f.password != f.confirm {
            return again("The two passwords differ.".into());
        }
        if let Err(e) = password::check_policy(&f.password) {
            return again(e);
        }
        let phc =
            password::hash_password(&f.password).map_err(|e| PortalError::Internal(e.into()))?;
        q::set_password(&mut tx, user_id, &phc).await?;
    }
    if !q::use_invitation(&mut tx, inv.id).await? {
        return Err(PortalError::LinkGone);
    }
    let actor = format!("user:{}", inv.email);
    if inv.kind == "reset" {
        audit::record(
            &mut tx,
            audit::AuditEntry {
                tenant: None,
                actor: &actor,
                action: "user.password_reset",
                subject: Some(&user_id.to_string()),
                details: serde_json::json!({}),
            },
        )
        .await?;
    }
    tx.commit().await?;
    let mut to = "/".to_owned();
    if let (Some(t), Some(role)) = (inv.tenant_id, inv.role.as_deref()) {
        let tenant = TenantId(t);
        let mut ttx = state.db.tenant_tx(tenant).await?;
        q::upsert_membership(&mut ttx, tenant, user_id, role).await?;
        audit::record(
            &mut ttx,
            audit::AuditEntry {
                tenant: Some(tenant),
                actor: &actor,
                action: "member.added",
                subject: Some(&inv.email),
                details: serde_json::json!({ "role": role, "via": "invitation" }),
            },
        )
        .await?;
        ttx.commit().await?;
        to = format!("/t/{tenant}");
    }
    session::sign_in(&viewer.session, user_id).await?;
    Ok(Redirect::to(&to).into_response())
}
