//! The service's health at a glance, read with a few cheap queries: what the worker's metrics
//! sampler exports as gauges ([`crate::services::health`]) and `ancora admin status` prints.
//! Counts and ages only; what crosses tenants goes through `ancora_health_tenants()` (see its
//! migration), which answers no event data.

use crate::db::Db;
use crate::support::metrics::Sampled;

/// Everything [`Sampled`] holds, plus what only the status command prints.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Health {
    /// The gauges.
    pub sampled: Sampled,
    /// Jobs leased by a worker right now, by kind.
    pub running_jobs: Vec<(String, i64)>,
    /// Jobs whose last run failed and that wait for their retry.
    pub retrying_jobs: i64,
    /// The transparency log's latest checkpoint size (0 before the first).
    pub log_size: i64,
    /// The size the log monitor has checked up to (0 before its first run).
    pub monitor_checked_size: i64,
    /// Log monitor alerts ever raised.
    pub monitor_alerts: i64,
    /// Seconds since the last anchor was made (`None`: no anchor yet).
    pub last_anchor_age: Option<f64>,
}

/// Reads the health: one system transaction, a handful of statements.
pub async fn read(db: &Db) -> sqlx::Result<Health> {
    let mut tx = db.system_tx().await?;
    let t = sqlx::query!(
        r#"SELECT pending_events AS "pending!", unproved_batches AS "unproved!",
                  oldest_unproved_seconds AS "oldest!"
           FROM ancora_health_tenants()"#
    )
    .fetch_one(&mut *tx)
    .await?;
    let jobs = sqlx::query!(
        r#"SELECT kind AS "kind!",
                  count(*) FILTER (WHERE locked_until IS NULL OR locked_until < now()) AS "waiting!",
                  count(*) FILTER (WHERE locked_until >= now()) AS "running!",
                  count(*) FILTER (WHERE last_error IS NOT NULL
                                     AND (locked_until IS NULL OR locked_until < now())) AS "retrying!",
                  COALESCE(extract(epoch FROM now() - min(run_at) FILTER (
                      WHERE run_at <= now() AND (locked_until IS NULL OR locked_until < now()))), 0)::float8
                      AS "oldest_due!"
           FROM jobs GROUP BY kind ORDER BY kind"#
    )
    .fetch_all(&mut *tx)
    .await?;
    let anchors = sqlx::query!(
        r#"SELECT backend AS "backend!",
                  count(*) FILTER (WHERE state <> 'failed') AS "open!",
                  count(*) FILTER (WHERE state = 'failed') AS "failed!"
           FROM anchors WHERE state IN ('pending', 'submitted', 'confirmed', 'failed')
           GROUP BY backend ORDER BY backend"#
    )
    .fetch_all(&mut *tx)
    .await?;
    let log = sqlx::query!(
        r#"SELECT (SELECT COALESCE(max(size), 0) FROM tlog_checkpoints) AS "log_size!",
                  (SELECT COALESCE(max(size), 0) FROM log_monitor_state) AS "checked!",
                  (SELECT count(*) FROM log_monitor_alerts) AS "alerts!",
                  -- anchor ids are UUIDv7, so the primary key orders them by creation
                  (SELECT extract(epoch FROM now() - created_at)::float8
                   FROM anchors ORDER BY id DESC LIMIT 1) AS "last_anchor_age""#
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Health {
        sampled: Sampled {
            pending_events: t.pending,
            queue_depth: jobs.iter().map(|j| (j.kind.clone(), j.waiting)).collect(),
            oldest_due_job_age: jobs.iter().map(|j| j.oldest_due).fold(0.0, f64::max),
            unproved_batches: t.unproved,
            oldest_unproved_batch_age: t.oldest,
            open_anchors: anchors
                .iter()
                .map(|a| (a.backend.clone(), a.open))
                .collect(),
            failed_anchors: anchors.iter().map(|a| a.failed).sum(),
        },
        running_jobs: jobs
            .iter()
            .filter(|j| j.running > 0)
            .map(|j| (j.kind.clone(), j.running))
            .collect(),
        retrying_jobs: jobs.iter().map(|j| j.retrying).sum(),
        log_size: log.log_size,
        monitor_checked_size: log.checked,
        monitor_alerts: log.alerts,
        last_anchor_age: log.last_anchor_age,
    })
}
