//! Background workers: a Postgres job queue with leases and one file per job.
//!
//! * [`queue`] — enqueueing (always in the caller's transaction) and the job kinds;
//! * [`batch`] — close a tenant's pending events into a batch (window or size);
//! * [`anchor`] — aggregate a chain's batch roots into one anchor and hand it to the backend;
//! * [`chainweb_confirm`] — send, confirm and prove a chainweb anchor, one committed step a run;
//! * [`prove`] — precompute and store every bundle of a batch once its anchor is final;
//! * `runner` — the claim loop (leases, backoff, LISTEN/NOTIFY with polling as fallback);
//! * [`sweep`] — the safety net that re-enqueues work nobody was woken for.
//!
//! Every job is idempotent: its work runs in one transaction that deletes the job row (see
//! [`crate::db::jobs::take`]; most jobs do it first, the batch job just before it counts what
//! is left, see [`batch`]) and enqueues its follow-ups, so a process killed at any instant
//! loses nothing and repeats nothing that was committed.

pub mod anchor;
pub mod batch;
pub mod chainweb_confirm;
pub mod prove;
pub mod queue;
mod runner;
pub mod sweep;

use std::time::Duration;

use crate::db::Db;
use crate::db::jobs::{self, Job};
use crate::http::AppState;

pub use runner::run;

/// How long a claimed job is reserved for its worker. Jobs take milliseconds; a worker killed
/// mid-job holds its job this long at most.
pub const LEASE: Duration = Duration::from_secs(10);

/// Jobs waiting to run.
pub async fn queue_depth(db: &Db) -> anyhow::Result<i64> {
    let n = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM jobs WHERE locked_until IS NULL"#)
        .fetch_one(db.pool())
        .await?;
    Ok(n)
}

/// The list of jobs: runs a claimed job by its kind.
async fn dispatch(state: &AppState, job: &Job) -> anyhow::Result<()> {
    match job.kind.as_str() {
        queue::KIND_BATCH => batch::run(state, job).await,
        queue::KIND_ANCHOR => anchor::run(state, job).await,
        queue::KIND_PROVE => prove::run(state, job).await,
        chainweb_confirm::KIND => chainweb_confirm::run(state, job).await,
        other => anyhow::bail!("unknown job kind {other:?}"),
    }
}

/// What one turn of the runner did.
#[derive(Debug)]
pub enum Ran {
    /// No job was due.
    Nothing,
    /// A job ran to completion.
    Done,
    /// A job failed; it will be retried after a backoff.
    Failed(anyhow::Error),
}

/// Retry delay after the `attempts`-th failure: 250 ms doubling, at most a minute, with up
/// to a quarter of jitter so that failing jobs do not retry in lockstep.
pub fn backoff(attempts: i32) -> Duration {
    let exp = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(16);
    let base = Duration::from_millis(250).saturating_mul(1 << exp);
    let base = base.min(Duration::from_secs(60));
    let jitter = base.mul_f64(rand::random::<f64>() * 0.25);
    base + jitter
}

/// Claims one job (a due one, or with `ignore_run_at` any free one) and runs it. A failure is
/// recorded on the job (backoff, last error) and returned as [`Ran::Failed`].
pub async fn run_one(state: &AppState, ignore_run_at: bool) -> anyhow::Result<Ran> {
    let Some(job) = jobs::claim(&state.db, LEASE, ignore_run_at).await? else {
        return Ok(Ran::Nothing);
    };
    match dispatch(state, &job).await {
        Ok(()) => Ok(Ran::Done),
        Err(e) => {
            let message = format!("{e:#}");
            if job.attempts >= job.max_attempts {
                tracing::error!(job_id = job.id, kind = %job.kind, attempts = job.attempts, error = %message, "job keeps failing");
            } else {
                tracing::warn!(job_id = job.id, kind = %job.kind, attempts = job.attempts, error = %message, "job failed; will retry");
            }
            jobs::fail(&state.db, &job, &message, backoff(job.attempts)).await?;
            Ok(Ran::Failed(e))
        }
    }
}

/// Runs every job that is due now, and the follow-ups that become due meanwhile, until none
/// is due; returns how many ran. The first failure is returned as an error (after being
/// recorded). Tests call this to drive the workers.
pub async fn run_pending_jobs(state: &AppState) -> anyhow::Result<usize> {
    drain(state, false).await
}

/// Like [`run_pending_jobs`] but ignores run times, so a batch window or an anchoring tick
/// need not elapse: runs jobs until the queue is empty.
pub async fn run_all_jobs_now(state: &AppState) -> anyhow::Result<usize> {
    drain(state, true).await
}

async fn drain(state: &AppState, ignore_run_at: bool) -> anyhow::Result<usize> {
    let mut ran = 0;
    loop {
        match run_one(state, ignore_run_at).await? {
            Ran::Nothing => return Ok(ran),
            Ran::Done => ran += 1,
            Ran::Failed(e) => return Err(e.context("a job failed")),
        }
        anyhow::ensure!(ran < 1_000_000, "jobs keep coming; giving up");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped_at_a_minute_and_a_quarter() {
        assert!(backoff(1) >= Duration::from_millis(250));
        assert!(backoff(1) <= Duration::from_millis(313));
        assert!(backoff(3) >= Duration::from_secs(1));
        assert!(backoff(40) <= Duration::from_secs(75));
    }
}
