//! Crash safety against the real binary: events are submitted continuously while `ancora
//! serve` is killed with SIGKILL at random moments and restarted; in the end every
//! acknowledged event has a bundle that `ancora verify` accepts, and no batch root is in two
//! anchors. `ANCORA_CRASH_KILLS` sets the number of kills (default 20).
//!
//! The module also holds what the real-binary tests share: starting and killing the binary,
//! and a minimal HTTP/1.1 client (one request per connection), so the tests need no HTTP
//! client crate.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ancora::db::Db;
use ancora::domain::{Role, TenantId};
use ancora_proof::bundle::{Bundle, Trust, verify_bundle};
use ancora_proof::tlog::{self, parse_verifier_key};
use rand::Rng as _;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// The `ancora` binary under test.
pub fn ancora_bin() -> &'static str {
    env!("CARGO_BIN_EXE_ancora")
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A running `ancora serve`, killed (SIGKILL) when dropped.
pub struct Server {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Server {
    /// Starts `ancora serve` with `env` and waits until `/readyz` answers 200.
    pub async fn start(env: &[(&str, String)], log: &Path, ready_within: Duration) -> Server {
        let port = free_port();
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        let mut cmd = Command::new(ancora_bin());
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env_remove("DATABASE_URL")
            .env("ANCORA_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log"))
            .stderr(log_file)
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn ancora serve");
        let mut server = Server { child, port };
        let deadline = Instant::now() + ready_within;
        loop {
            if let Ok((200, _)) = http(port, "GET", "/readyz", None, None).await {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "ancora serve exited early ({status}); see {}",
                    log.display()
                );
            }
            assert!(
                Instant::now() < deadline,
                "ancora serve not ready; see {}",
                log.display()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Kills the process with SIGKILL and reaps it.
    pub async fn kill(mut self) {
        self.child.start_kill().expect("SIGKILL");
        self.child.wait().await.expect("reap");
    }

    /// Stops the process with SIGTERM (a clean shutdown) and waits for it.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        if tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .is_err()
        {
            self.kill().await;
        }
    }
}

/// One HTTP/1.1 request on its own connection: status and body.
pub async fn http(
    port: u16,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    if let Some(k) = key {
        req.push_str(&format!("Authorization: Bearer {k}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    stream.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let bad = || std::io::Error::other("malformed HTTP response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(bad)?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| bad())?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body).ok_or_else(bad)?;
    }
    Ok((status, body))
}

fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n")?;
        let size =
            usize::from_str_radix(std::str::from_utf8(&raw[..line_end]).ok()?.trim(), 16).ok()?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(raw.get(..size)?);
        raw = raw.get(size + 2..)?;
    }
}

/// The URL of the `#[sqlx::test]` database behind `pool`.
pub fn database_url_of(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let (server, _) = base.rsplit_once('/').expect("a database URL");
    let name = pool
        .connect_options()
        .get_database()
        .expect("database name")
        .to_owned();
    format!("{server}/{name}")
}

/// A tenant and a submitter API key, made the way `ancora admin` makes them.
pub async fn tenant_and_key(pool: &PgPool) -> (TenantId, String) {
    let db = Db::from_pool(pool.clone());
    let tenant = ancora::admin::create_tenant(&db, "Crash test", "test")
        .await
        .expect("tenant");
    let key = ancora::admin::create_api_key(&db, tenant, Role::Submitter, "crash", "test")
        .await
        .expect("key");
    use secrecy::ExposeSecret as _;
    (tenant, key.key.expose_secret().to_owned())
}

/// Runs `ancora verify --log-key KEY FILE` on every file, a few at a time; returns the files
/// it did not accept, with its output.
pub async fn cli_verify_all(files: &[PathBuf], log_key: &str) -> Vec<(PathBuf, String)> {
    let sem = Arc::new(tokio::sync::Semaphore::new(4));
    let mut tasks = tokio::task::JoinSet::new();
    for f in files {
        let (f, key, sem) = (f.clone(), log_key.to_owned(), sem.clone());
        tasks.spawn(async move {
            let _permit = sem.acquire_owned().await.expect("semaphore");
            let out = Command::new(ancora_bin())
                .args(["verify", "--log-key", &key])
                .arg(&f)
                .output()
                .await
                .expect("run ancora verify");
            (!out.status.success()).then(|| {
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                (f, text)
            })
        });
    }
    let mut failures = Vec::new();
    while let Some(r) = tasks.join_next().await {
        if let Some(f) = r.expect("task") {
            failures.push(f);
        }
    }
    failures
}

/// Submits batches of `per_request` events until `stop`; returns the acknowledged ids.
async fn submit_until(
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
                      (SELECT count(*) FROM proofs WHERE tenant_id = $1) AS "proved!",
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
            let bundle = ancora::workers::prove::assemble(tenant, parts).expect("assembled");
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
        let proof = ancora::anchor::tlog::consistency(&mut conn, a.size as u64, b.size as u64)
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

/// A fresh directory under the system temp dir.
pub fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ancora-{tag}-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}
