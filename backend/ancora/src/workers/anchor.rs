//! The anchor job: runs the anchoring tick ([`tick::run`]) of its chain.

use anyhow::Context as _;

use super::{Job, JobFuture};
use crate::app::AppState;
use crate::db::jobs::{self, Job as Queued};
use crate::services::anchoring::tick;

/// One anchoring tick of one chain.
pub struct AnchorJob;

impl Job for AnchorJob {
    fn kind(&self) -> &'static str {
        jobs::KIND_ANCHOR
    }

    fn run<'a>(&'a self, state: &'a AppState, job: &'a Queued) -> JobFuture<'a> {
        Box::pin(async move {
            let chain = job
                .payload
                .get("chain")
                .and_then(serde_json::Value::as_i64)
                .and_then(|c| i32::try_from(c).ok())
                .context("an anchor job needs a chain")?;
            tick::run(state, chain, job).await
        })
    }
}
