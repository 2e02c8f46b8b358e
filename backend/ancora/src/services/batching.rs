//! Batching: closes a tenant's pending events into batches at the window's end or at the
//! size limit, builds each batch's Merkle tree over the stored leaf hashes and queues its root
//! for anchoring — all in one tenant transaction, so a batch exists with its root queued and
//! the tenant's cursor moved past it, or not at all.
//!
//! A batch is a range of the tenant's arrival order (`first_seq..=last_seq`); closing one
//! writes the batch row and moves the tenant's cursor, never the event rows. The range may
//! only end where every earlier event is settled ([`batches::settled_horizon`]: committed or
//! gone for good), which the job finds before its transaction begins. Batchers of a tenant
//! queue on its cursor row.
//!
//! The job row is deleted (taken) with the batches, in their transaction: a worker whose
//! lease expired finds the job taken by then and rolls its batches back. Ingests only read
//! the job row (they never wait for one another or for the batcher on it), so an ingest may
//! have seen the job, and skipped making one, just before the take, and commit after the
//! batcher looked at what is pending. Therefore, after the commit, the batcher re-enqueues the
//! job when events are pending *or an ingest of the tenant is in flight* (holds the ingest
//! lock), checking the ingest lock first and counting second: an ingest that saw the job held
//! that lock since before the take and either still holds it at the check or committed before
//! the count. An ingest that looks after the take finds no job and makes one.

use ancora_proof::merkle::MerkleTree;
use ancora_proof::{Hash, HashAlgorithm};
use anyhow::Context as _;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::anchors;
use crate::db::batches::{self, NewBatch};
use crate::db::jobs::{self, Job};
use crate::domain::{TenantId, chain_for_tenant};
use crate::services::Services;
use crate::services::settings::BatchingConfig;

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

/// How long the batcher waits for a tenant's in-flight ingests to settle.
const SETTLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs the tenant's batch job: closes what is due, takes the job in the same transaction,
/// then re-enqueues it when more is pending or arriving.
pub async fn close_due(svc: &Services, tenant: TenantId, job: &Job) -> anyhow::Result<()> {
    let config = &svc.settings.batching;
    let horizon = batches::settled_horizon(&svc.db, tenant, SETTLE_TIMEOUT).await?;
    let mut tx = svc.db.tenant_tx(tenant).await?;
    let closed = close_pending(&mut tx, config, tenant, horizon, None, None).await?;
    if !jobs::take(&mut tx, job).await? {
        // Another worker holds this job now; dropping the transaction undoes the batches.
        return Ok(());
    }
    tx.commit().await?;
    observe(svc, tenant, &closed);
    let mut tx = svc.db.tenant_tx(tenant).await?;
    reschedule(&mut tx, config, tenant).await?;
    tx.commit().await?;
    Ok(())
}

/// Closes every settled pending event of the tenant into batches at once (the seed API's
/// `realtime` policy and `POST /v1/events/batch`), whatever the window; returns the batches.
pub async fn flush(svc: &Services, tenant: TenantId, policy: &str) -> anyhow::Result<Vec<Closed>> {
    flush_with_ttl(svc, tenant, policy, None).await
}

/// [`flush`], the batches' roots queued with `chain_ttl_secs`: how long their Chainweb
/// transaction may wait to be mined (the seed's `ttl`; the shortest of an anchor's batches
/// wins, see `anchoring::chainweb`).
pub async fn flush_with_ttl(
    svc: &Services,
    tenant: TenantId,
    policy: &str,
    chain_ttl_secs: Option<i32>,
) -> anyhow::Result<Vec<Closed>> {
    let config = &svc.settings.batching;
    let horizon = batches::settled_horizon(&svc.db, tenant, SETTLE_TIMEOUT).await?;
    let mut tx = svc.db.tenant_tx(tenant).await?;
    let closed = close_pending(
        &mut tx,
        config,
        tenant,
        horizon,
        Some(policy),
        chain_ttl_secs,
    )
    .await?;
    tx.commit().await?;
    observe(svc, tenant, &closed);
    Ok(closed)
}

