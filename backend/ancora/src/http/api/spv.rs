//! SPV-as-a-Service: Chainweb SPV proofs fetched from the configured nodes, verified with
//! `ancora-proof`, and kept per tenant.
//!
//! * `POST /v1/spv` `{"chainId", "requestKey", "targetChainId"?}` — the proof that the
//!   transaction's output is in a block of the target chain (default: the same chain). It is
//!   fetched from a node (`/pact/spv`), the header it leads to is fetched by hash, the header
//!   must hash to its hash and the proof must lead to it; only then is it stored (Postgres,
//!   `spv_proofs`) and cached in process. A second request is answered from the cache
//!   (`"cached": true`) without a node.
//! * `GET /v1/spv/{id}` — a stored proof.
//! * `POST /v1/spv/verify` `{"proof", "header"?, "chainId"?}` — checks any `/pact/spv`
//!   proof string against the given header, or against the header of the block it leads
//!   to fetched from a node. Malformed input is a problem; a proof that does not lead to
//!   the header is `200 {"verified": false, "reason"}`.
//!
//! Each `POST` counts one `spv_requests` in the tenant's usage. Bad input is 422 with what is
//! wrong; nodes that fail or answer garbage are 502; no node configured is 503. Nothing
//! unverified is ever stored.

use ancora_chainweb::{ChainId, RequestKey};
use ancora_proof::chainweb::BlockHeader;
use ancora_proof::spv::{SpvVerification, TransactionOutputProof};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::spv::SpvProof;
use crate::http::api::openapi::IdempotencyKeyHeader;
use crate::http::auth::{Action, Auth, authorize};
use crate::http::error::Problem;
use crate::http::error::problem_response;
use crate::http::extract::ApiJson;
use crate::http::idempotency;
use crate::http::{ApiError, AppState};
use crate::services::spv::{self as service, CHAINS, Verdict};

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/spv", post(fetch))
        .route("/spv/verify", post(verify))
        .route("/spv/{id}", get(read))
}

/// What this API answers besides [`ApiError`]s: node trouble.
#[derive(Debug)]
pub enum SpvError {
    /// An API error (bad input, auth, database).
    Api(ApiError),
    /// 502: the nodes failed or answered something unusable.
    BadGateway(String),
    /// 503: no node configured.
    NoNodes,
}

impl From<ApiError> for SpvError {
    fn from(e: ApiError) -> Self {
        SpvError::Api(e)
    }
}

impl From<service::SpvError> for SpvError {
    fn from(e: service::SpvError) -> Self {
        match e {
            service::SpvError::Invalid(m) => SpvError::Api(ApiError::Unprocessable(m)),
            service::SpvError::Quota(q) => SpvError::Api(ApiError::PaymentRequired(q)),
            service::SpvError::NoNodes => SpvError::NoNodes,
            service::SpvError::BadGateway(m) => SpvError::BadGateway(m),
            service::SpvError::Internal(e) => SpvError::Api(ApiError::Internal(e)),
        }
    }
}

impl IntoResponse for SpvError {
    fn into_response(self) -> Response {
        match self {
            SpvError::Api(e) => e.into_response(),
            SpvError::BadGateway(detail) => problem_response(
                StatusCode::BAD_GATEWAY,
                "bad-gateway",
                "Bad gateway",
                detail,
            ),
            SpvError::NoNodes => problem_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
                service::SpvError::NoNodes.to_string(),
            ),
        }
    }
}

type SpvResult<T> = Result<T, SpvError>;

fn bad(msg: impl Into<String>) -> SpvError {
    SpvError::Api(ApiError::Unprocessable(msg.into()))
}

/// A chain id given as a JSON number or a decimal string, in Chainweb's graph.
fn chain_arg(v: &Value, field: &str) -> SpvResult<u32> {
    let id = match v {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.parse::<ChainId>().ok().map(|c| c.0),
        _ => None,
    };
    match id {
        Some(c) if c < CHAINS => Ok(c),
        Some(c) => Err(bad(format!(
            "{field}: unknown chain id {c}; Chainweb has chains 0 to {}",
            CHAINS - 1
        ))),
        None => Err(bad(format!(
            "{field}: {v} is not a chain id (a number from 0 to {})",
            CHAINS - 1
        ))),
    }
}

