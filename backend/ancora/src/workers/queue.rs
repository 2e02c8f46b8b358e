//! The Postgres job queue: enqueueing (in the caller's transaction) and waking workers.

use serde_json::json;
use sqlx::PgConnection;
use time::OffsetDateTime;

use crate::domain::TenantId;

/// The NOTIFY channel that wakes workers in every process.
pub const CHANNEL: &str = "ancora_jobs";

/// Job kind: close a tenant's pending events into batches.
pub const KIND_BATCH: &str = "batch";

/// Enqueues (or moves earlier) the tenant's batch job, in the caller's transaction, and
/// notifies workers when it commits. One pending batch job exists per tenant (`dedupe_key`);
/// a second enqueue only brings its `run_at` forward (and notifies only then). Returns whether
/// the job is new or moved.
pub async fn enqueue_batch_job(
    conn: &mut PgConnection,
    tenant: TenantId,
    run_at: OffsetDateTime,
) -> sqlx::Result<bool> {
    let dedupe = format!("batch:{tenant}");
    crate::db::jobs::enqueue_and_notify(
        conn,
        KIND_BATCH,
        Some(tenant.0),
        json!({ "tenant_id": tenant.0 }),
        &dedupe,
        run_at,
    )
    .await
}

/// [`enqueue_batch_job`] for an ingest that has read the job's run time (`seen`, `None`: no
/// job): nothing to write, and no row to lock, when the job exists and is due by `run_at`
/// already (the common case; see [`crate::db::events::count_and_enqueue_batch`]).
pub async fn ensure_batch_job(
    conn: &mut PgConnection,
    tenant: TenantId,
    seen: Option<OffsetDateTime>,
    run_at: OffsetDateTime,
) -> sqlx::Result<bool> {
    if seen.is_some_and(|at| at <= run_at) {
        return Ok(false);
    }
    enqueue_batch_job(conn, tenant, run_at).await
}

/// Job kind: aggregate a chain's closed batch roots into one anchor.
pub const KIND_ANCHOR: &str = "anchor";

/// Job kind: build and store every bundle of one batch once its anchor is final.
pub const KIND_PROVE: &str = "prove";

/// Enqueues the anchoring tick of `chain` (in the caller's transaction): one pending anchor
/// job per chain, so every root closed before `run_at` goes into the same anchor tree.
pub async fn enqueue_anchor_job(
    conn: &mut PgConnection,
    chain: i32,
    run_at: OffsetDateTime,
) -> sqlx::Result<()> {
    let dedupe = format!("anchor:{chain}");
    crate::db::jobs::enqueue_and_notify(
        conn,
        KIND_ANCHOR,
        None,
        json!({ "chain": chain }),
        &dedupe,
        run_at,
    )
    .await?;
    Ok(())
}

/// Enqueues the prove job of one batch (in the caller's transaction), run as its tenant.
pub async fn enqueue_prove_job(
    conn: &mut PgConnection,
    tenant: TenantId,
    batch: uuid::Uuid,
) -> sqlx::Result<()> {
    let dedupe = format!("prove:{batch}");
    crate::db::jobs::enqueue_and_notify(
        conn,
        KIND_PROVE,
        Some(tenant.0),
        json!({ "batch_id": batch }),
        &dedupe,
        OffsetDateTime::now_utc(),
    )
    .await?;
    Ok(())
}
