//! The seed's batch endpoints, kept with the seed's shapes:
//!
//! * `POST /v1/events/batch {events[], batchSize?, ttl?}` → `202 {batchId}`;
//! * `GET /v1/proof/{batchId}` → `{batchId, status, proofs: [{eventId, bundle}]}`, every event's
//!   bundle in tree order (`202` with no proofs while the batch is not proved yet);
//! * `GET /v1/batches/{batchId}` → the batch's metadata
//!   ([`crate::services::batch_metadata`]) and its `status` (`closed | anchored | proved`).
//!
//! **A synchronous batch id.** In the seed a batch id existed only once a window closed. Here
//! the request's events are stored durably (through [`crate::services::ingest`], like every event) and
//! then closed at once ([`crate::services::batching::flush`]), so the answer can name the batch. Batches
//! are ranges of the tenant's arrival order: what was pending before the request is closed
//! first (into a batch of its own), so the request's batch holds exactly its events unless
//! another request of the tenant was stored at the same moment (it then shares the batch);
//! a request of more than the batch size spans several batches, and events stored by an
//! earlier request (a retry) stay in the batch they were in.
//! The id answered is the batch of the request's first event; each event's own proof is always
//! at `GET /v1/events/{id}/proof`. That batch takes the normal path from there (anchored at
//! the next tick, then proved).
//!
//! `batchSize`, when sent, must equal the number of events. `ttl` (seconds, 60–86400) is the
//! seed's: how long the batch's Chainweb transaction may wait to be mined (its Pact
//! `meta.ttl`; an anchor that carries several batches takes the shortest ttl among them, and a
//! transaction that expires unmined is rebuilt with a new one). Under the `tlog` backend no
//! transaction is written, so `ttl` is refused (422) there rather than ignored. It never
//! delays the batch. `Idempotency-Key` makes a retry safe (see [`crate::http::idempotency`]).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db;
use crate::domain::BatchId;
use crate::domain::TenantId;
use crate::http::api::openapi::IdempotencyKeyHeader;
use crate::http::auth::{Action, Auth, authorize};
use crate::http::error::Problem;
use crate::http::extract::ApiJson;
use crate::http::idempotency;
use crate::http::{ApiError, ApiResult, AppState};
use crate::services::batch_metadata::{self, BatchMetadata};
use crate::services::ingest::{self, EventInput, IngestOptions};
use crate::services::settings::AnchorBackendKind;

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/events/batch", post(submit_batch))
        .route("/proof/{batchId}", get(batch_proofs))
        .route("/batches/{batchId}", get(show))
}

/// The body of `POST /v1/events/batch`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SubmitBatch {
    /// 1 to 10 000 events.
    #[schema(min_items = 1, max_items = 10000)]
    events: Vec<EventInput>,
    /// When sent, must equal the number of events.
    #[serde(default)]
    batch_size: Option<u64>,
    /// Seconds the batch's Chainweb transaction may wait to be mined (60–86400; `chainweb`
    /// backend only, refused under `tlog`).
    #[serde(default)]
    #[schema(minimum = 60, maximum = 86400)]
    ttl: Option<u64>,
}

/// The batch the request's first event went into.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct BatchIdResponse {
    batch_id: Uuid,
}

/// Shortest and longest `ttl`: a Chainweb block comes about every 30 s, so a transaction
/// allowed less than a minute would mostly expire unmined; a day is the seed's bound.
pub(super) const TTL_SECS: std::ops::RangeInclusive<u64> = 60..=86_400;

/// Checks `ttl` and turns it into the Chainweb transaction's ttl: refused (422) outside
/// [`TTL_SECS`], and refused under the `tlog` backend, which writes no transaction it could
/// apply to — never accepted and ignored.
fn chain_ttl(state: &AppState, ttl: Option<u64>) -> ApiResult<Option<i32>> {
    let Some(ttl) = ttl else { return Ok(None) };
    if state.settings.anchor_backend != AnchorBackendKind::Chainweb {
        return Err(ApiError::Unprocessable(
            "ttl is how long the batch's Chainweb transaction may wait to be mined, and this \
             deployment anchors on its transparency log only (ANCORA_ANCHOR_BACKEND=tlog): \
             it writes no transaction; leave ttl out"
                .into(),
        ));
    }
    if !TTL_SECS.contains(&ttl) {
        return Err(ApiError::Unprocessable(format!(
            "ttl must be between {} and {} seconds (how long the batch's Chainweb transaction \
             may wait to be mined), got {ttl}",
            TTL_SECS.start(),
            TTL_SECS.end()
        )));
    }
    Ok(i32::try_from(ttl).ok())
}

