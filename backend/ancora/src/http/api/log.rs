//! The transparency log's public face; no API key needed, anyone may audit the log.
//!
//! * `GET /v1/log/checkpoint` — the latest signed checkpoint (C2SP signed note), `text/plain`.
//! * `GET /v1/log/consistency?from=M&to=N` — the RFC 6962 consistency proof between sizes,
//!   JSON with base64url hashes; a range that is not `0 ≤ M ≤ N ≤ size` is a 400.
//! * `GET /v1/log/key` — the verifier key, `<origin>+<hash>+<key>`, as `ancora verify
//!   --log-key` takes it.

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use crate::http::{ApiError, ApiResult, AppState};
use crate::services::anchoring::tlog::{self, TlogAnchor};

/// Routes of the log.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/log/checkpoint", get(checkpoint))
        .route("/log/consistency", get(consistency))
        .route("/log/key", get(key))
}

fn text(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// The log's latest signed checkpoint (a C2SP signed note).
#[utoipa::path(
    get,
    path = "/v1/log/checkpoint",
    tag = "log",
    responses((status = 200, description = "The signed note", body = String, content_type = "text/plain")),
)]
async fn checkpoint(State(state): State<AppState>) -> ApiResult<Response> {
    let log = TlogAnchor::from_config(&state.settings.log);
    let mut tx = state.db.system_tx().await?;
    let note = log.latest_checkpoint(&mut tx).await?;
    tx.commit().await?;
    Ok(text(note))
}

/// The log's verifier key, as `ancora verify --log-key` takes it.
#[utoipa::path(
    get,
    path = "/v1/log/key",
    tag = "log",
    responses((status = 200, description = "`<origin>+<hash>+<key>`", body = String, content_type = "text/plain")),
)]
async fn key(State(state): State<AppState>) -> ApiResult<Response> {
    let log = TlogAnchor::from_config(&state.settings.log);
    let mut tx = state.db.system_tx().await?;
    let verifier = log.verifier(&mut tx).await?;
    tx.commit().await?;
    Ok(text(format!("{}\n", verifier.to_key_text())))
}

/// A consistency proof between two sizes of the log.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ConsistencyProof {
    /// The older size.
    pub from: u64,
    /// The newer size.
    pub to: u64,
    /// Hash algorithm of the log (`SHA512t_256`).
    pub algorithm: String,
    /// RFC 6962 `PROOF(from, D[to])`, base64url hashes.
    pub proof: Vec<String>,
}

fn size_param(params: &HashMap<String, String>, name: &str) -> ApiResult<u64> {
    let raw = params
        .get(name)
        .ok_or_else(|| ApiError::BadRequest(format!("the query parameter {name} is required")))?;
    raw.parse().map_err(|_| {
        ApiError::BadRequest(format!(
            "{name} must be a log size (a non-negative integer), got {raw:?}"
        ))
    })
}

/// An RFC 6962 consistency proof between two sizes of the log.
#[utoipa::path(
    get,
    path = "/v1/log/consistency",
    tag = "log",
    params(
        ("from" = u64, Query, description = "The older size"),
        ("to" = u64, Query, description = "The newer size, at most the log's size"),
    ),
    responses((status = 200, description = "The proof", body = ConsistencyProof)),
)]
async fn consistency(
    State(state): State<AppState>,
    params: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<ConsistencyProof>> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let from = size_param(&params, "from")?;
    let to = size_param(&params, "to")?;
    let mut tx = state.db.system_tx().await?;
    let size = tlog::log_size(&mut tx).await?;
    if from > to || to > size {
        return Err(ApiError::BadRequest(format!(
            "need 0 ≤ from ≤ to ≤ {size} (the log's size); got from={from}, to={to}"
        )));
    }
    let proof = tlog::consistency(&mut tx, from, to).await?;
    tx.commit().await?;
    Ok(Json(ConsistencyProof {
        from,
        to,
        algorithm: ancora_proof::tlog::TLOG_ALG.name().to_owned(),
        proof: proof.iter().map(|h| h.to_b64url()).collect(),
    }))
}
