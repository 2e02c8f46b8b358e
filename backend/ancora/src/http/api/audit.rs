//! The seed's audit endpoints, kept with the seed's shapes:
//!
//! * `POST /v1/audit/batch {events[], policy?, tenantId?}` → `202 {batchId, submittedToChain,
//!   txHash}`. Both policies (`realtime`, `window`, the default) close a batch holding exactly
//!   the request's events at once, so the batch id is known synchronously (see
//!   [`super::batches`]); the policy is recorded on the batch. `submittedToChain` is the chain
//!   the batch's root is written on under the `chainweb` backend (the routed chain mapped onto
//!   the configured chains; `null` under `tlog`, which writes no chain); `txHash` is `null`
//!   until the anchoring tick builds the transaction: `GET /v1/audit/proof/{batchId}` answers
//!   both, with the real request key, once known. A `tenantId`
//!   other than the API key's tenant is a 403. `Idempotency-Key` makes a retry safe.
//! * `GET /v1/audit/proof/{batchId}` → `{batchId, status, proof, blockHash, timestamp,
//!   verifierHints}`: the batch root's proof up to the trust point (`proof.anchor` and
//!   `proof.trustPoint` are exactly the bundle sections of that name), the trusted root
//!   (`blockHash`: the log root signed in the checkpoint for `tlog`, the block hash for
//!   `chainweb`), when the anchor became final, and where to get the verifier's trust. `202`
//!   with `proof: null` while the batch is not proved yet. `batch` is the batch's metadata
//!   ([`crate::services::batch_metadata`]: `merkleRoot`, `submitter`, `chainId`, `blockHeight`,
//!   `blockHash` of the Chainweb block once final, `txHash`, `proofUri`, `retentionPolicy`).
//! * `GET /v1/audit/catalog?from=&to=&status=&cursor=&limit=` → `{batches, nextCursor}`: each
//!   entry the batch's metadata and `status`, `size`, `root`, `targetChain`, `policy`,
//!   `createdAt`, `anchorId`, `anchoredAt`, `provedAt`: the
//!   tenant's batches closed in `[from, to)` (RFC 3339), optionally in one `status`
//!   (`closed | anchored | proved`), oldest first, `limit` per page (default 100, at most
//!   1000), keyset-paginated by an opaque cursor.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::batches::{parse_batch_id, submit_and_close};
use crate::db;
use crate::http::api::openapi::IdempotencyKeyHeader;
use crate::http::auth::{Action, Auth, authorize};
use crate::http::error::Problem;
use crate::http::extract::ApiJson;
use crate::http::idempotency;
use crate::http::{ApiError, ApiResult, AppState};
use crate::services::batch_metadata::{self, BatchMetadata};
use crate::services::ingest::EventInput;
use crate::services::settings::AnchorBackendKind;

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/audit/batch", post(submit))
        .route("/audit/proof/{batchId}", get(proof))
        .route("/audit/catalog", get(catalog))
}

/// The body of `POST /v1/audit/batch`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AuditBatch {
    /// 1 to 10 000 events.
    #[schema(min_items = 1, max_items = 10000)]
    events: Vec<EventInput>,
    /// `realtime` or `window` (the default): recorded on the batch.
    #[serde(default)]
    policy: Option<String>,
    /// When sent, must be the API key's tenant.
    #[serde(default)]
    tenant_id: Option<String>,
}

/// The batch the request's events went into.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct AuditBatchResponse {
    batch_id: Uuid,
    /// The Chainweb chain written under the `chainweb` backend; null under `tlog`.
    submitted_to_chain: Option<u32>,
    /// Null here: `GET /v1/audit/proof/{batchId}` has the request key once built.
    tx_hash: Option<String>,
}

