//! The shared-cache read benchmark (`ancora-load --read-shared`, issue 14 item 6): does a
//! Redis behind the in-process proof caches pay with two API processes?
//!
//! It fills a scratch database with `--events` proved events (one `ancora serve`, stopped
//! afterwards), reads every proof once through a `serve --api-only` with `ANCORA_REDIS_URL`
//! (so Redis holds every final bundle, as it would in steady state), then, for each
//! `--cache-mb` budget and `--rounds` times, runs two `serve --api-only` processes on the
//! database without Redis and with it (the order alternates each round), the connections
//! spread over both ports, and measures random proof reads:
//!
//! * a warm-up (half a phase, not reported), then closed loop at saturation;
//! * open loop at each `--rates` (latency from each request's due time).
//!
//! Every run starts with cold in-process caches; each prints its phases, where its reads were
//! answered (`ancora_proof_read_duration_seconds_count` by source, Redis hits, misses and
//! errors, both processes summed), the processes' RSS and the load average. Then the medians
//! over the rounds, per budget, phase and mode. The Redis keys of the run's tenant are deleted
//! at the end.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sqlx::postgres::PgConnection;
use sqlx::{Connection as _, Executor as _};
use tokio::process::{Child, Command};

use crate::create_tenant;
use crate::read::{Phase, Target, closed, fill_proved, open, rss_mb};
use crate::{stop, wait_ready};

/// What one shared-cache benchmark run does.
#[derive(Clone, Debug)]
pub struct SharedOptions {
    /// A Postgres server (any database on it); a scratch database is created there.
    pub database_url: String,
    /// The Redis the "with" runs share (`redis://127.0.0.1:6379`).
    pub redis_url: String,
    /// The `ancora` binary.
    pub ancora: PathBuf,
    /// Events to ingest and prove before reading.
    pub events: usize,
    /// Seconds per measured phase.
    pub seconds: f64,
    /// Offered rates (requests/s) of the open-loop phases.
    pub rates: Vec<u64>,
    /// Connections of the closed-loop phase (open loop: twice as many), over both processes.
    pub connections: usize,
    /// In-process cache budgets to run with (`ANCORA_PROOF_CACHE_MB`).
    pub cache_mb: Vec<usize>,
    /// Runs of each mode per budget.
    pub rounds: usize,
    /// Keep the scratch database.
    pub keep_db: bool,
    /// Before each run's warm-up, read every proof once through each process: the steady
    /// state of processes that have run long (what fits in memory is there).
    pub warm_all: bool,
}

/// Runs the benchmark and prints as it goes; the rendered summary.
pub async fn run(opts: &SharedOptions) -> anyhow::Result<String> {
    let db_name = crate::scratch_db_name();
    let db_url = crate::url_on_same_server(&opts.database_url, &db_name)?;
    let mut admin = PgConnection::connect(&opts.database_url).await?;
    admin
        .execute(format!("CREATE DATABASE {db_name}").as_str())
        .await?;
    let mut tenant = None;
    let result = run_on(opts, &db_url, &mut tenant).await;
    if let Some(t) = tenant {
        match delete_keys(&opts.redis_url, &t).await {
            Ok(n) => eprintln!("deleted {n} Redis keys of tenant {t}"),
            Err(e) => eprintln!("could not delete the Redis keys of tenant {t}: {e:#}"),
        }
    }
    if opts.keep_db {
        eprintln!("kept database {db_name}");
    } else {
        let _ = admin
            .execute(format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)").as_str())
            .await;
    }
    result
}

struct Run {
    mb: usize,
    redis: bool,
    phases: Vec<Phase>,
    sources: BTreeMap<String, f64>,
    rss_mb: f64,
    load: String,
}

