//! Fault injection under load, against the real binary (issue 17's reliability suite). Each
//! test prints one `FAULTS <kind> key=value …` line; `e2e/bench/reliability.sh` runs the long
//! form and writes the figures to `RELIABILITY.md`. The short form (the defaults below) runs in
//! the test command.
//!
//! - `crash`: an API process (`serve --api-only`) and two workers (`worker`) under a steady
//!   load; at random moments one of them (or all) is killed with SIGKILL and restarted.
//!   `ANCORA_FAULT_TRIALS` kills (default 4; 100 in the long form). Afterwards: every
//!   acknowledged event proved, no batch root anchored twice, no job stuck.
//! - `postgres`: a private throwaway cluster (never the machine's shared one) is stopped for
//!   `ANCORA_FAULT_PG_OUTAGE_SECS` (default 3; 30 in the long form) under load: requests
//!   answer 503 with `Retry-After` quickly while it is away, service resumes when it is back,
//!   nothing acknowledged is lost.
//! - `chainweb`: the Chainweb node double fails requests (503 bursts, slow answers) and
//!   reorganises its chain under load (`ANCORA_FAULT_CHAINWEB_ROUNDS`, default 4; 20 long):
//!   every acknowledged event ends final, each batch root anchored once.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ancora::db::Db;
use ancora::domain::TenantId;
use rand::Rng as _;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::process::{Child, Command};

use crate::helpers::process::{
    ancora_bin, database_url_of, free_port, http, tempdir, tenant_and_key,
};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------------------------------------
// Processes.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `ancora serve --api-only` on a fixed port.
    Api,
    /// `ancora worker`.
    Worker,
    /// `ancora serve` (API and workers in one process).
    Both,
}

struct Proc {
    child: Child,
}

