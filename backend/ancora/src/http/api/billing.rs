//! Billing's API: the month's usage, and Stripe's webhook.
//!
//! * `GET /v1/usage` (roles owner, admin, billing) — `{"plan", "periodStart", "periodEnd",
//!   "usage": {"events", "proofReads", "spvRequests", "reports"}, "quotas": {…, null when unlimited}}`,
//!   plus `limitsPlan` (the plan whose limits apply: `free` after a failed payment's grace
//!   period), `paymentFailed` and `estimateCents` (the next invoice at list prices so far).
//! * `POST /v1/billing/stripe/webhook` — Stripe's events, verified by `Stripe-Signature`
//!   (see [`crate::services::billing::webhook`]): 200 when applied, seen before or not
//!   handled; 400 when the signature or the event is not right (nothing changed); 404 when no
//!   webhook secret is configured.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use crate::http::auth::{Action, Auth, authorize};
use crate::http::error::Problem;
use crate::http::{ApiResult, AppState};
use crate::services::billing::webhook::Outcome;
use crate::services::billing::{Metric, UsageSummary, rfc3339};

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/usage", get(usage))
        .route("/billing/stripe/webhook", post(webhook))
}

/// One number per metered quantity.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // The answers are built as JSON; these are their documented shapes.
struct Metered {
    events: u64,
    proof_reads: u64,
    spv_requests: u64,
    reports: u64,
}

/// Quotas per metered quantity; null when unlimited.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct Quotas {
    events: Option<u64>,
    proof_reads: Option<u64>,
    spv_requests: Option<u64>,
    reports: Option<u64>,
}

/// `GET /v1/usage`'s answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct UsageView {
    plan: String,
    /// The plan whose limits apply (`free` after a failed payment's grace period).
    limits_plan: String,
    payment_failed: bool,
    period_start: String,
    period_end: String,
    usage: Metered,
    quotas: Quotas,
    /// The next invoice at list prices so far.
    estimate_cents: i64,
}

/// The webhook's answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
struct WebhookAnswer {
    received: bool,
    duplicate: Option<bool>,
    ignored: Option<String>,
}

/// The JSON of a usage summary (camelCase).
pub fn usage_json(u: &UsageSummary) -> Value {
    let mut usage = Map::new();
    let mut quotas = Map::new();
    for m in Metric::ALL {
        usage.insert(m.json_key().into(), u.usage[m.index()].into());
        quotas.insert(
            m.json_key().into(),
            u.quotas[m.index()].map_or(Value::Null, Value::from),
        );
    }
    json!({
        "plan": u.plan,
        "limitsPlan": u.limits_plan,
        "paymentFailed": u.payment_failed,
        "periodStart": rfc3339(u.period_start),
        "periodEnd": rfc3339(u.period_end),
        "usage": usage,
        "quotas": quotas,
        "estimateCents": u.estimate_cents,
    })
}

/// The month's usage, quotas and invoice estimate.
#[utoipa::path(
    get,
    path = "/v1/usage",
    tag = "billing",
    responses((status = 200, description = "Usage and quotas", body = UsageView)),
    security(("bearer" = []))
)]
async fn usage(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    authorize(&auth, Action::ViewUsage)?;
    let summary = state.billing.usage(auth.tenant).await?;
    Ok(Json(usage_json(&summary)))
}

/// Stripe's events (signed with `Stripe-Signature`).
#[utoipa::path(
    post,
    path = "/v1/billing/stripe/webhook",
    tag = "billing",
    request_body(content = Object, description = "A Stripe event"),
    params(("Stripe-Signature" = Option<String>, Header, description = "Stripe's signature of the body")),
    responses(
        (status = 200, description = "Applied, seen before, or not handled", body = WebhookAnswer),
        (status = 404, description = "No webhook secret is configured", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let outcome = state.billing.handle_webhook(&body, signature).await?;
    let answer = match outcome {
        Outcome::Applied => json!({ "received": true }),
        Outcome::Duplicate => json!({ "received": true, "duplicate": true }),
        Outcome::Ignored(reason) => json!({ "received": true, "ignored": reason }),
    };
    Ok(Json(answer))
}
