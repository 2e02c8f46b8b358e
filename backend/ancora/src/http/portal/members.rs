//! Members and invitations: who has which role; owners and admins invite by email (only an
//! owner may invite an owner).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::extract::{Form, Path};
use super::fmt::ts;
use super::{Chrome, Ctx, PortalError, PortalResult, Viewer, invite};
use crate::db::{audit, portal as pq, portal_pages as q};
use crate::domain::Role;
use crate::http::AppState;
use crate::services::authorization::Action;

/// A member as shown.
#[derive(Clone, Debug)]
pub struct Member {
    /// Email.
    pub email: String,
    /// Role.
    pub role: String,
    /// Since.
    pub since: String,
}

/// The members page.
#[derive(Template, WebTemplate)]
#[template(path = "portal/members.html")]
pub struct MembersPage {
    /// Layout.
    pub chrome: Chrome,
    /// Members.
    pub members: Vec<Member>,
    /// Pending invitations.
    pub pending: Vec<Member>,
    /// May invite.
    pub can_invite: bool,
    /// Roles this person may grant.
    pub roles: Vec<&'static str>,
    /// Form action.
    pub action: String,
    /// Outcome of the last invitation.
    pub message: Option<String>,
    /// Error of the last invitation.
    pub error: Option<String>,
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    ctx: &Ctx,
    message: Option<String>,
    error: Option<String>,
) -> PortalResult<MembersPage> {
    let mut tx = state.db.tenant_tx(ctx.tenant).await?;
    let members = q::members(&mut tx, ctx.tenant).await?;
    let pending = pq::pending_invitations(&mut tx, ctx.tenant).await?;
    tx.commit().await?;
    let roles = Role::ALL
        .into_iter()
        .filter(|r| *r != Role::Owner || ctx.can(Action::GrantOwner))
        .map(Role::as_str)
        .collect();
    Ok(MembersPage {
        chrome: viewer.chrome("Members", Some(ctx), "members"),
        members: members
            .into_iter()
            .map(|(email, role, since)| Member {
                email,
                role,
                since: ts(since),
            })
            .collect(),
        pending: pending
            .into_iter()
            .map(|p| Member {
                email: p.email,
                role: p.role.unwrap_or_default(),
                since: format!("expires {}", ts(p.expires_at)),
            })
            .collect(),
        can_invite: ctx.can(Action::InviteMember),
        roles,
        action: format!("/t/{}/members", ctx.tenant),
        message,
        error,
    })
}

/// GET /t/{tenant}/members.
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::ReadMembers, &tenant)?;
    Ok(render(&state, &viewer, &ctx, None, None)
        .await?
        .into_response())
}

/// The invitation form.
#[derive(Deserialize)]
pub struct InviteForm {
    email: String,
    role: String,
}

/// POST /t/{tenant}/members: invite.
pub async fn invite(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
    Form(f): Form<InviteForm>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::InviteMember, &tenant)?;
    let role: Role = f.role.parse().map_err(PortalError::BadRequest)?;
    if role == Role::Owner {
        viewer.require(Action::GrantOwner, &tenant)?;
    }
    let email = f.email.trim();
    if email.len() < 3
        || email.len() > 320
        || !email.contains('@')
        || email.contains(char::is_whitespace)
    {
        let page = render(
            &state,
            &viewer,
            &ctx,
            None,
            Some("Enter one email address.".into()),
        )
        .await?;
        return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let mut tx = state.db.tenant_tx(ctx.tenant).await?;
    let by = ctx.actor.audit_name();
    invite::issue(
        &state,
        &mut tx,
        "invite",
        Some((ctx.tenant, &ctx.tenant_name)),
        email,
        Some(role.as_str()),
        &by,
    )
    .await?;
    audit::record(
        &mut tx,
        audit::AuditEntry {
            tenant: Some(ctx.tenant),
            actor: &by,
            action: "member.invited",
            subject: Some(email),
            details: serde_json::json!({ "role": role }),
        },
    )
    .await?;
    tx.commit().await?;
    let msg = format!("Invitation sent to {email} as {role}. The link works once, for 3 days.");
    Ok(render(&state, &viewer, &ctx, Some(msg), None)
        .await?
        .into_response())
}
