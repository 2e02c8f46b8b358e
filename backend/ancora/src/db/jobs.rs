//! The job queue's SQL: claim with a lease, finish, fail with backoff, enqueue with dedupe, and
//! the job kinds with their dedupe keys (so that enqueueing a follow-up, which other SQL does in
//! the caller's transaction, needs nothing from the workers above).
//!
//! A job is claimed in its own short transaction (the lease is the lock, never a transaction
//! held open). Its work then runs in another transaction whose first statement is
//! [`take`]: deleting the job row with the attempt number it was claimed with, so a worker
//! whose lease expired and whose job was claimed again finds nothing to delete and rolls back.

use std::time::Duration;

use serde_json::json;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::Db;
use crate::domain::TenantId;

/// A claimed job.
#[derive(Clone, Debug)]
pub struct Job {
    /// Row id.
    pub id: i64,
    /// What to run (`batch`, `anchor`, `prove`).
    pub kind: String,
    /// The tenant, for tenant jobs.
    pub tenant_id: Option<Uuid>,
    /// Job arguments.
    pub payload: serde_json::Value,
    /// Attempts so far, this one included.
    pub attempts: i32,
    /// Attempts after which failures are logged as errors.
    pub max_attempts: i32,
}

/// Which job kinds a claim may take: the webhook deliveries have runners of their own, so a
/// slow receiver never holds up batching, anchoring or proving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// Any kind (tests draining the queue).
    Any,
    /// Every kind but webhook deliveries.
    Work,
    /// Webhook deliveries only.
    Webhooks,
}

impl Lane {
    /// `(only, except)` kind filters of the claim query.
    fn filters(self) -> (Option<&'static str>, Option<&'static str>) {
        match self {
            Lane::Any => (None, None),
            Lane::Work => (None, Some(KIND_WEBHOOK_DELIVERY)),
            Lane::Webhooks => (Some(KIND_WEBHOOK_DELIVERY), None),
        }
    }
}

/// Claims the next due job (or, with `ignore_run_at`, any job whose lease is free: tests use
/// it so a batch window need not elapse), setting its lease. Commits at once.
pub async fn claim(db: &Db, lease: Duration, ignore_run_at: bool) -> sqlx::Result<Option<Job>> {
    claim_in(db, lease, ignore_run_at, Lane::Any).await
}

