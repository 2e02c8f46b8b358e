//! The HTTP surface (an interface): the JSON API under `/v1`, health and metrics, and the
//! portal. The router and the cross-cutting layers live here; handlers translate requests into
//! service calls and service errors into problem+json ([`error`]) or portal pages.

pub mod api;
pub mod auth;
pub mod error;
pub mod extract;
pub mod portal;
pub mod request_id;
pub mod session;

use std::net::SocketAddr;
use std::time::Instant;

pub(crate) use crate::app::AppState;
use crate::support::metrics::HttpLabels;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub use error::{ApiError, ApiResult};

/// The whole router with its layers.
pub fn router(state: AppState) -> Router {
    let max_body = state.config.http.max_body_bytes;
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .nest("/v1", api::routes())
        .merge(portal::routes(&state))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            timeout_and_measure,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .with_state(state);
    request_id::layer(router)
}

/// The operations endpoints alone (`/healthz`, `/readyz`, `/metrics`), for a process that
/// serves no API (`ancora worker --ops-listen ADDR`).
pub fn ops_router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .with_state(state)
}

/// The router as `ancora serve` runs it: every request carries the client's address
/// (`ConnectInfo<SocketAddr>`), which sign-in throttling counts failures by.
pub fn app(
    state: AppState,
) -> axum::extract::connect_info::IntoMakeServiceWithConnectInfo<Router, SocketAddr> {
    router(state).into_make_service_with_connect_info::<SocketAddr>()
}

async fn method_not_allowed() -> Response {
    error::problem_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        "this endpoint does not accept that HTTP method".into(),
    )
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.db.migrations_applied().await {
        Ok(true) => (StatusCode::OK, "ready").into_response(),
        Ok(false) => (StatusCode::SERVICE_UNAVAILABLE, "migrations pending").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    if let Ok(depth) = crate::db::jobs::queue_depth(&state.db).await {
        state.metrics.queue_depth.set(depth);
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint".into())
}

/// Answers 408 when a request (body included) takes longer than the configured timeout, and
/// records the latency of every request by route.
async fn timeout_and_measure(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().to_string();
    let started = Instant::now();
    let resp = match tokio::time::timeout(state.config.http.request_timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::Timeout.into_response(),
    };
    let status = format!("{}xx", resp.status().as_u16() / 100);
    state
        .metrics
        .http_latency
        .get_or_create(&HttpLabels {
            route,
            method,
            status,
        })
        .observe(started.elapsed().as_secs_f64());
    resp
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a handler panicked");
    ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
}
