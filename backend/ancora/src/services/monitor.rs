//! Log monitoring: checks that every new signed checkpoint of Ancora's transparency log
//! extends the previous one (an RFC 6962 consistency proof, checked with `ancora_proof::tlog`
//! exactly as an outside auditor checks it) and that every anchor reaches its trust point
//! within [`MonitorConfig::anchor_deadline`](crate::services::settings::MonitorConfig).
//!
//! A problem raises an alert once: a row in `log_monitor_alerts`, a platform audit entry
//! (`log_monitor.<kind>`) and `ancora_log_monitor_alerts_total{kind}`. Kinds:
//!
//! * `fork` — a checkpoint whose root is not consistent with the last one checked (the stored
//!   log was rewritten, or a checkpoint was signed over another history), or the last one
//!   checked rewritten in place or gone;
//! * `bad_signature` — a stored checkpoint the log's key does not open;
//! * `late_anchor` — an anchor still not final after the deadline (a stuck Chainweb write).
//!
//! The monitor never moves past a bad checkpoint: its state stays at the last good one, so
//! the problem stays visible until an operator acts. The `log_monitor` job runs [`run`] every
//! `ANCORA_MONITOR_INTERVAL_MS`; the same checks for outsiders are `ancora monitor`.

use ancora_proof::Hash;
use ancora_proof::merkle::empty_root;
use ancora_proof::tlog::{self as core, TLOG_ALG};
use serde_json::json;
use sqlx::PgConnection;
use time::OffsetDateTime;

use crate::db;
use crate::db::audit::AuditEntry;
use crate::db::jobs::{self, Job};
use crate::services::Services;
use crate::services::anchoring::tlog::{self, TlogAnchor};
use crate::support::metrics::AlertLabels;

/// Most checkpoints checked in one run; more are checked by an immediate next run.
pub const MAX_CHECKPOINTS_PER_RUN: i64 = 500;

/// Most late anchors alerted in one run.
const MAX_LATE_ANCHORS_PER_RUN: i64 = 100;

/// The audit log's actor for the monitor's entries.
pub const ACTOR: &str = "log_monitor";

/// What one run found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Checkpoints found consistent in this run.
    pub checked: usize,
    /// Size of the last checkpoint found consistent (the monitor's state).
    pub size: u64,
    /// Alerts raised for the first time in this run: `(kind, subject)`.
    pub new_alerts: Vec<(String, String)>,
    /// Whether unchecked checkpoints remain (the next run is due at once).
    pub more: bool,
}

/// Errors of a monitor run (not problems of the log: those are alerts).
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Reading the stored log failed (a missing node, a stored value that does not parse).
    #[error("log: {0:#}")]
    Log(#[from] anyhow::Error),
}

/// Runs the `log_monitor` job: takes `job`, checks, enqueues the next run, all in one
/// transaction; then counts the new alerts in the metrics.
pub async fn run(svc: &Services, job: &Job) -> Result<Report, MonitorError> {
    let mut tx = svc.db.system_tx().await?;
    if !jobs::take(&mut tx, job).await? {
        return Ok(Report::default());
    }
    let report = check(svc, &mut tx).await?;
    let next = if report.more {
        OffsetDateTime::now_utc()
    } else {
        OffsetDateTime::now_utc() + svc.settings.monitor.interval
    };
    jobs::enqueue_log_monitor_job(&mut tx, next).await?;
    tx.commit().await?;
    record_metrics(svc, &report);
    Ok(report)
}

/// Makes sure the monitor's job exists (every worker process calls it at start; one job
/// exists however many call it).
pub async fn schedule(svc: &Services) -> Result<(), MonitorError> {
    let mut tx = svc.db.system_tx().await?;
    jobs::enqueue_log_monitor_job(&mut tx, OffsetDateTime::now_utc()).await?;
    tx.commit().await?;
    Ok(())
}

/// Publishes what a run found.
pub fn record_metrics(svc: &Services, report: &Report) {
    for (kind, _) in &report.new_alerts {
        svc.metrics
            .log_monitor_alerts
            .get_or_create(&AlertLabels { kind: kind.clone() })
            .inc();
    }
    svc.metrics
        .log_monitor_checked_size
        .set(i64::try_from(report.size).unwrap_or(i64::MAX));
}

/// One check in the caller's (system) transaction: new checkpoints in order, then late anchors.
pub async fn check(svc: &Services, conn: &mut PgConnection) -> Result<Report, MonitorError> {
    let mut report = check_checkpoints(svc, conn).await?;
    let deadline = OffsetDateTime::now_utc() - svc.settings.monitor.anchor_deadline;
    for a in db::monitor::late_anchors(conn, deadline, MAX_LATE_ANCHORS_PER_RUN).await? {
        let detail = format!(
            "{} anchor {} is still {} since {} (bound {} s)",
            a.backend,
            a.id,
            a.state,
            a.created_at,
            svc.settings.monitor.anchor_deadline.as_secs()
        );
        let subject = format!("anchor:{}", a.id);
        alert(conn, &mut report, "late_anchor", &subject, &detail).await?;
    }
    Ok(report)
}