/// Submit events as one batch, closed at once.
#[utoipa::path(
    post,
    path = "/v1/events/batch",
    tag = "batches",
    params(IdempotencyKeyHeader),
    request_body = SubmitBatch,
    responses(
        (status = 202, description = "Stored and closed into a batch", body = BatchIdResponse),
        (status = 402, description = "The month's event quota would be crossed", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An id is stored with another digest, or a request with this Idempotency-Key is still running", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn submit_batch(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Result<ApiJson<SubmitBatch>, Response>,
) -> ApiResult<Response> {
    authorize(&auth, Action::SubmitEvents)?;
    let ApiJson(body) = body.map_err(|r| ApiError::Rejected(Box::new(r)))?;
    if let Some(n) = body.batch_size
        && n != body.events.len() as u64
    {
        return Err(ApiError::Unprocessable(format!(
            "batchSize is {n} but events holds {}",
            body.events.len()
        )));
    }
    let ttl = chain_ttl(&state, body.ttl)?;
    let keyed = idempotency::Keyed::read(&headers, "POST /v1/events/batch", &body)?;
    idempotency::once(&state, auth.tenant, keyed, |_| {
        let (state, auth) = (state.clone(), auth.clone());
        async move {
            let closed = submit_and_close(&state, &auth, body.events, "window", ttl).await?;
            let answer = BatchIdResponse {
                batch_id: closed.batch_id,
            };
            let answer = serde_json::to_value(answer).map_err(anyhow::Error::from)?;
            Ok((StatusCode::ACCEPTED, answer))
        }
    })
    .await
}

/// The batch a seed request's events went into.
#[derive(Debug, Clone, Copy)]
pub(super) struct RequestBatch {
    /// The batch id.
    pub batch_id: Uuid,
    /// The chain its root is anchored for.
    pub target_chain: i32,
}

/// Stores `events` durably, then closes them into one batch at once (see the module header),
/// its root queued with the Chainweb transaction ttl `chain_ttl_secs`.
pub(super) async fn submit_and_close(
    state: &AppState,
    auth: &Auth,
    events: Vec<EventInput>,
    policy: &str,
    chain_ttl_secs: Option<i32>,
) -> ApiResult<RequestBatch> {
    // The role first: a key that may not submit must not close the tenant's pending batch
    // either (ingest checks again; this one guards the flush before it).
    authorize(auth, Action::SubmitEvents)?;
    // Close what is pending first, so the request's batch starts with its own events.
    crate::services::batching::flush(state, auth.tenant, "window").await?;
    let receipts = ingest::ingest_events(state, auth, events, IngestOptions::default()).await?;
    let ids: Vec<String> = receipts.into_iter().map(|r| r.id).collect();
    crate::services::batching::flush_with_ttl(state, auth.tenant, policy, chain_ttl_secs).await?;
    let mut tx = state.db.tenant_tx(auth.tenant).await?;
    let first = first_batch(&mut tx, auth.tenant, &ids).await?;
    tx.commit().await?;
    let (batch_id, target_chain) = first.ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!("the request's events are in no batch"))
    })?;
    Ok(RequestBatch {
        batch_id,
        target_chain,
    })
}

async fn first_batch(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    ids: &[String],
) -> ApiResult<Option<(Uuid, i32)>> {
    let Some(id) = ids.first() else {
        return Ok(None);
    };
    let Some(batch) = db::batches::batches_of_events(conn, tenant, std::slice::from_ref(id))
        .await?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let found = db::batches::get(conn, tenant, batch).await?;
    Ok(found.map(|b| (b.id, b.target_chain)))
}

/// Parses a batch id path segment (a UUID); 404 for anything else, as for an unknown id.
pub(super) fn parse_batch_id(raw: &str) -> ApiResult<Uuid> {
    raw.parse::<BatchId>()
        .map(|b| b.0)
        .map_err(|_| ApiError::NotFound(format!("no batch {raw:?}")))
}

/// `GET /v1/batches/{batchId}`: the metadata and the state.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct BatchView {
    #[serde(flatten)]
    metadata: BatchMetadata,
    status: String,
}

/// A batch's metadata (the seed's) and its status.
#[utoipa::path(
    get,
    path = "/v1/batches/{batchId}",
    tag = "batches",
    params(("batchId" = String, Path, description = "The batch id (a UUID)")),
    responses(
        (status = 200, description = "The batch", body = BatchView),
        (status = 404, description = "No such batch in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn show(
    State(state): State<AppState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<BatchView>> {
    authorize(&auth, Action::ReadEvents)?;
    let batch_id = parse_batch_id(&raw)?;
    let mut tx = state.db.tenant_tx(auth.tenant).await?;
    let found = batch_metadata::for_batch(&mut tx, &state.settings, auth.tenant, batch_id).await?;
    tx.commit().await?;
    let (metadata, status) =
        found.ok_or_else(|| ApiError::NotFound(format!("no batch {batch_id}")))?;
    Ok(Json(BatchView { metadata, status }))
}

/// Every event's bundle of a batch, in tree order.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct BatchProofs {
    batch_id: Uuid,
    /// `closed`, `anchored` or `proved`.
    status: String,
    /// Empty until the batch is proved.
    proofs: Vec<EventProof>,
}

/// One event's proof.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct EventProof {
    event_id: String,
    /// The proof bundle (format version 2).
    #[schema(value_type = Object)]
    bundle: serde_json::Value,
}

/// Every event's proof bundle of a batch.
#[utoipa::path(
    get,
    path = "/v1/proof/{batchId}",
    tag = "batches",
    params(("batchId" = String, Path, description = "The batch id (a UUID)")),
    responses(
        (status = 200, description = "The batch is proved: every bundle", body = BatchProofs),
        (status = 202, description = "Not proved yet: no proofs", body = BatchProofs),
        (status = 404, description = "No such batch in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn batch_proofs(
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
    let proofs = if batch.state == "proved" {
        crate::services::proofs::batch_bundles(&mut tx, auth.tenant, batch_id, i64::from(i32::MAX))
            .await?
    } else {
        Vec::new()
    };
    tx.commit().await?;
    let status = if batch.state == "proved" {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let body = BatchProofs {
        batch_id,
        status: batch.state,
        proofs: proofs
            .into_iter()
            .map(|(event_id, bundle)| EventProof { event_id, bundle })
            .collect(),
    };
    Ok((status, Json(body)).into_response())
}
