//! The event catalog: filter by time range, status and chain; search by event id or digest
//! (hex, base64 or base64url); keyset pagination newest first; CSV export of the filtered view,
//! streamed.

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use futures_util::StreamExt as _;
use serde::Deserialize;
use time::OffsetDateTime;

use super::extract::{Path, Query};
use super::fmt::{csv_field, digest, parse_digest, qs, seg, ts};
use super::{Chrome, Ctx, PortalError, PortalResult, Viewer};
use crate::db::{events, portal_pages as q};
use crate::http::AppState;
use crate::services::authorization::Action;
use crate::services::batch_metadata::{ContentsStates, contents_states};

/// Rows per page.
pub const PAGE: i64 = 50;

/// The query string of the catalog and its CSV export.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct CatalogQuery {
    /// Received at or after (`YYYY-MM-DD` or RFC 3339).
    #[serde(default)]
    pub from: String,
    /// Received before.
    #[serde(default)]
    pub to: String,
    /// `pending`, `batched`, `anchored`.
    #[serde(default)]
    pub status: String,
    /// Chain number.
    #[serde(default)]
    pub chain: String,
    /// Event id or digest.
    #[serde(default)]
    pub q: String,
    /// Keyset.
    #[serde(default)]
    pub before: String,
}

/// One row as shown.
#[derive(Clone, Debug)]
pub struct Row {
    /// Event id.
    pub id: String,
    /// Link to the event.
    pub href: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Received.
    pub received: String,
    /// Status.
    pub status: String,
    /// Chain.
    pub chain: String,
    /// Where its batch's contents are: `hot`, `archived`, `expired` or `destroyed`.
    pub contents: &'static str,
}

/// The catalog page.
#[derive(Template, WebTemplate)]
#[template(path = "portal/catalog.html")]
pub struct CatalogPage {
    /// Layout.
    pub chrome: Chrome,
    /// The filters as typed.
    pub f: CatalogQuery,
    /// Rows.
    pub rows: Vec<Row>,
    /// Link to the next page.
    pub next: Option<String>,
    /// Link to the CSV export of this view.
    pub csv: String,
    /// Link to the range report (JSON / PDF) of this time range.
    pub report_pdf: Option<String>,
    /// The same as JSON.
    pub report_json: Option<String>,
    /// Why a filter was ignored.
    pub notice: Option<String>,
    /// May download reports.
    pub can_report: bool,
}

/// Parses `YYYY-MM-DD` (midnight UTC) or RFC 3339.
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Some(t);
    }
    let d = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()?;
    Some(d.midnight().assume_utc())
}

fn filter(f: &CatalogQuery) -> Result<q::CatalogFilter, String> {
    let bad = |what: &str| format!("The {what} filter is not understood; it was ignored.");
    let from = parse_time(&f.from);
    let to = parse_time(&f.to);
    let status = match f.status.as_str() {
        "" => None,
        s @ ("pending" | "batched" | "anchored") => Some(s.to_owned()),
        _ => return Err(bad("status")),
    };
    let chain = match f.chain.trim() {
        "" => None,
        c => Some(c.parse::<i32>().map_err(|_| bad("chain"))?),
    };
    if (!f.from.trim().is_empty() && from.is_none()) || (!f.to.trim().is_empty() && to.is_none()) {
        return Err("Dates are YYYY-MM-DD or RFC 3339 (2026-01-31T12:00:00Z).".into());
    }
    Ok(q::CatalogFilter {
        from,
        to,
        status,
        chain,
        before: f.before.parse().ok(),
    })
}

fn row(ctx: &Ctx, states: &ContentsStates, r: q::CatalogRow) -> Row {
    Row {
        contents: states.of(r.batch_id).as_str(),
        href: format!("/t/{}/events/{}", ctx.tenant, seg(&r.id)),
        id: r.id,
        digest: digest(&r.digest_alg, &r.digest),
        received: ts(r.received_at),
        status: r.status,
        chain: r.chain.map(|c| c.to_string()).unwrap_or_else(|| "—".into()),
    }
}

