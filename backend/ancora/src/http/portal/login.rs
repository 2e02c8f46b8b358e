//! Sign-in and sign-out, with throttling per account and per client address. Every refusal
//! reads the same, so the page never tells whether an account exists.

use std::net::SocketAddr;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{ConnectInfo, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::extract::{Form, Query};
use super::{Chrome, PortalResult, Viewer};
use crate::db::{audit, portal as q};
use crate::http::{AppState, session};
use crate::services::passwords as password;

/// Failures per account, and per address, within [`WINDOW_SECS`], before sign-in is refused.
pub const MAX_PER_ACCOUNT: i64 = 5;
/// Per client address.
pub const MAX_PER_IP: i64 = 50;
/// The throttling window.
pub const WINDOW_SECS: f64 = 15.0 * 60.0;

const WRONG: &str = "Email or password is incorrect, or sign-in is paused for this account after too many attempts. Try again, or wait 15 minutes.";

/// The sign-in page.
#[derive(Template, WebTemplate)]
#[template(path = "portal/login.html")]
pub struct LoginPage {
    /// Layout.
    pub chrome: Chrome,
    /// Why the last attempt failed.
    pub error: Option<&'static str>,
    /// The email typed.
    pub email: String,
    /// Where to go after.
    pub next: String,
}

/// `?next=`.
#[derive(Deserialize)]
pub struct Next {
    #[serde(default)]
    next: String,
}

/// GET /login.
pub async fn page(viewer: Viewer, Query(n): Query<Next>) -> PortalResult<Response> {
    if viewer.actor.is_some() {
        return Ok(Redirect::to(&safe_next(&n.next)).into_response());
    }
    Ok(LoginPage {
        chrome: viewer.chrome("Sign in", None, ""),
        error: None,
        email: String::new(),
        next: n.next,
    }
    .into_response())
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// The client address, when the server records it (`into_make_service_with_connect_info`).
pub struct ClientIp(pub Option<String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string()),
        ))
    }
}

/// POST /login.
pub async fn submit(
    State(state): State<AppState>,
    viewer: Viewer,
    ClientIp(ip): ClientIp,
    Form(form): Form<LoginForm>,
) -> PortalResult<Response> {
    let account = form.email.trim().to_lowercase();
    let mut tx = state.db.system_tx().await?;
    let mut throttled =
        q::recent_failures(&mut tx, "account", &account, WINDOW_SECS).await? >= MAX_PER_ACCOUNT;
    if let Some(ip) = &ip {
        throttled |= q::recent_failures(&mut tx, "ip", ip, WINDOW_SECS).await? >= MAX_PER_IP;
    }
    let user = q::user_by_email(&mut tx, &account).await?;
    let ok = match (&user, throttled) {
        (Some(u), false) if !u.disabled => match &u.password_hash {
            Some(h) => password::verify_password(&form.password, h),
            None => {
                password::burn_verification(&form.password);
                false
            }
        },
        _ => {
            password::burn_verification(&form.password);
            false
        }
    };
    let Some(user) = user.filter(|_| ok) else {
        if !account.is_empty() {
            q::record_failure(&mut tx, "account", &account).await?;
        }
        if let Some(ip) = &ip {
            q::record_failure(&mut tx, "ip", ip).await?;
        }
        tx.commit().await?;
        tracing::info!(throttled, "portal sign-in refused");
        let page = LoginPage {
            chrome: viewer.chrome("Sign in", None, ""),
            error: Some(WRONG),
            email: form.email,
            next: form.next,
        };
        return Ok((axum::http::StatusCode::UNAUTHORIZED, page).into_response());
    };
    q::clear_failures(&mut tx, &account).await?;
    let actor = format!("user:{}", user.email);
    audit::record(
        &mut tx,
        audit::AuditEntry {
            tenant: None,
            actor: &actor,
            action: "user.login",
            subject: Some(&user.id.to_string()),
            details: serde_json::json!({ "ip": ip }),
        },
    )
    .await?;
    let tenants = q::memberships(&mut tx, user.id).await?;
    tx.commit().await?;
    // The login also appears in each tenant's audit log, where its auditors look.
    for (t, _, _) in &tenants {
        let tenant = crate::domain::TenantId(*t);
        let mut ttx = state.db.tenant_tx(tenant).await?;
        audit::record(
            &mut ttx,
            audit::AuditEntry {
                tenant: Some(tenant),
                actor: &actor,
                action: "user.login",
                subject: Some(&user.id.to_string()),
                details: serde_json::json!({ "ip": ip }),
            },
        )
        .await?;
        ttx.commit().await?;
    }
    session::sign_in(&viewer.session, user.id).await?;
    Ok(Redirect::to(&safe_next(&form.next)).into_response())
}

/// POST /logout.
pub async fn logout(viewer: Viewer) -> PortalResult<Response> {
    session::sign_out(&viewer.session).await?;
    Ok(Redirect::to("/login").into_response())
}

/// Only same-site paths: `/x`, never `//host`, `/\\host` or `https://…`. Every character must
/// be printable ASCII other than `\\`: browsers drop tabs and newlines from URLs (so
/// `/\t/evil.example` becomes `//evil.example`, another host) and read `\\` as `/`, and a
/// control character cannot go into a `Location` header at all. Anything else goes to `/`.
pub fn safe_next(next: &str) -> String {
    let printable = next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    if printable && next.starts_with('/') && !next.starts_with("//") {
        next.to_owned()
    } else {
        "/".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_keeps_same_site_paths_and_drops_everything_that_can_leave_the_site() {
        assert_eq!(safe_next("/t/abc/events?q=x%20y"), "/t/abc/events?q=x%20y");
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/x",
            "/\r/x",
            "/ /evil.example",
            "https://evil.example",
            "evil",
            "/é",
            "",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad:?} kept");
        }
    }
}
