//! `/v1/events`: submit events, follow one, fetch its proof, find events by digest.
//!
//! * `POST /v1/events` — `{"events": [...]}`, answered 202 with one receipt per event after
//!   the commit (see [`crate::services::ingest`]). `Idempotency-Key` makes a retry safe.
//! * `GET /v1/events/{id}` — the event and its status, `pending | batched | anchored |
//!   proved`; with `proved`, the proof bundle too and its `finality`: `log-signed` (the fast
//!   path: Ancora's signed log; the Chainweb anchor is on its way) or `final` (the Chainweb
//!   trust point is in the bundle, or the deployment anchors on its log alone).
//! * `GET /v1/events/{id}/proof` — the bundle alone. While the event is not proved yet the
//!   answer is 404 with `Retry-After: 1` and a detail naming the current status (the proof
//!   resource does not exist yet; 404 is what a client that only wants the bundle must handle
//!   anyway, and the status endpoint says how far along the event is).
//! * `GET /v1/events/{id}/content` — the event's content, decrypted (see [`content`]).
//! * `GET /v1/events?digest=…` — events whose digest matches: `sha256:<hex>`,
//!   `sha512_256:<hex>`, or bare hex or base64 (then any algorithm), oldest first, at most
//!   `limit` (default 100, at most 1000).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db::events::EventStatus;
use crate::http::api::openapi::IdempotencyKeyHeader;
use crate::http::auth::{Action, Auth, authorize};
use crate::http::error::Problem;
use crate::http::extract::ApiJson;
use crate::http::idempotency;
use crate::http::{ApiError, ApiResult, AppState};
use crate::services::ingest::{self, EventInput, IngestOptions, Receipt};

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/events", post(submit).get(find_by_digest))
        .route("/events/{id}", get(show))
        .route("/events/{id}/proof", get(proof))
        .route("/events/{id}/content", get(content))
}

