//! Background workers (an interface): a Postgres job queue with leases, and one file per job
//! kind, each a [`Job`] that turns its queued row into one service call:
//!
//! * [`batch`] — close a tenant's pending events into batches (window or size);
//! * [`anchor`] — aggregate a chain's batch roots into one anchor and hand it to the backend;
//! * [`chainweb_confirm`] — send, confirm and prove a chainweb anchor, one committed step a run;
//! * [`log_monitor`] — check the log's new checkpoints and late anchors, then re-enqueue;
//! * [`prove`] — precompute and store every bundle of a batch once its anchor is final;
//! * [`archive`] — one archiving pass: copy, verify, drop hot copies, expire (scheduled);
//! * [`billing_report`] — report usage to Stripe (scheduled every reporting interval);
//! * [`webhook_delivery`] — send one webhook delivery, signed, and schedule its retry (these
//!   run on runners of their own, so a slow receiver never holds up the other jobs);
//! * `runner` — the claim loop (leases, backoff, LISTEN/NOTIFY with polling as fallback);
//! * [`sweep`] — the safety net that re-enqueues work nobody was woken for.
//!
//! Every job is idempotent: its work runs in one transaction that deletes the job row (see
//! [`crate::db::jobs::take`]; most jobs do it first, the batch job just before it counts what
//! is left, see [`crate::services::batching`]) and enqueues its follow-ups, so a process killed
//! at any instant loses nothing and repeats nothing that was committed. The kinds and their
//! dedupe keys live with the queue's SQL ([`crate::db::jobs`]).

pub mod anchor;
pub mod archive;
pub mod batch;
pub mod billing_report;
pub mod chainweb_confirm;
pub mod log_monitor;
pub mod prove;
mod runner;
pub mod sweep;
pub mod webhook_delivery;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::app::AppState;
use crate::db::jobs::{self, Job as Queued};

pub use runner::run;

/// How long a claimed job is reserved for its worker. Most jobs take milliseconds; one that
/// runs longer (an archiving pass over a backlog) has its lease renewed while it runs
/// ([`holding_lease`]). A worker killed mid-job holds its job this long at most.
pub const LEASE: Duration = Duration::from_secs(10);

/// What running one job returns.
pub type JobFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>>;

/// One kind of job: its name in the queue, and how a claimed row of that kind runs.
pub trait Job: Sync {
    /// The kind, as stored in `jobs.kind`.
    fn kind(&self) -> &'static str;
    /// Runs a claimed row of this kind.
    fn run<'a>(&'a self, state: &'a AppState, job: &'a Queued) -> JobFuture<'a>;
}

/// Every job this build runs: the one registry.
pub const JOBS: &[&dyn Job] = &[
    &batch::BatchJob,
    &anchor::AnchorJob,
    &prove::ProveJob,
    &chainweb_confirm::ChainwebConfirmJob,
    &billing_report::BillingReportJob,
    &log_monitor::LogMonitorJob,
    &archive::ArchiveJob,
    &webhook_delivery::WebhookDeliveryJob,
];

/// Runs a claimed job by its kind.
async fn dispatch(state: &AppState, job: &Queued) -> anyhow::Result<()> {
    match JOBS.iter().find(|j| j.kind() == job.kind) {
        Some(kind) => kind.run(state, job).await,
        None => anyhow::bail!("unknown job kind {:?}", job.kind),
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
    run_one_held(state, ignore_run_at, jobs::Lane::Any, &Held::default()).await
}

/// The jobs a process holds a lease on while it runs them, `id → attempts`: what a shutdown
/// that cannot wait for them releases ([`jobs::release`]).
#[derive(Clone, Debug, Default)]
pub struct Held(std::sync::Arc<std::sync::Mutex<std::collections::HashMap<i64, i32>>>);

impl Held {
    fn with<T>(&self, f: impl FnOnce(&mut std::collections::HashMap<i64, i32>) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Takes every held lease out, `(id, attempts)`.
    pub fn take_all(&self) -> Vec<(i64, i32)> {
        self.with(|m| m.drain().collect())
    }
}

/// [`run_one`] among the kinds of `lane`, recording the claimed job in `held` until its
/// outcome is stored.
pub async fn run_one_held(
    state: &AppState,
    ignore_run_at: bool,
    lane: jobs::Lane,
    held: &Held,
) -> anyhow::Result<Ran> {
    let Some(job) = jobs::claim_in(&state.db, LEASE, ignore_run_at, lane).await? else {
        return Ok(Ran::Nothing);
    };
    held.with(|m| m.insert(job.id, job.attempts));
    let ran = holding_lease(&state.db, &job, LEASE, run_claimed(state, &job)).await;
    held.with(|m| m.remove(&job.id));
    ran
}

/// Runs `work` while renewing `job`'s lease every third of `lease`, so a job that outlives
/// its lease is not claimed by a second worker and run twice at once. Before this, an
/// archiving pass over a large backlog (more than 10 s) was claimed again mid-pass, and the
/// two passes wrote the same archive objects over each other. A renewal that finds the job
/// claimed again or gone stops renewing (and says so); one the database refuses is tried
/// again at the next tick. Nothing is renewed after `work` ends or is dropped.
pub async fn holding_lease<T>(
    db: &crate::db::Db,
    job: &Queued,
    lease: Duration,
    work: impl Future<Output = T>,
) -> T {
    tokio::pin!(work);
    let renew = async {
        let every = lease / 3;
        loop {
            tokio::time::sleep(every).await;
            match jobs::extend_lease(db, job, lease).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(job_id = job.id, kind = %job.kind, "job lease lost: claimed again or gone");
                    return;
                }
                Err(e) => {
                    tracing::warn!(job_id = job.id, kind = %job.kind, error = %e, "cannot renew a job's lease")
                }
            }
        }
    };
    tokio::select! {
        out = &mut work => out,
        () = renew => work.await,
    }
}

