//! Downloads: an event's bundle, its verification report (PDF, JSON), a batch's and a time
//! range's reports (streamed). The documents are made by [`crate::services::reports`] (the
//! same ones the API serves by key); this file checks the person's role and answers them as
//! attachments.

use ancora_proof::bundle::{Bundle, Report, Trust};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{Path, Query};
use super::{Ctx, PortalError, PortalResult, Viewer};
use crate::http::AppState;
use crate::services::authorization::Action;
use crate::services::reports::{self, Format, ReportError, Requester, StreamedDocument};

impl From<ReportError> for PortalError {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::NotFound(_) => PortalError::NotFound,
            ReportError::BadRequest(m) => PortalError::BadRequest(format!("{}.", capitalise(&m))),
            ReportError::Quota(q) => PortalError::Quota(q.to_string()),
            ReportError::Internal(e) => PortalError::Internal(e),
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// What this server trusts when it verifies `bundle`: the transparency log's key (configured
/// or embedded) and, for a Chainweb-anchored bundle, the block header it verified that
/// anchor's SPV proof against ([`crate::services::proofs::server_trust`]).
pub async fn server_trust(state: &AppState, bundle: Option<&Bundle>) -> PortalResult<Trust> {
    Ok(crate::services::proofs::server_trust(state, bundle)
        .await
        .map_err(PortalError::from)?
        .trust)
}

/// The event's bundle and this server's report on it; `NotFound` when the event is not in
/// the tenant or not proved yet.
pub async fn bundle_and_report(
    state: &AppState,
    ctx: &Ctx,
    event: &str,
) -> PortalResult<(Bundle, Report)> {
    Ok(reports::bundle_and_report(state, ctx.tenant, event).await?)
}

fn requester(ctx: &Ctx) -> Requester {
    Requester {
        tenant: ctx.tenant,
        actor: ctx.actor.audit_name(),
    }
}

/// An attachment answer: `filename` is reduced to `[A-Za-z0-9-_.]` for the header.
pub fn attachment(content_type: &str, filename: &str, body: impl Into<Body>) -> Response {
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
        body.into(),
    )
        .into_response()
}

/// A streamed report as an attachment whose body is written while it is sent.
pub fn streamed(doc: StreamedDocument) -> Response {
    let body = Body::from_stream(
        futures_util::stream::unfold(doc.chunks, |mut rx| async move {
            rx.recv().await.map(|c| (c.map(Bytes::from), rx))
        })
        .boxed(),
    );
    attachment(doc.format.content_type(), &doc.filename, body)
}

/// GET …/events/{event}/bundle.json.
pub async fn bundle(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((tenant, event)): Path<(String, String)>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::ReadCatalog, &tenant)?;
    let (bundle, _) = bundle_and_report(&state, &ctx, &event).await?;
    Ok(attachment(
        "application/json",
        &format!("{event}.bundle.json"),
        bundle.to_json_pretty(),
    ))
}

async fn event_report(
    state: &AppState,
    viewer: Viewer,
    tenant: &str,
    event: &str,
    format: Format,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::DownloadReport, tenant)?;
    let doc = reports::event_report(state, &requester(&ctx), event, format).await?;
    Ok(attachment(
        doc.format.content_type(),
        &doc.filename,
        doc.body,
    ))
}

/// GET …/events/{event}/report.pdf.
pub async fn event_pdf(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((tenant, event)): Path<(String, String)>,
) -> PortalResult<Response> {
    event_report(&state, viewer, &tenant, &event, Format::Pdf).await
}

/// GET …/events/{event}/report.json.
pub async fn event_json(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((tenant, event)): Path<(String, String)>,
) -> PortalResult<Response> {
    event_report(&state, viewer, &tenant, &event, Format::Json).await
}

/// GET …/batches/{batch}/report.{pdf|json}.
pub async fn batch(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((tenant, batch, format)): Path<(String, String, String)>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::DownloadReport, &tenant)?;
    let id: Uuid = batch.parse().map_err(|_| PortalError::NotFound)?;
    let format = Format::parse(&format)?;
    let doc = reports::batch_report(&state, &requester(&ctx), id, format).await?;
    Ok(streamed(doc))
}

/// `?from=&to=&format=`.
#[derive(Deserialize)]
pub struct RangeQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    format: String,
}

/// GET …/reports/range?from=&to=&format=pdf|json (json when not given).
pub async fn range(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
    Query(r): Query<RangeQuery>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::DownloadReport, &tenant)?;
    let format = match r.format.as_str() {
        "" => Format::Json,
        f => Format::parse(f)?,
    };
    let doc = reports::range_report(&state, &requester(&ctx), &r.from, &r.to, format).await?;
    Ok(streamed(doc))
}
