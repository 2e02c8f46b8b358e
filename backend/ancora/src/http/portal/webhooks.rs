//! Webhooks: the tenant's endpoints (add — the secret is shown once —, list, delete) and the
//! recent deliveries with their outcome. The work is [`crate::services::webhooks`]'s.

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
use crate::http::AppState;
use crate::services::authorization::Action;
use crate::services::webhooks::{self, EVENT_TYPES, WebhookError};

impl From<WebhookError> for PortalError {
    fn from(e: WebhookError) -> Self {
        match e {
            e @ (WebhookError::Url(_) | WebhookError::Invalid(_)) => {
                PortalError::BadRequest(format!("This webhook cannot be added: {e}."))
            }
            WebhookError::NotFound(_) => PortalError::NotFound,
            WebhookError::Internal(e) => PortalError::Internal(e),
        }
    }
}

/// An endpoint as listed.
#[derive(Clone, Debug)]
pub struct Hook {
    /// Delete target.
    pub delete: String,
    /// URL.
    pub url: String,
    /// Event types, comma-separated.
    pub events: String,
    /// Created at and by.
    pub created: String,
}

/// A delivery as listed.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// Made at.
    pub created: String,
    /// Event type.
    pub event_type: String,
    /// Batch or anchor id.
    pub subject: String,
    /// Endpoint URL.
    pub url: String,
    /// `pending`, `delivered`, `failed`.
    pub state: String,
    /// Attempts.
    pub attempts: i32,
    /// Last outcome in words.
    pub outcome: String,
    /// Next attempt, for pending.
    pub next: String,
}

/// One event type's checkbox.
#[derive(Clone, Debug)]
pub struct Choice {
    /// The form field (`event_proved`).
    pub field: String,
    /// The type (`event.proved`).
    pub name: &'static str,
}

/// The webhooks page.
#[derive(Template, WebTemplate)]
#[template(path = "portal/webhooks.html")]
pub struct WebhooksPage {
    /// Layout.
    pub chrome: Chrome,
    /// Endpoints.
    pub hooks: Vec<Hook>,
    /// Recent deliveries.
    pub deliveries: Vec<Delivery>,
    /// May add and delete.
    pub can_manage: bool,
    /// The event types, as checkboxes.
    pub types: Vec<Choice>,
    /// Form action.
    pub action: String,
    /// A secret just created: shown this once.
    pub created_secret: Option<String>,
    /// Outcome.
    pub message: Option<String>,
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    ctx: &Ctx,
    created_secret: Option<String>,
    message: Option<String>,
) -> PortalResult<WebhooksPage> {
    let hooks = webhooks::list(state, ctx.tenant).await?;
    let deliveries = webhooks::recent_deliveries(state, ctx.tenant, 50).await?;
    Ok(WebhooksPage {
        chrome: viewer.chrome("Webhooks", Some(ctx), "webhooks"),
        hooks: hooks
            .into_iter()
            .map(|h| Hook {
                delete: format!("/t/{}/webhooks/{}/delete", ctx.tenant, h.id),
                url: h.url,
                events: h.events.join(", "),
                created: format!("{} by {}", ts(h.created_at), h.created_by),
            })
            .collect(),
        deliveries: deliveries
            .into_iter()
            .map(|d| Delivery {
                created: ts(d.created_at),
                event_type: d.event_type,
                subject: d.subject,
                url: d.url,
                outcome: match (d.last_status, d.last_error) {
                    (_, Some(e)) => e,
                    (Some(s), None) => format!("answered {s}"),
                    (None, None) => "not sent yet".into(),
                },
                next: if d.state == "pending" {
                    ts_opt(d.next_attempt_at)
                } else {
                    "—".into()
                },
                state: d.state,
                attempts: d.attempts,
            })
            .collect(),
        can_manage: ctx.can(Action::ManageWebhooks),
        types: EVENT_TYPES
            .into_iter()
            .map(|name| Choice {
                field: name.replace('.', "_"),
                name,
            })
            .collect(),
        action: format!("/t/{}/webhooks", ctx.tenant),
        created_secret,
        message,
    })
}

/// GET /t/{tenant}/webhooks.
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::ReadWebhooks, &tenant)?;
    Ok(render(&state, &viewer, &ctx, None, None)
        .await?
        .into_response())
}

/// The add form: the URL and one checkbox per event type (`event_proved=on`, …).
#[derive(Deserialize)]
pub struct AddForm {
    #[serde(default)]
    url: String,
    #[serde(default)]
    event_proved: Option<String>,
    #[serde(default)]
    batch_proved: Option<String>,
    #[serde(default)]
    batch_final: Option<String>,
    #[serde(default)]
    anchor_failed: Option<String>,
}

impl AddForm {
    fn events(&self) -> Vec<String> {
        [
            (&self.event_proved, "event.proved"),
            (&self.batch_proved, "batch.proved"),
            (&self.batch_final, "batch.final"),
            (&self.anchor_failed, "anchor.failed"),
        ]
        .into_iter()
        .filter(|(on, _)| on.is_some())
        .map(|(_, name)| name.to_owned())
        .collect()
    }
}

/// POST /t/{tenant}/webhooks.
pub async fn add(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
    Form(f): Form<AddForm>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::ManageWebhooks, &tenant)?;
    let created = webhooks::register(
        &state,
        ctx.tenant,
        &ctx.actor.audit_name(),
        f.url.trim(),
        &f.events(),
    )
    .await?;
    let shown = created.secret.expose_secret().to_owned();
    let msg = format!("Webhook {} added.", created.endpoint.url);
    let mut page = render(&state, &viewer, &ctx, Some(shown), Some(msg))
        .await?
        .into_response();
    // The page carries a secret: never cache it.
    page.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(page)
}

/// POST /t/{tenant}/webhooks/{id}/delete.
pub async fn delete(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((tenant, id)): Path<(String, String)>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::ManageWebhooks, &tenant)?;
    let id: Uuid = id.parse().map_err(|_| PortalError::NotFound)?;
    webhooks::delete(&state, ctx.tenant, &ctx.actor.audit_name(), id).await?;
    let msg = "Webhook deleted; nothing more is sent to it.".to_owned();
    Ok(render(&state, &viewer, &ctx, None, Some(msg))
        .await?
        .into_response())
}