async fn spawn(kind: Kind, port: u16, env: &[(&str, String)], log: &Path) -> Proc {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let mut cmd = Command::new(ancora_bin());
    let listen = format!("127.0.0.1:{port}");
    match kind {
        Kind::Api => cmd.args(["serve", "--api-only", "--listen", &listen]),
        Kind::Worker => cmd.arg("worker"),
        Kind::Both => cmd.args(["serve", "--listen", &listen]),
    };
    cmd.env_remove("DATABASE_URL")
        .env("ANCORA_LOG", "warn")
        .env("ANCORA_DEFAULT_PLAN", "enterprise")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("log"))
        .stderr(log_file)
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("spawn ancora");
    let mut p = Proc { child };
    if kind != Kind::Worker {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !matches!(http(port, "GET", "/readyz", None, None).await, Ok((200, _))) {
            if let Ok(Some(status)) = p.child.try_wait() {
                panic!(
                    "ancora {kind:?} exited early ({status}); see {}",
                    log.display()
                );
            }
            assert!(
                Instant::now() < deadline,
                "ancora {kind:?} not ready; see {}",
                log.display()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    p
}

impl Proc {
    async fn kill(&mut self) {
        self.child.start_kill().expect("SIGKILL");
        self.child.wait().await.expect("reap");
    }
    async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        if tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .is_err()
        {
            self.kill().await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Load.

/// What one client saw.
#[derive(Default)]
struct Seen {
    acked: Vec<String>,
    /// Every 503: how long it took to come back, and whether it carried `Retry-After`.
    unavailable: Vec<Duration>,
    unavailable_without_retry_after: usize,
    /// When each 202 came back.
    acked_at: Vec<Instant>,
    other: Vec<String>,
}

/// Submits `per_request` events per request until `stop`. Connection errors (a process
/// killed mid-request, or not listening) are not acknowledgements; 429 and 503 back off.
async fn load(
    port: u16,
    key: String,
    prefix: String,
    per_request: usize,
    stop: Arc<AtomicBool>,
) -> Seen {
    let mut seen = Seen::default();
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let ids: Vec<String> = (0..per_request)
            .map(|i| format!("{prefix}-{}", n + i))
            .collect();
        n += per_request;
        let events: Vec<Value> = ids
            .iter()
            .map(|id| json!({ "id": id, "digest": crate::helpers::digest_of(id) }))
            .collect();
        let body = json!({ "events": events });
        let sent = Instant::now();
        match raw_post(port, &key, &body).await {
            Ok((202, _, _)) => {
                seen.acked.extend(ids);
                seen.acked_at.push(Instant::now());
            }
            Ok((429, _, _)) => tokio::time::sleep(Duration::from_millis(200)).await,
            Ok((503, head, _)) => {
                seen.unavailable.push(sent.elapsed());
                if !head.to_ascii_lowercase().contains("retry-after:") {
                    seen.unavailable_without_retry_after += 1;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok((status, _, body)) => seen.other.push(format!("{status} {body}")),
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    seen
}

/// `POST /v1/events` on its own connection: status, head, body.
async fn raw_post(port: u16, key: &str, body: &Value) -> std::io::Result<(u16, String, String)> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let body = body.to_string();
    let req = format!(
        "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Authorization: Bearer {key}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let connect = tokio::net::TcpStream::connect(("127.0.0.1", port));
    let mut s = tokio::time::timeout(Duration::from_secs(5), connect)
        .await
        .map_err(|_| std::io::Error::other("connect timeout"))??;
    s.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut raw))
        .await
        .map_err(|_| std::io::Error::other("answer timeout"))??;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no head"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    Ok((status, head.to_owned(), body.to_owned()))
}

fn start_load(
    port: u16,
    key: &str,
    tag: &str,
    clients: usize,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Seen>> {
    (0..clients)
        .map(|c| {
            tokio::spawn(load(
                port,
                key.to_owned(),
                format!("{tag}c{c}"),
                5,
                stop.clone(),
            ))
        })
        .collect()
}

async fn join_load(handles: Vec<tokio::task::JoinHandle<Seen>>) -> Seen {
    let mut all = Seen::default();
    for h in handles {
        let s = h.await.expect("client");
        all.acked.extend(s.acked);
        all.acked_at.extend(s.acked_at);
        all.unavailable.extend(s.unavailable);
        all.unavailable_without_retry_after += s.unavailable_without_retry_after;
        all.other.extend(s.other);
    }
    all
}

// ---------------------------------------------------------------------------------------------
// Outcome.

/// Acknowledged events with a proof, batch roots anchored twice, stuck jobs.
struct Outcome {
    proved: i64,
    anchored_twice: i64,
    stuck_jobs: i64,
}

/// Waits (at most `within`) until every acknowledged event of `tenant` has a proof, then
/// counts.
async fn settle(pool: &PgPool, tenant: TenantId, acked: &[String], within: Duration) -> Outcome {
    let deadline = Instant::now() + within;
    let proved = loop {
        let proved: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events e \
             JOIN batches b ON b.tenant_id = e.tenant_id \
               AND b.id = ancora_batch_of(e.tenant_id, e.seq) \
             WHERE e.tenant_id = $1 AND e.id = ANY($2) AND b.state = 'proved'",
        )
        .bind(tenant.0)
        .bind(acked)
        .fetch_one(pool)
        .await
        .expect("count proofs");
        if proved == acked.len() as i64 || Instant::now() > deadline {
            break proved;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let db = Db::from_pool(pool.clone());
    let mut tx = db.system_tx().await.expect("tx");
    let anchored_twice = ancora::db::anchors::roots_anchored_twice(&mut tx)
        .await
        .expect("anchored twice");
    tx.commit().await.expect("commit");
    // A job is stuck when it gave up, or when it has been due (or its lease expired) for
    // more than 15 s while workers were running.
    let stuck_jobs: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobs WHERE attempts >= max_attempts \
            OR GREATEST(run_at, COALESCE(locked_until, run_at)) < now() - interval '15 seconds'",
    )
    .fetch_one(pool)
    .await
    .expect("stuck jobs");
    Outcome {
        proved,
        anchored_twice,
        stuck_jobs,
    }
}

// ---------------------------------------------------------------------------------------------
// Crash faults.

#[sqlx::test(migrations = "../../migrations")]
async fn sigkill_of_api_and_worker_processes_at_random_moments_loses_nothing(pool: PgPool) {
    // Arrange: one API process on a fixed port, two workers.
    let trials = env_number("ANCORA_FAULT_TRIALS", 4);
    let dir = tempdir("faults-crash");
    let log = dir.join("processes.log");
    let (tenant, key) = tenant_and_key(&pool).await;
    let env = vec![
        ("DATABASE_URL", database_url_of(&pool)),
        ("ANCORA_DATA_DIR", dir.join("data").display().to_string()),
        ("ANCORA_BATCH_WINDOW_MS", "200".to_owned()),
        ("ANCORA_BATCH_MAX_EVENTS", "50".to_owned()),
        ("ANCORA_ANCHOR_INTERVAL_MS", "50".to_owned()),
        ("ANCORA_DB_POOL", "4".to_owned()),
        ("ANCORA_SHUTDOWN_GRACE_MS", "2000".to_owned()),
    ];
    let port = free_port();
    let mut api = spawn(Kind::Api, port, &env, &log).await;
    let mut workers = vec![
        spawn(Kind::Worker, port, &env, &log).await,
        spawn(Kind::Worker, port, &env, &log).await,
    ];
    let stop = Arc::new(AtomicBool::new(false));
    let clients = start_load(port, &key, "crash", 2, &stop);
    let mut kills = [0usize; 3];

    // Act: at a random moment, SIGKILL the API, a worker, or everything; restart at once.
    for _ in 0..trials {
        let wait = rand::thread_rng().gen_range(100..900);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        let victim = rand::thread_rng().gen_range(0..5);
        match victim {
            0 | 1 => {
                api.kill().await;
                api = spawn(Kind::Api, port, &env, &log).await;
                kills[0] += 1;
            }
            2 | 3 => {
                let w = victim - 2;
                workers[w].kill().await;
                workers[w] = spawn(Kind::Worker, port, &env, &log).await;
                kills[1] += 1;
            }
            _ => {
                api.kill().await;
                for w in &mut workers {
                    w.kill().await;
                }
                api = spawn(Kind::Api, port, &env, &log).await;
                for w in &mut workers {
                    *w = spawn(Kind::Worker, port, &env, &log).await;
                }
                kills[2] += 1;
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let seen = join_load(clients).await;
    let outcome = settle(&pool, tenant, &seen.acked, Duration::from_secs(90)).await;
    api.stop().await;
    for w in workers {
        w.stop().await;
    }

    // Assert
    let acked = seen.acked.len() as i64;
    println!(
        "FAULTS crash trials={trials} api_kills={} worker_kills={} all_kills={} acknowledged={acked} proved={} lost={} anchored_twice={} stuck_jobs={}",
        kills[0],
        kills[1],
        kills[2],
        outcome.proved,
        acked - outcome.proved,
        outcome.anchored_twice,
        outcome.stuck_jobs
    );
    assert!(
        seen.other.is_empty(),
        "unexpected answers: {:?}",
        &seen.other[..seen.other.len().min(3)]
    );
    assert!(acked > 0, "the load got events acknowledged");
    assert_eq!(
        outcome.proved,
        acked,
        "acknowledged events lost; see {}",
        log.display()
    );
    assert_eq!(outcome.anchored_twice, 0);
    assert_eq!(outcome.stuck_jobs, 0, "stuck jobs; see {}", log.display());
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// Postgres outage, on a private throwaway cluster.

/// A private Postgres cluster in a temp dir, run as `postgres` when the tests run as root;
/// stopped (immediately) and removed on drop.
struct PgCluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

fn pg_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|d| d.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl PgCluster {
    fn run(&self, tool: &str, args: &[&str]) -> std::process::Output {
        let exe = self.bin.join(tool);
        let mut cmd = if is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            std::process::Command::new(exe)
        };
        let out = cmd
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn new() -> PgCluster {
        let bin = pg_bin().expect("the PostgreSQL server binaries (apt-get install postgresql)");
        let dir = tempdir("faults-pg");
        if is_root() {
            let ok = std::process::Command::new("chown")
                .args(["-R", "postgres"])
                .arg(&dir)
                .status()
                .expect("chown");
            assert!(ok.success());
        }
        let c = PgCluster {
            bin,
            dir,
            port: free_port(),
        };
        let data = c.data();
        c.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "root",
                "--auth=trust",
                "--no-locale",
                "-E",
                "UTF8",
            ],
        );
        c.start();
        c
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn start(&self) {
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories='' -c fsync=off -c max_connections=100",
            self.port
        );
        let log = self.dir.join("pg.log").display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-l", &log, "-w", "-o", &opts, "start"],
        );
    }

    fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    fn url(&self, db: &str) -> String {
        format!("postgres://root@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let exe = self.bin.join("pg_ctl");
        let data = self.data();
        let args = ["-D", data.as_str(), "-m", "immediate", "stop"];
        let _ = if is_root() {
            std::process::Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(exe)
                .args(args)
                .output()
        } else {
            std::process::Command::new(exe).args(args).output()
        };
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_under_load_answers_503_fast_recovers_and_loses_nothing() {
    // Arrange: a private cluster, `ancora serve` on it (migrates), a tenant, a steady load.
    let outage = Duration::from_secs(env_number("ANCORA_FAULT_PG_OUTAGE_SECS", 3));
    let pg = PgCluster::new();
    let admin = sqlx::PgPool::connect(&pg.url("postgres"))
        .await
        .expect("connect");
    sqlx::query("CREATE DATABASE ancora")
        .execute(&admin)
        .await
        .expect("create database");
    admin.close().await;
    let dir = tempdir("faults-pg-serve");
    let log = dir.join("serve.log");
    let env = vec![
        ("DATABASE_URL", pg.url("ancora")),
        ("ANCORA_DATA_DIR", dir.join("data").display().to_string()),
        ("ANCORA_BATCH_WINDOW_MS", "200".to_owned()),
        ("ANCORA_ANCHOR_INTERVAL_MS", "50".to_owned()),
        ("ANCORA_DB_POOL", "6".to_owned()),
    ];
    let port = free_port();
    let server = spawn(Kind::Both, port, &env, &log).await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&pg.url("ancora"))
        .await
        .expect("connect");
    let (tenant, key) = tenant_and_key(&pool).await;
    pool.close().await;
    let stop = Arc::new(AtomicBool::new(false));
    let clients = start_load(port, &key, "pg", 2, &stop);
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Act: stop Postgres for `outage`, start it again; the load goes on throughout.
    let stopped_at = Instant::now();
    pg.stop();
    tokio::time::sleep(outage).await;
    pg.start();
    let back_at = Instant::now();
    let mut readyz_back = None;
    while readyz_back.is_none() && back_at.elapsed() < Duration::from_secs(30) {
        if let Ok((200, _)) = http(port, "GET", "/readyz", None, None).await {
            readyz_back = Some(back_at.elapsed());
        } else {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Long enough past the 5 s recovery bound that a slow recovery is measured, not cut off.
    tokio::time::sleep(Duration::from_secs(6)).await;
    stop.store(true, Ordering::Relaxed);
    let seen = join_load(clients).await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&pg.url("ancora"))
        .await
        .expect("reconnect");
    let outcome = settle(&pool, tenant, &seen.acked, Duration::from_secs(60)).await;
    pool.close().await;
    server.stop().await;

    // Assert
    let first_ack_after = seen
        .acked_at
        .iter()
        .filter(|t| **t > back_at)
        .min()
        .map(|t| t.duration_since(back_at));
    let acked_during = seen
        .acked_at
        .iter()
        .filter(|t| **t > stopped_at + Duration::from_millis(500) && **t < back_at)
        .count();
    let mut lat = seen.unavailable.clone();
    lat.sort();
    let acked = seen.acked.len() as i64;
    let recovery = first_ack_after.unwrap_or(Duration::MAX);
    println!(
        "FAULTS postgres outage_s={} acknowledged={acked} proved={} lost={} answers_503={} p50_503_ms={} max_503_ms={} without_retry_after={} readyz_back_ms={} recovery_ms={} anchored_twice={} stuck_jobs={}",
        outage.as_secs(),
        outcome.proved,
        acked - outcome.proved,
        lat.len(),
        percentile(&lat, 0.5).as_millis(),
        percentile(&lat, 1.0).as_millis(),
        seen.unavailable_without_retry_after,
        readyz_back.map_or(-1, |d| d.as_millis() as i64),
        recovery.as_millis(),
        outcome.anchored_twice,
        outcome.stuck_jobs,
    );
    assert!(
        seen.other.is_empty(),
        "unexpected answers: {:?}",
        &seen.other[..seen.other.len().min(3)]
    );
    assert!(!lat.is_empty(), "no 503 while the database was away");
    assert_eq!(
        seen.unavailable_without_retry_after, 0,
        "a 503 without Retry-After"
    );
    assert!(
        percentile(&lat, 1.0) < Duration::from_secs(3),
        "a 503 took {:?}",
        percentile(&lat, 1.0)
    );
    assert!(
        acked_during <= 2,
        "{acked_during} acknowledgements while the database was down"
    );
    assert!(
        recovery < Duration::from_secs(5),
        "service resumed {recovery:?} after the database"
    );
    assert_eq!(
        outcome.proved,
        acked,
        "acknowledged events lost; see {}",
        log.display()
    );
    assert_eq!(outcome.anchored_twice, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// The Chainweb node failing and reorganising.

#[sqlx::test(migrations = "../../migrations")]
async fn a_chainweb_node_that_fails_and_reorganises_under_load_loses_nothing_and_anchors_once(
    pool: PgPool,
) {
    use ancora_chainweb::testkit::{Network, Options, TestNode};
    // Arrange: the node double in-process (so the test can hurt it), `ancora serve` on the
    // chainweb backend.
    let rounds = env_number("ANCORA_FAULT_CHAINWEB_ROUNDS", 4);
    let node = TestNode::start_with(Options {
        network: Network::Development,
        listen: ([127, 0, 0, 1], 0).into(),
        block_time: Some(Duration::from_millis(150)),
    })
    .await
    .expect("node");
    let dir = tempdir("faults-chainweb");
    let log = dir.join("serve.log");
    let env = vec![
        ("DATABASE_URL", database_url_of(&pool)),
        ("ANCORA_DATA_DIR", dir.join("data").display().to_string()),
        ("ANCORA_ANCHOR_BACKEND", "chainweb".to_owned()),
        ("ANCORA_CHAINWEB_NODES", node.base_url()),
        ("ANCORA_CHAINWEB_NETWORK", "development".to_owned()),
        ("ANCORA_CHAINWEB_CHAINS", "0,1,2,3,4,5,6,7,8,9".to_owned()),
        ("ANCORA_CHAINWEB_KEY", hex::encode([7u8; 32])),
        ("ANCORA_CHAINWEB_CONFIRMATIONS", "3".to_owned()),
        ("ANCORA_CHAINWEB_POLL_MS", "150".to_owned()),
        ("ANCORA_CHAINWEB_REQUEST_TIMEOUT_MS", "1000".to_owned()),
        ("ANCORA_BATCH_WINDOW_MS", "200".to_owned()),
    ];
    let port = free_port();
    let server = spawn(Kind::Both, port, &env, &log).await;
    let (tenant, key) = tenant_and_key(&pool).await;
    let stop = Arc::new(AtomicBool::new(false));
    let clients = start_load(port, &key, "cw", 2, &stop);

    // Act: each round, one fault: a burst of 503s, slow answers, or a reorg of 1–3 blocks.
    let mut faults = [0usize; 3];
    for _ in 0..rounds {
        tokio::time::sleep(Duration::from_millis(
            rand::thread_rng().gen_range(300..900),
        ))
        .await;
        match rand::thread_rng().gen_range(0..3) {
            0 => {
                node.fail_next(rand::thread_rng().gen_range(2..12), 503);
                faults[0] += 1;
            }
            1 => {
                node.delay_next(
                    rand::thread_rng().gen_range(1..4),
                    Duration::from_millis(1500),
                );
                faults[1] += 1;
            }
            _ => {
                let chain = rand::thread_rng().gen_range(0..10);
                node.reorg(chain, rand::thread_rng().gen_range(1..4));
                faults[2] += 1;
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let seen = join_load(clients).await;
    let outcome = settle(&pool, tenant, &seen.acked, Duration::from_secs(60)).await;
    // Every anchor ends final on the chain.
    let deadline = Instant::now() + Duration::from_secs(120);
    let not_final = loop {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM anchors WHERE backend = 'chainweb' AND state <> 'final'",
        )
        .fetch_one(&pool)
        .await
        .expect("count");
        if n == 0 || Instant::now() > deadline {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let anchors: i64 =
        sqlx::query_scalar("SELECT count(*) FROM anchors WHERE backend = 'chainweb'")
            .fetch_one(&pool)
            .await
            .expect("count");
    server.stop().await;

    // Assert
    let acked = seen.acked.len() as i64;
    println!(
        "FAULTS chainweb rounds={rounds} fail_bursts={} slow={} reorgs={} acknowledged={acked} proved={} lost={} chainweb_anchors={anchors} not_final={not_final} anchored_twice={} stuck_jobs={}",
        faults[0],
        faults[1],
        faults[2],
        outcome.proved,
        acked - outcome.proved,
        outcome.anchored_twice,
        outcome.stuck_jobs
    );
    assert!(
        seen.other.is_empty(),
        "unexpected answers: {:?}",
        &seen.other[..seen.other.len().min(3)]
    );
    assert!(acked > 0);
    assert_eq!(
        outcome.proved,
        acked,
        "acknowledged events lost; see {}",
        log.display()
    );
    assert!(anchors > 0, "nothing was anchored on Chainweb");
    assert_eq!(not_final, 0, "anchors not final; see {}", log.display());
    assert_eq!(outcome.anchored_twice, 0);
    let _ = std::fs::remove_dir_all(&dir);
}
