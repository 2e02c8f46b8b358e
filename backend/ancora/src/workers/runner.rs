//! The worker runtime: a few runner tasks claiming jobs, a LISTEN task that wakes them when
//! any process commits new work, polling as the fallback (a lost notification costs at most
//! [`POLL`]), the sweeper, and the health gauges' sampler.
//!
//! Shutdown: once the signal triggers no runner claims another job; each finishes the one it
//! runs. Jobs still running after the grace period (`ANCORA_SHUTDOWN_GRACE_MS`) are abandoned:
//! their transactions roll back (a job commits all of its work at once, so nothing half-done
//! stays) and their leases are released at once for another process.

use std::time::Duration;

use sqlx::postgres::PgListener;
use time::OffsetDateTime;

use super::{Held, Ran, run_one_held, sweep};
use crate::app::AppState;
use crate::db::jobs::{self, Lane};
use crate::services::health;
use crate::support::Shutdown;

/// Concurrent runner tasks per process (every job kind but webhook deliveries).
pub const RUNNERS: usize = 4;

/// Concurrent webhook delivery runners per process: deliveries wait on receivers (up to their
/// timeout), so they run beside the other jobs, never in their place.
pub const WEBHOOK_RUNNERS: usize = 4;

/// Longest sleep between two looks at the queue.
pub const POLL: Duration = Duration::from_secs(1);

/// After a wake-up, a runner waits this long before looking, so that a burst of commits (every
/// ingest request notifies) costs one look per runner, not one per commit.
pub const COALESCE: Duration = Duration::from_millis(20);

/// Runs every worker until `shutdown` triggers.
pub async fn run(state: AppState, shutdown: Shutdown) -> anyhow::Result<()> {
    if let Err(e) = crate::services::monitor::schedule(&state).await {
        // The sweeper-free fallback: the next worker start schedules it.
        tracing::warn!(error = %e, "cannot schedule the log monitor");
    }
    let mut tasks = tokio::task::JoinSet::new();
    {
        let (state, shutdown) = (state.clone(), shutdown.clone());
        tasks.spawn(async move { listen(state, shutdown).await });
    }
    {
        let (state, shutdown) = (state.clone(), shutdown.clone());
        tasks.spawn(async move { sweep::run(state, shutdown).await });
    }
    {
        let (state, shutdown) = (state.clone(), shutdown.clone());
        tasks.spawn(async move { super::billing_report::schedule(state, shutdown).await });
    }
    {
        let (state, shutdown) = (state.clone(), shutdown.clone());
        tasks.spawn(async move { super::archive::schedule(state, shutdown).await });
    }
    if state.metrics.enabled() {
        let (state, shutdown) = (state.clone(), shutdown.clone());
        tasks.spawn(async move { sample_health(state, shutdown).await });
    }
    let held = Held::default();
    let lanes = std::iter::repeat_n(Lane::Work, RUNNERS)
        .chain(std::iter::repeat_n(Lane::Webhooks, WEBHOOK_RUNNERS));
    for lane in lanes {
        let (state, shutdown, held) = (state.clone(), shutdown.clone(), held.clone());
        tasks.spawn(async move { runner(state, shutdown, lane, held).await });
    }
    tracing::info!(
        runners = RUNNERS,
        webhook_runners = WEBHOOK_RUNNERS,
        "workers started"
    );
    loop {
        tokio::select! {
            res = tasks.join_next() => match res {
                None => return Ok(()),
                Some(Err(e)) => tracing::error!(error = %e, "a worker task ended abnormally"),
                Some(Ok(())) => {}
            },
            _ = shutdown.wait() => break,
        }
    }
    let grace = state.config.shutdown_grace;
    let drained = tokio::time::timeout(grace, async {
        while let Some(res) = tasks.join_next().await {
            if let Err(e) = res {
                tracing::error!(error = %e, "a worker task ended abnormally");
            }
        }
    })
    .await;
    if drained.is_err() {
        tasks.shutdown().await;
        let abandoned = held.take_all();
        tracing::warn!(
            jobs = abandoned.len(),
            grace_ms = grace.as_millis() as u64,
            "jobs still running after the grace period were abandoned"
        );
        if !abandoned.is_empty() {
            match jobs::release(&state.db, &abandoned).await {
                Ok(n) => tracing::info!(released = n, "leases released"),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot release leases; they expire by themselves")
                }
            }
        }
    }
    tracing::info!("workers stopped");
    Ok(())
}

/// One runner of `lane`: claim and run jobs while any is due, else sleep until the next is
/// due, a wake-up, or the poll interval.
async fn runner(state: AppState, shutdown: Shutdown, lane: Lane, held: Held) {
    while !shutdown.is_triggered() {
        // Register for wake-ups before looking, so a notification in between is not lost.
        let notified = state.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let wait = match run_one_held(&state, false, lane, &held).await {
            Ok(Ran::Done | Ran::Failed(_)) => continue,
            Ok(Ran::Nothing) => until_next_due(&state, lane).await,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "job queue unreachable");
                POLL
            }
        };
        tokio::select! {
            _ = &mut notified => tokio::time::sleep(COALESCE).await,
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.wait() => {}
        }
    }
}

async fn until_next_due(state: &AppState, lane: Lane) -> Duration {
    match jobs::next_due(&state.db, lane).await {
        Ok(Some(at)) => {
            let secs = (at - OffsetDateTime::now_utc()).as_seconds_f64();
            Duration::from_secs_f64(secs.clamp(0.005, POLL.as_secs_f64()))
        }
        _ => POLL,
    }
}

/// Samples the health gauges every [`health::SAMPLE_EVERY`] (first at once).
async fn sample_health(state: AppState, shutdown: Shutdown) {
    let kinds: Vec<&str> = super::JOBS.iter().map(|j| j.kind()).collect();
    while !shutdown.is_triggered() {
        if let Err(e) = health::sample(&state, &kinds).await {
            tracing::debug!(error = %format!("{e:#}"), "cannot sample the health gauges");
        }
        tokio::select! {
            _ = tokio::time::sleep(health::SAMPLE_EVERY) => {}
            _ = shutdown.wait() => return,
        }
    }
}

/// Turns NOTIFYs on the job channel into in-process wake-ups; reconnects after errors.
async fn listen(state: AppState, shutdown: Shutdown) {
    while !shutdown.is_triggered() {
        match PgListener::connect_with(state.db.pool()).await {
            Ok(mut listener) => {
                if let Err(e) = listener.listen(jobs::CHANNEL).await {
                    tracing::warn!(error = %e, "cannot LISTEN; polling only");
                } else {
                    loop {
                        tokio::select! {
                            msg = listener.recv() => match msg {
                                Ok(_) => {
                                    // One wake-up for everything already received.
                                    while listener.next_buffered().is_some() {}
                                    state.wake.notify_waiters();
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "LISTEN connection lost");
                                    break;
                                }
                            },
                            _ = shutdown.wait() => return,
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot connect a LISTEN session"),
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.wait() => return,
        }
    }
}