async fn check_checkpoints(
    svc: &Services,
    conn: &mut PgConnection,
) -> Result<Report, MonitorError> {
    let verifier = TlogAnchor::from_config(&svc.settings.log)
        .verifier(conn)
        .await?;
    let (mut size, mut root) = match db::monitor::state(conn).await? {
        Some((size, root)) => (
            u64::try_from(size).map_err(anyhow::Error::from)?,
            Hash::from_slice(&root).map_err(anyhow::Error::from)?,
        ),
        None => (0, empty_root(TLOG_ALG)),
    };
    let stored_size = i64::try_from(size).map_err(anyhow::Error::from)?;
    if let Some(detail) = still_there(conn, stored_size, &root).await? {
        let mut report = Report {
            size,
            ..Report::default()
        };
        let subject = format!("checkpoint:{size}");
        alert(conn, &mut report, "fork", &subject, &detail).await?;
        return Ok(report);
    }
    let new = db::tlog::checkpoints_after(conn, stored_size, MAX_CHECKPOINTS_PER_RUN).await?;
    let log_size = tlog::log_size(conn).await?;
    let mut report = Report {
        more: new.len() as i64 == MAX_CHECKPOINTS_PER_RUN,
        ..Report::default()
    };
    for stored in &new {
        let subject = format!("checkpoint:{}", stored.size);
        let cp = match core::open_checkpoint(&stored.note, &verifier) {
            Ok(cp) => cp,
            Err(e) => {
                let detail = format!("checkpoint of size {}: {e}", stored.size);
                alert(conn, &mut report, "bad_signature", &subject, &detail).await?;
                report.more = false;
                break;
            }
        };
        if let Err(detail) = consistent(conn, (size, &root), &cp, stored, log_size).await? {
            alert(conn, &mut report, "fork", &subject, &detail).await?;
            report.more = false;
            break;
        }
        size = cp.size;
        root = cp.root;
        report.checked += 1;
    }
    if report.checked > 0 {
        let size = i64::try_from(size).map_err(anyhow::Error::from)?;
        db::monitor::save_state(conn, size, &root.0).await?;
    }
    report.size = size;
    Ok(report)
}

/// Whether the checkpoint checked last is still stored as it was: `Some` names what changed
/// (rewritten in place, or gone: the log was truncated or restored from an older copy).
async fn still_there(
    conn: &mut PgConnection,
    size: i64,
    root: &Hash,
) -> Result<Option<String>, MonitorError> {
    if size == 0 {
        return Ok(None);
    }
    Ok(match db::tlog::checkpoint_at(conn, size).await? {
        None => Some(format!(
            "the checkpoint of size {size} checked before is gone (the log was truncated)"
        )),
        Some(cp) if cp.root[..] != root.0[..] => Some(format!(
            "the checkpoint of size {size} checked before was rewritten with another root"
        )),
        Some(_) => None,
    })
}

/// Whether the signed checkpoint `cp` (stored as `stored`) extends `(size, root)`: `Ok(Err)`
/// names the inconsistency.
async fn consistent(
    conn: &mut PgConnection,
    (size, root): (u64, &Hash),
    cp: &core::Checkpoint,
    stored: &db::tlog::StoredCheckpoint,
    log_size: u64,
) -> Result<Result<(), String>, MonitorError> {
    if i64::try_from(cp.size).ok() != Some(stored.size) || cp.root.0[..] != stored.root[..] {
        return Ok(Err(format!(
            "the checkpoint stored as size {} signs size {} with another root",
            stored.size, cp.size
        )));
    }
    if cp.size > log_size {
        return Ok(Err(format!(
            "checkpoint of size {} is beyond the log's {log_size} leaves",
            cp.size
        )));
    }
    let proof = tlog::consistency(conn, size, cp.size).await?;
    Ok(
        core::verify_consistency(size, cp.size, root, &cp.root, &proof).map_err(|e| {
            format!(
                "checkpoint of size {} is not consistent with size {size}: {e}",
                cp.size
            )
        }),
    )
}

/// Raises an alert once: its row, a platform audit entry, and the report.
async fn alert(
    conn: &mut PgConnection,
    report: &mut Report,
    kind: &str,
    subject: &str,
    detail: &str,
) -> Result<(), MonitorError> {
    if !db::monitor::raise_alert(conn, kind, subject, detail).await? {
        return Ok(());
    }
    tracing::error!(kind, subject, detail, "log monitor alert");
    let action = format!("log_monitor.{kind}");
    db::audit::record(
        conn,
        AuditEntry {
            tenant: None,
            actor: ACTOR,
            action: &action,
            subject: Some(subject),
            details: json!({ "detail": detail }),
        },
    )
    .await?;
    report
        .new_alerts
        .push((kind.to_owned(), subject.to_owned()));
    Ok(())
}
