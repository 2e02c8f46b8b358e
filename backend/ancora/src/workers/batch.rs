//! The batch job: closes a tenant's pending events into a batch at the window's end or at the
//! size limit, builds its Merkle tree over the stored leaf hashes and queues its root for
//! anchoring — all in one tenant transaction, so a batch exists with its events bound and its
//! root queued, or not at all.
//!
//! The job row is deleted first in that transaction, and the pending events are counted last:
//! an event committed meanwhile either is seen by the count (and the job re-enqueued) or its
//! ingest transaction re-creates the job after this one commits (READ COMMITTED and the
//! dedupe upsert make this race-free).

use ancora_proof::merkle::MerkleTree;
use ancora_proof::{Hash, HashAlgorithm};
use anyhow::Context as _;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::queue;
use crate::config::BatchingConfig;
use crate::db::anchors;
use crate::db::batches::{self, NewBatch, PendingEvent};
use crate::db::jobs::{self, Job};
use crate::domain::{TenantId, chain_for_tenant};
use crate::http::AppState;

/// A batch just closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closed {
    /// Its id.
    pub id: Uuid,
    /// Number of events.
    pub size: usize,
    /// Its tree root.
    pub root: Hash,
    /// The chain its root is anchored for.
    pub target_chain: i32,
}

/// Runs one batch job.
pub async fn run(state: &AppState, job: &Job) -> anyhow::Result<()> {
    let tenant = TenantId(job.tenant_id.context("a batch job needs a tenant")?);
    let config = &state.config.batching;
    let mut tx = state.db.tenant_tx(tenant).await?;
    if !jobs::take(&mut tx, job).await? {
        return Ok(());
    }
    let limit = i64::from(config.max_events);
    let events = batches::lock_pending(&mut tx, tenant, limit).await?;
    let closed = close(&mut tx, config, tenant, &events, "window").await?;
    reschedule(&mut tx, config, tenant).await?;
    tx.commit().await?;
    if let Some(b) = closed {
        state.metrics.batch_size.observe(b.size as f64);
        tracing::debug!(tenant_id = %tenant, batch_id = %b.id, size = b.size, "batch closed");
    }
    Ok(())
}

/// Closes a batch over `events` (locked, pending, in arrival order) in the caller's tenant
/// transaction: stores it, binds its events, queues its root and enqueues the anchoring tick.
/// Returns `None` when there is nothing to close.
pub async fn close(
    conn: &mut PgConnection,
    config: &BatchingConfig,
    tenant: TenantId,
    events: &[PendingEvent],
    policy: &str,
) -> anyhow::Result<Option<Closed>> {
    let (Some(first), Some(last)) = (events.first(), events.last()) else {
        return Ok(None);
    };
    let explicit = batches::tenant_chain(conn, tenant)
        .await?
        .with_context(|| format!("tenant {tenant} does not exist"))?;
    let target_chain = chain_for_tenant(tenant, explicit, config.chain_count);
    let leaves = events
        .iter()
        .map(|e| Hash::from_slice(&e.leaf_hash))
        .collect::<Result<Vec<_>, _>>()?;
    let root = MerkleTree::from_leaf_hashes(HashAlgorithm::Sha512_256, leaves).root();
    let id = Uuid::now_v7();
    let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    let batch = NewBatch {
        id,
        tenant,
        root: &root.0,
        size: i32::try_from(events.len())?,
        target_chain,
        policy,
        first_seq: events.iter().map(|e| e.seq).min().unwrap_or(first.seq),
        last_seq: events.iter().map(|e| e.seq).max().unwrap_or(last.seq),
    };
    batches::insert_closed(conn, &batch, &ids).await?;
    anchors::queue_batch(conn, id, tenant, target_chain, &root.0).await?;
    let tick = OffsetDateTime::now_utc() + config.anchor_interval;
    queue::enqueue_anchor_job(conn, target_chain, tick).await?;
    Ok(Some(Closed {
        id,
        size: events.len(),
        root,
        target_chain,
    }))
}

/// Re-enqueues the tenant's batch job when events are still pending: at once when a full
/// batch waits, else when the oldest pending event's window ends.
async fn reschedule(
    conn: &mut PgConnection,
    config: &BatchingConfig,
    tenant: TenantId,
) -> anyhow::Result<()> {
    let cap = i64::from(config.max_events);
    let (count, oldest) = batches::pending_summary(conn, tenant, cap).await?;
    if count == 0 {
        return Ok(());
    }
    let now = OffsetDateTime::now_utc();
    let run_at = match oldest {
        Some(t) if count < cap => (t + config.window).max(now),
        _ => now,
    };
    queue::enqueue_batch_job(conn, tenant, run_at).await?;
    Ok(())
}
