//! The log monitor job: runs [`monitor::run`] (new checkpoints consistent, anchors on time),
//! which enqueues its own next run.

use super::{Job, JobFuture};
use crate::app::AppState;
use crate::db::jobs::{self, Job as Queued};
use crate::services::monitor;

/// One run of the log monitor.
pub struct LogMonitorJob;

impl Job for LogMonitorJob {
    fn kind(&self) -> &'static str {
        jobs::KIND_LOG_MONITOR
    }

    fn run<'a>(&'a self, state: &'a AppState, job: &'a Queued) -> JobFuture<'a> {
        Box::pin(async move {
            let report = monitor::run(state, job).await?;
            if report.checked > 0 {
                tracing::debug!(
                    checked = report.checked,
                    size = report.size,
                    "log monitor: checkpoints consistent"
                );
            }
            Ok(())
        })
    }
}
