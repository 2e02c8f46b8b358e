//! The log monitor job, in-process over a real database: each new checkpoint checked against
//! the last one, and the problems it must catch (a checkpoint signed over another history, a
//! checkpoint the log's key did not sign, an anchor stuck short of its trust point), each
//! alerted once by a metric and an audit entry.

use std::time::Duration;

use ancora::app::AppState;
use ancora::db::monitor::Alert;
use ancora::services::anchoring::tlog::TlogAnchor;
use ancora::services::monitor::{self, Report};
use ancora::workers;
use ancora_proof::Hash;
use ancora_proof::tlog::{Checkpoint, LogSigner, sign_checkpoint};
use sqlx::PgPool;

use crate::workers::{events, state_with, submit, tenant};

/// Makes `n` anchors, one per round.
async fn grow_log(state: &AppState, tag: &str, n: usize) {
    for round in 0..n {
        let auth = tenant(state, Some(round as i32 % 20)).await;
        submit(state, &auth, events(&format!("{tag}{round}"), 2)).await;
        workers::run_all_jobs_now(state).await.expect("jobs");
    }
}

/// One monitor check, committed, with its metrics.
async fn check(state: &AppState) -> Report {
    let mut tx = state.db.system_tx().await.expect("tx");
    let report = monitor::check(state, &mut tx).await.expect("check");
    tx.commit().await.expect("commit");
    monitor::record_metrics(state, &report);
    report
}

async fn alerts(state: &AppState) -> Vec<Alert> {
    let mut tx = state.db.system_tx().await.expect("tx");
    let a = ancora::db::monitor::alerts(&mut tx).await.expect("alerts");
    tx.commit().await.expect("commit");
    a
}

/// The platform audit entries the monitor wrote: `(action, subject)`.
async fn monitor_audit(state: &AppState) -> Vec<(String, Option<String>)> {
    let mut tx = state.db.system_tx().await.expect("tx");
    let rows = sqlx::query!(
        "SELECT action, subject FROM audit_log WHERE tenant_id IS NULL AND actor = 'log_monitor' \
         ORDER BY id"
    )
    .fetch_all(&mut *tx)
    .await
    .expect("audit");
    tx.commit().await.expect("commit");
    rows.into_iter().map(|r| (r.action, r.subject)).collect()
}

async fn latest_size(state: &AppState) -> i64 {
    let mut tx = state.db.system_tx().await.expect("tx");
    let cp = ancora::db::tlog::latest_checkpoint(&mut tx)
        .await
        .expect("checkpoint")
        .expect("a checkpoint");
    tx.commit().await.expect("commit");
    cp.size
}

/// Replaces the stored checkpoint of `size` with one signed by `signer` over `root`.
async fn replace_checkpoint(state: &AppState, signer: &LogSigner, size: i64, root: Hash) {
    let note = sign_checkpoint(
        signer,
        &Checkpoint {
            origin: signer.name().to_owned(),
            size: size as u64,
            root,
        },
    )
    .expect("sign");
    let mut tx = state.db.system_tx().await.expect("tx");
    sqlx::query!(
        "UPDATE tlog_checkpoints SET root = $1, note = $2 WHERE size = $3",
        &root.0[..],
        note,
        size
    )
    .execute(&mut *tx)
    .await
    .expect("update");
    tx.commit().await.expect("commit");
}

async fn log_signer(state: &AppState) -> LogSigner {
    let mut tx = state.db.system_tx().await.expect("tx");
    let s = TlogAnchor::from_config(&state.settings.log)
        .signer(&mut tx)
        .await
        .expect("signer");
    tx.commit().await.expect("commit");
    s
}