/// The body of `POST /v1/spv`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FetchBody {
    /// The chain the transaction is on (0–19, a number or a decimal string).
    #[schema(value_type = ChainIdArg)]
    chain_id: Value,
    /// The transaction's request key (base64url).
    #[schema(pattern = "^[A-Za-z0-9_-]{43}=?$")]
    request_key: String,
    /// The chain whose block the proof leads to (default: `chainId`).
    #[serde(default)]
    #[schema(value_type = Option<ChainIdArg>)]
    target_chain_id: Option<Value>,
}

/// A Chainweb chain id: a number from 0 to 19, or the same as a decimal string.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum ChainIdArg {
    /// As a number.
    Number(u32),
    /// As a decimal string.
    Text(String),
}

/// A stored, verified SPV proof (`"cached"`: answered without a node).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // Built as JSON by `view`; this is its documented shape.
struct SpvProofView {
    id: Uuid,
    chain_id: i32,
    target_chain_id: i32,
    request_key: String,
    /// The `/pact/spv` proof string.
    proof: String,
    /// The block header the proof leads to (Chainweb's JSON encoding).
    #[schema(value_type = Object)]
    header: Value,
    block_hash: String,
    block_height: i64,
    /// The transaction's output (Chainweb's JSON).
    #[schema(value_type = Object)]
    subject: Value,
    verified: bool,
    verified_at: String,
    /// On `POST /v1/spv`: true when answered from the store.
    cached: Option<bool>,
}

/// The body of `POST /v1/spv/verify`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct VerifyBodyDoc {
    /// A `/pact/spv` proof string.
    proof: String,
    /// The block header to check against (Chainweb's JSON); fetched from a node when absent.
    #[schema(value_type = Option<Object>)]
    header: Option<Value>,
    /// The chain the proof must target.
    #[schema(value_type = Option<ChainIdArg>)]
    chain_id: Option<Value>,
}

/// `POST /v1/spv/verify`'s verdict.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct SpvVerdict {
    verified: bool,
    /// Why not, when not.
    reason: Option<String>,
    chain_id: Option<u32>,
    block_hash: Option<String>,
    block_height: Option<u64>,
    #[schema(value_type = Option<Object>)]
    subject: Option<Value>,
    /// `request` or `node`.
    header_source: Option<String>,
    steps: Option<u64>,
    proof_root: Option<String>,
    header_hash: Option<String>,
    header_height: Option<u64>,
}

/// The stored proof as this API shows it (`"cached"` on `POST`), serialized straight from
/// the cached proof: nothing of it is copied into a JSON tree first.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct View<'a> {
    id: Uuid,
    chain_id: i32,
    target_chain_id: i32,
    request_key: &'a str,
    proof: &'a str,
    header: &'a Value,
    block_hash: &'a str,
    block_height: i64,
    subject: &'a Value,
    verified: bool,
    verified_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    cached: Option<bool>,
}

/// The view of a stored proof (see [`View`]).
pub fn view(p: &SpvProof, cached: Option<bool>) -> View<'_> {
    View {
        id: p.id,
        chain_id: p.chain_id,
        target_chain_id: p.target_chain_id,
        request_key: &p.request_key,
        proof: &p.proof,
        header: &p.header,
        block_hash: &p.block_hash,
        block_height: p.block_height,
        subject: &p.subject,
        verified: true,
        verified_at: p.verified_at.format(&Rfc3339).unwrap_or_default(),
        cached,
    }
}

