//! The API's OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]`
//! annotations and the request and response types' `ToSchema`, served at
//! `GET /v1/openapi.json` and rendered for people at `/docs/api` (the portal).
//!
//! Every `/v1` route is listed in `paths(...)` below, one handler a line; a test fails when a
//! route exists that the document lacks, or the reverse (`tests/openapi.rs`). The answers
//! every operation can give besides its own (400, 408, 503; 401, 403 and 429 with a key;
//! 413, 415 and 422 with a body) are added here once, all `application/problem+json`.

use std::sync::LazyLock;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use utoipa::{IntoParams, OpenApi};

use super::{
    audit, batches, billing, events, log, reports, retention, spv, submitter_keys, verify, webhooks,
};
use crate::http::AppState;
use crate::http::error::Problem;

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new().route("/openapi.json", get(openapi_json))
}

/// The handlers and schemas the document is generated from.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ancora API",
        description = "Submit event digests, follow them to a proof, fetch and verify proof bundles, \
                       and audit Ancora's transparency log. Every request and response body is \
                       camelCase; errors are RFC 9457 problem+json. Proof bundles are files with \
                       their own versioned schema (version 2).",
        license(name = "Apache-2.0")
    ),
    paths(
        events::submit,
        events::find_by_digest,
        events::show,
        events::proof,
        batches::submit_batch,
        batches::batch_proofs,
        audit::submit,
        audit::proof,
        audit::catalog,
        submitter_keys::create,
        submitter_keys::list,
        submitter_keys::set_policy,
        submitter_keys::revoke,
        verify::verify,
        log::checkpoint,
        log::consistency,
        log::key,
        spv::fetch,
        spv::verify,
        spv::read,
        billing::usage,
        billing::webhook,
        batches::show,
        reports::event_pdf,
        reports::event_json,
        reports::batch_pdf,
        reports::batch_json,
        reports::range,
        webhooks::create,
        webhooks::list,
        webhooks::deliveries,
        webhooks::remove,
        events::content,
        retention::show,
        retention::update,
        openapi_json,
    ),
    components(schemas(Problem)),
    tags(
        (name = "events", description = "Submit events, follow them, fetch their proofs"),
        (name = "batches", description = "The seed's batch endpoints"),
        (name = "audit", description = "The seed's audit endpoints: batches, their proofs, the catalog"),
        (name = "proofs", description = "Verify a bundle with the server's trust"),
        (name = "log", description = "Ancora's transparency log: public, no key needed"),
        (name = "spv", description = "Chainweb SPV proofs as a service"),
        (name = "submitter keys", description = "Ed25519 keys that sign events"),
        (name = "billing", description = "Usage, quotas and Stripe's webhook"),
        (name = "reports", description = "Verification reports (PDF, and JSON in the report format of its own)"),
        (name = "webhooks", description = "Signed deliveries when proofs are ready"),
        (name = "retention", description = "How long contents stay hot and are kept, and the legal hold"),
        (name = "meta", description = "This document"),
    )
)]
pub struct ApiDoc;

/// `Idempotency-Key`, on every POST that creates something.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // Only described: the handlers read the header through `http::idempotency`.
pub struct IdempotencyKeyHeader {
    /// Makes a retry safe: within 24 hours the same key with the same body answers the first
    /// status and body again (`Idempotent-Replayed: true`) and changes nothing; with another
    /// body, 422. 1 to 255 visible ASCII characters.
    #[param(
        rename = "Idempotency-Key",
        min_length = 1,
        max_length = 255,
        pattern = "^[!-~]{1,255}$"
    )]
    idempotency_key: Option<String>,
}

/// This document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Object)),
)]
async fn openapi_json(State(state): State<AppState>) -> Json<Value> {
    let mut doc = DOCUMENT.clone();
    doc["servers"] = json!([{ "url": state.settings.public_url.trim_end_matches('/') }]);
    Json(doc)
}

/// The document, generated once.
pub static DOCUMENT: LazyLock<Value> = LazyLock::new(document);

/// The generated document with the shared answers and the bearer scheme added.
pub fn document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    doc["components"]["securitySchemes"] = json!({
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key (`ak_…`), made with `ancora admin create-api-key` or in the portal; its role decides what it may do (403 otherwise)."
        }
    });
    let problem = |description: &str| {
        json!({
            "description": description,
            "content": { "application/problem+json": {
                "schema": { "$ref": "#/components/schemas/Problem" } } }
        })
    };
    if let Some(paths) = doc["paths"].as_object_mut() {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for op in item.values_mut() {
                let keyed = op.get("security").is_some();
                let has_body = op.get("requestBody").is_some();
                let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                    continue;
                };
                let mut shared = vec![
                    (
                        "400",
                        "The request cannot be read (a bad query, a NUL, an unreadable path)",
                    ),
                    (
                        "408",
                        "The request took longer than the server's request timeout",
                    ),
                    (
                        "503",
                        "The database is away; retry after `Retry-After` seconds",
                    ),
                ];
                if keyed {
                    shared.extend([
                        ("401", "No API key, an unknown one, or a revoked one"),
                        ("403", "The key's role may not do this"),
                        ("429", "Too many requests (the key's rate, or proofs lag); retry after `Retry-After` seconds"),
                    ]);
                }
                if has_body {
                    shared.extend([
                        ("413", "The body is larger than the server accepts"),
                        ("415", "The body is not sent as `application/json`"),
                        (
                            "422",
                            "The JSON has the wrong shape or values (the detail names the field)",
                        ),
                    ]);
                }
                for (status, description) in shared {
                    responses
                        .entry(status)
                        .or_insert_with(|| problem(description));
                }
            }
        }
    }
    doc
}
