//! Graceful shutdown: SIGTERM in the middle of anchoring under load loses nothing (the real
//! binary, restarted), exits in bounded time and leaves no job leased; a job that outlives the
//! grace period is abandoned and its lease released at once (in-process, a hanging node).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ancora::config::{AnchorBackendKind, ChainwebConfig};
use ancora::db::Db;
use ancora::support::Shutdown;
use ancora::workers;
use ancora_chainweb::testkit::TestNode;
use secrecy::SecretString;
use sqlx::PgPool;

use crate::crash::{submit_until, wait_until_all_proved};
use crate::helpers::process::*;
use crate::workers::{events, state_with, submit, tenant};

/// Jobs whose lease is still running.
async fn leased_jobs(pool: &PgPool) -> i64 {
    sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM jobs WHERE locked_until > now()"#)
        .fetch_one(pool)
        .await
        .expect("count")
}

/// Batch roots closed but not anchored yet, and batches not proved yet: work in flight.
async fn in_flight(pool: &PgPool) -> i64 {
    sqlx::query_scalar!(
        r#"SELECT (SELECT count(*) FROM anchor_queue WHERE anchor_id IS NULL)
                + (SELECT count(*) FROM jobs WHERE kind IN ('batch', 'anchor', 'prove')) AS "n!""#
    )
    .fetch_one(pool)
    .await
    .expect("count")
}

#[sqlx::test(migrations = "../../migrations")]
async fn sigterm_in_the_middle_of_anchoring_under_load_loses_nothing_and_exits_in_bounded_time(
    pool: PgPool,
) {
    // Arrange
    let dir = tempdir("sigterm");
    let log = dir.join("server.log");
    let (tenant, key) = tenant_and_key(&pool).await;
    let grace = Duration::from_secs(3);
    let env = vec![
        ("DATABASE_URL", database_url_of(&pool)),
        ("ANCORA_DATA_DIR", dir.join("data").display().to_string()),
        ("ANCORA_BATCH_WINDOW_MS", "100".to_owned()),
        ("ANCORA_BATCH_MAX_EVENTS", "40".to_owned()),
        ("ANCORA_ANCHOR_INTERVAL_MS", "30".to_owned()),
        ("ANCORA_SHUTDOWN_GRACE_MS", grace.as_millis().to_string()),
        ("ANCORA_DB_POOL", "6".to_owned()),
    ];
    let mut acked: Vec<String> = Vec::new();
    let mut busy_at_sigterm = 0;

    // Act: load, SIGTERM while batches are being anchored and proved, restart; a few times.
    for round in 0..4 {
        let server = Server::start(&env, &log, Duration::from_secs(30)).await;
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..3)
            .map(|c| {
                tokio::spawn(submit_until(
                    server.port,
                    key.clone(),
                    format!("t{round}c{c}"),
                    10,
                    stop.clone(),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(400 + 150 * round)).await;
        if in_flight(&pool).await > 0 {
            busy_at_sigterm += 1;
        }
        let (status, took) = server.terminate(Duration::from_secs(30)).await;
        let leased = leased_jobs(&pool).await;
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            acked.extend(c.await.expect("client"));
        }

        // Assert (each round): a clean, bounded exit that leaves no job leased.
        assert!(
            status.success(),
            "exit status {status}; see {}",
            log.display()
        );
        assert!(
            took < grace + ancora::server::SHUTDOWN_BACKSTOP,
            "shutdown took {took:?}"
        );
        assert_eq!(leased, 0, "a stopped process holds no lease");
    }
    let server = Server::start(&env, &log, Duration::from_secs(30)).await;
    wait_until_all_proved(&pool, tenant, Duration::from_secs(60)).await;
    server.stop().await;

    // Assert: every acknowledged event is proved, and no root was anchored twice.
    assert!(busy_at_sigterm > 0, "SIGTERM never met work in flight");
    assert!(
        acked.len() > 100,
        "only {} events acknowledged",
        acked.len()
    );
    let db = Db::from_pool(pool.clone());
    let mut tx = db.tenant_tx(tenant).await.expect("tx");
    for id in &acked {
        let proof = ancora::db::proofs::get(&mut tx, tenant, id)
            .await
            .expect("read");
        assert!(proof.is_some(), "acknowledged event {id} has no proof");
    }
    tx.commit().await.expect("commit");
    let mut tx = db.system_tx().await.expect("tx");
    let twice = ancora::db::anchors::roots_anchored_twice(&mut tx)
        .await
        .expect("check");
    let counts = sqlx::query!(
        r#"SELECT (SELECT count(*) FROM anchors) AS "anchors!",
                  (SELECT count(DISTINCT root) FROM anchors) AS "roots!",
                  (SELECT count(*) FROM tlog_leaves) AS "leaves!""#
    )
    .fetch_one(&mut *tx)
    .await
    .expect("counts");
    tx.commit().await.expect("commit");
    assert_eq!(twice, 0, "a batch root in two anchors");
    assert_eq!(counts.anchors, counts.roots);
    assert_eq!(
        counts.anchors, counts.leaves,
        "every anchor in the log once"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_job_still_running_after_the_grace_period_is_abandoned_and_its_lease_released(
    pool: PgPool,
) {
    // Arrange: a Chainweb anchor sent, whose confirming job will wait on a node that hangs.
    let node = TestNode::start().await.expect("node");
    let state = state_with(pool.clone(), |c| {
        c.settings.batching.window = Duration::ZERO;
        c.settings.batching.anchor_interval = Duration::ZERO;
        c.settings.batching.chain_count = 10;
        c.settings.anchor_backend = AnchorBackendKind::Chainweb;
        let mut cw = ChainwebConfig::unconfigured();
        cw.nodes = vec![node.base_url()];
        cw.network = "mainnet01".into();
        cw.chains = (0..10).collect();
        cw.key = Some(SecretString::from("07".repeat(32)));
        cw.poll_interval = Duration::from_secs(3600);
        cw.request_timeout = Duration::from_secs(20);
        cw.attempts_per_node = 1;
        c.settings.chainweb = cw;
        c.shutdown_grace = Duration::from_millis(300);
    });
    let auth = tenant(&state, Some(3)).await;
    submit(&state, &auth, events("sd", 3)).await;
    workers::run_pending_jobs(&state)
        .await
        .expect("batch, anchor, send");
    node.delay_next(10, Duration::from_secs(15));
    sqlx::query!("UPDATE jobs SET run_at = now() WHERE kind = 'chainweb_anchor'")
        .execute(&pool)
        .await
        .expect("due");
    let shutdown = Shutdown::new();
    let running = tokio::spawn(workers::run(state.clone(), shutdown.clone()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM jobs WHERE kind = 'chainweb_anchor' AND locked_until > now()"#
    )
    .fetch_one(&pool)
    .await
    .expect("count")
        == 0
    {
        assert!(Instant::now() < deadline, "the job was never claimed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Act
    let started = Instant::now();
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("the workers stop in bounded time")
        .expect("task")
        .expect("workers");

    // Assert: stopped soon after the grace period, the job is still there, free to claim.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let job =
        sqlx::query!("SELECT locked_until, attempts FROM jobs WHERE kind = 'chainweb_anchor'")
            .fetch_one(&pool)
            .await
            .expect("the job is kept");
    assert_eq!(job.locked_until, None, "its lease was released");
    assert!(job.attempts >= 1, "it was claimed");
}
