//! The archive job: one archiving pass ([`crate::services::archive::archiver::run_pass`]),
//! which commits each step itself (no transaction is held across a call to the store). A
//! store that fails (down, refused credentials, a copy that does not read back the same) fails
//! the run: the runner records the error and retries with its backoff, and nothing hot was
//! dropped without a verified copy. [`schedule`] enqueues a pass every
//! `ANCORA_ARCHIVE_INTERVAL_S`; a pass that stops at its limits enqueues the next one at once.

use time::OffsetDateTime;

use super::{Job, JobFuture};
use crate::app::AppState;
use crate::db::jobs::{self, Job as Queued};
use crate::services::archive::archiver;
use crate::support::Shutdown;

/// Runs an archiving pass.
pub struct ArchiveJob;

impl Job for ArchiveJob {
    fn kind(&self) -> &'static str {
        jobs::KIND_ARCHIVE
    }

    fn run<'a>(&'a self, state: &'a AppState, job: &'a Queued) -> JobFuture<'a> {
        Box::pin(async move {
            let report = archiver::run_pass(state).await?;
            let mut tx = state.db.system_tx().await?;
            if jobs::take(&mut tx, job).await? {
                if report.more {
                    jobs::enqueue_archive_job(&mut tx, OffsetDateTime::now_utc()).await?;
                }
                tx.commit().await?;
            }
            if report.objects > 0 || report.contents_dropped > 0 || report.batches_expired > 0 {
                tracing::info!(summary = %report.summary(), "archiving pass");
            }
            Ok(())
        })
    }
}

/// Enqueues an archiving pass every interval until shutdown.
pub async fn schedule(state: AppState, shutdown: Shutdown) {
    let every = state.archive.config().interval;
    while !shutdown.is_triggered() {
        let enqueued = async {
            let mut tx = state.db.system_tx().await?;
            jobs::enqueue_archive_job(&mut tx, OffsetDateTime::now_utc()).await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = enqueued {
            tracing::warn!(error = %e, "cannot enqueue the archiving pass");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.wait() => return,
        }
    }
}
