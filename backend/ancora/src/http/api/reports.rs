//! Verification reports by API key (roles owner, admin and auditor): the documents the portal
//! serves, made by [`crate::services::reports`].
//!
//! * `GET /v1/events/{id}/report.pdf`, `GET /v1/events/{id}/report.json` — one event's report
//!   (404 while the event is unknown, another tenant's, or not proved yet);
//! * `GET /v1/batches/{batchId}/report.pdf`, `…/report.json` — every event of one batch,
//!   streamed;
//! * `GET /v1/reports/range?from=&to=&format=pdf|json` — every event received in `[from, to)`
//!   (RFC 3339 or `YYYY-MM-DD`), streamed; `format` defaults to `json`.
//!
//! Each download is metered as one report and written to the tenant's audit log.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt as _;
use serde::Deserialize;

use super::batches::parse_batch_id;
use crate::http::auth::{Action, Auth, authorize};
use crate::http::error::Problem;
use crate::http::{ApiResult, AppState};
use crate::services::reports::{self, Document, Format, Requester, StreamedDocument};

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/events/{id}/report.pdf", get(event_pdf))
        .route("/events/{id}/report.json", get(event_json))
        .route("/batches/{batchId}/report.pdf", get(batch_pdf))
        .route("/batches/{batchId}/report.json", get(batch_json))
        .route("/reports/range", get(range))
}

fn requester(auth: &Auth) -> Requester {
    Requester {
        tenant: auth.tenant,
        actor: auth.actor(),
    }
}

/// `Content-Disposition: attachment`, the file name reduced to `[A-Za-z0-9-_.]`.
fn attachment(content_type: &str, filename: &str, body: Body) -> Response {
    let safe: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{safe}\""),
            ),
        ],
        body,
    )
        .into_response()
}

fn whole(doc: Document) -> Response {
    attachment(
        doc.format.content_type(),
        &doc.filename,
        Body::from(doc.body),
    )
}

fn streamed(doc: StreamedDocument) -> Response {
    let body = Body::from_stream(
        futures_util::stream::unfold(doc.chunks, |mut rx| async move {
            rx.recv().await.map(|c| (c.map(Bytes::from), rx))
        })
        .boxed(),
    );
    attachment(doc.format.content_type(), &doc.filename, body)
}

async fn event_report(
    state: &AppState,
    auth: &Auth,
    id: &str,
    format: Format,
) -> ApiResult<Response> {
    authorize(auth, Action::DownloadReport)?;
    let doc = reports::event_report(state, &requester(auth), id, format).await?;
    Ok(whole(doc))
}

/// One event's verification report, PDF.
#[utoipa::path(
    get,
    path = "/v1/events/{id}/report.pdf",
    tag = "reports",
    params(("id" = String, Path, description = "The event id (percent-encoded)")),
    responses(
        (status = 200, description = "The report (PDF)", content_type = "application/pdf"),
        (status = 402, description = "The month's report quota is used up", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such (proved) subject in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn event_pdf(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    event_report(&state, &auth, &id, Format::Pdf).await
}

/// One event's verification report, JSON (the report format of its own, `report_version`).
#[utoipa::path(
    get,
    path = "/v1/events/{id}/report.json",
    tag = "reports",
    params(("id" = String, Path, description = "The event id (percent-encoded)")),
    responses(
        (status = 200, description = "The report (its own versioned JSON format)", content_type = "application/json"),
        (status = 402, description = "The month's report quota is used up", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such (proved) subject in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn event_json(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    event_report(&state, &auth, &id, Format::Json).await
}

async fn batch_report(
    state: &AppState,
    auth: &Auth,
    raw: &str,
    format: Format,
) -> ApiResult<Response> {
    authorize(auth, Action::DownloadReport)?;
    let batch = parse_batch_id(raw)?;
    let doc = reports::batch_report(state, &requester(auth), batch, format).await?;
    Ok(streamed(doc))
}

/// Every event of a batch, one PDF report, streamed.
#[utoipa::path(
    get,
    path = "/v1/batches/{batchId}/report.pdf",
    tag = "reports",
    params(("batchId" = String, Path, description = "The batch id (a UUID)")),
    responses(
        (status = 200, description = "The report (PDF)", content_type = "application/pdf"),
        (status = 402, description = "The month's report quota is used up", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such (proved) subject in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn batch_pdf(
    State(state): State<AppState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    batch_report(&state, &auth, &raw, Format::Pdf).await
}

/// Every event of a batch, one JSON report (its own format), streamed.
#[utoipa::path(
    get,
    path = "/v1/batches/{batchId}/report.json",
    tag = "reports",
    params(("batchId" = String, Path, description = "The batch id (a UUID)")),
    responses(
        (status = 200, description = "The report (its own versioned JSON format)", content_type = "application/json"),
        (status = 402, description = "The month's report quota is used up", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such (proved) subject in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn batch_json(
    State(state): State<AppState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    batch_report(&state, &auth, &raw, Format::Json).await
}

/// `?from=&to=&format=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RangeQuery {
    /// Events received at or after this time (RFC 3339 or `YYYY-MM-DD`).
    from: Option<String>,
    /// Events received before this time (RFC 3339 or `YYYY-MM-DD`).
    to: Option<String>,
    /// `json` (the default) or `pdf`.
    format: Option<String>,
}

/// Every event received in a time range, one report, streamed.
#[utoipa::path(
    get,
    path = "/v1/reports/range",
    tag = "reports",
    params(RangeQuery),
    responses(
        (status = 200, description = "The report: JSON (its own versioned format) or PDF", content((Object = "application/json"), (String = "application/pdf"))),
        (status = 402, description = "The month's report quota is used up", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn range(
    State(state): State<AppState>,
    auth: Auth,
    query: Result<Query<RangeQuery>, QueryRejection>,
) -> ApiResult<Response> {
    authorize(&auth, Action::DownloadReport)?;
    let Query(q) = query.map_err(|e| crate::http::ApiError::BadRequest(e.body_text()))?;
    let format = match q.format.as_deref() {
        None => Format::Json,
        Some(f) => Format::parse(f)?,
    };
    let doc = reports::range_report(
        &state,
        &requester(&auth),
        q.from.as_deref().unwrap_or(""),
        q.to.as_deref().unwrap_or(""),
        format,
    )
    .await?;
    Ok(streamed(doc))
}
