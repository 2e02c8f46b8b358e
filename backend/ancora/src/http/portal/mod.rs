//! The portal: server-rendered pages for people (auditors, admins, owners, operators).
//!
//! Every page is an askama template (auto-escaped) with its `Template` struct beside its
//! handler, one file per page. Every page works without JavaScript. Every handler starts with
//! [`Viewer::require`], which calls the one authorization function [`crate::services::authorization::authorize`];
//! tenant-scoped pages live under `/t/{tenant}/…`, and a tenant the person does not belong to
//! answers 404 whether it exists or not. POSTs pass the CSRF middleware ([`super::csrf`]).

mod account;
mod api_docs;
mod audit;
mod batch;
mod billing;
mod catalog;
pub mod csrf;
mod dashboard;
mod error;
mod event;
mod extract;
mod fmt;
mod invite;
mod keys;
mod login;
mod members;
mod operator;
mod reports;
mod settings;
mod tenants;
mod verify;
mod viewer;
mod webhooks;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};

pub use error::{PortalError, PortalResult};
pub use login::{
    MAX_PER_ACCOUNT as MAX_LOGIN_FAILURES_PER_ACCOUNT, MAX_PER_IP as MAX_LOGIN_FAILURES_PER_IP,
};
pub use viewer::{Chrome, Ctx, Viewer};

use super::AppState;

/// Largest bundle accepted by the verify page (bundles are a few kilobytes).
pub const MAX_BUNDLE_BYTES: usize = 1024 * 1024;

/// The portal's routes, with sessions and CSRF protection. Mounted by `http::router`.
pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(tenants::page))
        .route("/login", get(login::page).post(login::submit))
        .route("/logout", post(login::logout))
        .route(
            "/forgot",
            get(account::forgot_page).post(account::forgot_submit),
        )
        .route("/invite/{token}", get(invite::page).post(invite::submit))
        .route(
            "/account",
            get(account::page).post(account::change_password),
        )
        .route(
            "/operator/tenants",
            get(operator::page).post(operator::create),
        )
        .route("/t/{tenant}", get(dashboard::page))
        .route("/t/{tenant}/events", get(catalog::page))
        .route("/t/{tenant}/events.csv", get(catalog::csv))
        .route("/t/{tenant}/events/{event}", get(event::page))
        .route(
            "/t/{tenant}/events/{event}/bundle.json",
            get(reports::bundle),
        )
        .route(
            "/t/{tenant}/events/{event}/report.pdf",
            get(reports::event_pdf),
        )
        .route(
            "/t/{tenant}/events/{event}/report.json",
            get(reports::event_json),
        )
        .route("/t/{tenant}/batches/{batch}", get(batch::page))
        .route(
            "/t/{tenant}/batches/{batch}/report.{format}",
            get(reports::batch),
        )
        .route("/t/{tenant}/reports/range", get(reports::range))
        .route("/t/{tenant}/verify", get(verify::page).post(verify::submit))
        .route("/t/{tenant}/verify/upload", post(verify::upload))
        .route("/t/{tenant}/audit", get(audit::page))
        .route(
            "/t/{tenant}/members",
            get(members::page).post(members::invite),
        )
        .route("/t/{tenant}/keys", get(keys::page).post(keys::create))
        .route("/t/{tenant}/keys/{key}/revoke", post(keys::revoke))
        .route(
            "/t/{tenant}/settings",
            get(settings::page).post(settings::save),
        )
        .route(
            "/t/{tenant}/settings/retention",
            post(settings::save_retention),
        )
        .route("/t/{tenant}/settings/shred", post(settings::shred_contents))
        .route(
            "/t/{tenant}/webhooks",
            get(webhooks::page).post(webhooks::add),
        )
        .route("/t/{tenant}/webhooks/{id}/delete", post(webhooks::delete))
        .route("/t/{tenant}/billing", get(billing::page))
        .route("/t/{tenant}/billing/checkout", post(billing::checkout))
        .route("/t/{tenant}/billing/manage", post(billing::manage))
        .route("/docs/api", get(api_docs::page))
        .route("/static/portal.css", get(css))
        .route("/static/portal.js", get(js))
        .route("/static/ancora-verify.js", get(verify_js))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::protect,
        ))
        .layer(super::session::layer(state))
}

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../../../../../static/portal.css"),
    )
}

async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../../../../../static/portal.js"),
    )
}

/// The `@ancora/verify` SDK (`web/verify`, built to `static/ancora-verify.js`): the portal's
/// pages verify bundles with it in the browser, beside the server's verdict.
async fn verify_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../../../../../static/ancora-verify.js"),
    )
}
