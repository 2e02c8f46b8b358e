//! Downloads: an event's bundle, its verification report (PDF, JSON), a batch's and a time
//! range's reports (streamed). Every report download is written to the audit log. Reports
//! are verified here with the server's own trust (the log's key), by `ancora_proof`.

use std::io::Write as _;

use ancora_proof::bundle::{Bundle, Report, Trust, verify_bundle};
use ancora_reports::{RangeEntry, RangeFormat, RangeHeader, RangeReportWriter};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::catalog::parse_time;
use super::extract::{Path, Query};
use super::{Ctx, PortalError, PortalResult, Viewer};
use crate::db::{audit, batches, portal_pages as q};
use crate::domain::TenantId;
use crate::http::AppState;
use crate::services::authorization::Action;
use crate::services::billing::{BillingError, Metric};

/// The largest range one report covers (events are streamed; this bounds the work).
pub const MAX_RANGE_EVENTS: usize = 100_000;

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
    let value = crate::services::proofs::read_bundle(state, ctx.tenant, event)
        .await
        .map_err(PortalError::from)?
        .ok_or(PortalError::NotFound)?;
    let bundle = Bundle::deserialize(&*value).map_err(|e| PortalError::Internal(e.into()))?;
    let trust = server_trust(state, Some(&bundle)).await?;
    let report = verify_bundle(&bundle, &trust);
    Ok((bundle, report))
}

