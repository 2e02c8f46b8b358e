//! `ancora-load`: the ingest and time-to-proof benchmark.
//!
//! ```text
//! cargo build --release -p ancora -p ancora-load
//! DATABASE_URL=postgres://root@127.0.0.1:5432/postgres target/release/ancora-load
//! ```
//!
//! It creates a scratch database on the server of `DATABASE_URL`, migrates it, makes a tenant
//! and a key with `ancora admin`, starts `ancora serve` on it, and runs `--clients` concurrent
//! clients that post `--events-per-request` events per `POST /v1/events` for `--duration`
//! seconds. Then it waits until every event is proved and prints:
//!
//! * acknowledged events per second, request latency p50/p95/p99;
//! * event → proof-ready latency p50/p95/p99 (server clock: `batches.proved_at −
//!   events.received_at` of the batch holding the event, every event; `proved_at` is the
//!   clock when the prover stored the batch's proofs, just before its commit);
//! * the server's peak RSS (sampled from `/proc` every 100 ms);
//! * a raw `COPY` of the same rows into a copy of the `events` table (same indexes) on the
//!   same server, and the ratio ingest ÷ COPY. The COPY runs three times and the fastest
//!   counts (the figure is noisy on a small machine; the fastest makes the ratio strictest).
//!
//! Request bodies are written straight to bytes (no JSON tree) and answers are not parsed: the
//! generator runs on the same cores as the server. `--rate` offers a fixed load instead of
//! "as fast as answered", to measure time to proof at a rate the pipeline sustains.
//! `--events-per-request` 100 is the default; 1000 is the batch size, and what a bulk
//! submitter would send.
//!
//! The scratch database is dropped at the end unless `--keep-db`.
//!
//! `--read` runs the read benchmark instead ([`ancora_load::read`]): `/healthz` against random
//! proof reads, closed loop and open loop at fixed rates, on `--events` proved events.
//! `--read-shared` runs the shared-cache one ([`ancora_load::read_shared`]): random proof
//! reads against two `serve --api-only` processes, without and with `ANCORA_REDIS_URL`.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ancora_load::read::{self, ReadOptions};
use ancora_load::read_shared;
use ancora_load::{create_tenant, pct, request_body, stop, wait_ready};
use anyhow::{Context as _, bail};
use clap::Parser;
use futures_util::StreamExt as _;
use sqlx::postgres::{PgConnection, PgPoolOptions};
use sqlx::{Connection as _, Executor as _};
use tokio::process::{Child, Command};

