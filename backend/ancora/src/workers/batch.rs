//! The batch job: runs [`batching::close_due`] for its tenant.

use super::{Job, JobFuture, tenant_of};
use crate::app::AppState;
use crate::db::jobs::{self, Job as Queued};
use crate::services::batching;

/// Closes a tenant's due pending events into batches.
pub struct BatchJob;

impl Job for BatchJob {
    fn kind(&self) -> &'static str {
        jobs::KIND_BATCH
    }

    fn run<'a>(&'a self, state: &'a AppState, job: &'a Queued) -> JobFuture<'a> {
        Box::pin(async move { batching::close_due(state, tenant_of(job)?, job).await })
    }
}
