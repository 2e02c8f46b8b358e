//! `/v1/submitter-keys`: the Ed25519 keys devices sign their events with, and the tenant's
//! policy requiring them.
//!
//! * `POST /v1/submitter-keys` `{"name", "publicKey"}` (32 bytes, base64 or hex) → 201;
//!   `Idempotency-Key` makes a retry safe.
//! * `GET /v1/submitter-keys` → `{"requireSignatures", "keys": [...]}`.
//! * `POST /v1/submitter-keys/{id}/revoke` → the key, revoked (idempotent).
//! * `PUT /v1/submitter-keys/policy` `{"requireSignatures": bool}` → the policy.
//!
//! Registering, revoking and changing the policy are written to the audit log.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::audit::{AuditEntry, record};
use crate::db::submitter_keys::{self as keys, SubmitterKey};
use crate::db::{self, is_unique_violation};
use crate::http::api::openapi::IdempotencyKeyHeader;
use crate::http::auth::{Action, Auth, authorize};
use crate::http::error::Problem;
use crate::http::extract::ApiJson;
use crate::http::idempotency;
use crate::http::{ApiError, ApiResult, AppState};
use crate::services::idempotency::Claim;

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/submitter-keys", post(create).get(list))
        .route("/submitter-keys/policy", put(set_policy))
        .route("/submitter-keys/{id}/revoke", post(revoke))
}

/// The body of `POST /v1/submitter-keys`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CreateBody {
    /// 1 to 100 characters of A–Z, a–z, 0–9, `.`, `_` or `-`; never reused.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,100}$")]
    name: String,
    /// The 32-byte Ed25519 public key, base64 or hex.
    #[schema(pattern = "^([0-9a-fA-F]{64}|[A-Za-z0-9+/_-]{43}=?)$")]
    public_key: String,
}

/// A key as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct KeyView {
    id: Uuid,
    name: String,
    /// base64 (standard, padded) of the 32-byte public key.
    public_key: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    revoked_at: Option<OffsetDateTime>,
}

impl From<SubmitterKey> for KeyView {
    fn from(k: SubmitterKey) -> Self {
        use base64::Engine as _;
        KeyView {
            id: k.id,
            name: k.name,
            public_key: base64::engine::general_purpose::STANDARD.encode(&k.public_key),
            created_at: k.created_at,
            revoked_at: k.revoked_at,
        }
    }
}

fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = (1..=100).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::Unprocessable(
            "name must be 1 to 100 characters of A–Z, a–z, 0–9, '.', '_' or '-'".into(),
        ))
    }
}

fn parse_public_key(text: &str) -> Result<[u8; 32], ApiError> {
    let raw = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).map_err(|e| ApiError::Unprocessable(format!("publicKey: {e}")))?
    } else {
        crate::services::ingest::decode_base64(text)
            .map_err(|e| ApiError::Unprocessable(format!("publicKey: {e}")))?
    };
    let bytes = <[u8; 32]>::try_from(raw.as_slice()).map_err(|_| {
        ApiError::Unprocessable(format!(
            "publicKey: an Ed25519 public key is 32 bytes, got {}",
            raw.len()
        ))
    })?;
    ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| {
        ApiError::Unprocessable("publicKey is not a valid Ed25519 public key".into())
    })?;
    Ok(bytes)
}

