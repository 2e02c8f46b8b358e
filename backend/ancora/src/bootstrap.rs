//! First start: create an operator account and a demo tenant with an API key, and print how
//! to log in and a curl line that submits an event. (Filled in by the admin/API work.)

use crate::http::AppState;

/// Runs once per database: does nothing when any tenant exists.
pub async fn first_start(_state: &AppState, _embedded: bool) -> anyhow::Result<()> {
    Ok(())
}