async fn record_download(
    state: &AppState,
    ctx: &Ctx,
    what: &str,
    subject: &str,
) -> PortalResult<()> {
    let mut tx = state.db.tenant_tx(ctx.tenant).await?;
    audit::record(
        &mut tx,
        audit::AuditEntry {
            tenant: Some(ctx.tenant),
            actor: &ctx.actor.audit_name(),
            action: "report.downloaded",
            subject: Some(subject),
            details: serde_json::json!({ "format": what }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn attachment(content_type: &str, filename: &str, body: impl Into<Body>) -> Response {
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

/// One report, metered: refused (402 page) when it would cross the month's quota of reports,
/// else counted.
async fn meter_report(state: &AppState, ctx: &Ctx) -> PortalResult<()> {
    match state.billing.check(ctx.tenant, Metric::Reports, 1).await {
        Ok(()) => {
            state.billing.count(ctx.tenant, Metric::Reports);
            Ok(())
        }
        Err(BillingError::Quota(q)) => Err(PortalError::Quota(q.to_string())),
        Err(e) => Err(PortalError::Internal(e.into())),
    }
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

/// GET …/events/{event}/report.pdf.
pub async fn event_pdf(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((tenant, event)): Path<(String, String)>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::DownloadReport, &tenant)?;
    let (bundle, report) = bundle_and_report(&state, &ctx, &event).await?;
    meter_report(&state, &ctx).await?;
    let pdf = ancora_reports::pdf_report(&bundle, &report, OffsetDateTime::now_utc());
    record_download(&state, &ctx, "pdf", &event).await?;
    Ok(attachment(
        "application/pdf",
        &format!("{event}.report.pdf"),
        pdf,
    ))
}

/// GET …/events/{event}/report.json.
pub async fn event_json(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((tenant, event)): Path<(String, String)>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::DownloadReport, &tenant)?;
    let (bundle, report) = bundle_and_report(&state, &ctx, &event).await?;
    meter_report(&state, &ctx).await?;
    let v = ancora_reports::json_report(&bundle, &report, OffsetDateTime::now_utc());
    record_download(&state, &ctx, "json", &event).await?;
    let text = serde_json::to_string_pretty(&v).map_err(|e| PortalError::Internal(e.into()))?;
    Ok(attachment(
        "application/json",
        &format!("{event}.report.json"),
        text,
    ))
}

/// GET …/batches/{batch}/report.{pdf|json}.
pub async fn batch(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((tenant, batch, format)): Path<(String, String, String)>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::DownloadReport, &tenant)?;
    let id: Uuid = batch.parse().map_err(|_| PortalError::NotFound)?;
    let mut tx = state.db.tenant_tx(ctx.tenant).await?;
    let found = batches::get(&mut tx, ctx.tenant, id).await?;
    tx.commit().await?;
    found.ok_or(PortalError::NotFound)?;
    meter_report(&state, &ctx).await?;
    let header = RangeHeader {
        tenant_id: ctx.tenant.to_string(),
        scope: format!("batch {id}"),
        scope_json: serde_json::json!({ "kind": "batch", "batch_id": id }),
        generated_at: OffsetDateTime::now_utc(),
    };
    stream_report(
        state,
        ctx,
        &format,
        header,
        None,
        None,
        Some(id),
        &format!("batch-{id}"),
    )
    .await
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

/// GET …/reports/range?from=&to=&format=pdf|json.
pub async fn range(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
    Query(r): Query<RangeQuery>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::DownloadReport, &tenant)?;
    let (Some(from), Some(to)) = (parse_time(&r.from), parse_time(&r.to)) else {
        return Err(PortalError::BadRequest(
            "A range report needs a start and an end (YYYY-MM-DD or RFC 3339).".into(),
        ));
    };
    if to <= from {
        return Err(PortalError::BadRequest(
            "The end of the range must be after its start.".into(),
        ));
    }
    meter_report(&state, &ctx).await?;
    let header = RangeHeader {
        tenant_id: ctx.tenant.to_string(),
        scope: format!(
            "events received from {} to {}",
            super::fmt::ts(from),
            super::fmt::ts(to)
        ),
        scope_json: serde_json::json!({ "kind": "range", "from": r.from, "to": r.to }),
        generated_at: OffsetDateTime::now_utc(),
    };
    stream_report(
        state,
        ctx,
        &r.format,
        header,
        Some(from),
        Some(to),
        None,
        "range",
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn stream_report(
    state: AppState,
    ctx: Ctx,
    format: &str,
    header: RangeHeader,
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
    batch: Option<Uuid>,
    name: &str,
) -> PortalResult<Response> {
    let (fmt, ctype, ext) = match format {
        "pdf" => (RangeFormat::Pdf, "application/pdf", "pdf"),
        "json" | "" => (RangeFormat::Json, "application/json", "json"),
        _ => {
            return Err(PortalError::BadRequest(
                "Reports come as pdf or json.".into(),
            ));
        }
    };
    record_download(&state, &ctx, ext, &header.scope).await?;
    // The log key for the whole range (every bundle since the fast path has a log trust point);
    // a Chainweb trust point is checked against the header the service verified its SPV proof
    // against, looked up once per block (`write_range`).
    let trust = server_trust(&state, None).await?;
    let (tx_chunks, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let tenant = ctx.tenant;
    tokio::spawn(async move {
        if let Err(e) = write_range(
            &state, tenant, fmt, header, from, to, batch, &trust, &tx_chunks,
        )
        .await
        {
            tracing::error!(error = %e, %tenant, "range report failed");
            let _ = tx_chunks
                .send(Err(std::io::Error::other("report failed")))
                .await;
        }
    });
    let body = Body::from_stream(
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) })
            .boxed(),
    );
    Ok(attachment(ctype, &format!("{name}.report.{ext}"), body))
}

/// Reads the range row by row from one transaction and writes the report in chunks; the
/// channel's bound applies back-pressure, so a slow client never makes the server buffer.
#[allow(clippy::too_many_arguments)]
async fn write_range(
    state: &AppState,
    tenant: TenantId,
    fmt: RangeFormat,
    header: RangeHeader,
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
    batch: Option<Uuid>,
    trust: &Trust,
    out: &tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> anyhow::Result<()> {
    let mut w = RangeReportWriter::new(Vec::with_capacity(64 * 1024), fmt, header)?;
    // Trust per Chainweb block (log key + that block's stored header), built on first use.
    let mut by_block: std::collections::HashMap<String, Trust> = std::collections::HashMap::new();
    let mut tx = state.db.tenant_tx(tenant).await?;
    {
        let mut rows = q::range_rows(&mut tx, tenant, from, to, batch);
        let mut n = 0usize;
        while let Some(row) = rows.next().await {
            let row = row?;
            n += 1;
            if n > MAX_RANGE_EVENTS {
                break;
            }
            let (id, digest_alg, digest, received_at_micros) = (
                row.id.clone(),
                row.digest_alg.clone(),
                row.digest.clone(),
                row.received_at_micros,
            );
            let parsed = row
                .proof_parts()
                .map(|p| crate::services::proofs::assemble_bundle(tenant, p))
                .transpose()?;
            match parsed {
                Some(b) => {
                    let trust = match b.chainweb() {
                        None => trust,
                        Some(cw) => {
                            let block = cw.block_hash.to_b64url();
                            if !by_block.contains_key(&block) {
                                let t = crate::services::proofs::server_trust(state, Some(&b))
                                    .await?
                                    .trust;
                                by_block.insert(block.clone(), t);
                            }
                            by_block.get(&block).unwrap_or(trust)
                        }
                    };
                    let r = verify_bundle(&b, trust);
                    w.push(RangeEntry::Proved {
                        bundle: &b,
                        report: &r,
                    })?;
                }
                None => {
                    let digest = super::fmt::digest(&digest_alg, &digest);
                    w.push(RangeEntry::Unproved {
                        event_id: &id,
                        digest: &digest,
                        received_at_micros,
                        status: "not proved yet",
                    })?;
                }
            }
            if w.get_mut().len() >= 32 * 1024 {
                let chunk = std::mem::take(w.get_mut());
                out.send(Ok(Bytes::from(chunk))).await?;
            }
        }
    }
    tx.commit().await?;
    let mut rest = w.finish()?;
    rest.flush()?;
    out.send(Ok(Bytes::from(rest))).await?;
    Ok(())
}