fn observe(svc: &Services, tenant: TenantId, closed: &[Closed]) {
    for b in closed {
        svc.metrics.batch_size.observe(b.size as f64);
        tracing::debug!(tenant_id = %tenant, batch_id = %b.id, size = b.size, "batch closed");
    }
}

/// Closes batches over the tenant's pending events up to `horizon`, in the caller's tenant
/// transaction: full batches (`max_events`), then the rest when its window has ended, when
/// `flush_policy` is given (the batches get that policy, else `window`), or when nothing else
/// closed (a due job always closes what it finds). Each stores
/// the batch, queues its root and enqueues the anchoring tick; the cursor moves past them.
async fn close_pending(
    conn: &mut PgConnection,
    config: &BatchingConfig,
    tenant: TenantId,
    horizon: i64,
    flush_policy: Option<&str>,
    chain_ttl_secs: Option<i32>,
) -> anyhow::Result<Vec<Closed>> {
    let mut cursor = batches::lock_cursor(conn, tenant).await?;
    let limit = i64::from(config.max_events);
    let window = time::Duration::try_from(config.window).unwrap_or(time::Duration::ZERO);
    let mut closed = Vec::new();
    let mut target_chain = None;
    loop {
        let events = batches::pending_range(conn, tenant, cursor, horizon, limit).await?;
        let (Some(first), Some(last)) = (events.first(), events.last()) else {
            break;
        };
        let full = events.len() as i64 >= limit;
        let due = first.received_at + window <= OffsetDateTime::now_utc();
        if !(full || due || flush_policy.is_some() || closed.is_empty()) {
            break;
        }
        let chain = match target_chain {
            Some(c) => c,
            None => *target_chain.insert(self::target_chain(conn, config, tenant).await?),
        };
        let leaves = events
            .iter()
            .map(|e| Hash::from_slice(&e.leaf_hash))
            .collect::<Result<Vec<_>, _>>()?;
        let root = MerkleTree::from_leaf_hashes(HashAlgorithm::Sha512_256, leaves).root();
        let batch = NewBatch {
            id: Uuid::now_v7(),
            tenant,
            root: &root.0,
            size: i32::try_from(events.len())?,
            target_chain: chain,
            policy: flush_policy.unwrap_or("window"),
            first_seq: first.seq,
            last_seq: last.seq,
        };
        batches::insert_batch(conn, &batch).await?;
        queue_root(conn, config, &batch, chain_ttl_secs).await?;
        cursor = last.seq;
        closed.push(Closed {
            id: batch.id,
            size: events.len(),
            root,
            target_chain: chain,
        });
    }
    if !closed.is_empty() {
        batches::set_cursor(conn, tenant, cursor).await?;
    }
    Ok(closed)
}

/// The chain the tenant's batch roots are anchored for.
pub async fn target_chain(
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
    chain_ttl_secs: Option<i32>,
) -> anyhow::Result<()> {
    anchors::queue_batch(
        conn,
        batch.id,
        batch.tenant,
        batch.target_chain,
        batch.root,
        chain_ttl_secs,
    )
    .await?;
    let tick = OffsetDateTime::now_utc() + config.anchor_interval;
    jobs::enqueue_anchor_job(conn, batch.target_chain, tick).await?;
    Ok(())
}

/// Re-enqueues the tenant's batch job when an ingest of the tenant is in flight or events are
/// still pending (in that order; see the module header): at once when a full batch waits,
/// else when the oldest pending event's window ends (or a window from now for events still
/// being inserted).
pub async fn reschedule(
    conn: &mut PgConnection,
    config: &BatchingConfig,
    tenant: TenantId,
) -> anyhow::Result<()> {
    let in_flight = !batches::ingest_lock_holders(conn, tenant, None)
        .await?
        .is_empty();
    let cap = i64::from(config.max_events);
    let (count, oldest) = batches::pending_summary(conn, tenant, cap).await?;
    if count == 0 && !in_flight {
        return Ok(());
    }
    let now = OffsetDateTime::now_utc();
    let window = time::Duration::try_from(config.window).unwrap_or(time::Duration::ZERO);
    let run_at = match oldest {
        _ if count >= cap => now,
        Some(t) => (t + window).max(now),
        None => now + window,
    };
    jobs::enqueue_batch_job(conn, tenant, run_at).await?;
    Ok(())
}
