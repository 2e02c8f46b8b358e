//! API-key authentication: [`Auth`] is an extractor: it reads `Authorization: Bearer ak_…`,
//! hashes the key and looks the hash up through the SECURITY DEFINER function
//! `ancora_authenticate_api_key` (the tenant is not known yet, so row-level security cannot
//! apply), then takes a token from the key's rate-limit bucket (billing: 429 with
//! `Retry-After` when empty). [`authorize`] then asks the authorization service's one table; every handler calls
//! it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use uuid::Uuid;

use super::{ApiError, AppState};
use crate::db::api_keys::{self, KeyLookup};
use crate::domain::{Role, TenantId};
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
        let hash = api_keys::hash_key(key);
        let mut tx = state.db.system_tx().await?;
        let found = api_keys::authenticate(&mut tx, &hash).await?;
        drop(tx);
        let auth = check_lookup(found)?;
        // The key's plan rate: 429 with Retry-After when its bucket is empty.
        state.billing.rate_limit(auth.tenant, auth.key_id).await?;
        touch_throttled(state, &auth).await;
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

fn check_lookup(found: Option<KeyLookup>) -> Result<Auth, ApiError> {
    let k = found.ok_or_else(|| ApiError::Unauthorized("unknown API key".into()))?;
    if k.revoked {
        return Err(ApiError::Unauthorized(
            "this API key has been revoked".into(),
        ));
    }
    if !k.tenant_active {
        return Err(ApiError::Forbidden("this tenant is suspended".into()));
    }
    let role = k.role.parse::<Role>().map_err(|e| {
        ApiError::Internal(anyhow::anyhow!("api key {} has a bad role: {e}", k.prefix))
    })?;
    Ok(Auth {
        tenant: TenantId(k.tenant_id),
        key_id: k.id,
        role,
        prefix: k.prefix,
    })
}

/// How often `last_used_at` is written per key (the database also refuses to move it sooner).
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// Keys touched recently by this process, so most requests skip the write entirely.
static TOUCHED: Mutex<Option<HashMap<Uuid, Instant>>> = Mutex::new(None);

/// Updates `last_used_at` at most once a minute per key. A failure is logged, never answered:
/// the bookkeeping must not fail a request.
async fn touch_throttled(state: &AppState, auth: &Auth) {
    let now = Instant::now();
    {
        let mut guard = TOUCHED.lock().unwrap_or_else(|p| p.into_inner());
        let map = guard.get_or_insert_with(HashMap::new);
        if map
            .get(&auth.key_id)
            .is_some_and(|t| now.duration_since(*t) < TOUCH_EVERY)
        {
            return;
        }
        if map.len() > 100_000 {
            map.retain(|_, t| now.duration_since(*t) < TOUCH_EVERY);
        }
        map.insert(auth.key_id, now);
    }
    let result = async {
        let mut tx = state.db.tenant_tx(auth.tenant).await?;
        api_keys::touch(&mut tx, auth.tenant, auth.key_id).await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, key_prefix = %auth.prefix, "cannot update last_used_at");
    }
}
