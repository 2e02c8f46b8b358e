//! The chainweb anchor job: one step of [`confirm::run`] per run, re-enqueued by it until the
//! anchor is final or failed.

use super::{Job, JobFuture};
use crate::app::AppState;
use crate::db::jobs::{self, Job as Queued};
use crate::services::anchoring::confirm;

/// Sends, confirms and proves one chainweb anchor, one committed step a run.
pub struct ChainwebConfirmJob;

impl Job for ChainwebConfirmJob {
    fn kind(&self) -> &'static str {
        jobs::KIND_CHAINWEB_ANCHOR
    }

    fn run<'a>(&'a self, state: &'a AppState, job: &'a Queued) -> JobFuture<'a> {
        Box::pin(async move { confirm::run(state, job).await })
    }
}
