//! The tenant dashboard: events per day (an SVG bar chart drawn here, no JavaScript),
//! pending and anchored counts, the last anchor, time-to-proof p95, anchor backend and chain.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::extract::Path;
use super::fmt::ts_opt;
use super::{Chrome, PortalResult, Viewer};
use crate::db::portal_pages as q;
use crate::http::AppState;
use crate::services::authorization::Action;

/// One bar of the chart, in SVG user units.
#[derive(Clone, Debug)]
pub struct Bar {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Height.
    pub h: u32,
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Events that day.
    pub count: i64,
    /// `MM-DD` under the bar.
    pub label: String,
}

/// The dashboard.
#[derive(Template, WebTemplate)]
#[template(path = "portal/dashboard.html")]
pub struct DashboardPage {
    /// Layout.
    pub chrome: Chrome,
    /// Pending events.
    pub pending: i64,
    /// Anchored events.
    pub anchored: i64,
    /// Last anchor time.
    pub last_anchor: String,
    /// p95 time to proof.
    pub p95: String,
    /// `tlog` or `chainweb`, or a dash.
    pub backend: String,
    /// Chain, or a dash.
    pub chain: String,
    /// The chart.
    pub bars: Vec<Bar>,
    /// The largest daily count (the chart's scale).
    pub max: i64,
    /// Events in the window.
    pub total: i64,
}

const DAYS: i32 = 14;
const CHART_H: u32 = 120;

/// GET /t/{tenant}.
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::ViewDashboard, &tenant)?;
    let mut tx = state.db.tenant_tx(ctx.tenant).await?;
    let d = q::dashboard(&mut tx, ctx.tenant).await?;
    let days = q::events_per_day(&mut tx, ctx.tenant, DAYS).await?;
    let target = q::last_anchor_target(&mut tx, ctx.tenant).await?;
    tx.commit().await?;
    let max = days.iter().map(|(_, n)| *n).max().unwrap_or(0);
    let bars = days
        .iter()
        .enumerate()
        .map(|(i, (day, n))| {
            let h = if max == 0 {
                0
            } else {
                ((*n as f64 / max as f64) * f64::from(CHART_H)).round() as u32
            };
            let day = day.to_string();
            Bar {
                x: i as u32 * 40 + 4,
                y: CHART_H - h,
                h,
                label: day.get(5..).unwrap_or(&day).to_owned(),
                day,
                count: *n,
            }
        })
        .collect();
    Ok(DashboardPage {
        chrome: viewer.chrome(
            &format!("Dashboard · {}", ctx.tenant_name),
            Some(&ctx),
            "dashboard",
        ),
        pending: d.pending,
        anchored: d.anchored,
        last_anchor: ts_opt(d.last_anchor),
        p95: d
            .p95_seconds
            .map(|s| format!("{s:.1} s"))
            .unwrap_or_else(|| "—".into()),
        backend: target
            .as_ref()
            .map(|t| t.0.clone())
            .unwrap_or_else(|| "—".into()),
        chain: target
            .map(|t| t.1.to_string())
            .unwrap_or_else(|| "—".into()),
        total: days.iter().map(|(_, n)| n).sum(),
        bars,
        max,
    }
    .into_response())
}
