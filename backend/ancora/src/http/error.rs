//! API errors as RFC 9457 problem details (`application/problem+json`).
//!
//! Client errors say exactly what is wrong; server errors stay generic on the wire and the
//! detail goes to the log.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::services::admission::AdmissionError;
use crate::services::authentication::AuthenticationError;
use crate::services::authorization::Denied;
use crate::services::billing::webhook::WebhookError;
use crate::services::billing::{BillingError, QuotaExceeded, rfc3339};
use crate::services::ingest::IngestError;
use crate::services::proofs::ProofError;
use crate::services::reports::ReportError;
use crate::services::webhooks::WebhookError as HookError;

/// Every error the JSON API answers with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed; the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no key, unknown key or revoked key.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the key's role or tenant does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such thing in this tenant (never says whether it exists elsewhere).
    #[error("{0}")]
    NotFound(String),
    /// 409: conflicts with what is stored.
    #[error("{0}")]
    Conflict(String),
    /// 413: body too large.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 422: well-formed but unacceptable (e.g. a signature that does not verify).
    #[error("{0}")]
    Unprocessable(String),
    /// 429 or 503 with Retry-After (seconds).
    #[error("{message}")]
    TooMany {
        /// What is exhausted.
        message: String,
        /// Seconds to wait.
        retry_after: u64,
    },
    /// 402: the request would cross a monthly quota; the body names it, the usage and when
    /// it resets.
    #[error(transparent)]
    PaymentRequired(QuotaExceeded),
    /// 503 with Retry-After: the database is away or saturated; nothing was done.
    #[error("the service cannot reach its database right now; retry in a few seconds")]
    Unavailable,
    /// 410: the thing existed and is gone for good (expired, shredded).
    #[error("{0}")]
    Gone(String),
    /// 503 with Retry-After: the archive store cannot be reached; hot data is still served.
    #[error("{0}")]
    ArchiveUnavailable(String),
    /// 502: the archive answered, but not with a valid copy (missing object, checksum
    /// mismatch, refused credentials, missing bucket); never served as valid.
    #[error("{0}")]
    ArchiveFault(String),
    /// A body the JSON extractor refused (400, 413, 415 or 422 problem+json, already
    /// rendered). Handlers take the body as `Result<ApiJson<T>, Response>` and turn a refusal
    /// into this only after the role check, so a role that may not make the request gets 403
    /// whatever its body.
    #[error("the request body was refused")]
    Rejected(Box<Response>),
    /// 408: the client stalled.
    #[error("request timed out")]
    Timeout,
    /// 500: logged, answered generically.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Internal(e.into())
    }
}

/// Seconds a client waits before retrying a cold read while the archive is unreachable.
pub const ARCHIVE_RETRY_AFTER: u64 = 5;

// The services' errors, translated in one place.