/// `GET /v1/audit/proof/{batchId}`'s answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // The answer is built as JSON; this is its documented shape.
struct AuditProof {
    batch_id: Uuid,
    /// `closed`, `anchored` or `proved`.
    status: String,
    /// The batch root's proof up to the trust point; null until proved.
    proof: Option<AuditProofBody>,
    /// The trusted root: the signed log root (`tlog`) or the block hash (`chainweb`).
    block_hash: Option<String>,
    /// When the anchor was made (RFC 3339).
    timestamp: Option<String>,
    /// Where to get the verifier's trust (log key, checkpoint, consistency, proofs).
    #[schema(value_type = Object)]
    verifier_hints: serde_json::Value,
    submitted_to_chain: Option<u32>,
    tx_hash: Option<String>,
}

/// The proof part of [`AuditProof`].
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct AuditProofBody {
    batch_root: String,
    size: i32,
    target_chain: i32,
    /// The bundle's `anchor` section.
    #[schema(value_type = Object)]
    anchor: serde_json::Value,
    /// The bundle's first trust point.
    #[schema(value_type = Object)]
    trust_point: serde_json::Value,
    /// Every trust point of the bundle.
    #[schema(value_type = Vec<Object>)]
    trust_points: serde_json::Value,
}

/// Submit events as one audit batch, closed at once.
#[utoipa::path(
    post,
    path = "/v1/audit/batch",
    tag = "audit",
    params(IdempotencyKeyHeader),
    request_body = AuditBatch,
    responses(
        (status = 202, description = "Stored and closed into a batch", body = AuditBatchResponse),
        (status = 402, description = "The month's event quota would be crossed", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An id is stored with another digest, or a request with this Idempotency-Key is still running", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn submit(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Result<ApiJson<AuditBatch>, Response>,
) -> ApiResult<Response> {
    authorize(&auth, Action::SubmitEvents)?;
    let ApiJson(body) = body.map_err(|r| ApiError::Rejected(Box::new(r)))?;
    if let Some(t) = &body.tenant_id
        && t.parse::<Uuid>().ok() != Some(auth.tenant.0)
    {
        return Err(ApiError::Forbidden(
            "tenantId is not the tenant of this API key".into(),
        ));
    }
    let policy = match body.policy.as_deref() {
        None | Some("window") => "window",
        Some("realtime") => "realtime",
        Some(other) => {
            return Err(ApiError::Unprocessable(format!(
                "policy must be \"realtime\" or \"window\", got {other:?}"
            )));
        }
    };
    let keyed = idempotency::Keyed::read(&headers, "POST /v1/audit/batch", &body)?;
    idempotency::once(&state, auth.tenant, keyed, |_| {
        let (state, auth) = (state.clone(), auth.clone());
        async move {
            let batch = submit_and_close(&state, &auth, body.events, policy, None).await?;
            // The chain actually written (the routed chain mapped onto the configured ones)
            // under the `chainweb` backend; `tlog` writes no chain. The request key exists
            // once the next anchoring tick has built the transaction:
            // `GET /v1/audit/proof/{batchId}` has it then.
            let submitted_to_chain = (state.settings.anchor_backend == AnchorBackendKind::Chainweb)
                .then(|| state.settings.chainweb.chain_for(batch.target_chain));
            let answer = AuditBatchResponse {
                batch_id: batch.batch_id,
                submitted_to_chain,
                tx_hash: None,
            };
            let answer = serde_json::to_value(answer).map_err(anyhow::Error::from)?;
            Ok((StatusCode::ACCEPTED, answer))
        }
    })
    .await
}

/// A batch root's proof up to its trust point.
#[utoipa::path(
    get,
    path = "/v1/audit/proof/{batchId}",
    tag = "audit",
    params(("batchId" = String, Path, description = "The batch id (a UUID)")),
    responses(
        (status = 200, description = "Proved", body = AuditProof),
        (status = 202, description = "Not proved yet: `proof` is null", body = AuditProof),
        (status = 404, description = "No such batch in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn proof(
    State(state): State<AppState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    authorize(&auth, Action::ReadEvents)?;
    let batch_id = parse_batch_id(&raw)?;
    let mut tx = state.db.tenant_tx(auth.tenant).await?;
    let batch = db::batches::get(&mut tx, auth.tenant, batch_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no batch {batch_id}")))?;
    let bundle = crate::services::proofs::batch_bundles(&mut tx, auth.tenant, batch_id, 1)
        .await?
        .into_iter()
        .next()
        .map(|(_, b)| b);
    let write = crate::services::anchoring::chain_write(&mut tx, batch_id).await?;
    let metadata = batch_metadata::for_batch(&mut tx, &state.settings, auth.tenant, batch_id)
        .await?
        .map(|(m, _)| m);
    tx.commit().await?;
    let (submitted_to_chain, tx_hash) = match write {
        Some(w) => (Some(w.chain), w.tx_hash),
        None => (None, None),
    };
    let base = state.settings.public_url.trim_end_matches('/').to_owned();
    let mut hints = json!({
        "logKeyUrl": format!("{base}/v1/log/key"),
        "checkpointUrl": format!("{base}/v1/log/checkpoint"),
        "consistencyUrl": format!("{base}/v1/log/consistency?from={{size}}&to={{size}}"),
        "eventProofsUrl": format!("{base}/v1/proof/{batch_id}"),
        "verify": "ancora verify --log-key \"$(curl -s LOG_KEY_URL)\" BUNDLE.json",
    });
    let (Some(bundle), Some(anchored_at)) = (bundle, batch.anchored_at) else {
        let body = json!({
            "batchId": batch_id, "status": batch.state, "proof": null,
            "blockHash": null, "timestamp": null, "verifierHints": hints,
            "submittedToChain": submitted_to_chain, "txHash": tx_hash,
            "batch": metadata,
        });
        return Ok((StatusCode::ACCEPTED, Json(body)).into_response());
    };
    let parsed = ancora_proof::bundle::Bundle::from_json(bundle.to_string().as_bytes())
        .map_err(|e| anyhow::anyhow!("stored bundle of batch {batch_id}: {e}"))?;
    let first = parsed
        .trust_points
        .last()
        .ok_or_else(|| anyhow::anyhow!("stored bundle of batch {batch_id} has no trust point"))?;
    let block_hash = match first {
        ancora_proof::bundle::TrustPoint::Tlog(t) => {
            let cp = ancora_proof::tlog::checkpoint::parse_checkpoint_unverified(&t.checkpoint)
                .map_err(|e| anyhow::anyhow!("stored checkpoint: {e}"))?;
            hints["backend"] = json!("tlog");
            hints["origin"] = json!(t.origin);
            hints["logSize"] = json!(t.log_size);
            cp.root.to_b64url()
        }
        ancora_proof::bundle::TrustPoint::Chainweb(c) => {
            hints["backend"] = json!("chainweb");
            hints["network"] = json!(c.network);
            hints["chainId"] = json!(c.chain_id);
            hints["blockHeight"] = json!(c.block_height);
            c.block_hash.to_b64url()
        }
    };
    let body = json!({
        "batchId": batch_id,
        "status": batch.state,
        "proof": {
            "batchRoot": parsed.batch.root,
            "size": batch.size,
            "targetChain": batch.target_chain,
            "anchor": bundle.get("anchor"),
            "trustPoint": bundle.get("trust_point").or_else(|| bundle.get("trustPoints").and_then(|t| t.as_array()).and_then(|t| t.last())),
            "trustPoints": bundle.get("trustPoints"),
        },
        "blockHash": block_hash,
        "timestamp": anchored_at.format(&Rfc3339).map_err(anyhow::Error::from)?,
        "verifierHints": hints,
        "submittedToChain": submitted_to_chain,
        "txHash": tx_hash,
        "batch": metadata,
    });
    Ok((StatusCode::OK, Json(body)).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CatalogQuery {
    /// Batches closed at or after this time (RFC 3339).
    from: Option<String>,
    /// Batches closed before this time (RFC 3339).
    to: Option<String>,
    /// `closed`, `anchored` or `proved`.
    status: Option<String>,
    /// `nextCursor` of the previous page.
    cursor: Option<String>,
    /// Batches per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// One batch of the catalog.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct CatalogEntry {
    /// `batchId`, `merkleRoot`, … ([`crate::services::batch_metadata`]).
    #[serde(flatten)]
    metadata: BatchMetadata,
    status: String,
    size: i32,
    root: String,
    target_chain: i32,
    policy: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    anchor_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339::option")]
    anchored_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    proved_at: Option<OffsetDateTime>,
}

/// A page of the catalog.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct CatalogPage {
    batches: Vec<CatalogEntry>,
    next_cursor: Option<String>,
}

fn parse_time(name: &str, raw: Option<&str>) -> ApiResult<Option<OffsetDateTime>> {
    raw.map(|t| {
        OffsetDateTime::parse(t, &Rfc3339).map_err(|_| {
            ApiError::BadRequest(format!("{name} must be an RFC 3339 time, got {t:?}"))
        })
    })
    .transpose()
}

/// The cursor is `base64url("c1:<created_at µs>:<batch id>")`: opaque to clients, and the
/// version prefix lets its format change.
fn encode_cursor(at: OffsetDateTime, id: Uuid) -> String {
    let micros = at.unix_timestamp_nanos() / 1000;
    URL_SAFE_NO_PAD.encode(format!("c1:{micros}:{id}"))
}

fn decode_cursor(raw: &str) -> ApiResult<(OffsetDateTime, Uuid)> {
    let bad = || ApiError::BadRequest("cursor is not one this API returned".into());
    let text = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    let text = String::from_utf8(text).map_err(|_| bad())?;
    let mut parts = text.splitn(3, ':');
    let (Some("c1"), Some(micros), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let micros: i128 = micros.parse().map_err(|_| bad())?;
    let at = OffsetDateTime::from_unix_timestamp_nanos(micros * 1000).map_err(|_| bad())?;
    Ok((at, id.parse().map_err(|_| bad())?))
}

/// The tenant's batches, oldest first, a page at a time.
#[utoipa::path(
    get,
    path = "/v1/audit/catalog",
    tag = "audit",
    params(CatalogQuery),
    responses(
        (status = 200, description = "A page of batches", body = CatalogPage),
    ),
    security(("bearer" = []))
)]
async fn catalog(
    State(state): State<AppState>,
    auth: Auth,
    query: Result<Query<CatalogQuery>, QueryRejection>,
) -> ApiResult<Json<CatalogPage>> {
    authorize(&auth, Action::ReadEvents)?;
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let from = parse_time("from", q.from.as_deref())?;
    let to = parse_time("to", q.to.as_deref())?;
    if let Some(s) = q.status.as_deref()
        && !["closed", "anchored", "proved"].contains(&s)
    {
        return Err(ApiError::BadRequest(format!(
            "status must be closed, anchored or proved, got {s:?}"
        )));
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be 1 to 1000".into()));
    }
    let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let mut tx = state.db.tenant_tx(auth.tenant).await?;
    let mut rows = db::batches::page(
        &mut tx,
        auth.tenant,
        from,
        to,
        q.status.as_deref(),
        after,
        limit + 1,
    )
    .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = more
        .then(|| rows.last().map(|b| encode_cursor(b.created_at, b.id)))
        .flatten();
    let ids: Vec<Uuid> = rows.iter().map(|b| b.id).collect();
    let mut metadata: std::collections::HashMap<Uuid, BatchMetadata> =
        batch_metadata::for_batches(&mut tx, &state.settings, auth.tenant, &ids)
            .await?
            .into_iter()
            .map(|(m, _)| (m.batch_id, m))
            .collect();
    tx.commit().await?;
    let batches = rows
        .into_iter()
        .filter_map(|b| Some((metadata.remove(&b.id)?, b)))
        .map(|(metadata, b)| CatalogEntry {
            metadata,
            status: b.state,
            size: b.size,
            root: ancora_proof::hash::b64url_encode(&b.root),
            target_chain: b.target_chain,
            policy: b.policy,
            created_at: b.created_at,
            anchor_id: b.anchor_id,
            anchored_at: b.anchored_at,
            proved_at: b.proved_at,
        })
        .collect();
    Ok(Json(CatalogPage {
        batches,
        next_cursor,
    }))
}
