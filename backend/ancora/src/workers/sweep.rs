//! The safety net: every two batch windows, re-enqueues the batch job of any tenant whose
//! oldest pending event is older than two windows, and the anchor job of any chain whose roots
//! have waited as long. In a healthy system it finds nothing; it covers a lost wake-up or a
//! bug, so that an acknowledged event is always proved in the end.

use std::time::Duration;

use time::OffsetDateTime;

use crate::app::AppState;
use crate::db::jobs;
use crate::domain::TenantId;
use crate::support::Shutdown;

/// Runs the sweeper until shutdown.
pub async fn run(state: AppState, shutdown: Shutdown) {
    let every = (state.settings.batching.window * 2).max(Duration::from_secs(1));
    while !shutdown.is_triggered() {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.wait() => return,
        }
        match sweep_once(&state, every).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(jobs = n, "sweeper re-enqueued stalled work"),
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "sweep failed"),
        }
    }
}

/// One sweep: enqueues jobs for work older than `older_than`; returns how many.
pub async fn sweep_once(state: &AppState, older_than: Duration) -> anyhow::Result<usize> {
    let tenants = jobs::stale_pending_tenants(&state.db, older_than).await?;
    let chains = jobs::stale_anchor_chains(&state.db, older_than).await?;
    if tenants.is_empty() && chains.is_empty() {
        return Ok(0);
    }
    let now = OffsetDateTime::now_utc();
    let mut tx = state.db.system_tx().await?;
    for t in &tenants {
        jobs::enqueue_batch_job(&mut tx, TenantId(*t), now).await?;
    }
    for c in &chains {
        jobs::enqueue_anchor_job(&mut tx, *c, now).await?;
    }
    tx.commit().await?;
    Ok(tenants.len() + chains.len())
}
