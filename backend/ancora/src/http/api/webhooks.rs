//! `/v1/webhooks`: a tenant's webhook endpoints ([`crate::services::webhooks`]).
//!
//! * `POST /v1/webhooks {"url", "events": ["event.proved", "batch.proved", "batch.final",
//!   "anchor.failed"]}` → `201 {id, url, events, createdAt, createdBy, secret}`: the secret
//!   (`whsec_…`) signs every delivery and is shown this once. The URL must be `https://` and
//!   resolve to public addresses only, and must not redirect (422 otherwise).
//! * `GET /v1/webhooks` → `{webhooks: [{id, url, events, createdAt, createdBy}]}`;
//! * `DELETE /v1/webhooks/{id}` → `204` (404 for an id the tenant does not have);
//! * `GET /v1/webhooks/deliveries?limit=` → `{deliveries: [...]}`, newest first, each with
//!   its state (`pending | delivered | failed`), attempts and last outcome.
//!
//! Owner and admin keys manage endpoints; auditor keys may list them.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{delete, get};
use axum::{Json, Router};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::http::api::openapi::IdempotencyKeyHeader;
use crate::http::auth::{Action, Auth, authorize};
use crate::http::error::Problem;
use crate::http::extract::ApiJson;
use crate::http::idempotency;
use crate::http::{ApiError, ApiResult, AppState};
use crate::services::webhooks::{self, DeliveryRow, Endpoint};

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhooks", get(list).post(create))
        .route("/webhooks/deliveries", get(deliveries))
        .route("/webhooks/{id}", delete(remove))
}

/// The body of `POST /v1/webhooks`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateWebhook {
    /// Where deliveries go.
    pub url: String,
    /// The event types wanted.
    pub events: Vec<String>,
}

/// An endpoint as listed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    id: Uuid,
    url: String,
    events: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    created_by: String,
}

impl From<Endpoint> for WebhookView {
    fn from(e: Endpoint) -> Self {
        WebhookView {
            id: e.id,
            url: e.url,
            events: e.events,
            created_at: e.created_at,
            created_by: e.created_by,
        }
    }
}

/// The registration's answer: the endpoint and its secret, shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedWebhook {
    #[serde(flatten)]
    webhook: WebhookView,
    secret: String,
}

/// The tenant's endpoints.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct WebhookList {
    webhooks: Vec<WebhookView>,
}

/// Register a webhook endpoint; its signing secret is shown this once.
#[utoipa::path(
    post,
    path = "/v1/webhooks",
    tag = "webhooks",
    params(IdempotencyKeyHeader),
    request_body = CreateWebhook,
    responses(
        (status = 201, description = "Registered: the endpoint and its secret", body = CreatedWebhook),
        (status = 409, description = "A request with this Idempotency-Key is still running", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Result<ApiJson<CreateWebhook>, Response>,
) -> ApiResult<Response> {
    authorize(&auth, Action::ManageWebhooks)?;
    let ApiJson(body) = body.map_err(|r| ApiError::Rejected(Box::new(r)))?;
    let keyed = idempotency::Keyed::read(&headers, "POST /v1/webhooks", &body)?;
    idempotency::once(&state, auth.tenant, keyed, |_| {
        let (state, auth) = (state.clone(), auth.clone());
        async move {
            let created =
                webhooks::register(&state, auth.tenant, &auth.actor(), &body.url, &body.events)
                    .await?;
            let answer = CreatedWebhook {
                webhook: created.endpoint.into(),
                secret: created.secret.expose_secret().to_owned(),
            };
            let answer = serde_json::to_value(answer).map_err(anyhow::Error::from)?;
            Ok((StatusCode::CREATED, answer))
        }
    })
    .await
}

/// The tenant's webhook endpoints.
#[utoipa::path(
    get,
    path = "/v1/webhooks",
    tag = "webhooks",
    responses((status = 200, description = "The endpoints", body = WebhookList)),
    security(("bearer" = []))
)]
async fn list(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<WebhookList>> {
    authorize(&auth, Action::ReadWebhooks)?;
    let found = webhooks::list(&state, auth.tenant).await?;
    Ok(Json(WebhookList {
        webhooks: found.into_iter().map(Into::into).collect(),
    }))
}

/// Delete a webhook endpoint.
#[utoipa::path(
    delete,
    path = "/v1/webhooks/{id}",
    tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id (a UUID)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such endpoint in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn remove(
    State(state): State<AppState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    authorize(&auth, Action::ManageWebhooks)?;
    let id: Uuid = raw
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no webhook {raw:?}")))?;
    webhooks::delete(&state, auth.tenant, &auth.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DeliveriesQuery {
    /// At most this many, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// One delivery as listed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct DeliveryView {
    id: Uuid,
    webhook_id: Uuid,
    url: String,
    event_type: String,
    subject: String,
    state: String,
    attempts: i32,
    last_status: Option<i32>,
    last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    last_attempt_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    next_attempt_at: Option<OffsetDateTime>,
}

impl From<DeliveryRow> for DeliveryView {
    fn from(d: DeliveryRow) -> Self {
        DeliveryView {
            id: d.id,
            webhook_id: d.endpoint_id,
            url: d.url,
            event_type: d.event_type,
            subject: d.subject,
            state: d.state,
            attempts: d.attempts,
            last_status: d.last_status,
            last_error: d.last_error,
            created_at: d.created_at,
            last_attempt_at: d.last_attempt_at,
            next_attempt_at: d.next_attempt_at,
        }
    }
}

/// Recent deliveries, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct DeliveryList {
    deliveries: Vec<DeliveryView>,
}

/// Recent deliveries and their outcome.
#[utoipa::path(
    get,
    path = "/v1/webhooks/deliveries",
    tag = "webhooks",
    params(DeliveriesQuery),
    responses((status = 200, description = "Deliveries, newest first", body = DeliveryList)),
    security(("bearer" = []))
)]
async fn deliveries(
    State(state): State<AppState>,
    auth: Auth,
    query: Result<Query<DeliveriesQuery>, QueryRejection>,
) -> ApiResult<Json<DeliveryList>> {
    authorize(&auth, Action::ReadWebhooks)?;
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be 1 to 1000".into()));
    }
    let found = webhooks::recent_deliveries(&state, auth.tenant, limit).await?;
    Ok(Json(DeliveryList {
        deliveries: found.into_iter().map(Into::into).collect(),
    }))
}