/// Register a submitter key.
#[utoipa::path(
    post,
    path = "/v1/submitter-keys",
    tag = "submitter keys",
    params(IdempotencyKeyHeader),
    request_body = CreateBody,
    responses(
        (status = 201, description = "Registered", body = KeyView),
        (status = 409, description = "The name is taken, or a request with this Idempotency-Key is still running", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Result<ApiJson<CreateBody>, Response>,
) -> ApiResult<Response> {
    authorize(&auth, Action::ManageSubmitterKeys)?;
    let ApiJson(body) = body.map_err(|r| ApiError::Rejected(Box::new(r)))?;
    check_name(&body.name)?;
    let public_key = parse_public_key(&body.public_key)?;
    let keyed = idempotency::Keyed::read(&headers, "POST /v1/submitter-keys", &body)?;
    idempotency::once(&state, auth.tenant, keyed, |claim| {
        let (state, auth) = (state.clone(), auth.clone());
        async move {
            let key = register(&state, &auth, &body.name, &public_key, claim).await?;
            let view = serde_json::to_value(KeyView::from(key)).map_err(anyhow::Error::from)?;
            Ok((StatusCode::CREATED, view))
        }
    })
    .await
}

/// Stores the key and its audit entry (and, with a key, the answer) in one transaction.
async fn register(
    state: &AppState,
    auth: &Auth,
    name: &str,
    public_key: &[u8; 32],
    claim: Option<Claim>,
) -> ApiResult<SubmitterKey> {
    let mut tx = state.db.tenant_tx(auth.tenant).await?;
    let key = match keys::insert(&mut tx, auth.tenant, name, public_key).await {
        Ok(k) => k,
        Err(e) if is_unique_violation(&e, keys::NAME_TAKEN) => {
            return Err(ApiError::Conflict(format!(
                "a submitter key named {name:?} already exists (names are never reused, even \
                 after revocation)"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let subject = key.id.to_string();
    record(
        &mut tx,
        AuditEntry {
            tenant: Some(auth.tenant),
            actor: &auth.actor(),
            action: "submitter_key.created",
            subject: Some(&subject),
            details: json!({ "name": key.name }),
        },
    )
    .await?;
    let key = match claim {
        Some(claim) => {
            let view = KeyView::from(key.clone());
            let view = serde_json::to_value(view).map_err(anyhow::Error::from)?;
            claim.finish_in(&mut tx, 201, &view).await?;
            key
        }
        None => key,
    };
    tx.commit().await?;
    Ok(key)
}

/// The tenant's keys and its signature policy.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ListResponse {
    require_signatures: bool,
    keys: Vec<KeyView>,
}

/// The tenant's submitter keys and signature policy.
#[utoipa::path(
    get,
    path = "/v1/submitter-keys",
    tag = "submitter keys",
    responses((status = 200, description = "Keys, oldest first", body = ListResponse)),
    security(("bearer" = []))
)]
async fn list(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<ListResponse>> {
    authorize(&auth, Action::ReadSubmitterKeys)?;
    let mut tx = state.db.tenant_tx(auth.tenant).await?;
    let require_signatures = db::tenants::requires_signatures(&mut tx, auth.tenant).await?;
    let keys = keys::list(&mut tx, auth.tenant).await?;
    Ok(Json(ListResponse {
        require_signatures,
        keys: keys.into_iter().map(KeyView::from).collect(),
    }))
}

/// Revoke a submitter key (idempotent).
#[utoipa::path(
    post,
    path = "/v1/submitter-keys/{id}/revoke",
    tag = "submitter keys",
    params(("id" = String, Path, description = "The key's id (a UUID)")),
    responses(
        (status = 200, description = "The key, revoked", body = KeyView),
        (status = 404, description = "No such key in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn revoke(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<KeyView>> {
    authorize(&auth, Action::ManageSubmitterKeys)?;
    let not_found = || ApiError::NotFound(format!("no submitter key with id {id:?}"));
    let uuid = Uuid::parse_str(&id).map_err(|_| not_found())?;
    let mut tx = state.db.tenant_tx(auth.tenant).await?;
    let key = keys::revoke(&mut tx, auth.tenant, uuid)
        .await?
        .ok_or_else(not_found)?;
    record(
        &mut tx,
        AuditEntry {
            tenant: Some(auth.tenant),
            actor: &auth.actor(),
            action: "submitter_key.revoked",
            subject: Some(&id),
            details: json!({ "name": key.name }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Json(key.into()))
}

/// The tenant's signature policy.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Policy {
    /// When true, every event must carry a valid submitter signature.
    require_signatures: bool,
}

/// Set the signature policy.
#[utoipa::path(
    put,
    path = "/v1/submitter-keys/policy",
    tag = "submitter keys",
    request_body = Policy,
    responses((status = 200, description = "The policy now", body = Policy)),
    security(("bearer" = []))
)]
async fn set_policy(
    State(state): State<AppState>,
    auth: Auth,
    body: Result<ApiJson<Policy>, Response>,
) -> ApiResult<Json<Policy>> {
    authorize(&auth, Action::ManageSubmitterKeys)?;
    let ApiJson(body) = body.map_err(|r| ApiError::Rejected(Box::new(r)))?;
    let mut tx = state.db.tenant_tx(auth.tenant).await?;
    db::tenants::set_requires_signatures(&mut tx, auth.tenant, body.require_signatures).await?;
    record(
        &mut tx,
        AuditEntry {
            tenant: Some(auth.tenant),
            actor: &auth.actor(),
            action: "signature_policy.changed",
            subject: None,
            details: json!({ "require_signatures": body.require_signatures }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Json(body))
}