async fn run_on(
    opts: &SharedOptions,
    db_url: &str,
    tenant_out: &mut Option<String>,
) -> anyhow::Result<String> {
    let ancora = opts.ancora.as_path();
    let (tenant, key) = create_tenant(ancora, db_url, "read", true).await?;
    *tenant_out = Some(tenant.clone());
    let http = reqwest::Client::builder().build()?;

    // Fill with one `serve` (API and workers), then stop it: the measured processes only read.
    let (mut filler, base) = spawn(ancora, db_url, &["serve"], &[])?;
    wait_ready(&http, &base).await?;
    let ids = fill_proved(&http, &base, &key, db_url, opts.events).await?;
    stop(&mut filler).await;
    let ids = Arc::new(ids);
    let keys = Arc::new(crate::read::read_keys(ancora, db_url, &tenant, key.clone()).await?);
    let target = Target::RandomProof {
        ids: ids.clone(),
        keys,
    };

    // Every bundle read once through Redis: the shared cache as a long-running deployment has
    // it (each process restart below starts with a cold memory, never a cold Redis).
    let redis_env = [("ANCORA_REDIS_URL", opts.redis_url.as_str())];
    let (mut primer, base) = spawn(ancora, db_url, &["serve", "--api-only"], &redis_env)?;
    wait_ready(&http, &base).await?;
    let started = Instant::now();
    prime(&base_addr(&base)?, &ids, &key, opts.connections).await?;
    let primed = metrics(&http, &base).await?;
    stop(&mut primer).await;
    eprintln!(
        "primed Redis with {} bundles in {:.1} s (Redis errors {})",
        ids.len(),
        started.elapsed().as_secs_f64(),
        primed
            .get("ancora_proof_cache_redis_errors_total")
            .copied()
            .unwrap_or(0.0)
    );

    let secs = Duration::from_secs_f64(opts.seconds);
    let conns = opts.connections.max(2);
    let mut runs = Vec::new();
    for &mb in &opts.cache_mb {
        for round in 0..opts.rounds {
            let order = if round % 2 == 0 {
                [false, true]
            } else {
                [true, false]
            };
            for redis in order {
                let mb_text = mb.to_string();
                let mut env = vec![("ANCORA_PROOF_CACHE_MB", mb_text.as_str())];
                if redis {
                    env.extend(redis_env);
                }
                eprintln!(
                    "== {mb} MiB, round {}, {}",
                    round + 1,
                    if redis { "with Redis" } else { "without Redis" }
                );
                let mut servers = Vec::new();
                let mut bases = Vec::new();
                for _ in 0..2 {
                    let (child, base) = spawn(ancora, db_url, &["serve", "--api-only"], &env)?;
                    servers.push(child);
                    bases.push(base);
                }
                for base in &bases {
                    wait_ready(&http, base).await?;
                }
                let addrs = bases
                    .iter()
                    .map(|b| base_addr(b))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let mut phases = Vec::new();
                if opts.warm_all {
                    for addr in &addrs {
                        prime(addr, &ids, &key, opts.connections).await?;
                    }
                }
                closed(&addrs, "warm-up", target.clone(), conns, secs / 2).await?;
                let load = loadavg().await;
                phases
                    .push(closed(&addrs, "proof (random id)", target.clone(), conns, secs).await?);
                for &rate in &opts.rates {
                    phases.push(
                        open(
                            &addrs,
                            "proof (random id)",
                            target.clone(),
                            conns * 2,
                            rate,
                            secs,
                        )
                        .await?,
                    );
                }
                let mut sources = BTreeMap::new();
                for base in &bases {
                    for (k, v) in metrics(&http, base).await? {
                        *sources.entry(k).or_insert(0.0) += v;
                    }
                }
                let mut rss = 0.0;
                for s in &servers {
                    rss += rss_mb(s.id().context("server pid")?)
                        .await
                        .unwrap_or(f64::NAN);
                }
                for s in &mut servers {
                    stop(s).await;
                }
                let run = Run {
                    mb,
                    redis,
                    phases,
                    sources,
                    rss_mb: rss,
                    load,
                };
                println!("{}", render_run(&run));
                runs.push(run);
            }
        }
    }
    let summary = render_summary(opts, ids.len(), &runs, &redis_memory(&opts.redis_url).await);
    println!("{summary}");
    Ok(summary)
}

