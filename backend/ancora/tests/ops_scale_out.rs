//! Scale-out on one Postgres (issue 14, item 5): two `serve --api-only` and two `worker`
//! processes under load from concurrent clients spread over both APIs; one worker is killed
//! (SIGKILL) mid-load. Every acknowledged event is proved exactly once, no batch root is
//! anchored twice, no batch overlaps another, and no job is lost: the surviving worker
//! finishes everything, including what the killed one had leased. The throughput of one pair
//! against two is a benchmark: `e2e/bench/scale-out.sh`.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::PgPool;
use tokio::process::{Child, Command};

use crate::helpers::digest_of;
use crate::helpers::process::{
    ancora_bin, database_url_of, free_port, http, tempdir, tenant_and_key,
};

/// Starts `ancora ARGS` on `db_url`, logging to `log`.
fn spawn(args: &[&str], db_url: &str, log: &Path) -> Child {
    let file = std::fs::File::create(log).expect("log file");
    Command::new(ancora_bin())
        .args(args)
        .env("DATABASE_URL", db_url)
        .env("ANCORA_LOG", "info")
        .env("ANCORA_DEFAULT_PLAN", "enterprise")
        .env("ANCORA_BATCH_WINDOW_MS", "100")
        .env("ANCORA_ANCHOR_INTERVAL_MS", "100")
        .env("ANCORA_DB_POOL", "6")
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("log"))
        .stderr(file)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn ancora")
}

async fn wait_ready(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches!(http(port, "GET", "/readyz", None, None).await, Ok((200, _))) {
        assert!(Instant::now() < deadline, "{what} not ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[sqlx::test(migrations = "../../migrations")]
async fn two_api_and_two_worker_processes_prove_every_event_once_when_a_worker_is_killed(
    pool: PgPool,
) {
    let url = database_url_of(&pool);
    let dir = tempdir("scale-out");
    let mut keys = Vec::new();
    for _ in 0..3 {
        keys.push(tenant_and_key(&pool).await.1);
    }
    let ports = [free_port(), free_port()];
    let mut apis = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let listen = format!("127.0.0.1:{port}");
        apis.push(spawn(
            &["serve", "--api-only", "--listen", &listen],
            &url,
            &dir.join(format!("api{i}.log")),
        ));
    }
    let mut workers = vec![
        spawn(&["worker"], &url, &dir.join("worker0.log")),
        spawn(&["worker"], &url, &dir.join("worker1.log")),
    ];
    for port in ports {
        wait_ready(port, "API process").await;
    }

    // The load: six clients, each on one tenant and alternating between the two APIs,
    // 50 events a request, for 4 s; worker 0 is killed after 1.5 s.
    let acked = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(4);
    let mut clients = tokio::task::JoinSet::new();
    for c in 0..6 {
        let key = keys[c % keys.len()].clone();
        let acked = acked.clone();
        clients.spawn(async move {
            let mut n = 0;
            let mut failed = 0;
            while Instant::now() < deadline {
                let events: Vec<_> = (n..n + 50)
                    .map(|i| {
                        let id = format!("c{c}-{i}");
                        json!({ "id": id, "digest": digest_of(&id) })
                    })
                    .collect();
                n += 50;
                let port = ports[(n / 50) % 2];
                match http(
                    port,
                    "POST",
                    "/v1/events",
                    Some(&key),
                    Some(&json!({ "events": events })),
                )
                .await
                {
                    Ok((202, _)) => {
                        acked.fetch_add(50, Ordering::Relaxed);
                    }
                    // Admission control may hold and refuse while proofs catch up: retry later.
                    Ok((429, _)) => tokio::time::sleep(Duration::from_millis(200)).await,
                    other => {
                        failed += 1;
                        assert!(failed < 5, "ingest keeps failing: {other:?}");
                    }
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let killed = workers.remove(0);
    let mut killed = killed;
    killed.start_kill().expect("SIGKILL worker 0");
    killed.wait().await.expect("reap worker 0");
    while let Some(r) = clients.join_next().await {
        r.expect("client");
    }
    let acked = acked.load(Ordering::Relaxed) as i64;
    assert!(acked >= 1000, "only {acked} events acknowledged");

    // Every acknowledged event is stored and proved by the surviving worker (the killed one's
    // leases expire and its jobs are taken over).
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let events = count(
            &pool,
            "SELECT count(*) FROM events WHERE submitter <> 'audit'",
        )
        .await;
        let unproved = count(
            &pool,
            "SELECT count(*) FROM events e WHERE NOT EXISTS \
             (SELECT 1 FROM batches b WHERE b.tenant_id = e.tenant_id AND b.state = 'proved' \
              AND e.seq BETWEEN b.first_seq AND b.last_seq)",
        )
        .await;
        // No job lost: once everything is proved, only the scheduled jobs are left (a job
        // the killed worker held is taken over when its lease expires).
        let jobs = count(
            &pool,
            "SELECT count(*) FROM jobs WHERE kind IN ('batch', 'anchor', 'prove')",
        )
        .await;
        assert!(events >= acked, "{events} stored < {acked} acknowledged");
        if unproved == 0 && jobs == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{unproved} of {events} events not proved and {jobs} pipeline jobs left 90 s \
             after the load; logs in {}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Proved once: the proved batches hold every event (none overlaps another, below), each
    // with its tree stored; no proof row is written per event.
    assert_eq!(
        count(
            &pool,
            "SELECT COALESCE(sum(size), 0)::bigint FROM batches WHERE state = 'proved'"
        )
        .await,
        count(&pool, "SELECT count(*) FROM events").await
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM batches WHERE state = 'proved' AND tree IS NULL"
        )
        .await,
        0
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM proofs").await, 0);
    // No batch overlaps another: each event is in exactly one batch.
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM batches a JOIN batches b ON a.tenant_id = b.tenant_id \
             AND a.id < b.id AND a.first_seq <= b.last_seq AND b.first_seq <= a.last_seq"
        )
        .await,
        0
    );
    // No root anchored twice: each batch root is bound to one anchor, each anchor root is in
    // the log once, and every anchor is final.
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM (SELECT root FROM anchor_queue GROUP BY root HAVING count(*) > 1) d"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM anchor_queue WHERE anchor_id IS NULL"
        )
        .await,
        0
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM batches").await,
        count(&pool, "SELECT count(*) FROM anchor_queue").await
    );
    assert_eq!(
        count(&pool, "SELECT count(DISTINCT anchor_id) FROM tlog_leaves").await,
        count(&pool, "SELECT count(*) FROM anchors").await
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM anchors WHERE state <> 'final'").await,
        0
    );
    // Both API processes serve proofs, whichever worker made them.
    for (i, port) in ports.iter().enumerate() {
        let (status, body) = http(*port, "GET", "/v1/events/c0-0/proof", Some(&keys[0]), None)
            .await
            .expect("proof");
        assert_eq!(status, 200, "API {i}: {}", String::from_utf8_lossy(&body));
    }
    for mut child in apis.into_iter().chain(workers) {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
}
