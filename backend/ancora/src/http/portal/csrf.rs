//! CSRF protection for every state-changing portal request: a POST must carry the session's
//! token, in the form field `csrf` (url-encoded forms), the `csrf` query parameter
//! (multipart uploads, whose body is not read here) or the `X-CSRF-Token` header (scripts).
//! One middleware, so no handler can forget it. SameSite=Lax cookies are the outer wall.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use super::PortalError;
use crate::http::session;

/// Largest url-encoded form read for the token (a pasted bundle fits easily).
pub const MAX_FORM_BYTES: usize = 2 * 1024 * 1024;

/// The middleware: passes safe methods, checks POSTs.
pub async fn protect(session: Session, req: Request, next: Next) -> Response {
    if req.method() == Method::GET || req.method() == Method::HEAD {
        return next.run(req).await;
    }
    let expected = match session::existing_csrf_token(&session).await {
        Ok(t) => t,
        Err(e) => return PortalError::Internal(e.into()).into_response(),
    };
    let (parts, body) = req.into_parts();
    let mut supplied = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| field(parts.uri.query().unwrap_or("").as_bytes()));
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let body = if is_form {
        let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
            return PortalError::TooLarge.into_response();
        };
        if supplied.is_none() {
            supplied = field(&bytes);
        }
        Body::from(bytes)
    } else {
        body
    };
    match (expected, supplied) {
        (Some(e), Some(s)) if constant_time_eq(e.as_bytes(), s.as_bytes()) => {
            next.run(Request::from_parts(parts, body)).await
        }
        _ => PortalError::Csrf.into_response(),
    }
}

fn field(form: &[u8]) -> Option<String> {
    form_urlencoded::parse(form)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
