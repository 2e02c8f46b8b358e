//! `/v1/retention`: the tenant's retention policy (owner and admin keys only).
//!
//! * `GET /v1/retention` → `{"hot": "30d", "keep": "10y", "legalHold": false, "hotSeconds",
//!   "keepSeconds"}`.
//! * `PUT /v1/retention` `{"hot"?, "keep"?, "legalHold"?}` (durations like `0s`, `12h`, `30d`,
//!   `10y`; what is left out stays) → the new policy. Refused with 422 when a duration is
//!   negative, absurd (over 100 years) or keep is shorter than hot, and with 409 when it would
//!   shorten the keep period under legal hold. Written to the audit log.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::http::auth::{Action, Auth, authorize};
use crate::http::extract::ApiJson;
use crate::http::{ApiError, ApiResult, AppState};
use crate::services::archive::retention::{self, Change, Policy, format_duration, parse_duration};

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new().route("/retention", get(show).put(update))
}

/// The policy as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PolicyView {
    hot: String,
    keep: String,
    legal_hold: bool,
    hot_seconds: i64,
    keep_seconds: i64,
}

impl From<Policy> for PolicyView {
    fn from(p: Policy) -> Self {
        PolicyView {
            hot: format_duration(p.hot_secs),
            keep: format_duration(p.keep_secs),
            legal_hold: p.legal_hold,
            hot_seconds: p.hot_secs,
            keep_seconds: p.keep_secs,
        }
    }
}

/// The tenant's retention policy.
#[utoipa::path(
    get,
    path = "/v1/retention",
    tag = "retention",
    responses((status = 200, description = "The policy (defaults when none was set)", body = PolicyView)),
    security(("bearer" = []))
)]
pub(crate) async fn show(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<PolicyView>> {
    authorize(&auth, Action::ManageRetention)?;
    Ok(Json(retention::get(&state.db, auth.tenant).await?.into()))
}

/// The body of `PUT /v1/retention`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct UpdateBody {
    hot: Option<String>,
    keep: Option<String>,
    legal_hold: Option<bool>,
}

/// Changes the tenant's retention policy (what is left out stays).
#[utoipa::path(
    put,
    path = "/v1/retention",
    tag = "retention",
    request_body = UpdateBody,
    responses(
        (status = 200, description = "The policy now", body = PolicyView),
        (status = 409, description = "Would shorten the keep period under legal hold", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    auth: Auth,
    body: Result<ApiJson<UpdateBody>, axum::response::Response>,
) -> ApiResult<Json<PolicyView>> {
    authorize(&auth, Action::ManageRetention)?;
    let ApiJson(body) = body.map_err(|r| ApiError::Rejected(Box::new(r)))?;
    let parse = |field: &str, v: Option<String>| -> ApiResult<Option<i64>> {
        v.map(|t| parse_duration(&t).map_err(|e| ApiError::Unprocessable(format!("{field}: {e}"))))
            .transpose()
    };
    let change = Change {
        hot_secs: parse("hot", body.hot)?,
        keep_secs: parse("keep", body.keep)?,
        legal_hold: body.legal_hold,
    };
    let p = retention::set(&state.db, auth.tenant, change, &auth.actor()).await?;
    Ok(Json(p.into()))
}
