//! `Idempotency-Key` for the API's creating `POST`s, over [`crate::services::idempotency`]:
//! [`once`] wraps a handler's work so that a retry with the same key and body gets the first
//! answer (status and body, with `Idempotent-Replayed: true`) and changes nothing; the same
//! key with another body is 422; a key that is not 1–255 visible ASCII characters is 400.
//! Only successful answers (2xx) are kept: an error changed nothing, so a retry runs again.
//!
//! A new creating route uses it as
//!
//! ```ignore
//! let keyed = idempotency::Keyed::read(&headers, "POST /v1/things", &body)?;
//! idempotency::once(&state, auth.tenant, keyed, |_claim| async move {
//!     // … the work …
//!     Ok((StatusCode::CREATED, json))
//! })
//! .await
//! ```

use std::future::Future;
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::{ApiError, AppState};
use crate::domain::TenantId;
use crate::services::idempotency::{self, Begin, Claim, IdempotencyError};

/// The header's name.
pub const HEADER: &str = "idempotency-key";

/// The header set on a replayed answer.
pub const REPLAYED: &str = "idempotent-replayed";

impl From<IdempotencyError> for ApiError {
    fn from(e: IdempotencyError) -> Self {
        match e {
            e @ IdempotencyError::BadKey(_) => ApiError::BadRequest(e.to_string()),
            e @ IdempotencyError::Mismatch => ApiError::Unprocessable(e.to_string()),
            e @ IdempotencyError::InProgress => ApiError::Conflict(e.to_string()),
            IdempotencyError::Internal(e) => ApiError::Internal(e),
        }
    }
}

/// The request's `Idempotency-Key`, if it sent one (400 when it cannot be one).
pub fn key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get(HEADER) else {
        return Ok(None);
    };
    let text = v
        .to_str()
        .map_err(|_| IdempotencyError::BadKey(v.as_bytes().len()))?;
    idempotency::check_key(text)?;
    Ok(Some(text.to_owned()))
}

/// A request's `Idempotency-Key` and what it is bound to: the endpoint (`scope`, e.g.
/// `"POST /v1/events"`) and the parsed body. `None` without the header.
#[derive(Debug)]
pub struct Keyed {
    key: String,
    hash: Vec<u8>,
}

impl Keyed {
    /// Reads the header (400 when it cannot be a key) and, only when it is there, hashes the
    /// request.
    pub fn read(
        headers: &HeaderMap,
        scope: &str,
        body: &impl Serialize,
    ) -> Result<Option<Keyed>, ApiError> {
        Ok(key(headers)?.map(|key| Keyed {
            key,
            hash: idempotency::request_hash(scope, body),
        }))
    }
}

/// Runs `work` once per key (every time without one: `keyed` is `None`). `work` gets this
/// request's claim when there is a key, to store its answer inside its own transaction if
/// it can ([`Claim::finish_in`]); the answer is stored after it in any case. Call it after
/// the role check, so that a key never answers a caller who may not make the request.
///
/// The answer is any serializable body: without a key it is written straight to the
/// response's bytes (no JSON tree in between); with one it is kept as JSON for replays.
pub async fn once<E, T, F, Fut>(
    state: &AppState,
    tenant: TenantId,
    keyed: Option<Keyed>,
    work: F,
) -> Result<Response, E>
where
    E: From<ApiError>,
    T: Serialize,
    F: FnOnce(Option<Claim>) -> Fut,
    Fut: Future<Output = Result<(StatusCode, T), E>>,
{
    let Some(Keyed { key, hash }) = keyed else {
        let (status, answer) = work(None).await?;
        return Ok((status, Json(answer)).into_response());
    };
    let timeout = state.config.http.request_timeout;
    let lease = timeout * 2 + Duration::from_secs(10);
    let begun = idempotency::begin(&state.db, tenant, &key, &hash, lease, timeout)
        .await
        .map_err(ApiError::from)?;
    let claim = match begun {
        Begin::Replay(stored) => {
            let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
            let mut resp = (status, Json(stored.body)).into_response();
            resp.headers_mut()
                .insert(REPLAYED, HeaderValue::from_static("true"));
            return Ok(resp);
        }
        Begin::Run(claim) => claim,
    };
    match work(Some(claim.clone())).await {
        Ok((status, answer)) => {
            let value = serde_json::to_value(answer)
                .map_err(|e| ApiError::Internal(anyhow::Error::from(e)))?;
            let kept = if status.is_success() {
                claim.finish(&state.db, status.as_u16(), &value).await
            } else {
                claim.release(&state.db).await
            };
            // The work is done either way: answer it. Unstored, a retry runs again once the
            // claim's lease ends, which is what a lost answer would have caused anyway.
            if let Err(e) = kept {
                tracing::error!(error = %e, "storing an idempotent answer failed");
            }
            Ok((status, Json(value)).into_response())
        }
        Err(e) => {
            if let Err(e) = claim.release(&state.db).await {
                tracing::warn!(error = %e, "releasing an idempotency key failed");
            }
            Err(e)
        }
    }
}
