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
use crate::http::{ApiResult, AppState};
use crate::services::reports::{self, Document, Format, Requester, StreamedDocument};

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/events/{id}/report.pdf", get(event_pdf))
        .route("/events/{id}/report.json", get(event_json))
        .route("/batches/{batch_id}/report.pdf", get(batch_pdf))
        .route("/batches/{batch_id}/report.json", get(batch_json))
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

async fn event_pdf(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    event_report(&state, &auth, &id, Format::Pdf).await
}

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

async fn batch_pdf(
    State(state): State<AppState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    batch_report(&state, &auth, &raw, Format::Pdf).await
}

async fn batch_json(
    State(state): State<AppState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    batch_report(&state, &auth, &raw, Format::Json).await
}

/// `?from=&to=&format=`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
}

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
