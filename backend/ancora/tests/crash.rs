//! Crash safety against the real binary: events are submitted continuously while `ancora
//! serve` is killed with SIGKILL at random moments and restarted; in the end every
//! acknowledged event has a bundle that `ancora verify` accepts, and no batch root is in two
//! anchors. `ANCORA_CRASH_KILLS` sets the number of kills (default 20).
//!
//! The real-binary harness it uses is `helpers::process`.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ancora::db::Db;
use ancora::domain::TenantId;
use ancora_proof::bundle::{Bundle, Trust, verify_bundle};
use ancora_proof::tlog::{self, parse_verifier_key};
use rand::Rng as _;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::process::*;

/// Submits batches of `per_request` events until `stop`; returns the acknowledged ids.
pub async fn submit_until(
    port: u16,
    key: String,
    prefix: String,
    per_request: usize,
    stop: Arc<AtomicBool>,
) -> Vec<String> {
    let mut acked = Vec::new();
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let ids: Vec<String> = (0..per_request)
            .map(|i| format!("{prefix}-{}", n + i))
            .collect();
        n += per_request;
        let events: Vec<Value> = ids
            .iter()
            .map(|id| json!({ "id": id, "content": base64_of(id) }))
            .collect();
        let body = json!({ "events": events });
        match http(port, "POST", "/v1/events", Some(&key), Some(&body)).await {
            Ok((202, _)) => acked.extend(ids),
            // Admission control after a restart with a backlog: nothing stored; back off.
            Ok((429, body)) => {
                assert!(
                    String::from_utf8_lossy(&body).contains("too-many-requests"),
                    "a 429 is problem+json"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok((status, body)) => panic!(
                "unexpected answer {status}: {}",
                String::from_utf8_lossy(&body)
            ),
            // Killed mid-request, or not listening: not acknowledged.
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    acked
}

fn base64_of(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Waits until every stored event of `tenant` (acknowledged or not: a request killed after
/// its commit stored events nobody was told about) has a proof and no batch root waits for
/// an anchor; panics after `within`. Returns how many events are stored.
pub async fn wait_until_all_proved(pool: &PgPool, tenant: TenantId, within: Duration) -> i64 {
    let db = Db::from_pool(pool.clone());
    let deadline = Instant::now() + within;
    loop {
        let mut tx = db.tenant_tx(tenant).await.expect("tx");
        let row = sqlx::query!(
            r#"SELECT (SELECT count(*) FROM events WHERE tenant_id = $1) AS "events!",
                      (SELECT COALESCE(sum(size), 0) FROM batches
                       WHERE tenant_id = $1 AND state = 'proved')::bigint AS "proved!",
                      (SELECT count(*) FROM anchor_queue WHERE anchor_id IS NULL) AS "waiting!""#,
            tenant.0
        )
        .fetch_one(&mut *tx)
        .await
        .expect("count");
        tx.commit().await.expect("commit");
        if row.events == row.proved && row.waiting == 0 {
            return row.events;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {} stored events were proved ({} roots waiting)",
            row.proved,
            row.events,
            row.waiting
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn acknowledged_events_survive_sigkill_at_random_moments_and_no_batch_is_anchored_twice(
    pool: PgPool,
) {
    // Arrange
    let kills: usize = std::env::var("ANCORA_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = tempdir("crash");
    let log = dir.join("server.log");
    let (tenant, key) = tenant_and_key(&pool).await;
    let env = vec![
        ("DATABASE_URL", database_url_of(&pool)),
        ("ANCORA_DATA_DIR", dir.join("data").display().to_string()),
        ("ANCORA_BATCH_WINDOW_MS", "200".to_owned()),
        ("ANCORA_BATCH_MAX_EVENTS", "50".to_owned()),
        ("ANCORA_ANCHOR_INTERVAL_MS", "50".to_owned()),
        ("ANCORA_DB_POOL", "6".to_owned()),
    ];
    let mut acked: Vec<String> = Vec::new();

    // Act: submit continuously, SIGKILL at a random moment, restart; `kills` times.
    for round in 0..kills {
        let server = Server::start(&env, &log, Duration::from_secs(30)).await;
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..2)
            .map(|c| {
                tokio::spawn(submit_until(
                    server.port,
                    key.clone(),
                    format!("r{round}c{c}"),
                    5,
                    stop.clone(),
                ))
            })
            .collect();
        let lifetime = rand::thread_rng().gen_range(150..1200);
        tokio::time::sleep(Duration::from_millis(lifetime)).await;
        server.kill().await;
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            acked.extend(c.await.expect("client"));
        }
    }
    let started = Instant::now();
    let server = Server::start(&env, &log, Duration::from_secs(30)).await;
    let stored = wait_until_all_proved(&pool, tenant, Duration::from_secs(60)).await;
    let (_, log_key) = http(server.port, "GET", "/v1/log/key", None, None)
        .await
        .expect("log key");
    let log_key = String::from_utf8(log_key).expect("text").trim().to_owned();
    server.stop().await;
    eprintln!(
        "{} events acknowledged ({stored} stored) over {kills} kills; all proved {:.1}s after the last restart",
        acked.len(),
        started.elapsed().as_secs_f64()
    );

    // Assert: every acknowledged event has a bundle `ancora verify` accepts.
    assert!(acked.len() > kills, "the clients got events acknowledged");
    let db = Db::from_pool(pool.clone());
    let mut tx = db.tenant_tx(tenant).await.expect("tx");
    let mut rows = Vec::with_capacity(acked.len());
    for id in &acked {
        if let Some(parts) = ancora::db::proofs::get(&mut tx, tenant, id)
            .await
            .expect("bundle")
        {
            let bundle = ancora::services::proofs::assemble(tenant, parts, &mut Default::default())
                .expect("assembled");
            rows.push((id.clone(), bundle));
        }
    }
    tx.commit().await.expect("commit");
    assert_eq!(rows.len(), acked.len());
    assert_eq!(acked.iter().collect::<HashSet<_>>().len(), acked.len());
    let trust = Trust {
        log_keys: vec![parse_verifier_key(&log_key).expect("key")],
        ..Trust::default()
    };
    let mut files = Vec::with_capacity(rows.len());
    let bundles_dir = dir.join("bundles");
    std::fs::create_dir_all(&bundles_dir).expect("dir");
    for (i, (event_id, stored)) in rows.iter().enumerate() {
        let text = stored.to_string();
        let bundle = Bundle::from_json(text.as_bytes()).expect("bundle");
        assert!(verify_bundle(&bundle, &trust).is_verified(), "{}", event_id);
        let f = bundles_dir.join(format!("{i}.json"));
        std::fs::write(&f, text).expect("write");
        files.push(f);
    }
    let cli_started = Instant::now();
    let failures = cli_verify_all(&files, &log_key).await;
    eprintln!(
        "ancora verify ran on {} bundles in {:.1}s",
        files.len(),
        cli_started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "ancora verify refused: {:?}",
        &failures[..failures.len().min(3)]
    );

    // Assert: no batch root in two anchors, every anchor once in the log, the log consistent.
    let mut tx = db.system_tx().await.expect("tx");
    let twice = ancora::db::anchors::roots_anchored_twice(&mut tx)
        .await
        .expect("check");
    let counts = sqlx::query!(
        r#"SELECT (SELECT count(*) FROM anchors) AS "anchors!",
                  (SELECT count(DISTINCT root) FROM anchors) AS "roots!",
                  (SELECT count(*) FROM tlog_leaves) AS "leaves!",
                  (SELECT count(*) FROM anchor_queue WHERE anchor_id IS NULL) AS "waiting!",
                  (SELECT count(*) FROM anchor_queue) AS "queued!",
                  (SELECT count(DISTINCT root) FROM anchor_queue) AS "queued_roots!""#
    )
    .fetch_one(&mut *tx)
    .await
    .expect("counts");
    let checkpoints = sqlx::query!("SELECT size, root FROM tlog_checkpoints ORDER BY size")
        .fetch_all(&mut *tx)
        .await
        .expect("checkpoints");
    tx.commit().await.expect("commit");
    assert_eq!(twice, 0);
    assert_eq!(counts.anchors, counts.roots);
    assert_eq!(counts.anchors, counts.leaves, "every anchor appended once");
    assert_eq!(counts.waiting, 0);
    assert_eq!(
        counts.queued, counts.queued_roots,
        "no batch root queued twice"
    );
    let db_url_pool = pool.clone();
    let mut conn = db_url_pool.acquire().await.expect("conn");
    let size = checkpoints.last().map(|c| c.size).unwrap_or(0);
    assert_eq!(size, counts.leaves);
    for pair in checkpoints.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let proof =
            ancora::services::anchoring::tlog::consistency(&mut conn, a.size as u64, b.size as u64)
                .await
                .expect("proof");
        let root = |r: &[u8]| ancora_proof::Hash::from_slice(r).expect("hash");
        tlog::verify_consistency(
            a.size as u64,
            b.size as u64,
            &root(&a.root),
            &root(&b.root),
            &proof,
        )
        .expect("checkpoints are consistent");
    }
}