fn spawn(
    ancora: &std::path::Path,
    db_url: &str,
    cli: &[&str],
    env: &[(&str, &str)],
) -> anyhow::Result<(Child, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut cmd = Command::new(ancora);
    cmd.args(cli)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", db_url)
        .env("ANCORA_LOG", "warn")
        .env_remove("ANCORA_REDIS_URL")
        .env_remove("ANCORA_PROOF_CACHE_MB")
        .stdout(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Ok((cmd.spawn()?, format!("http://127.0.0.1:{port}")))
}

fn base_addr(base: &str) -> anyhow::Result<std::net::SocketAddr> {
    Ok(base
        .strip_prefix("http://")
        .context("an http base")?
        .parse()?)
}

/// Reads every id once, `conns` at a time.
async fn prime(
    addr: &std::net::SocketAddr,
    ids: &Arc<Vec<String>>,
    key: &str,
    conns: usize,
) -> anyhow::Result<()> {
    let conns = conns.max(1);
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..conns {
        let (ids, key, addr) = (ids.clone(), key.to_owned(), *addr);
        tasks.spawn(async move {
            let client = reqwest::Client::new();
            for id in ids.iter().skip(c).step_by(conns) {
                let r = client
                    .get(format!("http://{addr}/v1/events/{id}/proof"))
                    .bearer_auth(&key)
                    .send()
                    .await?;
                anyhow::ensure!(r.status() == 200, "{id}: {}", r.status());
                r.bytes().await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    // The puts are in the background: give the last ones time to land.
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(())
}

/// The proof-read counters of a server's `/metrics`: reads by source and the Redis counters.
async fn metrics(http: &reqwest::Client, base: &str) -> anyhow::Result<BTreeMap<String, f64>> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let wanted = name.starts_with("ancora_proof_read_duration_seconds_count")
            || name.starts_with("ancora_proof_cache_redis_");
        if wanted && let Ok(v) = value.parse::<f64>() {
            out.insert(name.to_owned(), v);
        }
    }
    Ok(out)
}

async fn loadavg() -> String {
    tokio::fs::read_to_string("/proc/loadavg")
        .await
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

async fn redis_conn(url: &str) -> anyhow::Result<redis::aio::MultiplexedConnection> {
    Ok(redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await?)
}

/// Redis's `used_memory_human`.
async fn redis_memory(url: &str) -> String {
    let info = async {
        let info: String = redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut redis_conn(url).await?)
            .await?;
        anyhow::Ok(info)
    };
    match info.await {
        Ok(info) => info
            .lines()
            .find_map(|l| l.strip_prefix("used_memory_human:"))
            .unwrap_or("?")
            .trim()
            .to_owned(),
        Err(e) => format!("? ({e})"),
    }
}

/// Deletes the keys `ancora` wrote for `tenant`; how many.
async fn delete_keys(url: &str, tenant: &str) -> anyhow::Result<u64> {
    let mut conn = redis_conn(url).await?;
    let pattern = format!("ancora:proof:v1:{tenant}:*");
    let mut cursor: u64 = 0;
    let mut deleted = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(10_000)
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            let n: u64 = redis::cmd("UNLINK")
                .arg(&keys)
                .query_async(&mut conn)
                .await?;
            deleted += n;
        }
        if next == 0 {
            return Ok(deleted);
        }
        cursor = next;
    }
}

fn mode(p: &Phase) -> String {
    match p.offered {
        Some(r) => format!("open loop {r}/s"),
        None => "closed loop".to_owned(),
    }
}

fn render_run(r: &Run) -> String {
    let mut out = format!(
        "run: {} MiB, {}, load average {}, RSS of both {:.0} MB\n",
        r.mb,
        if r.redis {
            "with Redis"
        } else {
            "without Redis"
        },
        r.load,
        r.rss_mb
    );
    for p in &r.phases {
        out.push_str(&format!(
            "  {:<16} {:>8.0} req/s  p50 {:>7.2} ms  p95 {:>7.2} ms  p99 {:>7.2} ms  ({} ok, {} errors)\n",
            mode(p),
            p.rate,
            p.p50 * 1e3,
            p.p95 * 1e3,
            p.p99 * 1e3,
            p.ok,
            p.errors
        ));
    }
    let get = |k: &str| r.sources.get(k).copied().unwrap_or(0.0);
    out.push_str(&format!(
        "  reads answered from memory {:.0}, Redis {:.0}, the database {:.0}; Redis hits {:.0}, misses {:.0}, errors {:.0}",
        get("ancora_proof_read_duration_seconds_count{source=\"cache\"}"),
        get("ancora_proof_read_duration_seconds_count{source=\"redis\"}"),
        get("ancora_proof_read_duration_seconds_count{source=\"database\"}"),
        get("ancora_proof_cache_redis_hits_total"),
        get("ancora_proof_cache_redis_misses_total"),
        get("ancora_proof_cache_redis_errors_total"),
    ));
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn render_summary(opts: &SharedOptions, events: usize, runs: &[Run], redis_mem: &str) -> String {
    let mut out = format!(
        "summary: {events} proved events, 2 `serve --api-only`{}, {} connections closed loop ({} open loop), {} s a phase, medians of {} runs each; Redis used memory at the end: {redis_mem}\n",
        if opts.warm_all {
            ", every proof read once through each before the run"
        } else {
            ", cold memory (half a phase of warm-up)"
        },
        opts.connections.max(2),
        opts.connections.max(2) * 2,
        opts.seconds,
        opts.rounds
    );
    out.push_str("| cache MiB | phase | without Redis req/s | p50 / p95 / p99 ms | with Redis req/s | p50 / p95 / p99 ms |\n|---|---|---|---|---|---|\n");
    for &mb in &opts.cache_mb {
        let Some(first) = runs.iter().find(|r| r.mb == mb) else {
            continue;
        };
        for (i, phase) in first.phases.iter().enumerate() {
            let mut cells = Vec::new();
            for redis in [false, true] {
                let ps: Vec<&Phase> = runs
                    .iter()
                    .filter(|r| r.mb == mb && r.redis == redis)
                    .filter_map(|r| r.phases.get(i))
                    .collect();
                let m = |f: fn(&Phase) -> f64| median(ps.iter().map(|p| f(p)).collect());
                cells.push(format!(
                    "{:.0} | {:.2} / {:.2} / {:.2}",
                    m(|p| p.rate),
                    m(|p| p.p50) * 1e3,
                    m(|p| p.p95) * 1e3,
                    m(|p| p.p99) * 1e3
                ));
            }
            out.push_str(&format!(
                "| {mb} | {} | {} | {} |\n",
                mode(phase),
                cells[0],
                cells[1]
            ));
        }
    }
    out
}
