//! The batch job: closes a tenant's pending events into a batch at the window's end or at the
//! size limit, builds its Merkle tree over the stored leaf hashes and queues its root for
//! anchoring — all in one tenant transaction, so a batch exists with its events bound and its
//! root queued, or not at all.
//!
//! The job row is deleted (taken) after the batch is closed and before the pending events
//! are counted, and the count is the last thing before the commit. That row is the one every
//! ingest of the tenant upserts, so taking it late keeps the ingests from waiting for the whole
//! batch transaction. An event committed meanwhile either is seen by the count (and the job
//! re-enqueued), or its ingest locked the job row first (so the take waited for that ingest to
//! commit and the count sees its events), or its ingest's upsert waits for this transaction
//! and then re-creates the job (READ COMMITTED and the dedupe upsert make this race-free). A
//! worker whose lease expired finds the job taken by then and rolls its batch back.

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
    let closed = close_pending(&mut tx, config, tenant).await?;
    if !jobs::take(&mut tx, job).await? {
        // Another worker holds this job now; dropping the transaction undoes the batch.
        return Ok(());
    }
    reschedule(&mut tx, config, tenant).await?;
    tx.commit().await?;
    if let Some(b) = closed {
        state.metrics.batch_size.observe(b.size as f64);
        tracing::debug!(tenant_id = %tenant, batch_id = %b.id, size = b.size, "batch closed");
    }
    Ok(())
}

/// Closes a batch over the tenant's oldest pending events (at most `max_events`), in the
/// caller's tenant transaction: binds them, stores the batch, queues its root and enqueues the
/// anchoring tick. Returns `None` when nothing is pending.
async fn close_pending(
    conn: &mut PgConnection,
    config: &BatchingConfig,
    tenant: TenantId,
) -> anyhow::Result<Option<Closed>> {
    let id = Uuid::now_v7();
    let limit = i64::from(config.max_events);
    let mut bound = batches::bind_pending(conn, tenant, id, limit).await?;
    if bound.is_empty() {
        return Ok(None);
    }
    bound.sort_unstable_by_key(|e| e.leaf_index);
    // The leaf indexes were numbered before the rows were locked; a row skipped in between
    // (another batcher's) would leave a hole, and the tree must have none.
    anyhow::ensure!(
        bound
            .iter()
            .enumerate()
            .all(|(i, e)| usize::try_from(e.leaf_index).ok() == Some(i)),
        "batch {id}: the bound events' leaf indexes are not 0..{}",
        bound.len()
    );
    let leaves = bound
        .iter()
        .map(|e| Hash::from_slice(&e.leaf_hash))
        .collect::<Result<Vec<_>, _>>()?;
    let seqs = bound.iter().map(|e| e.seq);
    let first_seq = seqs.clone().min().unwrap_or_default();
    let last_seq = seqs.max().unwrap_or_default();
    let target_chain = target_chain(conn, config, tenant).await?;
    let root = MerkleTree::from_leaf_hashes(HashAlgorithm::Sha512_256, leaves).root();
    let batch = NewBatch {
        id,
        tenant,
        root: &root.0,
        size: i32::try_from(bound.len())?,
        target_chain,
        policy: "window",
        first_seq,
        last_seq,
    };
    batches::insert_batch(conn, &batch).await?;
    queue_root(conn, config, &batch).await?;
    Ok(Some(Closed {
        id,
        size: bound.len(),
        root,
        target_chain,
    }))
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
    let target_chain = target_chain(conn, config, tenant).await?;
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
    queue_root(conn, config, &batch).await?;
    Ok(Some(Closed {
        id,
        size: events.len(),
        root,
        target_chain,
    }))
}

/// The chain the tenant's batch roots are anchored for.
async fn target_chain(
    conn: &mut PgConnection,
    config: &BatchingConfig,
    tenant: TenantId,
) -> anyhow::Result<i32> {
    let explicit = batches::tenant_chain(conn, tenant)
        .await?
        .with_context(|| format!("tenant {tenant} does not exist"))?;
    Ok(chain_for_tenant(tenant, explicit, config.chain_count))
}

/// Queues a stored batch's root for anchoring and enqueues its chain's anchoring tick.
async fn queue_root(
    conn: &mut PgConnection,
    config: &BatchingConfig,
    batch: &NewBatch<'_>,
) -> anyhow::Result<()> {
    anchors::queue_batch(conn, batch.id, batch.tenant, batch.target_chain, batch.root).await?;
    let tick = OffsetDateTime::now_utc() + config.anchor_interval;
    queue::enqueue_anchor_job(conn, batch.target_chain, tick).await?;
    Ok(())
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
