//! The anchoring tick: one per chain. Every anchor root goes into Ancora's signed log at once
//! (the fast path: its batches are proved right away), and with the `chainweb` backend it is
//! also written on Chainweb (the final path, confirmed by its own job). It locks the chain's waiting batch roots, builds
//! one anchor tree over them (each root a tree leaf), stores the anchor, binds the roots to it
//! and hands the anchor root to the backend — one system transaction. A root is bound once
//! (`anchor_id IS NULL` under `FOR UPDATE SKIP LOCKED`), so no batch is anchored twice, and a
//! crash before commit leaves the roots waiting for the next tick.

use ancora_proof::merkle::MerkleTree;
use ancora_proof::{Hash, HashAlgorithm};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::anchors;
use crate::db::jobs::{self, Job};
use crate::domain::TenantId;
use crate::services::Services;
use crate::services::anchoring::tlog::TlogAnchor;
use crate::services::anchoring::{AnchorBackend, AnchorRequest, Backend, Outcome};
use crate::services::settings::LogConfig;

/// Most batch roots in one anchor tree; more wait for the next (immediate) tick.
pub const MAX_ROOTS: i64 = 50_000;

/// Runs the anchoring tick of `chain`, taking `job` in the same transaction.
pub async fn run(svc: &Services, chain: i32, job: &Job) -> anyhow::Result<()> {
    let backend = Backend::configured(&svc.settings);
    let mut tx = svc.db.system_tx().await?;
    if !jobs::take(&mut tx, job).await? {
        return Ok(());
    }
    let waiting = anchors::lock_waiting(&mut tx, chain, MAX_ROOTS).await?;
    let made = if waiting.is_empty() {
        None
    } else {
        Some(anchor_roots(&mut tx, &backend, &svc.settings.log, chain, &waiting).await?)
    };
    if anchors::any_waiting(&mut tx, chain).await? {
        jobs::enqueue_anchor_job(&mut tx, chain, OffsetDateTime::now_utc()).await?;
    }
    tx.commit().await?;
    if let Some((anchor, outcome, finalized)) = made {
        if outcome == Outcome::Final {
            observe_final(svc, finalized.as_ref());
        }
        tracing::debug!(anchor_id = %anchor, chain, roots = waiting.len(), "anchor made");
    }
    Ok(())
}

/// Anchors `waiting` (locked by the caller) in one tree; returns the anchor, what the
/// backend did and, when that made it final, what to measure.
async fn anchor_roots(
    conn: &mut PgConnection,
    backend: &Backend,
    log: &LogConfig,
    chain: i32,
    waiting: &[anchors::Waiting],
) -> anyhow::Result<(Uuid, Outcome, Option<anchors::Finalized>)> {
    let roots = waiting
        .iter()
        .map(|w| Hash::from_slice(&w.root))
        .collect::<Result<Vec<_>, _>>()?;
    // A tree leaf enters as is, so the leaf hashes are the batch roots themselves.
    let root = MerkleTree::from_leaf_hashes(HashAlgorithm::Sha512_256, roots).root();
    let id = Uuid::now_v7();
    let size = i32::try_from(waiting.len())?;
    anchors::insert_anchor(conn, id, backend.kind(), chain, &root.0, size).await?;
    let batch_ids: Vec<Uuid> = waiting.iter().map(|w| w.batch_id).collect();
    let bound = anchors::bind_batches(conn, id, &batch_ids).await?;
    anyhow::ensure!(
        bound == batch_ids.len() as u64,
        "bound {bound} of {} batch roots to anchor {id}",
        batch_ids.len()
    );
    let request = AnchorRequest {
        id,
        target_chain: chain,
        root,
        size: waiting.len(),
    };
    // The fast path, whatever the backend: the root goes into Ancora's signed log now, so
    // every event of these batches gets a verifiable proof at once.
    let log = TlogAnchor::from_config(log);
    let fast = log.record(conn, &request).await?;
    anyhow::ensure!(fast == Outcome::Final, "the log did not take anchor {id}");
    let outcome = match backend {
        Backend::Tlog(_) => fast,
        // The final path: the backend's own record (a Chainweb transaction, confirmed by its
        // job, which finalizes the anchor and adds the Chainweb trust point to the proofs).
        Backend::Chainweb(_) => backend.record(conn, &request).await?,
    };
    let finalized = if outcome == Outcome::Final {
        finalize(conn, id).await?
    } else {
        enqueue_proofs(conn, id).await?;
        None
    };
    Ok((id, outcome, finalized))
}

/// Marks an anchor final and enqueues one prove job per batch in it, in the caller's
/// transaction. Backends with remote work call this from their confirming job.
pub async fn finalize(
    conn: &mut PgConnection,
    anchor: Uuid,
) -> anyhow::Result<Option<anchors::Finalized>> {
    let finalized = anchors::mark_final(conn, anchor).await?;
    enqueue_proofs(conn, anchor).await?;
    Ok(finalized)
}

/// Counts an anchor made final (once its transaction committed) and records its latency.
pub fn observe_final(svc: &Services, finalized: Option<&anchors::Finalized>) {
    svc.metrics.anchors_final.inc();
    if let Some(f) = finalized {
        svc.metrics.observe_anchor(
            &f.backend,
            f.chain,
            std::time::Duration::from_secs_f64(f.latency_secs),
        );
    }
}

/// Enqueues one prove job per batch of `anchor` (the fast path's proofs, or the final path
/// adding its trust point), in the caller's transaction.
pub async fn enqueue_proofs(conn: &mut PgConnection, anchor: Uuid) -> anyhow::Result<()> {
    for (batch, tenant) in anchors::anchor_batches(conn, anchor).await? {
        jobs::enqueue_prove_job(conn, TenantId(tenant), batch).await?;
    }
    Ok(())
}