#[derive(Debug, Parser)]
#[command(about = "Ancora ingest and time-to-proof benchmark")]
struct Args {
    /// A Postgres server (any database on it); a scratch database is created there.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// The `ancora` binary to benchmark.
    #[arg(long, default_value = "target/release/ancora")]
    ancora: PathBuf,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Events per request.
    #[arg(long, default_value_t = 100)]
    events_per_request: usize,
    /// Offered load in events per second over all clients (0: as fast as the server answers).
    /// Each client paces its requests to its share; a client that falls behind sends at once.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Batch window of the server, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    window_ms: u64,
    /// Keep the scratch database.
    #[arg(long)]
    keep_db: bool,
    /// Billing: `on` puts the load tenant on plan enterprise (metering, quota checks and the
    /// per-key token bucket all run, nothing refuses); `off` runs the server with
    /// ANCORA_BILLING=off. Run both to measure what billing costs.
    #[arg(long, value_parser = ["on", "off"], default_value = "on")]
    billing: String,
    /// Run the read benchmark instead (see `ancora_load::read`): fill `--events` proved
    /// events, then measure `/healthz` and random proof reads, closed loop and open loop.
    #[arg(long)]
    read: bool,
    /// Read benchmark: events in the catalog (e.g. 20000 or 1000000).
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// Read benchmark: seconds per measured phase.
    #[arg(long, default_value_t = 10.0)]
    read_seconds: f64,
    /// Read benchmark: seconds of random reads before the measured phases (default half a
    /// phase); give a large catalog longer to reach the server's steady state.
    #[arg(long)]
    warm_seconds: Option<f64>,
    /// Read benchmark: offered rates (requests/s) of the open-loop phases.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000")]
    rates: Vec<u64>,
    /// Read benchmark: connections of the closed-loop phases (open loop: twice as many).
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Scale-out: run N `serve --api-only` and N `worker` processes on the one database
    /// (clients spread over the API processes) instead of one `serve` doing both; 0 is one
    /// `serve`.
    #[arg(long, default_value_t = 0)]
    pairs: usize,
    /// Extra environment of the server processes, `NAME=VALUE` (repeatable), e.g.
    /// `--server-env ANCORA_METRICS=off --server-env ANCORA_LOG=off`.
    #[arg(long = "server-env", value_parser = parse_env)]
    server_env: Vec<(String, String)>,
    /// Skip the raw COPY comparison (for runs that only compare two configurations).
    #[arg(long)]
    no_copy: bool,
    /// Run the shared-cache read benchmark instead (see `ancora_load::read_shared`): random
    /// proof reads against two `serve --api-only` processes without and with Redis
    /// (`--redis-url`), alternating, for each `--cache-mb`; uses `--events`,
    /// `--read-seconds`, `--rates`, `--connections`.
    #[arg(long)]
    read_shared: bool,
    /// Shared-cache benchmark: the Redis the processes share.
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// Shared-cache benchmark: in-process cache budgets to run with, MiB.
    #[arg(long, value_delimiter = ',', default_value = "64,8")]
    cache_mb: Vec<usize>,
    /// Shared-cache benchmark: runs of each mode (without, with Redis) per budget.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Shared-cache benchmark: before each run, read every proof once through each process
    /// (long-running processes' steady state) instead of starting from a cold memory.
    #[arg(long)]
    warm_all: bool,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{s:?} is not NAME=VALUE"))
}

