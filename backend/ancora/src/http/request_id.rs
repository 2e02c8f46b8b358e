//! Request ids: every request gets an `X-Request-Id` (the client's, or a fresh UUID), every log
//! line written while it is handled carries it (the `request` span's `request_id` field, in
//! text and in JSON logs), and the response echoes it. tower-http's request-id and trace layers
//! do the work; `ANCORA_LOG=info,tower_http=info` adds one access line per response.

use axum::Router;
use axum::http::{HeaderName, Request};
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

/// The header.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps `router`: set the id (outermost), open the span, echo the id.
pub fn layer(router: Router) -> Router {
    router
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(span)
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO))
                .on_failure(()),
        )
        .layer(SetRequestIdLayer::new(X_REQUEST_ID, MakeRequestUuid))
}

fn span<B>(req: &Request<B>) -> tracing::Span {
    let id = req
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-");
    // No path: a raw path can carry an invitation token or an event id.
    tracing::info_span!("request", request_id = %id, method = %req.method())
}