/// The event's content, decrypted (owner, admin and auditor keys): from Postgres while hot,
/// else fetched from the archive, checked and kept hot for a while. `X-Ancora-Content-Source`
/// says which (`hot` or `cold`). 404 when the event has no content, 410 once it expired or the
/// tenant's data key was destroyed, 503 with `Retry-After` while the archive is unreachable,
/// 502 when the archive's copy is missing or fails its checksum.
#[utoipa::path(
    get,
    path = "/v1/events/{id}/content",
    tag = "events",
    params(("id" = String, Path, description = "The event id")),
    responses(
        (status = 200, description = "The content, decrypted", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, description = "No such event, or it has no content", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 410, description = "The content expired or was shredded", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 502, description = "The archived copy is missing or fails its checksum", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The archive is unreachable; retry after Retry-After", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn content(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    authorize(&auth, Action::ReadContent)?;
    let (bytes, source) = crate::services::archive::content::read(&state, auth.tenant, &id).await?;
    let source = match source {
        crate::services::archive::content::Source::Hot => "hot",
        crate::services::archive::content::Source::Cold => "cold",
    };
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (
                header::HeaderName::from_static("x-ancora-content-source"),
                HeaderValue::from_static(source),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// The body of `POST /v1/events`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SubmitBody {
    /// 1 to 10 000 events, stored all or none.
    #[schema(min_items = 1, max_items = 10000)]
    events: Vec<EventInput>,
}

/// One receipt per event, in request order.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct SubmitResponse {
    receipts: Vec<Receipt>,
}

/// Submit events.
///
/// Each event is a `digest` (or its `content`, base64) with an optional `id`, `metadata` and
/// submitter signature. Answered after the commit with one receipt per event; an id stored
/// before with the same digest gets its first receipt, with another digest a 409.
#[utoipa::path(
    post,
    path = "/v1/events",
    tag = "events",
    params(IdempotencyKeyHeader),
    request_body = SubmitBody,
    responses(
        (status = 202, description = "Stored durably: one receipt per event", body = SubmitResponse),
        (status = 402, description = "The month's event quota would be crossed", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An id is stored with another digest, or a request with this Idempotency-Key is still running", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn submit(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Result<ApiJson<SubmitBody>, Response>,
) -> ApiResult<Response> {
    authorize(&auth, Action::SubmitEvents)?;
    let ApiJson(body) = body.map_err(|r| ApiError::Rejected(Box::new(r)))?;
    // The key is bound to the events (the body's only member), as it always was.
    let keyed = idempotency::Keyed::read(&headers, "POST /v1/events", &body.events)?;
    idempotency::once(&state, auth.tenant, keyed, |claim| {
        let (state, auth) = (state.clone(), auth.clone());
        async move {
            let options = IngestOptions {
                idempotency: claim,
                batch_after: None,
            };
            let receipts = ingest::ingest_events(&state, &auth, body.events, options).await?;
            // Written straight to the response's bytes (no JSON tree) without a key.
            Ok((StatusCode::ACCEPTED, SubmitResponse { receipts }))
        }
    })
    .await
}

/// One event as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct EventView {
    id: String,
    digest: String,
    /// The leaf's node hash in the batch tree, base64url.
    leaf_hash: String,
    /// The API key prefix (and signing key name) that submitted it.
    submitter: String,
    #[serde(with = "time::serde::rfc3339")]
    received_at: OffsetDateTime,
    received_at_micros: i64,
    /// `pending`, `batched`, `anchored` or `proved`.
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    batch_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    leaf_index: Option<i32>,
    /// The JSON object submitted with the event (its keys are the tenant's own).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    metadata: Option<serde_json::Value>,
    status_url: String,
    proof_url: String,
    /// With `proved`: `log-signed` or `final`.
    #[serde(skip_serializing_if = "Option::is_none")]
    finality: Option<&'static str>,
    /// With `proved`: the proof bundle (a file format of its own, version 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    bundle: Option<serde_json::Value>,
}

fn view(state: &AppState, e: EventStatus, bundle: Option<serde_json::Value>) -> EventView {
    let status_url = ingest::status_url(state, &e.id);
    EventView {
        proof_url: format!("{status_url}/proof"),
        status_url,
        digest: format!("{}:{}", e.digest_alg, hex::encode(&e.digest)),
        leaf_hash: ancora_proof::hash::b64url_encode(&e.leaf_hash),
        id: e.id,
        submitter: e.submitter,
        received_at: e.received_at,
        received_at_micros: e.received_at_micros,
        status: e.status,
        batch_id: e.batch_id,
        leaf_index: e.leaf_index,
        metadata: e.metadata,
        finality: bundle
            .as_ref()
            .map(|b| crate::services::proofs::finality(b, &state.settings)),
        bundle,
    }
}

fn no_such_event(id: &str) -> ApiError {
    ApiError::NotFound(format!("no event with id {id:?}"))
}

async fn load(state: &AppState, auth: &Auth, id: &str) -> ApiResult<EventStatus> {
    authorize(auth, Action::ReadEvents)?;
    let mut tx = state.db.tenant_tx(auth.tenant).await?;
    let found = crate::db::events::find_status(&mut tx, auth.tenant, id).await?;
    found.ok_or_else(|| no_such_event(id))
}

/// An event and its status (with the proof bundle once proved).
#[utoipa::path(
    get,
    path = "/v1/events/{id}",
    tag = "events",
    params(("id" = String, Path, description = "The event id (percent-encoded)")),
    responses(
        (status = 200, description = "The event", body = EventView),
        (status = 402, description = "The month's proof-read quota is used up", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such event in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn show(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<EventView>> {
    let e = load(&state, &auth, &id).await?;
    let bundle = match e.status.as_str() {
        "proved" => crate::services::proofs::read_bundle_metered(&state, auth.tenant, &id).await?,
        _ => None,
    };
    Ok(Json(view(&state, e, bundle)))
}

// The stored bundle through the proof cache (one indexed lookup on a miss); only when there
// is none does it look up the event, to tell "no such event" from "not proved yet".
/// The event's proof bundle alone.
///
/// 404 with `Retry-After: 1` while the event is not proved yet.
#[utoipa::path(
    get,
    path = "/v1/events/{id}/proof",
    tag = "events",
    params(("id" = String, Path, description = "The event id (percent-encoded)")),
    responses(
        (status = 200, description = "The proof bundle (format version 2; `ancora verify` checks it offline), with a strong `ETag` and `Cache-Control` (`private, max-age=31536000, immutable` once final, else `private, no-cache`)", body = Object),
        (status = 304, description = "Not modified: `If-None-Match` names the bundle's ETag"),
        (status = 402, description = "The month's proof-read quota is used up", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such event, or not proved yet (then with Retry-After)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn proof(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    authorize(&auth, Action::ReadEvents)?;
    if let Some(served) =
        crate::services::proofs::read_served_metered(&state, auth.tenant, &id).await?
    {
        return Ok(served_response(&served, &headers));
    }
    let e = load(&state, &auth, &id).await?;
    let mut resp = ApiError::NotFound(format!(
        "event {id:?} has no proof yet (status: {}); retry later",
        e.status
    ))
    .into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    Ok(resp)
}

/// `Cache-Control` of a final bundle: it never changes.
const CACHE_FINAL: &str = "private, max-age=31536000, immutable";
/// `Cache-Control` of a bundle that may still gain its Chainweb trust point.
const CACHE_NOT_FINAL: &str = "private, no-cache";

/// The bundle with its `ETag` and `Cache-Control`, or `304 Not Modified` when the request's
/// `If-None-Match` names its tag.
fn served_response(served: &crate::services::proofs::Served, headers: &HeaderMap) -> Response {
    let cache = if served.is_final() {
        CACHE_FINAL
    } else {
        CACHE_NOT_FINAL
    };
    let mut resp = if if_none_match(headers, &served.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = served.json.clone().into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    };
    let h = resp.headers_mut();
    if let Ok(tag) = HeaderValue::from_str(&served.etag) {
        h.insert(header::ETAG, tag);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    resp
}

/// True when an `If-None-Match` header matches `etag` (weak comparison, RFC 9110 13.1.2):
/// `*`, or a listed tag equal to it with or without `W/`. Anything unreadable matches nothing.
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct FindParams {
    /// `sha256:<hex>`, `sha512_256:<hex>`, or bare hex or base64 (then any algorithm).
    digest: Option<String>,
    /// At most this many events, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// Events with the digest, oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct FindResponse {
    events: Vec<EventView>,
}

/// Find events by digest.
#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "events",
    params(FindParams),
    responses(
        (status = 200, description = "Events with this digest, oldest first", body = FindResponse),
    ),
    security(("bearer" = []))
)]
async fn find_by_digest(
    State(state): State<AppState>,
    auth: Auth,
    params: Result<Query<FindParams>, QueryRejection>,
) -> ApiResult<Json<FindResponse>> {
    authorize(&auth, Action::ReadEvents)?;
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let text = params.digest.ok_or_else(|| {
        ApiError::BadRequest("give ?digest= (sha256:<hex>, sha512_256:<hex>, hex or base64)".into())
    })?;
    let (alg, bytes) = parse_digest_query(&text).map_err(ApiError::BadRequest)?;
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be 1 to 1000".into()));
    }
    let mut tx = state.db.tenant_tx(auth.tenant).await?;
    let rows = crate::db::events::find_by_digest(&mut tx, auth.tenant, &bytes, alg, limit).await?;
    Ok(Json(FindResponse {
        events: rows.into_iter().map(|e| view(&state, e, None)).collect(),
    }))
}

/// Reads a digest given as `alg:<hex>` (that algorithm), bare 64-digit hex or base64 of 32
/// bytes (any algorithm). Base64 of 32 bytes is 43 or 44 characters, hex 64: never ambiguous.
fn parse_digest_query(text: &str) -> Result<(Option<&'static str>, Vec<u8>), String> {
    let text = text.trim();
    if text.contains(':') {
        let d: ancora_proof::event::ContentDigest =
            text.parse().map_err(|e| format!("digest {text:?}: {e}"))?;
        return Ok((Some(d.algorithm.prefix()), d.bytes.to_vec()));
    }
    let bytes = if text.len() == 64 {
        hex::decode(text).map_err(|e| format!("digest is 64 characters but not hex: {e}"))?
    } else {
        ingest::decode_base64(text).map_err(|e| format!("digest is neither hex nor base64: {e}"))?
    };
    if bytes.len() != 32 {
        return Err(format!(
            "a digest is 32 bytes (64 hex digits or 43 base64 characters); got {} bytes",
            bytes.len()
        ));
    }
    Ok((None, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_found_by_prefixed_hex_bare_hex_or_base64() {
        let hex64 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let raw = hex::decode(hex64).expect("hex");
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &raw);
        assert_eq!(
            parse_digest_query(&format!("sha256:{hex64}")).expect("prefixed"),
            (Some("sha256"), raw.clone())
        );
        assert_eq!(
            parse_digest_query(hex64).expect("bare"),
            (None, raw.clone())
        );
        assert_eq!(parse_digest_query(&b64).expect("base64"), (None, raw));
        assert!(parse_digest_query("abcd").is_err());
        assert!(parse_digest_query("sha256:abcd").is_err());
    }
}
