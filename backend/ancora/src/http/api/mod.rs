//! The JSON API under `/v1`, one file per resource.

pub mod audit;
pub mod batches;
pub mod log;

use axum::Router;

use super::AppState;

/// Routes of the API.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(log::routes())
        .merge(audit::routes())
        .merge(batches::routes())
}
