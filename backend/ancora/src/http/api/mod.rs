//! The JSON API under `/v1`, one file per resource.

pub mod audit;
pub mod batches;
pub mod billing;
pub mod events;
pub mod log;
pub mod openapi;
pub mod reports;
pub mod retention;
pub mod spv;
pub mod submitter_keys;
pub mod verify;
pub mod webhooks;

use axum::Router;

use super::AppState;

/// Routes of the API.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(events::routes())
        .merge(submitter_keys::routes())
        .merge(verify::routes())
        .merge(log::routes())
        .merge(audit::routes())
        .merge(batches::routes())
        .merge(spv::routes())
        .merge(billing::routes())
        .merge(retention::routes())
        .merge(reports::routes())
        .merge(webhooks::routes())
        .merge(openapi::routes())
}
