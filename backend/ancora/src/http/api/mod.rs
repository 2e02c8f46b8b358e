//! The JSON API under `/v1`, one file per resource.

use axum::Router;

use super::AppState;

/// Routes of the API.
pub fn routes() -> Router<AppState> {
    Router::new()
}
