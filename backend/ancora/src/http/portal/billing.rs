//! The billing page: the plan, the month's usage against each quota as a bar chart (inline
//! SVG sized by attributes, styled by classes: no script, no inline style), a banner when a
//! quota nears (80 %) or bites, the next invoice's estimate at list prices, and Stripe
//! Checkout to subscribe or change plan (owner, admin, billing).

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Chrome, Ctx, PortalError, PortalResult, Viewer};
use crate::http::AppState;
use crate::services::authorization::Action;
use crate::services::billing::provider::ProviderError;
use crate::services::billing::{BillingError, Metric, UsageSummary};

/// One quota's row.
#[derive(Clone, Debug)]
pub struct Row {
    /// What is counted.
    pub label: &'static str,
    /// Used this month.
    pub used: u64,
    /// The quota, or "unlimited".
    pub quota: String,
    /// Bar length, 0 to 100 (of the quota; unlimited: 0).
    pub pct: u64,
    /// `ok`, `near` (≥ 80 %) or `over` (the quota bites).
    pub level: &'static str,
    /// The bar's top edge in the chart.
    pub y: u32,
}

/// The page.
#[derive(Template, WebTemplate)]
#[template(path = "portal/billing.html")]
pub struct BillingPage {
    /// Layout.
    pub chrome: Chrome,
    /// The tenant's plan.
    pub plan: String,
    /// The plan whose limits apply, when another (after a failed payment).
    pub limits_plan: Option<String>,
    /// The last payment failed.
    pub payment_failed: bool,
    /// `YYYY-MM-DD` to `YYYY-MM-DD`.
    pub period: String,
    /// One row per metric.
    pub rows: Vec<Row>,
    /// `near` or `over`, with its sentence.
    pub banner: Option<(&'static str, String)>,
    /// The estimate, `$12.34`.
    pub estimate: String,
    /// Plans that can be bought through Stripe.
    pub plans: Vec<String>,
    /// Stripe is configured and the viewer may change the plan.
    pub can_checkout: bool,
    /// Subscribed: the plan changes in Stripe's customer portal.
    pub subscribed: bool,
    /// Form action (Checkout).
    pub action: String,
    /// Form action (the customer portal).
    pub manage_action: String,
    /// Outcome of a Checkout, or why it could not start.
    pub message: Option<String>,
}

/// `?checkout=done|cancelled` on the way back from Stripe.
#[derive(Deserialize)]
pub struct Back {
    checkout: Option<String>,
}

/// GET /t/{tenant}/billing.
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
    Query(back): Query<Back>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::ViewUsage, &tenant)?;
    let message = match back.checkout.as_deref() {
        Some("done") => Some("Thank you: your subscription is being set up by Stripe; the plan changes here as soon as Stripe confirms it.".to_owned()),
        Some("cancelled") => Some("Checkout was cancelled; nothing changed.".to_owned()),
        _ => None,
    };
    render(&state, &viewer, &ctx, message, StatusCode::OK).await
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    ctx: &Ctx,
    message: Option<String>,
    status: StatusCode,
) -> PortalResult<Response> {
    let u = state.billing.usage(ctx.tenant).await.map_err(internal)?;
    let stripe = state.billing.provider_name() == "stripe";
    let plans = state
        .billing
        .config()
        .plans
        .all()
        .filter(|p| p.stripe_price.is_some())
        .map(|p| p.name.clone())
        .collect();
    let page = BillingPage {
        chrome: viewer.chrome("Billing", Some(ctx), "billing"),
        limits_plan: (u.limits_plan != u.plan).then(|| u.limits_plan.clone()),
        payment_failed: u.payment_failed,
        period: format!("{} to {}", u.period_start.date(), u.period_end.date()),
        rows: rows(&u),
        banner: banner(&u),
        estimate: format!("${}.{:02}", u.estimate_cents / 100, u.estimate_cents % 100),
        plan: u.plan,
        plans,
        can_checkout: stripe && ctx.can(Action::ManageBilling),
        subscribed: u.has_subscription,
        action: format!("/t/{}/billing/checkout", ctx.tenant),
        manage_action: format!("/t/{}/billing/manage", ctx.tenant),
        message,
    };
    Ok((status, page).into_response())
}

