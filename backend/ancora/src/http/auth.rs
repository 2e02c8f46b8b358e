//! API-key authentication: [`Auth`] is an extractor: it reads `Authorization: Bearer ak_…`,
//! refuses what does not have a key's shape before any other work, authenticates the key
//! through the authentication service (its cache, else the SECURITY DEFINER function
//! `ancora_authenticate_api_key`: the tenant is not known yet, so row-level security cannot
//! apply), then takes a token from the key's rate-limit bucket (billing: 429 with
//! `Retry-After` when empty). [`authorize`] then asks the authorization service's one table; every handler calls
//! it.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::{ApiError, AppState};
use crate::db::api_keys;
use crate::services::authentication;
use crate::services::authorization::authorize_key;
pub use crate::services::authorization::{Action, Auth};

/// Decides whether `auth`'s role may take `action` (the one table is the authorization
/// service's): `Ok(())`, or 403 naming the roles that may.
pub fn authorize(auth: &Auth, action: Action) -> Result<(), ApiError> {
    authorize_key(auth, action).map_err(ApiError::from)
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = bearer_key(parts)?;
        let auth = authentication::authenticate(state, key).await?;
        // The key's plan rate: 429 with Retry-After when its bucket is empty.
        state.billing.rate_limit(auth.tenant, auth.key_id).await?;
        Ok(auth)
    }
}

fn bearer_key(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
        ApiError::Unauthorized("missing API key: send `Authorization: Bearer ak_…`".into())
    })?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the Authorization header is not ASCII".into()))?;
    let (scheme, key) = value.split_once(' ').ok_or_else(|| {
        ApiError::Unauthorized("the Authorization header must be `Bearer <API key>`".into())
    })?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::Unauthorized(
            "the Authorization scheme must be Bearer".into(),
        ));
    }
    let key = key.trim();
    if !api_keys::has_key_shape(key) {
        return Err(ApiError::Unauthorized(
            "malformed API key: expected ak_<8 characters>_<43 characters>".into(),
        ));
    }
    Ok(key)
}