/// Starts one server process: `ancora <args>` on the load database.
fn spawn_server(args: &Args, db_url: &str, cli: &[String]) -> anyhow::Result<Child> {
    let mut cmd = Command::new(&args.ancora);
    cmd.args(cli)
        .env("DATABASE_URL", db_url)
        .env("ANCORA_LOG", "warn")
        .env("ANCORA_BATCH_WINDOW_MS", args.window_ms.to_string())
        .env("ANCORA_BILLING", &args.billing)
        .stdout(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in &args.server_env {
        cmd.env(k, v);
    }
    Ok(cmd.spawn()?)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.read_shared {
        read_shared::run(&read_shared::SharedOptions {
            database_url: args.database_url.clone(),
            redis_url: args.redis_url.clone(),
            ancora: args.ancora.clone(),
            events: args.events,
            seconds: args.read_seconds,
            rates: args.rates.clone(),
            connections: args.connections,
            cache_mb: args.cache_mb.clone(),
            rounds: args.rounds.max(1),
            keep_db: args.keep_db,
            warm_all: args.warm_all,
        })
        .await?;
        return Ok(());
    }
    if args.read {
        let report = read::run(&ReadOptions {
            database_url: args.database_url.clone(),
            ancora: args.ancora.clone(),
            events: args.events,
            seconds: args.read_seconds,
            rates: args.rates.clone(),
            connections: args.connections,
            keep_db: args.keep_db,
            server_env: args.server_env.clone(),
            warm_seconds: args.warm_seconds,
        })
        .await?;
        print!("{}", report.render());
        return Ok(());
    }
    let (server_url, _) = args
        .database_url
        .rsplit_once('/')
        .context("DATABASE_URL must end in /<database>")?;
    let db_name = ancora_load::scratch_db_name();
    let db_url = format!("{server_url}/{db_name}");
    let mut admin = PgConnection::connect(&args.database_url).await?;
    admin
        .execute(format!("CREATE DATABASE {db_name}").as_str())
        .await?;
    let result = run(&args, &db_url).await;
    if !args.keep_db {
        let _ = admin
            .execute(format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)").as_str())
            .await;
    }
    result
}

async fn run(args: &Args, db_url: &str) -> anyhow::Result<()> {
    let (_, key) = create_tenant(&args.ancora, db_url, "load", args.billing == "on").await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let mut servers = Vec::new();
    let mut bases = Vec::new();
    if args.pairs == 0 {
        let port = free_port()?;
        let listen = format!("127.0.0.1:{port}");
        servers.push(spawn_server(
            args,
            db_url,
            &["serve".into(), "--listen".into(), listen],
        )?);
        bases.push(format!("http://127.0.0.1:{port}"));
    } else {
        for _ in 0..args.pairs {
            let port = free_port()?;
            let listen = format!("127.0.0.1:{port}");
            servers.push(spawn_server(
                args,
                db_url,
                &[
                    "serve".into(),
                    "--api-only".into(),
                    "--listen".into(),
                    listen,
                ],
            )?);
            bases.push(format!("http://127.0.0.1:{port}"));
            servers.push(spawn_server(args, db_url, &["worker".into()])?);
        }
    }
    for base in &bases {
        wait_ready(&http, base).await?;
    }
    let pids: Vec<u32> = servers.iter().filter_map(Child::id).collect();
    anyhow::ensure!(pids.len() == servers.len(), "a server process is gone");
    let peak_rss = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = tokio::spawn(sample_rss(pids.clone(), peak_rss.clone(), sampling.clone()));

    println!(
        "load: {} clients × {} events/request for {} s, batch window {} ms, offered rate {}, {}",
        args.clients,
        args.events_per_request,
        args.duration,
        args.window_ms,
        if args.rate == 0 {
            "unlimited".to_owned()
        } else {
            format!("{} events/s", args.rate)
        },
        if args.pairs == 0 {
            "one `serve`".to_owned()
        } else {
            format!("{0} `serve --api-only` + {0} `worker`", args.pairs)
        }
    );
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration);
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..args.clients {
        let (http, base, key) = (http.clone(), bases[c % bases.len()].clone(), key.clone());
        let per = args.events_per_request;
        // Seconds between two requests of one client at the offered rate.
        let pace = (args.rate > 0)
            .then(|| Duration::from_secs_f64(per as f64 * args.clients as f64 / args.rate as f64));
        tasks.spawn(async move { client(c, http, base, key, per, pace, deadline).await });
    }
    let mut latencies = Vec::new();
    let mut acked = 0u64;
    let mut errors = 0u64;
    let mut throttled = 0u64;
    while let Some(r) = tasks.join_next().await {
        let r = r??;
        latencies.extend(r.latencies);
        acked += r.acked;
        errors += r.errors;
        throttled += r.throttled;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ingest_rate = acked as f64 / elapsed;
    latencies.sort_by(f64::total_cmp);
    println!(
        "acknowledged events: {acked} in {elapsed:.1} s = {ingest_rate:.0} events/s ({errors} failed requests, {throttled} answered 429 and retried after Retry-After)"
    );
    println!(
        "request latency: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms ({} requests)",
        pct(&latencies, 0.50) * 1e3,
        pct(&latencies, 0.95) * 1e3,
        pct(&latencies, 0.99) * 1e3,
        latencies.len()
    );

    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(db_url)
        .await?;
    wait_all_proved(&pool, Duration::from_secs(300)).await?;
    let mut cpu = Some(0.0);
    for pid in &pids {
        cpu = match (cpu, server_cpu_secs(*pid).await) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
    }
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    let (p50, p95, p99): (f64, f64, f64) = sqlx::query_as(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s), \
                percentile_cont(0.95) WITHIN GROUP (ORDER BY s), \
                percentile_cont(0.99) WITHIN GROUP (ORDER BY s) \
         FROM (SELECT extract(epoch FROM b.proved_at - e.received_at)::float8 AS s \
               FROM batches b JOIN events e ON e.tenant_id = b.tenant_id \
                 AND e.seq BETWEEN b.first_seq AND b.last_seq \
               WHERE b.state = 'proved') t",
    )
    .fetch_one(&pool)
    .await?;
    println!(
        "event → proof-ready: p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms",
        p50 * 1e3,
        p95 * 1e3,
        p99 * 1e3
    );
    if let Some(cpu) = cpu {
        // CPU time rather than wall time: on a shared machine it moves far less with the load
        // of other processes, so two builds compare on it when their rates are noisy.
        println!(
            "server CPU until every event was proved: {cpu:.2} s user+system = {:.1} µs per event",
            cpu * 1e6 / acked.max(1) as f64
        );
    }
    finality(&pool).await?;
    println!(
        "server peak RSS: {:.1} MB{}",
        peak_rss.load(Ordering::Relaxed) as f64 / 1024.0,
        if pids.len() > 1 {
            " (all processes)"
        } else {
            ""
        }
    );
    for server in &mut servers {
        stop(server).await;
    }
    if args.no_copy {
        pool.close().await;
        return Ok(());
    }

    let mut copy_rate = 0f64;
    for _ in 0..3 {
        copy_rate = copy_rate.max(raw_copy(&pool).await?);
    }
    println!("raw COPY of the same rows: {copy_rate:.0} rows/s (fastest of 3)");
    println!("ingest ÷ raw COPY = {:.2}", ingest_rate / copy_rate);
    pool.close().await;
    Ok(())
}

