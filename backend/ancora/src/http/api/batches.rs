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
//! `batchSize`, when sent, must equal the number of events; `ttl` (seconds, 1–86400) is
//! accepted for compatibility and does not delay the batch.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db;
use crate::domain::BatchId;
use crate::domain::TenantId;
use crate::http::auth::{Action, Auth, authorize};
use crate::http::extract::ApiJson;
use crate::http::{ApiError, ApiResult, AppState};
use crate::services::batch_metadata::{self, BatchMetadata};
use crate::services::ingest::{self, EventInput, IngestOptions};

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/events/batch", post(submit_batch))
        .route("/proof/{batch_id}", get(batch_proofs))
        .route("/batches/{batch_id}", get(show))
}

/// The body of `POST /v1/events/batch`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SubmitBatch {
    events: Vec<EventInput>,
    #[serde(default)]
    batch_size: Option<u64>,
    #[serde(default)]
    ttl: Option<u64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct BatchIdResponse {
    batch_id: Uuid,
}

async fn submit_batch(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<SubmitBatch>,
) -> ApiResult<Response> {
    if let Some(n) = body.batch_size
        && n != body.events.len() as u64
    {
        return Err(ApiError::Unprocessable(format!(
            "batchSize is {n} but events holds {}",
            body.events.len()
        )));
    }
    if body.ttl.is_some_and(|t| !(1..=86_400).contains(&t)) {
        return Err(ApiError::Unprocessable(
            "ttl must be between 1 and 86400 seconds".into(),
        ));
    }
    let closed = submit_and_close(&state, &auth, body.events, "window").await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(BatchIdResponse {
            batch_id: closed.batch_id,
        }),
    )
        .into_response())
}

/// The batch a seed request's events went into.
#[derive(Debug, Clone, Copy)]
pub(super) struct RequestBatch {
    /// The batch id.
    pub batch_id: Uuid,
    /// The chain its root is anchored for.
    pub target_chain: i32,
}

/// Stores `events` durably, then closes them into one batch at once (see the module header).
pub(super) async fn submit_and_close(
    state: &AppState,
    auth: &Auth,
    events: Vec<EventInput>,
    policy: &str,
) -> ApiResult<RequestBatch> {
    // The role first: a key that may not submit must not close the tenant's pending batch
    // either (ingest checks again; this one guards the flush before it).
    authorize(auth, Action::SubmitEvents)?;
    // Close what is pending first, so the request's batch starts with its own events.
    crate::services::batching::flush(state, auth.tenant, "window").await?;
    let receipts = ingest::ingest_events(state, auth, events, IngestOptions::default()).await?;
    let ids: Vec<String> = receipts.into_iter().map(|r| r.id).collect();
    crate::services::batching::flush(state, auth.tenant, policy).await?;
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
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct BatchView {
    #[serde(flatten)]
    metadata: BatchMetadata,
    status: String,
}

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

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct BatchProofs {
    batch_id: Uuid,
    status: String,
    proofs: Vec<EventProof>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct EventProof {
    event_id: String,
    bundle: serde_json::Value,
}

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
