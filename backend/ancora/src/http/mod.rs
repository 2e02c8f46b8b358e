//! The HTTP surface (an interface): the JSON API under `/v1`, health and metrics, and the
//! portal. The router and the cross-cutting layers live here; handlers translate requests into
//! service calls and service errors into problem+json ([`error`]) or portal pages.

pub mod api;
pub mod auth;
pub mod casing;
pub mod error;
pub mod extract;
pub mod idempotency;
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
    let router = ops_routes()
        .nest("/v1", api::routes())
        .merge(portal::routes(&state))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(run_to_completion))
        .layer(middleware::from_fn(refuse_unreadable_uri))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            timeout_and_measure,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security_headers,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .with_state(state);
    request_id::layer(router)
}

/// The operations endpoints alone (`/healthz`, `/readyz`, `/metrics`), for a process that
/// serves no API (`ancora worker --ops-listen ADDR`).
pub fn ops_router(state: AppState) -> Router {
    ops_routes().fallback(not_found).with_state(state)
}

/// `/healthz`, `/readyz` and `/metrics`: in every router.
fn ops_routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The router as a make-service for `axum::serve`: every request carries the client's address
/// (`ConnectInfo<SocketAddr>`), which sign-in throttling counts failures by. `ancora serve`
/// itself runs [`router`] through `server::serve_http`, which adds the same address and the
/// connection limits.
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

/// Longest `/readyz` waits for the database before it says 503.
pub const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Ready when the database answers within [`READY_TIMEOUT`] and every migration is applied:
/// fast and truthful while the database is away.
async fn readyz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(READY_TIMEOUT, state.db.migrations_applied()).await {
        Ok(Ok(true)) => (StatusCode::OK, "ready").into_response(),
        Ok(Ok(false)) => (StatusCode::SERVICE_UNAVAILABLE, "migrations pending").into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response(),
    }
}

/// The Prometheus exposition. The pool gauges are read from the pool here; the gauges that
/// need SQL are sampled by the worker processes (see `crate::services::health`), so a scrape
/// costs no query. 404 with `ANCORA_METRICS=off`.
async fn metrics(State(state): State<AppState>) -> Response {
    if !state.metrics.enabled() {
        return ApiError::NotFound("metrics are off (ANCORA_METRICS=off)".into()).into_response();
    }
    let pool = state.db.pool();
    state.metrics.set_pool(
        pool.size(),
        pool.num_idle(),
        pool.options().get_max_connections(),
    );
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Runs the rest of the request (extractors, handler, the session save) in a task of its own
/// and waits for it: a client that disconnects, or the request timeout above, stops the
/// waiting, never the work. A request's database work therefore always runs to its end (its
/// transaction commits or rolls back), and no future is dropped while `BEGIN` or `COMMIT` is
/// in flight (sqlx 0.8 would otherwise release a connection inside a transaction; the pool's
/// release check in `db` is the second wall).
async fn run_to_completion(req: Request, next: Next) -> Response {
    match tokio::spawn(next.run(req)).await {
        Ok(resp) => resp,
        Err(e) => {
            tracing::error!(error = %e, "a request task failed");
            ApiError::Internal(anyhow::anyhow!("request task: {e}")).into_response()
        }
    }
}

/// The Content-Security-Policy of every answer: scripts, styles, fonts and fetches from this
/// origin only (the portal has no inline script or style, and no `eval`), images also as
/// `data:` URLs, no plugins, no `<base>`, forms post here only, and no framing by anyone.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Sets the security headers on every answer (the portal's pages and the API alike), unless a
/// handler set its own: the CSP above, `X-Content-Type-Options: nosniff`, `X-Frame-Options:
/// DENY` (for browsers that predate `frame-ancestors`), `Referrer-Policy: same-origin`, and,
/// when the service is reached over https (`ANCORA_PUBLIC_URL`), HSTS for a year. HSTS over
/// plain http would be ignored by browsers and would lock a local http set-up out if it did not.
async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    use axum::http::{HeaderValue, header};
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let mut set = |name: header::HeaderName, value: &'static str| {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    set(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::REFERRER_POLICY, "same-origin");
    if state.settings.public_url.starts_with("https://") {
        set(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
    resp
}

/// Refuses, before any handler, a path that does not decode to UTF-8 or that holds a NUL, and
/// a query whose parameters hold a NUL: no id, search or token can contain one (Postgres
/// cannot store it), so such a request can only be answered "bad request" — as problem+json
/// on the API and as a page on the portal, never as a database error.
async fn refuse_unreadable_uri(req: Request, next: Next) -> Response {
    let uri = req.uri();
    let path_ok = percent_encoding::percent_decode_str(uri.path())
        .decode_utf8()
        .is_ok_and(|p| !p.contains('\0'));
    let query_ok = !form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .any(|(k, v)| k.contains('\0') || v.contains('\0'));
    if path_ok && query_ok {
        return next.run(req).await;
    }
    let what = if path_ok {
        "a query parameter holds a NUL character"
    } else {
        "the path is not valid UTF-8 once percent-decoded, or holds a NUL character"
    };
    if uri.path().starts_with("/v1/") || uri.path() == "/v1" {
        ApiError::BadRequest(what.into()).into_response()
    } else {
        portal::PortalError::BadRequest(format!("This address cannot be read: {what}."))
            .into_response()
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint".into())
}

/// Answers 408 when a request (body included) takes longer than the configured timeout, and
/// records the latency of every request by route.
async fn timeout_and_measure(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let timeout = state.config.http.request_timeout;
    if !state.metrics.enabled() {
        return match tokio::time::timeout(timeout, next.run(req)).await {
            Ok(resp) => resp,
            Err(_) => ApiError::Timeout.into_response(),
        };
    }
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().to_string();
    let started = Instant::now();
    let resp = match tokio::time::timeout(timeout, next.run(req)).await {
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