/// The distinct batches of `rows`.
fn batches_of<T>(rows: &[T], batch: impl Fn(&T) -> Option<uuid::Uuid>) -> Vec<uuid::Uuid> {
    let mut ids: Vec<_> = rows.iter().filter_map(batch).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn links(f: &CatalogQuery) -> Vec<(&'static str, String)> {
    vec![
        ("from", f.from.clone()),
        ("to", f.to.clone()),
        ("status", f.status.clone()),
        ("chain", f.chain.clone()),
    ]
}

fn query_string(pairs: &[(&'static str, String)]) -> String {
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    qs(&refs)
}

/// GET /t/{tenant}/events.
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
    Query(f): Query<CatalogQuery>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::ReadCatalog, &tenant)?;
    let mut tx = state.db.tenant_tx(ctx.tenant).await?;
    let mut notice = None;
    let mut rows = Vec::new();
    let mut next = None;
    let search = f.q.trim();
    if !search.is_empty() {
        // An exact event id goes straight to its page; a digest lists its events.
        if let Some(e) = events::find_status(&mut tx, ctx.tenant, search).await? {
            return Ok(
                Redirect::to(&format!("/t/{}/events/{}", ctx.tenant, seg(&e.id))).into_response(),
            );
        }
        match parse_digest(search) {
            Some((alg, bytes)) => {
                let found = events::find_by_digest(&mut tx, ctx.tenant, &bytes, alg, PAGE).await?;
                let states = contents_states(&mut tx, ctx.tenant, &batches_of(&found, |e| e.batch_id)).await?;
                for e in found {
                    rows.push(Row {
                        contents: states.of(e.batch_id).as_str(),
                        href: format!("/t/{}/events/{}", ctx.tenant, seg(&e.id)),
                        digest: digest(&e.digest_alg, &e.digest),
                        received: ts(e.received_at),
                        status: e.status,
                        chain: "—".into(),
                        id: e.id,
                    });
                }
            }
            None => notice = Some("No event has that id, and it is not a digest (64 hex digits or 32 bytes in base64).".to_owned()),
        }
    } else {
        let filt = filter(&f).unwrap_or_else(|e| {
            notice = Some(e);
            q::CatalogFilter::default()
        });
        let found = q::catalog_page(&mut tx, ctx.tenant, &filt, PAGE + 1).await?;
        // The keyset of the next page: the last shown row's arrival number, when there is more.
        let more = found
            .get(PAGE as usize)
            .and(found.get(PAGE as usize - 1))
            .map(|r| r.seq);
        let shown = &found[..found.len().min(PAGE as usize)];
        let states =
            contents_states(&mut tx, ctx.tenant, &batches_of(shown, |r| r.batch_id)).await?;
        rows = found
            .into_iter()
            .take(PAGE as usize)
            .map(|r| row(&ctx, &states, r))
            .collect::<Vec<_>>();
        if let Some(seq) = more {
            let mut p = links(&f);
            p.push(("before", seq.to_string()));
            next = Some(format!("/t/{}/events?{}", ctx.tenant, query_string(&p)));
        }
    }
    tx.commit().await?;
    let range = match (parse_time(&f.from), parse_time(&f.to)) {
        (Some(_), Some(_)) => Some(query_string(&[
            ("from", f.from.clone()),
            ("to", f.to.clone()),
        ])),
        _ => None,
    };
    Ok(CatalogPage {
        chrome: viewer.chrome(
            &format!("Events · {}", ctx.tenant_name),
            Some(&ctx),
            "events",
        ),
        csv: format!("/t/{}/events.csv?{}", ctx.tenant, query_string(&links(&f))),
        report_pdf: range
            .as_ref()
            .map(|r| format!("/t/{}/reports/range?format=pdf&{r}", ctx.tenant)),
        report_json: range.map(|r| format!("/t/{}/reports/range?format=json&{r}", ctx.tenant)),
        can_report: ctx.can(Action::DownloadReport),
        f,
        rows,
        next,
        notice,
    }
    .into_response())
}

/// GET /t/{tenant}/events.csv: the filtered view, every page, streamed in chunks of rows.
pub async fn csv(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
    Query(f): Query<CatalogQuery>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::ReadCatalog, &tenant)?;
    let filt = filter(&f).map_err(PortalError::BadRequest)?;
    let db = state.db.clone();
    let tenant = ctx.tenant;
    // Pages of 1000 by keyset, each in its own short transaction: memory stays flat and no
    // transaction is held open while a slow client reads.
    let stream = futures_util::stream::unfold(Some((filt, true)), move |st| {
        let db = db.clone();
        async move {
            let (mut filt, first) = st?;
            let mut out = String::new();
            if first {
                out.push_str("event_id,digest,received_at,status,chain\r\n");
            }
            let rows = async {
                let mut tx = db.tenant_tx(tenant).await?;
                let rows = q::catalog_page(&mut tx, tenant, &filt, 1000).await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(rows)
            }
            .await;
            match rows {
                Err(e) => {
                    tracing::error!(error = %e, "csv export failed");
                    None
                }
                Ok(rows) => {
                    let done = rows.len() < 1000;
                    filt.before = rows.last().map(|r| r.seq);
                    for r in rows {
                        let line = [
                            csv_field(&r.id),
                            csv_field(&digest(&r.digest_alg, &r.digest)),
                            csv_field(&ts(r.received_at)),
                            csv_field(&r.status),
                            r.chain.map(|c| c.to_string()).unwrap_or_default(),
                        ]
                        .join(",");
                        out.push_str(&line);
                        out.push_str("\r\n");
                    }
                    let next = if done { None } else { Some((filt, false)) };
                    if out.is_empty() && next.is_none() {
                        return None;
                    }
                    Some((Ok::<_, std::io::Error>(out), next))
                }
            }
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"events-{}.csv\"", ctx.tenant),
            ),
        ],
        Body::from_stream(stream.boxed()),
    )
        .into_response())
}
