//! The portal's request extractors: axum's `Path`, `Query`, `Form` and `Multipart` under the
//! same names, whose every refusal is a portal page ([`PortalError::BadRequest`]) that says
//! what is wrong, never axum's plain-text rejection. Form fields and query parameters that
//! hold a NUL character are refused here too: no text the portal reads can hold one (Postgres
//! cannot store it).

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::PortalError;

/// Path parameters (`axum::extract::Path`).
pub struct Path<T>(pub T);

/// Query parameters (`axum::extract::Query`).
pub struct Query<T>(pub T);

/// A url-encoded form body (`axum::Form`).
pub struct Form<T>(pub T);

/// A multipart body (`axum::extract::Multipart`).
pub struct Multipart(pub axum::extract::Multipart);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = PortalError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, PortalError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|_| {
                PortalError::BadRequest(
                    "This address is not valid: part of it is not readable text.".into(),
                )
            })
    }
}

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = PortalError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, PortalError> {
        if has_nul(parts.uri.query().unwrap_or("").as_bytes()) {
            return Err(nul_refused());
        }
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| {
                PortalError::BadRequest(format!(
                    "This address has a parameter the page cannot read ({}).",
                    e.body_text()
                ))
            })
    }
}

impl<T, S> FromRequest<S> for Form<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = PortalError;

    async fn from_request(req: Request, state: &S) -> Result<Self, PortalError> {
        let (parts, body) = req.into_parts();
        let bytes = to_bytes(body, super::csrf::MAX_FORM_BYTES)
            .await
            .map_err(|_| PortalError::TooLarge)?;
        if has_nul(&bytes) {
            return Err(nul_refused());
        }
        let req = Request::from_parts(parts, Body::from(bytes));
        axum::Form::<T>::from_request(req, state)
            .await
            .map(|f| Form(f.0))
            .map_err(|e| {
                PortalError::BadRequest(format!(
                    "The form could not be read ({}). Go back, reload the page and try again.",
                    e.body_text()
                ))
            })
    }
}

impl<S> FromRequest<S> for Multipart
where
    S: Send + Sync,
{
    type Rejection = PortalError;

    async fn from_request(req: Request, state: &S) -> Result<Self, PortalError> {
        axum::extract::Multipart::from_request(req, state)
            .await
            .map(Multipart)
            .map_err(|_| {
                PortalError::BadRequest(
                    "The upload could not be read; choose the file again.".into(),
                )
            })
    }
}

fn has_nul(urlencoded: &[u8]) -> bool {
    form_urlencoded::parse(urlencoded).any(|(k, v)| k.contains('\0') || v.contains('\0'))
}

fn nul_refused() -> PortalError {
    PortalError::BadRequest("A field holds a NUL character, which no field accepts.".into())
}
