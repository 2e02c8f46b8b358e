//! CSRF protection for every state-changing portal request: a POST must carry the expected
//! token, in the form field `csrf` (url-encoded forms), the `csrf` query parameter
//! (multipart uploads, whose body is not read here) or the `X-CSRF-Token` header (scripts).
//! One middleware, so no handler can forget it. SameSite=Lax cookies are the outer wall.
//!
//! Which token is expected: a signed-in session's own token (stored in the session at sign-in);
//! for a visitor without one (the sign-in, forgotten-password and invitation forms), the value
//! of the `ancora_csrf` cookie (a double-submit token: HttpOnly, SameSite=Strict, Secure like the
//! session cookie), which this middleware sets on the first visit. Anonymous pages therefore
//! store nothing on the server: a session row exists only once someone signs in.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use super::PortalError;
use crate::http::{AppState, session};

/// Largest url-encoded form read for the token (a pasted bundle fits easily).
pub const MAX_FORM_BYTES: usize = 2 * 1024 * 1024;

/// The anonymous visitor's token cookie.
pub const ANON_COOKIE: &str = "ancora_csrf";

/// The anonymous visitor's token, put in the request's extensions by [`protect`] for the
/// [`super::Viewer`] extractor.
#[derive(Clone, Debug)]
pub struct AnonToken(pub String);

/// The middleware: passes safe methods (making sure an anonymous visitor has a token
/// cookie), checks POSTs.
pub async fn protect(
    State(state): State<AppState>,
    session: Session,
    mut req: Request,
    next: Next,
) -> Response {
    let cookie = anon_cookie(&req);
    let had_cookie = cookie.is_some();
    let anon = cookie.clone().unwrap_or_else(session::new_token);
    req.extensions_mut().insert(AnonToken(anon.clone()));
    let mut resp = if req.method() == Method::GET || req.method() == Method::HEAD {
        next.run(req).await
    } else {
        check(session, req, next, cookie).await
    };
    if !had_cookie {
        let secure = if session::secure_cookies(&state.settings.public_url) {
            "; Secure"
        } else {
            ""
        };
        let set = format!("{ANON_COOKIE}={anon}; Path=/; HttpOnly; SameSite=Strict{secure}");
        if let Ok(v) = HeaderValue::from_str(&set) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

async fn check(session: Session, req: Request, next: Next, cookie: Option<String>) -> Response {
    let expected = match session::existing_csrf_token(&session).await {
        Ok(Some(t)) => Some(t),
        Ok(None) => cookie,
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

/// The `ancora_csrf` cookie's value, when it has the shape of a token.
fn anon_cookie(req: &Request) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == ANON_COOKIE)
        .map(|(_, v)| v.to_owned())
        .filter(|v| {
            (20..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn field(form: &[u8]) -> Option<String> {
    form_urlencoded::parse(form)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    a.ct_eq(b).into()
}
