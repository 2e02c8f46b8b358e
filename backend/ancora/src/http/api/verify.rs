//! `POST /v1/proof/verify` `{"bundle": {...}}`: the proof core's verification report for a
//! bundle, checked against this server's own transparency-log key and nothing else. The
//! report is the one `ancora verify --json` prints, with its keys in camelCase like every
//! `/v1` body (`reportVersion`, `trustPoints`, `leafHash`, …); the bundle sent in is not
//! changed.
//!
//! The server fetches no Chainweb header, so a bundle anchored on Chainweb reports its
//! "trusted block header" step as failed here; the answer's `trust` says exactly what was
//! trusted, so nobody mistakes the server's verdict for an independent one. Independent
//! verification is `ancora verify` (or the web verifier) with keys and headers of one's own.

use ancora_proof::bundle::{Bundle, verify_bundle};
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::auth::{Action, Auth, authorize};
use crate::http::casing::camel_case_keys;
use crate::http::extract::ApiJson;
use crate::http::{ApiError, ApiResult, AppState};

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new().route("/proof/verify", post(verify))
}

/// The body of `POST /v1/proof/verify`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    /// A proof bundle (format version 1 or 2).
    #[schema(value_type = Object)]
    bundle: serde_json::Value,
}

/// The verifier's report and what it trusted.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct VerifyResponse {
    /// The proof core's report ([`ancora_proof::bundle::Report`]) with camelCase keys, like every `/v1` body.
    #[schema(value_type = Object)]
    report: serde_json::Value,
    trust: TrustUsed,
}

/// What the server trusted.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct TrustUsed {
    /// Verifier keys (`<origin>+<hash>+<key>`) of the logs trusted: this server's own only.
    log_keys: Vec<String>,
    /// Chainweb block headers trusted: none.
    chainweb_headers: Vec<String>,
    /// The same, in a sentence.
    note: &'static str,
}

/// Verify a proof bundle with this server's own trust.
#[utoipa::path(
    post,
    path = "/v1/proof/verify",
    tag = "proofs",
    request_body = VerifyBody,
    responses((status = 200, description = "The report (its `verdict` says whether the bundle verified)", body = VerifyResponse)),
    security(("bearer" = []))
)]
async fn verify(
    State(state): State<AppState>,
    auth: Auth,
    body: Result<ApiJson<VerifyBody>, axum::response::Response>,
) -> ApiResult<Json<VerifyResponse>> {
    authorize(&auth, Action::VerifyProof)?;
    let ApiJson(body) = body.map_err(|r| ApiError::Rejected(Box::new(r)))?;
    let bytes = serde_json::to_vec(&body.bundle)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("re-encoding a parsed bundle: {e}")))?;
    let bundle =
        Bundle::from_json(&bytes).map_err(|e| ApiError::Unprocessable(format!("bundle: {e}")))?;
    let used = crate::services::proofs::server_trust(&state, Some(&bundle))
        .await
        .map_err(ApiError::Internal)?;
    let report = verify_bundle(&bundle, &used.trust);
    Ok(Json(VerifyResponse {
        report: camel_case_keys(serde_json::to_value(&report).map_err(anyhow::Error::from)?),
        trust: TrustUsed {
            log_keys: used
                .trust
                .log_keys
                .iter()
                .map(|k| k.to_key_text())
                .collect(),
            chainweb_headers: used.header_notes,
            note: "verified with this server's own transparency-log key and the Chainweb block \
                   headers this server verified its anchors' SPV proofs against, nothing else; \
                   verify independently with `ancora verify --log-key KEY --chainweb-node URL` \
                   and a node you choose",
        },
    }))
}