/// Fetch, verify and keep a Chainweb SPV proof.
#[utoipa::path(
    post,
    path = "/v1/spv",
    tag = "spv",
    params(IdempotencyKeyHeader),
    request_body = FetchBody,
    responses(
        (status = 200, description = "The verified proof", body = SpvProofView),
        (status = 409, description = "A request with this Idempotency-Key is still running", body = Problem, content_type = "application/problem+json"),
        (status = 402, description = "The month's SPV quota is used up", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "No Chainweb node gave a usable answer", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No Chainweb node is configured, or the database is away", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn fetch(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Result<ApiJson<FetchBody>, Response>,
) -> SpvResult<Response> {
    authorize(&auth, Action::VerifyProof)?;
    let ApiJson(body) = body.map_err(|r| ApiError::Rejected(Box::new(r)))?;
    let keyed = idempotency::Keyed::read(&headers, "POST /v1/spv", &body)?;
    idempotency::once(&state, auth.tenant, keyed, |_| {
        let (state, auth) = (state.clone(), auth.clone());
        async move {
            let answer = fetch_proof(&state, &auth, body).await?;
            Ok((StatusCode::OK, answer))
        }
    })
    .await
}

/// The proof `body` asks for: cached, stored, or fetched from a node and verified.
async fn fetch_proof(state: &AppState, auth: &Auth, body: FetchBody) -> SpvResult<Value> {
    let chain = chain_arg(&body.chain_id, "chainId")?;
    let target = match &body.target_chain_id {
        Some(t) => chain_arg(t, "targetChainId")?,
        None => chain,
    };
    let key =
        RequestKey::parse(body.request_key.trim()).map_err(|e| bad(format!("requestKey: {e}")))?;
    let fetched = service::fetch(state, auth.tenant, chain, target, key).await?;
    serde_json::to_value(view(&fetched.proof, Some(fetched.cached)))
        .map_err(|e| ApiError::Internal(e.into()).into())
}

/// A stored SPV proof.
#[utoipa::path(
    get,
    path = "/v1/spv/{id}",
    tag = "spv",
    params(("id" = String, Path, description = "The proof's id (a UUID)")),
    responses(
        (status = 200, description = "The proof", body = SpvProofView),
        (status = 404, description = "No such proof in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn read(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> SpvResult<Response> {
    authorize(&auth, Action::ReadEvents)?;
    let id: Uuid = id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no SPV proof {id:?}: ids are UUIDs")))?;
    match service::read(&state, auth.tenant, id).await? {
        Some(p) => Ok(Json(view(&p, None)).into_response()),
        None => Err(ApiError::NotFound(format!("no SPV proof {id} in this tenant")).into()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct VerifyBody {
    proof: String,
    #[serde(default)]
    header: Option<Value>,
    #[serde(default)]
    chain_id: Option<Value>,
}

/// Verify any `/pact/spv` proof against a header.
#[utoipa::path(
    post,
    path = "/v1/spv/verify",
    tag = "spv",
    request_body = VerifyBodyDoc,
    responses(
        (status = 200, description = "The verdict (`verified` false with a reason when the proof does not lead to the header)", body = SpvVerdict),
        (status = 402, description = "The month's SPV quota is used up", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "No Chainweb node gave a usable answer", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No Chainweb node is configured, or the database is away", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn verify(
    State(state): State<AppState>,
    auth: Auth,
    body: Result<ApiJson<VerifyBody>, Response>,
) -> SpvResult<Response> {
    authorize(&auth, Action::VerifyProof)?;
    let ApiJson(body) = body.map_err(|r| ApiError::Rejected(Box::new(r)))?;
    let chain = body
        .chain_id
        .as_ref()
        .map(|c| chain_arg(c, "chainId"))
        .transpose()?;
    let found = service::verify(
        &state,
        auth.tenant,
        &body.proof,
        body.header.as_ref(),
        chain,
    )
    .await?;
    let answer = match found {
        Verdict::UnknownBlock { chain, root } => json!({
            "verified": false,
            "reason": format!("the proof leads to block {root}, which no node knows on chain {chain}"),
            "chainId": chain,
            "blockHash": root.to_b64url(),
        }),
        Verdict::Checked(c) => verdict(&c.proof, &c.header, c.source.as_str(), c.outcome),
    };
    Ok(Json(answer).into_response())
}

fn verdict(
    proof: &TransactionOutputProof,
    header: &BlockHeader,
    source: &str,
    outcome: Result<SpvVerification, ancora_proof::Error>,
) -> Value {
    match outcome {
        Ok(v) => json!({
            "verified": true,
            "chainId": v.chain,
            "blockHash": v.header_hash.to_b64url(),
            "blockHeight": v.header_height,
            "subject": v.output.json(),
            "headerSource": source,
            "steps": proof.object.steps.len(),
        }),
        Err(e) => json!({
            "verified": false,
            "reason": e.to_string(),
            "chainId": proof.chain,
            "proofRoot": proof.run().to_b64url(),
            "headerHash": header.compute_hash().to_b64url(),
            "headerHeight": header.height,
            "headerSource": source,
        }),
    }
}
