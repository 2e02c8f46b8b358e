//! The tenant's audit log, newest first, keyset-paged; each row links to its audit event
//! (`audit-<id>`, see [`crate::db::audit`]) and shows how far its proof has come.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::extract::{Path, Query};
use super::fmt::{seg, ts};
use super::{Chrome, PortalResult, Viewer};
use crate::db::{audit, portal_pages as q};
use crate::http::AppState;
use crate::services::authorization::Action;

const PAGE: i64 = 100;

/// One row as shown.
#[derive(Clone, Debug)]
pub struct Entry {
    /// When.
    pub at: String,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub subject: String,
    /// Details (JSON text).
    pub details: String,
    /// The proof status of the row's audit event, or empty when it has none.
    pub proof: String,
    /// The audit event's page.
    pub href: Option<String>,
}

/// The audit-log page.
#[derive(Template, WebTemplate)]
#[template(path = "portal/audit.html")]
pub struct AuditPage {
    /// Layout.
    pub chrome: Chrome,
    /// Rows.
    pub entries: Vec<Entry>,
    /// Older entries.
    pub next: Option<String>,
}

/// `?before=`.
#[derive(Deserialize)]
pub struct Before {
    #[serde(default)]
    before: Option<i64>,
}

/// GET /t/{tenant}/audit.
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
    Query(b): Query<Before>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::ReadAuditLog, &tenant)?;
    let mut tx = state.db.tenant_tx(ctx.tenant).await?;
    let rows = q::audit_page(&mut tx, ctx.tenant, b.before, PAGE + 1).await?;
    tx.commit().await?;
    let next = (rows.len() as i64 > PAGE)
        .then(|| {
            rows.get(PAGE as usize - 1)
                .map(|r| format!("/t/{}/audit?before={}", ctx.tenant, r.id))
        })
        .flatten();
    let entries = rows
        .into_iter()
        .take(PAGE as usize)
        .map(|r| Entry {
            href: r
                .proof
                .is_some()
                .then(|| format!("/t/{}/events/{}", ctx.tenant, seg(&audit::event_id(r.id)))),
            proof: r.proof.unwrap_or_default(),
            at: ts(r.at),
            actor: r.actor,
            action: r.action,
            subject: r.subject.unwrap_or_default(),
            details: if r.details == serde_json::json!({}) {
                String::new()
            } else {
                r.details.to_string()
            },
        })
        .collect();
    Ok(AuditPage {
        chrome: viewer.chrome("Audit log", Some(&ctx), "audit"),
        entries,
        next,
    }
    .into_response())
}
