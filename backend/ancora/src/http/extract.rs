//! `ApiJson<T>`: the JSON body extractor of the API. Every rejection becomes a problem+json
//! answer that says precisely what is wrong:
//!
//! * 415 — no `Content-Type: application/json`;
//! * 413 — the body is larger than the configured limit;
//! * 400 — the body is not JSON (with line and column);
//! * 422 — JSON of the wrong shape (with the path of the offending field: `events[3].digest`).

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::error::problem_response;

/// A JSON request body deserialized into `T`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        if !plain_json(req.headers()) {
            // Anything but a bare `application/json` (a `+json` type, a missing or wrong
            // type) goes through axum's own checks and rejections.
            return match axum::Json::<T>::from_request(req, state).await {
                Ok(axum::Json(v)) => Ok(ApiJson(v)),
                Err(rejection) => Err(reject(rejection)),
            };
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|r| reject(JsonRejection::from(r)))?;
        // A body that parses is read without tracking its path (no allocation per field);
        // one that does not is read again through axum, whose rejection names the path
        // (`events[3].digest`). Both accept exactly the same bodies.
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        if let Ok(v) = <T as serde::Deserialize>::deserialize(&mut de)
            && de.end().is_ok()
        {
            return Ok(ApiJson(v));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(reject(rejection)),
        }
    }
}

/// True for `Content-Type: application/json`, with parameters or not, in any case.
fn plain_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

fn reject(rejection: JsonRejection) -> Response {
    let status = rejection.status();
    let (slug, title, detail) = match &rejection {
        JsonRejection::MissingJsonContentType(_) => (
            "unsupported-media-type",
            "Unsupported media type",
            "the body must be JSON sent with Content-Type: application/json".to_owned(),
        ),
        JsonRejection::JsonSyntaxError(e) => (
            "bad-request",
            "Bad request",
            format!("the body is not valid JSON: {}", source_text(e)),
        ),
        JsonRejection::JsonDataError(e) => (
            "unprocessable",
            "Unprocessable content",
            shape_error(&source_text(e)),
        ),
        JsonRejection::BytesRejection(_) if status == StatusCode::PAYLOAD_TOO_LARGE => (
            "payload-too-large",
            "Payload too large",
            "the body is larger than this server accepts (ANCORA_MAX_BODY_BYTES)".to_owned(),
        ),
        _ => ("bad-request", "Bad request", rejection.body_text()),
    };
    problem_response(status, slug, title, detail).into_response()
}

/// serde's message, and for an unknown snake_case field a pointer to its camelCase name:
/// `/v1` bodies are camelCase, and a snake_case field is refused (422), never guessed at.
fn shape_error(serde_message: &str) -> String {
    let mut detail = format!("the JSON does not have the expected shape: {serde_message}");
    if let Some((_, rest)) = serde_message.split_once("unknown field `")
        && let Some((field, _)) = rest.split_once('`')
        && field.contains('_')
    {
        let camel = super::casing::camel_case(field);
        detail.push_str(&format!(
            " (/v1 request fields are camelCase: send `{camel}`, not `{field}`)"
        ));
    }
    detail
}

/// The innermost error message (serde's, with the path and position), without axum's wrapper.
fn source_text(e: &dyn std::error::Error) -> String {
    let mut inner: &dyn std::error::Error = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}