fn metric_line(state: &AppState, prefix: &str) -> Option<String> {
    state
        .metrics
        .render()
        .lines()
        .find(|l| l.starts_with(prefix))
        .map(str::to_owned)
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_monitor_checks_every_new_checkpoint_and_raises_nothing_on_an_honest_log(pool: PgPool) {
    // Arrange
    let state = state_with(pool, |_| {});
    grow_log(&state, "a", 3).await;

    // Act
    let first = check(&state).await;
    grow_log(&state, "b", 2).await;
    let second = check(&state).await;
    let third = check(&state).await;

    // Assert
    assert_eq!(first.checked, 3, "{first:?}");
    assert_eq!(first.size, 3);
    assert_eq!(second.checked, 2, "{second:?}");
    assert_eq!(second.size as i64, latest_size(&state).await);
    assert_eq!(third.checked, 0, "nothing new");
    assert!(alerts(&state).await.is_empty());
    assert!(monitor_audit(&state).await.is_empty());
    assert_eq!(
        metric_line(&state, "ancora_log_monitor_checked_size").as_deref(),
        Some("ancora_log_monitor_checked_size 5")
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_checkpoint_signed_over_another_history_is_a_fork_alerted_once_and_never_passed(
    pool: PgPool,
) {
    // Arrange: the monitor has seen size 2; the log grows; the newest checkpoint is replaced
    // by one the log's own key signed over a different root (a split view).
    let state = state_with(pool, |_| {});
    grow_log(&state, "a", 2).await;
    check(&state).await;
    grow_log(&state, "b", 2).await;
    let size = latest_size(&state).await;
    let signer = log_signer(&state).await;
    replace_checkpoint(&state, &signer, size, Hash([7; 32])).await;

    // Act
    let report = check(&state).await;
    let again = check(&state).await;

    // Assert
    assert_eq!(
        report.new_alerts,
        vec![("fork".to_owned(), format!("checkpoint:{size}"))]
    );
    assert_eq!(
        report.size,
        size as u64 - 1,
        "checked up to the last good one"
    );
    assert!(again.new_alerts.is_empty(), "alerted once");
    assert_eq!(again.size, size as u64 - 1, "never moves past the fork");
    let a = alerts(&state).await;
    assert_eq!(a.len(), 1);
    assert!(a[0].detail.contains("not consistent"), "{}", a[0].detail);
    assert_eq!(
        monitor_audit(&state).await,
        vec![(
            "log_monitor.fork".to_owned(),
            Some(format!("checkpoint:{size}"))
        )]
    );
    assert_eq!(
        metric_line(&state, "ancora_log_monitor_alerts_total").as_deref(),
        Some("ancora_log_monitor_alerts_total{kind=\"fork\"} 1")
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_checkpoint_the_log_key_did_not_sign_is_a_bad_signature_alert(pool: PgPool) {
    // Arrange: the right root and size, signed by another key with the log's name.
    let state = state_with(pool, |_| {});
    grow_log(&state, "a", 2).await;
    let size = latest_size(&state).await;
    let mut tx = state.db.system_tx().await.expect("tx");
    let root = ancora::db::tlog::checkpoint_at(&mut tx, size)
        .await
        .expect("read")
        .expect("checkpoint")
        .root;
    tx.commit().await.expect("commit");
    let name = log_signer(&state).await.name().to_owned();
    let impostor = LogSigner::from_seed(&name, [9; 32]).expect("signer");
    replace_checkpoint(
        &state,
        &impostor,
        size,
        Hash::from_slice(&root).expect("hash"),
    )
    .await;

    // Act
    let report = check(&state).await;

    // Assert
    assert_eq!(
        report.new_alerts,
        vec![("bad_signature".to_owned(), format!("checkpoint:{size}"))]
    );
    assert_eq!(report.checked, size as usize - 1);
    assert_eq!(
        monitor_audit(&state).await,
        vec![(
            "log_monitor.bad_signature".to_owned(),
            Some(format!("checkpoint:{size}"))
        )]
    );
    assert_eq!(
        metric_line(&state, "ancora_log_monitor_alerts_total").as_deref(),
        Some("ancora_log_monitor_alerts_total{kind=\"bad_signature\"} 1")
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_anchor_pending_past_the_bound_is_a_late_anchor_alert_and_a_recent_one_is_not(
    pool: PgPool,
) {
    // Arrange: two Chainweb anchors still pending, one made an hour ago, one just now.
    let state = state_with(pool, |c| {
        c.settings.monitor.anchor_deadline = Duration::from_secs(600);
    });
    let (old, recent) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let mut tx = state.db.system_tx().await.expect("tx");
    for (id, age_secs, root) in [(old, 3600.0, [1u8; 32]), (recent, 5.0, [2u8; 32])] {
        sqlx::query!(
            "INSERT INTO anchors (id, backend, target_chain, state, root, size, created_at) \
             VALUES ($1, 'chainweb', 0, 'submitted', $2, 1, now() - make_interval(secs => $3))",
            id,
            &root[..],
            age_secs
        )
        .execute(&mut *tx)
        .await
        .expect("anchor");
    }
    tx.commit().await.expect("commit");

    // Act
    let report = check(&state).await;
    let again = check(&state).await;

    // Assert
    assert_eq!(
        report.new_alerts,
        vec![("late_anchor".to_owned(), format!("anchor:{old}"))]
    );
    assert!(again.new_alerts.is_empty(), "alerted once");
    let a = alerts(&state).await;
    assert!(a[0].detail.contains("still submitted"), "{}", a[0].detail);
    assert_eq!(
        monitor_audit(&state).await,
        vec![(
            "log_monitor.late_anchor".to_owned(),
            Some(format!("anchor:{old}"))
        )]
    );
    assert_eq!(
        metric_line(&state, "ancora_log_monitor_alerts_total").as_deref(),
        Some("ancora_log_monitor_alerts_total{kind=\"late_anchor\"} 1")
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_monitor_runs_as_a_queued_job_and_schedules_its_next_run(pool: PgPool) {
    // Arrange
    let state = state_with(pool, |c| {
        c.settings.monitor.interval = Duration::from_secs(30);
    });
    grow_log(&state, "a", 2).await;

    // Act: what a worker does at start, then the due job.
    monitor::schedule(&state).await.expect("schedule");
    monitor::schedule(&state).await.expect("twice is once");
    let ran = workers::run_pending_jobs(&state).await.expect("jobs");

    // Assert: it ran once, checked the log, and its next run waits for the interval.
    assert_eq!(ran, 1);
    let mut tx = state.db.system_tx().await.expect("tx");
    let checked = ancora::db::monitor::state(&mut tx).await.expect("state");
    let next = sqlx::query_scalar!(
        r#"SELECT (run_at - now() > interval '20 seconds') AS "later!" FROM jobs WHERE kind = 'log_monitor'"#
    )
    .fetch_all(&mut *tx)
    .await
    .expect("job");
    tx.commit().await.expect("commit");
    assert_eq!(checked.map(|(size, _)| size), Some(2));
    assert_eq!(next, vec![true]);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_checked_checkpoint_rewritten_in_place_is_a_fork(pool: PgPool) {
    // Arrange: the monitor has checked size 2; that checkpoint is then re-signed over another
    // root, in place.
    let state = state_with(pool, |_| {});
    grow_log(&state, "a", 2).await;
    check(&state).await;
    let signer = log_signer(&state).await;
    replace_checkpoint(&state, &signer, 2, Hash([3; 32])).await;

    // Act
    let report = check(&state).await;

    // Assert
    assert_eq!(
        report.new_alerts,
        vec![("fork".to_owned(), "checkpoint:2".to_owned())]
    );
    assert_eq!(report.size, 2);
    let a = alerts(&state).await;
    assert!(a[0].detail.contains("rewritten"), "{}", a[0].detail);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_checked_checkpoint_that_is_gone_is_a_fork(pool: PgPool) {
    // Arrange: the monitor has checked size 2; the log is then cut back (checkpoint deleted).
    let state = state_with(pool, |_| {});
    grow_log(&state, "a", 2).await;
    check(&state).await;
    let mut tx = state.db.system_tx().await.expect("tx");
    sqlx::query!("DELETE FROM tlog_checkpoints WHERE size = 2")
        .execute(&mut *tx)
        .await
        .expect("delete");
    tx.commit().await.expect("commit");

    // Act
    let report = check(&state).await;

    // Assert
    assert_eq!(
        report.new_alerts,
        vec![("fork".to_owned(), "checkpoint:2".to_owned())]
    );
    let a = alerts(&state).await;
    assert!(a[0].detail.contains("is gone"), "{}", a[0].detail);
}