fn rows(u: &UsageSummary) -> Vec<Row> {
    Metric::ALL
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let used = u.usage[m.index()];
            let (quota, pct) = match u.quotas[m.index()] {
                Some(0) => ("0".to_owned(), 100),
                Some(q) => (
                    q.to_string(),
                    (u128::from(used) * 100 / u128::from(q)).min(100) as u64,
                ),
                None => ("unlimited".to_owned(), 0),
            };
            let level = match u.quotas[m.index()] {
                Some(q) if used >= q => "over",
                Some(_) if pct >= 80 => "near",
                _ => "ok",
            };
            Row {
                label: m.label(),
                used,
                quota,
                pct,
                level,
                y: i as u32 * 30 + 4,
            }
        })
        .collect()
}

/// The banner for a month's usage: `over` when a quota bites, `near` from 80 %.
pub(super) fn banner(u: &UsageSummary) -> Option<(&'static str, String)> {
    let rows = rows(u);
    let end = u.period_end.date();
    if let Some(r) = rows.iter().find(|r| r.level == "over") {
        return Some((
            "over",
            format!(
                "The monthly quota of {} ({}) is used up: requests that need more are refused (HTTP 402) until {end}, or until the plan changes.",
                r.label, r.quota
            ),
        ));
    }
    rows.iter().find(|r| r.level == "near").map(|r| {
        (
            "near",
            format!(
                "{}% of the monthly quota of {} is used ({} of {}); it resets on {end}.",
                r.pct, r.label, r.used, r.quota
            ),
        )
    })
}

fn internal(e: BillingError) -> PortalError {
    PortalError::Internal(e.into_internal())
}

/// POST /t/{tenant}/billing/manage: to Stripe's customer portal (303).
pub async fn manage(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::ManageBilling, &tenant)?;
    let back = format!("{}/t/{}/billing", state.settings.public_url, ctx.tenant);
    let result = state.billing.manage_subscription(ctx.tenant, &back).await;
    answer(&state, &viewer, &ctx, result).await
}

/// The Checkout form.
#[derive(Deserialize)]
pub struct CheckoutForm {
    plan: String,
}

/// POST /t/{tenant}/billing/checkout: to Stripe's Checkout page (303).
pub async fn checkout(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(tenant): Path<String>,
    Form(f): Form<CheckoutForm>,
) -> PortalResult<Response> {
    let ctx = viewer.require(Action::ManageBilling, &tenant)?;
    let back = format!("{}/t/{}/billing", state.settings.public_url, ctx.tenant);
    let result = state
        .billing
        .start_checkout(ctx.tenant, &ctx.tenant_name, &f.plan, &back)
        .await;
    answer(&state, &viewer, &ctx, result).await
}

/// To Stripe (303), or the billing page saying why not.
async fn answer(
    state: &AppState,
    viewer: &Viewer,
    ctx: &Ctx,
    result: Result<String, BillingError>,
) -> PortalResult<Response> {
    let (message, status) = match result {
        Ok(url) => return Ok(Redirect::to(&url).into_response()),
        Err(BillingError::Invalid(m)) => (m, StatusCode::UNPROCESSABLE_ENTITY),
        Err(BillingError::Provider(ProviderError::NotConfigured)) => (
            "Stripe is not configured on this deployment: ask the operator to change your plan."
                .to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(BillingError::Provider(e)) => {
            tracing::warn!(error = %e, tenant_id = %ctx.tenant, "Stripe Checkout failed");
            (
                "Stripe could not start Checkout just now; nothing changed. Try again in a moment."
                    .to_owned(),
                StatusCode::BAD_GATEWAY,
            )
        }
        Err(e) => return Err(internal(e)),
    };
    render(state, viewer, ctx, Some(message), status).await
}