impl From<crate::services::archive::ArchiveError> for ApiError {
    fn from(e: crate::services::archive::ArchiveError) -> Self {
        use crate::services::archive::{ArchiveError as A, CryptoError, StoreError as S};
        match e {
            A::Store(S::Unavailable(_)) => ApiError::ArchiveUnavailable(
                "the archive cannot be reached right now; hot data is still served; retry later"
                    .into(),
            ),
            A::Store(S::Full(_)) => ApiError::ArchiveUnavailable(
                "the archive has no room left; nothing was lost; retry once space is freed".into(),
            ),
            A::Store(s) => {
                tracing::error!(error = %s, "archive fault");
                ApiError::ArchiveFault(match s {
                    S::ChecksumMismatch(_) => {
                        "the archived copy failed its checksum; it is not served".into()
                    }
                    S::NotFound(_) => "the archived copy is missing".into(),
                    _ => "the archive refused the request".into(),
                })
            }
            A::Crypto(c @ CryptoError::Corrupt(_)) => ApiError::ArchiveFault(c.to_string()),
            A::Crypto(c) => ApiError::Internal(c.into()),
            e @ (A::Shredded | A::Expired) => ApiError::Gone(e.to_string()),
            A::NotFound(m) => ApiError::NotFound(m),
            A::LegalHold(m) => ApiError::Conflict(m),
            A::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<crate::services::archive::retention::RetentionError> for ApiError {
    fn from(e: crate::services::archive::retention::RetentionError) -> Self {
        use crate::services::archive::retention::RetentionError as R;
        match e {
            R::Invalid(m) => ApiError::Unprocessable(m),
            R::LegalHold(m) => ApiError::Conflict(m),
            e @ R::NoTenant(_) => ApiError::NotFound(e.to_string()),
            R::Db(e) => e.into(),
        }
    }
}

impl From<Denied> for ApiError {
    fn from(e: Denied) -> Self {
        ApiError::Forbidden(e.to_string())
    }
}

impl From<AdmissionError> for ApiError {
    fn from(e: AdmissionError) -> Self {
        let AdmissionError::Lagging { retry_after, .. } = e;
        ApiError::TooMany {
            message: e.to_string(),
            retry_after,
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Invalid(m) => ApiError::Unprocessable(m),
            IngestError::TooLarge(m) => ApiError::PayloadTooLarge(m),
            IngestError::BadRequest(m) => ApiError::BadRequest(m),
            IngestError::Conflict(m) => ApiError::Conflict(m),
            IngestError::Denied(d) => d.into(),
            IngestError::Overloaded(a) => a.into(),
            IngestError::Quota(q) => ApiError::PaymentRequired(q),
            IngestError::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<AuthenticationError> for ApiError {
    fn from(e: AuthenticationError) -> Self {
        match e {
            AuthenticationError::Unknown | AuthenticationError::Revoked => {
                ApiError::Unauthorized(e.to_string())
            }
            AuthenticationError::Suspended => ApiError::Forbidden(e.to_string()),
            AuthenticationError::Storage(e) => e.into(),
            AuthenticationError::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<ProofError> for ApiError {
    fn from(e: ProofError) -> Self {
        match e {
            ProofError::NotFound(m) => ApiError::NotFound(m),
            ProofError::Quota(q) => ApiError::PaymentRequired(q),
            ProofError::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<ReportError> for ApiError {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::NotFound(m) => ApiError::NotFound(m),
            ReportError::BadRequest(m) => ApiError::BadRequest(m),
            ReportError::Quota(q) => ApiError::PaymentRequired(q),
            ReportError::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<HookError> for ApiError {
    fn from(e: HookError) -> Self {
        match e {
            e @ HookError::Url(_) => ApiError::Unprocessable(e.to_string()),
            HookError::Invalid(m) => ApiError::Unprocessable(m),
            HookError::NotFound(m) => ApiError::NotFound(m),
            HookError::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<BillingError> for ApiError {
    fn from(e: BillingError) -> Self {
        match e {
            BillingError::Quota(q) => ApiError::PaymentRequired(q),
            e @ BillingError::RateLimited { retry_after, .. } => ApiError::TooMany {
                message: e.to_string(),
                retry_after,
            },
            BillingError::Invalid(m) => ApiError::Unprocessable(m),
            e @ BillingError::NoSuchTenant(_) => ApiError::NotFound(e.to_string()),
            BillingError::Webhook(w @ WebhookError::NotConfigured) => {
                ApiError::NotFound(w.to_string())
            }
            BillingError::Webhook(w) => ApiError::BadRequest(w.to_string()),
            BillingError::Provider(p) => ApiError::Internal(p.into()),
            BillingError::Internal(e) => ApiError::Internal(e),
        }
    }
}

/// The problem+json body (RFC 9457).
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub kind: String,
    /// Short, human-readable summary of the type.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
    /// Members particular to the problem type (402: `quota`, `limit`, `usage`, …).
    #[serde(flatten, default, skip_serializing_if = "serde_json::Map::is_empty")]
    #[schema(ignore)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            // Rendered already (`into_response` returns it as it is); its own status.
            ApiError::Rejected(r) => (r.status(), "bad-request", "Bad request"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            ApiError::PayloadTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
            ),
            ApiError::Unprocessable(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "unprocessable",
                "Unprocessable content",
            ),
            ApiError::PaymentRequired(_) => (
                StatusCode::PAYMENT_REQUIRED,
                "quota-exceeded",
                "Monthly quota exceeded",
            ),
            ApiError::TooMany { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-requests",
                "Too many requests",
            ),
            ApiError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            ApiError::Timeout => (StatusCode::REQUEST_TIMEOUT, "timeout", "Request timeout"),
            ApiError::Gone(_) => (StatusCode::GONE, "gone", "Gone"),
            ApiError::ArchiveUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "archive-unavailable",
                "Archive unavailable",
            ),
            ApiError::ArchiveFault(_) => {
                (StatusCode::BAD_GATEWAY, "archive-fault", "Archive fault")
            }
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
        }
    }

    /// The status code this error answers with.
    pub fn status(&self) -> StatusCode {
        self.parts().0
    }
}

/// Builds a problem+json response.
pub fn problem_response(status: StatusCode, slug: &str, title: &str, detail: String) -> Response {
    problem_with(status, slug, title, detail, serde_json::Map::new())
}

/// Builds a problem+json response with extension members.
pub fn problem_with(
    status: StatusCode,
    slug: &str,
    title: &str,
    detail: String,
    extensions: serde_json::Map<String, serde_json::Value>,
) -> Response {
    let body = Problem {
        kind: format!("https://ancora.dev/problems/{slug}"),
        title: title.to_owned(),
        status: status.as_u16(),
        detail,
        extensions,
    };
    let mut resp = (status, Json(body)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    resp
}

/// Seconds a client is asked to wait when the database is away.
pub const UNAVAILABLE_RETRY_AFTER: u64 = 2;

impl ApiError {
    /// An internal error caused by the database being away becomes [`ApiError::Unavailable`],
    /// and one caused by text Postgres cannot store (a NUL) a 400: neither is a server fault.
    fn classified(self) -> Self {
        let ApiError::Internal(e) = &self else {
            return self;
        };
        match crate::db::sqlx_cause(e) {
            Some(s) if crate::db::is_unavailable(s) => {
                tracing::warn!(error = %s, "database unavailable; answering 503");
                ApiError::Unavailable
            }
            Some(s) if crate::db::is_unstorable_text(s) => ApiError::BadRequest(
                "the request holds a NUL character or text that cannot be stored".into(),
            ),
            _ => self,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Rejected(resp) = self {
            return *resp;
        }
        let this = self.classified();
        let (status, slug, title) = this.parts();
        let detail = match &this {
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                "an internal error occurred; it has been logged".to_owned()
            }
            other => other.to_string(),
        };
        let extensions = match &this {
            ApiError::PaymentRequired(q) => quota_members(q),
            _ => serde_json::Map::new(),
        };
        let mut resp = problem_with(status, slug, title, detail, extensions);
        let retry_after = match &this {
            ApiError::TooMany { retry_after, .. } => Some(*retry_after),
            ApiError::Unavailable => Some(UNAVAILABLE_RETRY_AFTER),
            ApiError::ArchiveUnavailable(_) => Some(ARCHIVE_RETRY_AFTER),
            _ => None,
        };
        if let Some(secs) = retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

/// The 402 body's own members: which quota, its limit, the month's usage, what the request
/// asked, when it resets.
fn quota_members(q: &QuotaExceeded) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("quota".into(), q.metric.json_key().into());
    m.insert("plan".into(), q.plan.clone().into());
    m.insert("limit".into(), q.limit.into());
    m.insert("usage".into(), q.used.into());
    m.insert("requested".into(), q.requested.into());
    m.insert("resetsAt".into(), rfc3339(q.resets_at).into());
    m
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    /// A database that is away answers 503 with `Retry-After`, also when a service met it
    /// inside billing's quota check: that was a 500 once, because a transparent wrapper around
    /// billing's error hid the database error from the classification.
    #[test]
    fn a_database_away_behind_billings_check_is_503_with_retry_after() {
        let away = || BillingError::from(sqlx::Error::PoolTimedOut);
        for (what, e) in [
            (
                "ingest",
                ApiError::from(IngestError::Internal(away().into_internal())),
            ),
            (
                "proof read",
                ApiError::from(ProofError::Internal(away().into_internal())),
            ),
            ("billing", ApiError::from(away())),
        ] {
            let resp = e.into_response();
            assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE, "{what}");
            assert!(resp.headers().contains_key(header::RETRY_AFTER), "{what}");
        }
        let bug = BillingError::Internal(anyhow::anyhow!("a bug"));
        let resp = ApiError::from(IngestError::Internal(bug.into_internal())).into_response();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