struct ClientResult {
    latencies: Vec<f64>,
    acked: u64,
    errors: u64,
    throttled: u64,
}

async fn client(
    c: usize,
    http: reqwest::Client,
    base: String,
    key: String,
    per: usize,
    pace: Option<Duration>,
    deadline: Instant,
) -> anyhow::Result<ClientResult> {
    let mut out = ClientResult {
        latencies: Vec::new(),
        acked: 0,
        errors: 0,
        throttled: 0,
    };
    let url = format!("{base}/v1/events");
    let auth = format!("Bearer {key}");
    let started = Instant::now();
    let mut n = 0usize;
    let mut sent = 0u32;
    while Instant::now() < deadline {
        if let Some(pace) = pace {
            let due = started + pace * sent;
            tokio::time::sleep_until(due.into()).await;
        }
        // The body is written straight to bytes: the generator shares the server's cores, so it
        // builds no JSON tree and parses no answer.
        let body = request_body(c, n, per);
        n += per;
        sent += 1;
        let t = Instant::now();
        let resp = http
            .post(&url)
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        let (ok, retry_after) = match resp {
            Ok(r) if r.status().as_u16() == 429 => {
                // Admission control: nothing stored; wait as told, like a well-behaved client.
                let secs = r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(1);
                (false, Some(Duration::from_secs(secs)))
            }
            Ok(r) => (r.status().as_u16() == 202 && r.bytes().await.is_ok(), None),
            Err(_) => (false, None),
        };
        out.latencies.push(t.elapsed().as_secs_f64());
        if ok {
            out.acked += per as u64;
        } else if let Some(wait) = retry_after {
            out.throttled += 1;
            tokio::time::sleep(wait.min(deadline.saturating_duration_since(Instant::now()))).await;
        } else {
            out.errors += 1;
        }
    }
    Ok(out)
}

/// The server's user + system CPU time so far, all threads, in seconds (`/proc/PID/stat`).
async fn server_cpu_secs(pid: u32) -> Option<f64> {
    let stat = tokio::fs::read_to_string(format!("/proc/{pid}/stat"))
        .await
        .ok()?;
    // Fields after the command name (which may hold spaces) start at state, field 3; utime and
    // stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    let out = Command::new("getconf").arg("CLK_TCK").output().await.ok()?;
    let hz = String::from_utf8(out.stdout)
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()?;
    Some(ticks / hz)
}