/// [`claim`] among the kinds of `lane`.
pub async fn claim_in(
    db: &Db,
    lease: Duration,
    ignore_run_at: bool,
    lane: Lane,
) -> sqlx::Result<Option<Job>> {
    let (only, except) = lane.filters();
    let mut tx = db.system_tx().await?;
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    let job = sqlx::query_as!(
        Job,
        "UPDATE jobs SET locked_until = now() + make_interval(secs => $1::bigint / 1000.0), \
                         attempts = attempts + 1 \
         WHERE id = ( \
             SELECT id FROM jobs \
             WHERE ($2 OR run_at <= now()) \
               AND (locked_until IS NULL OR locked_until < now()) \
               AND ($3::text IS NULL OR kind = $3) AND ($4::text IS NULL OR kind <> $4) \
             ORDER BY run_at, id \
             FOR UPDATE SKIP LOCKED \
             LIMIT 1) \
         RETURNING id, kind, tenant_id, payload, attempts, max_attempts",
        lease_ms,
        ignore_run_at,
        only,
        except
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(job)
}

/// When the next job of `lane` becomes claimable (its run time, or its lease's end), if any
/// job exists.
pub async fn next_due(db: &Db, lane: Lane) -> sqlx::Result<Option<OffsetDateTime>> {
    let (only, except) = lane.filters();
    let mut tx = db.system_tx().await?;
    let at = sqlx::query_scalar!(
        "SELECT min(GREATEST(run_at, COALESCE(locked_until, run_at))) FROM jobs \
         WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR kind <> $2)",
        only,
        except
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(at)
}

/// Deletes the claimed job inside the work's transaction. Returns false when the job is gone
/// or was claimed again after this lease expired: the caller must then do nothing.
pub async fn take(conn: &mut PgConnection, job: &Job) -> sqlx::Result<bool> {
    let n = sqlx::query!(
        "DELETE FROM jobs WHERE id = $1 AND attempts = $2",
        job.id,
        job.attempts
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Renews the lease of a claimed job that is still running: `lease` from now. Returns false
/// when the job is gone or was claimed again (another attempt number): the lease is lost.
pub async fn extend_lease(db: &Db, job: &Job, lease: Duration) -> sqlx::Result<bool> {
    let mut tx = db.system_tx().await?;
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    let n = sqlx::query!(
        "UPDATE jobs SET locked_until = now() + make_interval(secs => $3::bigint / 1000.0) \
         WHERE id = $1 AND attempts = $2",
        job.id,
        job.attempts,
        lease_ms
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(n == 1)
}

/// Records a failure: frees the lease and retries after `backoff`.
pub async fn fail(db: &Db, job: &Job, error: &str, backoff: Duration) -> sqlx::Result<()> {
    let mut tx = db.system_tx().await?;
    let backoff_ms = i64::try_from(backoff.as_millis()).unwrap_or(i64::MAX);
    sqlx::query!(
        "UPDATE jobs SET locked_until = NULL, last_error = $3, \
                         run_at = now() + make_interval(secs => $4::bigint / 1000.0) \
         WHERE id = $1 AND attempts = $2",
        job.id,
        job.attempts,
        error,
        backoff_ms
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Frees the leases of claimed jobs `(id, attempts)` a stopping process abandons, so another
/// process can claim them at once instead of after the lease. A job claimed again meanwhile
/// (another attempt number) or finished (gone) is left alone. Returns how many were freed.
pub async fn release(db: &Db, held: &[(i64, i32)]) -> sqlx::Result<u64> {
    let ids: Vec<i64> = held.iter().map(|h| h.0).collect();
    let attempts: Vec<i32> = held.iter().map(|h| h.1).collect();
    let mut tx = db.system_tx().await?;
    let n = sqlx::query!(
        "UPDATE jobs j SET locked_until = NULL \
         FROM UNNEST($1::bigint[], $2::integer[]) AS h(id, attempts) \
         WHERE j.id = h.id AND j.attempts = h.attempts",
        &ids,
        &attempts
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(n)
}

/// Enqueues a job in the caller's transaction. With a `dedupe` key, a pending job with that
/// key is kept and only its run time moves earlier.
pub async fn enqueue(
    conn: &mut PgConnection,
    kind: &str,
    tenant: Option<Uuid>,
    payload: serde_json::Value,
    dedupe: Option<&str>,
    run_at: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO jobs (kind, tenant_id, payload, dedupe_key, run_at) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (dedupe_key) DO UPDATE SET run_at = LEAST(jobs.run_at, EXCLUDED.run_at)",
        kind,
        tenant,
        payload,
        dedupe,
        run_at
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Enqueues a deduplicated job in the caller's transaction, or moves the pending one with
/// that key earlier, and NOTIFYs workers (on commit) only when it did either: a job already
/// due early enough is neither rewritten nor announced again (NOTIFY serializes commits).
/// Returns whether the job is new or moved.
pub async fn enqueue_and_notify(
    conn: &mut PgConnection,
    kind: &str,
    tenant: Option<Uuid>,
    payload: serde_json::Value,
    dedupe: &str,
    run_at: OffsetDateTime,
) -> sqlx::Result<bool> {
    let n = sqlx::query_scalar!(
        r#"WITH job AS (
               INSERT INTO jobs (kind, tenant_id, payload, dedupe_key, run_at)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (dedupe_key) DO UPDATE SET run_at = EXCLUDED.run_at
               WHERE jobs.run_at > EXCLUDED.run_at
               RETURNING 1),
           note AS (SELECT pg_notify($6, $1) FROM job)
           SELECT count(*) AS "n!" FROM note"#,
        kind,
        tenant,
        payload,
        dedupe,
        run_at,
        CHANNEL
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

/// Wakes workers in every process once the caller's transaction commits.
pub async fn notify(conn: &mut PgConnection, kind: &str) -> sqlx::Result<()> {
    sqlx::query!("SELECT pg_notify($1, $2) AS n", CHANNEL, kind)
        .fetch_one(&mut *conn)
        .await?;
    Ok(())
}

/// Tenants whose oldest pending event is older than `older_than` and that have no batch job
/// (the sweeper's question).
pub async fn stale_pending_tenants(db: &Db, older_than: Duration) -> sqlx::Result<Vec<Uuid>> {
    let mut tx = db.system_tx().await?;
    let ms = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
    let rows = sqlx::query_scalar!(
        r#"SELECT s.tenant_id AS "tenant_id!"
           FROM ancora_stale_pending_tenants(make_interval(secs => $1::bigint / 1000.0)) s
           -- a tenant whose batch job exists (due, running, or with an expired lease) is only
           -- busy, not stalled: that job will run
           WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.dedupe_key = 'batch:' || s.tenant_id)"#,
        ms
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// Chains with batch roots waiting longer than `older_than` for an anchor and no anchor job
/// (the sweeper's other question).
pub async fn stale_anchor_chains(db: &Db, older_than: Duration) -> sqlx::Result<Vec<i32>> {
    let mut tx = db.system_tx().await?;
    let ms = i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
    let rows = sqlx::query_scalar!(
        "SELECT DISTINCT q.target_chain FROM anchor_queue q \
         WHERE q.anchor_id IS NULL AND q.enqueued_at < now() - make_interval(secs => $1::bigint / 1000.0) \
           AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.dedupe_key = 'anchor:' || q.target_chain)",
        ms
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// Jobs of `kind` that exist (claimed or not); for tests and metrics.
pub async fn count_kind(db: &Db, kind: &str) -> sqlx::Result<i64> {
    let mut tx = db.system_tx().await?;
    let n = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM jobs WHERE kind = $1"#, kind)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(n)
}

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
    enqueue_and_notify(
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
    enqueue_and_notify(
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
    enqueue_and_notify(
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

/// Job kind: send, confirm and prove one chainweb anchor, one committed step a run.
pub const KIND_CHAINWEB_ANCHOR: &str = "chainweb_anchor";

/// Enqueues the confirming job of chainweb anchor `anchor` to run now, in the caller's
/// transaction.
pub async fn enqueue_chainweb_job(conn: &mut PgConnection, anchor: Uuid) -> sqlx::Result<()> {
    enqueue_chainweb_job_at(conn, anchor, OffsetDateTime::now_utc()).await
}

/// [`enqueue_chainweb_job`] at `at`.
pub async fn enqueue_chainweb_job_at(
    conn: &mut PgConnection,
    anchor: Uuid,
    at: OffsetDateTime,
) -> sqlx::Result<()> {
    let dedupe = format!("chainweb:{anchor}");
    enqueue(
        conn,
        KIND_CHAINWEB_ANCHOR,
        None,
        json!({ "anchor_id": anchor }),
        Some(&dedupe),
        at,
    )
    .await?;
    notify(conn, KIND_CHAINWEB_ANCHOR).await
}

/// Job kind: report every billed tenant's unreported usage to the payment provider.
pub const KIND_BILLING_REPORT: &str = "billing_report";

/// Enqueues the usage report (one pending at a time) in the caller's transaction.
pub async fn enqueue_billing_report(
    conn: &mut PgConnection,
    run_at: OffsetDateTime,
) -> sqlx::Result<()> {
    enqueue(
        conn,
        KIND_BILLING_REPORT,
        None,
        json!({}),
        Some(KIND_BILLING_REPORT),
        run_at,
    )
    .await
}

/// Job kind: check the log's new checkpoints and late anchors ([`crate::services::monitor`]).
pub const KIND_LOG_MONITOR: &str = "log_monitor";

/// Enqueues the log monitor's run at `run_at` (in the caller's transaction), or moves the
/// pending one earlier: one pending monitor job exists.
pub async fn enqueue_log_monitor_job(
    conn: &mut PgConnection,
    run_at: OffsetDateTime,
) -> sqlx::Result<()> {
    enqueue(
        conn,
        KIND_LOG_MONITOR,
        None,
        json!({}),
        Some("log_monitor"),
        run_at,
    )
    .await
}

/// Job kind: one archiving pass ([`crate::services::archive::archiver`]).
pub const KIND_ARCHIVE: &str = "archive";

/// Enqueues an archiving pass at `run_at` (one pending at a time) in the caller's transaction.
pub async fn enqueue_archive_job(
    conn: &mut PgConnection,
    run_at: OffsetDateTime,
) -> sqlx::Result<()> {
    enqueue(
        conn,
        KIND_ARCHIVE,
        None,
        json!({}),
        Some(KIND_ARCHIVE),
        run_at,
    )
    .await
}

/// Job kind: send one webhook delivery (and schedule its retry).
pub const KIND_WEBHOOK_DELIVERY: &str = "webhook_delivery";

/// Enqueues the sending of webhook delivery `delivery` of `tenant` at `run_at` (in the caller's
/// transaction), and notifies the workers.
pub async fn enqueue_webhook_delivery(
    conn: &mut PgConnection,
    tenant: TenantId,
    delivery: Uuid,
    run_at: OffsetDateTime,
) -> sqlx::Result<()> {
    let dedupe = format!("webhook:{delivery}");
    enqueue(
        conn,
        KIND_WEBHOOK_DELIVERY,
        Some(tenant.0),
        json!({ "delivery_id": delivery }),
        Some(&dedupe),
        run_at,
    )
    .await?;
    notify(conn, KIND_WEBHOOK_DELIVERY).await
}