async fn run_claimed(state: &AppState, job: &Queued) -> anyhow::Result<Ran> {
    match dispatch(state, job).await {
        Ok(()) => Ok(Ran::Done),
        Err(e) => {
            let message = format!("{e:#}");
            if job.attempts >= job.max_attempts {
                tracing::error!(job_id = job.id, kind = %job.kind, attempts = job.attempts, error = %message, "job keeps failing");
            } else {
                tracing::warn!(job_id = job.id, kind = %job.kind, attempts = job.attempts, error = %message, "job failed; will retry");
            }
            state
                .metrics
                .job_failures
                .get_or_create(&crate::support::metrics::JobLabels {
                    kind: job.kind.clone(),
                })
                .inc();
            record_failure(state, job, &message).await?;
            Ok(Ran::Failed(e))
        }
    }
}

/// How often a failure that cannot be recorded (the database is away) is tried again.
const RECORD_RETRY: Duration = Duration::from_millis(200);

/// Records a failed attempt (frees the lease, sets the retry time). While the database is
/// away this is tried again, for as long as the lease would hold the job anyway: a job whose
/// failure goes unrecorded stays leased to nobody until its lease ends, and the work behind it
/// waits (after a short database outage, every job that was running when it began).
async fn record_failure(state: &AppState, job: &Queued, message: &str) -> anyhow::Result<()> {
    let until = std::time::Instant::now() + LEASE;
    loop {
        match jobs::fail(&state.db, job, message, backoff(job.attempts)).await {
            Ok(()) => return Ok(()),
            Err(e) if crate::db::is_unavailable(&e) && std::time::Instant::now() < until => {
                tokio::time::sleep(RECORD_RETRY).await;
            }
            Err(e) => return Err(e.into()),
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
/// need not elapse: runs jobs until the queue is empty. Not for a queue holding the
/// `log_monitor` job ([`crate::services::monitor::schedule`]): it always enqueues its next
/// run, so the queue would never empty.
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

/// The tenant of a tenant job.
fn tenant_of(job: &Queued) -> anyhow::Result<crate::domain::TenantId> {
    job.tenant_id
        .map(crate::domain::TenantId)
        .ok_or_else(|| anyhow::anyhow!("a {} job needs a tenant", job.kind))
}

/// A UUID argument of a job's payload.
fn uuid_arg(job: &Queued, name: &str) -> anyhow::Result<uuid::Uuid> {
    job.payload
        .get(name)
        .and_then(serde_json::Value::as_str)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("a {} job needs {name}", job.kind))
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

    #[test]
    fn every_job_kind_is_registered_once() {
        let mut kinds: Vec<&str> = JOBS.iter().map(|j| j.kind()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), JOBS.len());
        for kind in [
            jobs::KIND_BATCH,
            jobs::KIND_ANCHOR,
            jobs::KIND_PROVE,
            jobs::KIND_CHAINWEB_ANCHOR,
            jobs::KIND_BILLING_REPORT,
            jobs::KIND_LOG_MONITOR,
            jobs::KIND_ARCHIVE,
            jobs::KIND_WEBHOOK_DELIVERY,
        ] {
            assert!(kinds.contains(&kind), "{kind} has no runner");
        }
    }
}