/// Samples the summed RSS of `pids` every 100 ms, keeping the peak.
async fn sample_rss(pids: Vec<u32>, peak: Arc<AtomicU64>, running: Arc<AtomicBool>) {
    while running.load(Ordering::Relaxed) {
        let mut total = 0;
        for pid in &pids {
            if let Ok(status) = tokio::fs::read_to_string(format!("/proc/{pid}/status")).await
                && let Some(kb) = status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.split_whitespace().next())
                    .and_then(|v| v.parse::<u64>().ok())
            {
                total += kb;
            }
        }
        peak.fetch_max(total, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// With the `chainweb` backend (`ANCORA_ANCHOR_BACKEND=chainweb` and its nodes in this
/// process's environment, which the server inherits): waits until every Chainweb anchor is
/// final, then prints event → Chainweb-final latency (server clock: `anchors.finalized_at −
/// events.received_at`). Nothing with the `tlog` backend.
async fn finality(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let (all, open): (i64, i64) = sqlx::query_as(
            "SELECT count(*), count(*) FILTER (WHERE state NOT IN ('final', 'failed')) \
             FROM anchors WHERE backend = 'chainweb'",
        )
        .fetch_one(pool)
        .await?;
        if all == 0 {
            return Ok(());
        }
        if open == 0 {
            break;
        }
        if Instant::now() > deadline {
            bail!("{open} of {all} Chainweb anchors are not final after 600 s");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (p50, p95, p99, failed): (f64, f64, f64, i64) = sqlx::query_as(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s), \
                percentile_cont(0.95) WITHIN GROUP (ORDER BY s), \
                percentile_cont(0.99) WITHIN GROUP (ORDER BY s), \
                (SELECT count(*) FROM anchors WHERE backend = 'chainweb' AND state = 'failed') \
         FROM (SELECT extract(epoch FROM a.finalized_at - e.received_at)::float8 AS s \
               FROM events e \
               JOIN batches b ON b.tenant_id = e.tenant_id \
                             AND e.seq BETWEEN b.first_seq AND b.last_seq \
               JOIN anchors a ON a.id = b.anchor_id \
               WHERE a.backend = 'chainweb' AND a.state = 'final') t",
    )
    .fetch_one(pool)
    .await?;
    println!(
        "event → Chainweb final: p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms ({failed} anchors failed)",
        p50 * 1e3,
        p95 * 1e3,
        p99 * 1e3
    );
    Ok(())
}

async fn wait_all_proved(pool: &sqlx::PgPool, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        let (events, proved): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM events), \
                 (SELECT COALESCE(sum(size), 0)::bigint FROM batches WHERE state = 'proved')",
        )
        .fetch_one(pool)
        .await?;
        if events == proved {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("only {proved} of {events} events were proved");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// COPYs the stored event rows (exported first, not timed) into a fresh table shaped like
/// `events` with the same indexes and CHECK constraints; returns rows per second of the COPY
/// alone. The target has no row-level security, which the ingest pays for.
async fn raw_copy(pool: &sqlx::PgPool) -> anyhow::Result<f64> {
    let mut conn = pool.acquire().await?;
    conn.execute(
        "CREATE TABLE copy_target (LIKE events INCLUDING DEFAULTS INCLUDING IDENTITY \
         INCLUDING CONSTRAINTS INCLUDING INDEXES)",
    )
    .await?;
    let cols =
        "tenant_id, id, digest_alg, digest, submitter, received_at, received_at_micros, leaf_hash";
    let mut export = conn
        .copy_out_raw(format!("COPY (SELECT {cols} FROM events ORDER BY seq) TO STDOUT").as_str())
        .await?;
    let mut data = Vec::new();
    while let Some(chunk) = export.next().await {
        data.extend_from_slice(&chunk?);
    }
    drop(export);
    let rows = data.iter().filter(|b| **b == b'\n').count();
    let started = Instant::now();
    let mut copy = conn
        .copy_in_raw(format!("COPY copy_target ({cols}) FROM STDIN").as_str())
        .await?;
    for chunk in data.chunks(1 << 20) {
        copy.send(chunk).await?;
    }
    copy.finish().await?;
    let secs = started.elapsed().as_secs_f64();
    conn.execute("DROP TABLE copy_target").await?;
    Ok(rows as f64 / secs)
}
