//! The read benchmark (`ancora-load --read`): fills a scratch database with `--events` proved
//! events through the API, then, against the same server in one run, measures
//!
//! * `GET /healthz` (the empty handler: no database, no key) and random
//!   `GET /v1/events/{id}/proof` closed-loop at saturation (`--connections` connections, each
//!   sending its next request as soon as the previous answer is read), and the ratio
//!   proof ÷ healthz of their rates;
//! * the same id over and over (closed-loop);
//! * both open-loop at each fixed `--rates` (requests are due at `start + i / rate`, whatever
//!   the answers do; latency counts from the due time, so a server that falls behind shows its
//!   queue in the percentiles instead of slowing the generator down);
//! * random proof reads with a concurrent flood of random well-formed keys on as many
//!   connections (the flood must get 401 quickly and not slow the real key).
//!
//! Each phase prints its rate and p50/p95/p99. The HTTP client is a minimal HTTP/1.1
//! keep-alive one over plain TCP: the generator runs on the server's cores, so it must cost
//! little per request.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use sqlx::postgres::{PgConnection, PgPoolOptions};
use sqlx::{Connection as _, Executor as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::process::Command;

use crate::{create_tenant, event_id, pct, request_body, stop, wait_ready};

/// What one read benchmark run does.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// A Postgres server (any database on it); a scratch database is created there.
    pub database_url: String,
    /// The `ancora` binary to serve with.
    pub ancora: PathBuf,
    /// Events to ingest and prove before reading.
    pub events: usize,
    /// Seconds per measured phase.
    pub seconds: f64,
    /// Offered rates (requests/s) of the open-loop phases.
    pub rates: Vec<u64>,
    /// Connections of the closed-loop phases (open-loop phases use twice as many).
    pub connections: usize,
    /// Keep the scratch database.
    pub keep_db: bool,
    /// Extra environment of the server, `(NAME, VALUE)`.
    pub server_env: Vec<(String, String)>,
    /// Seconds of random reads before the measured phases (not reported; default half a
    /// phase): a large catalog needs longer to reach the server's steady state.
    pub warm_seconds: Option<f64>,
}

/// One measured phase.
#[derive(Clone, Debug)]
pub struct Phase {
    /// What was measured.
    pub name: String,
    /// Offered requests/s (open loop), or `None` (closed loop).
    pub offered: Option<u64>,
    /// Answers with the expected status.
    pub ok: u64,
    /// Answers with another status, or failed exchanges.
    pub errors: u64,
    /// Completed exchanges per second of the phase.
    pub rate: f64,
    /// Latency percentiles, seconds.
    pub p50: f64,
    /// 95th percentile, seconds.
    pub p95: f64,
    /// 99th percentile, seconds.
    pub p99: f64,
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct ReadReport {
    /// Events in the catalog.
    pub events: usize,
    /// The phases, in the order run.
    pub phases: Vec<Phase>,
    /// Closed-loop random proof reads ÷ closed-loop `/healthz`, requests/s.
    pub ratio: f64,
    /// The server's resident memory at the end, MB.
    pub server_rss_mb: f64,
    /// Proof reads the server answered, by source (its `/metrics`: cache, batch, redis,
    /// database), over the whole run.
    pub reads_by_source: Vec<(String, u64)>,
}

impl ReadReport {
    /// The phase named `name` (first match).
    pub fn phase(&self, name: &str) -> Option<&Phase> {
        self.phases.iter().find(|p| p.name == name)
    }

    /// The report as printed: one line a phase, then the ratio.
    pub fn render(&self) -> String {
        let mut out = format!("catalog: {} proved events\n", self.events);
        for p in &self.phases {
            let mode = match p.offered {
                Some(r) => format!("open loop at {r} req/s"),
                None => "closed loop".to_owned(),
            };
            out.push_str(&format!(
                "{:<28} {:<24} {:>9.0} req/s  p50 {:>7.2} ms  p95 {:>7.2} ms  p99 {:>7.2} ms  ({} ok, {} errors)\n",
                p.name,
                mode,
                p.rate,
                p.p50 * 1e3,
                p.p95 * 1e3,
                p.p99 * 1e3,
                p.ok,
                p.errors
            ));
        }
        out.push_str(&format!(
            "ratio random proof ÷ healthz (closed loop): {:.3}\n",
            self.ratio
        ));
        out.push_str(&format!(
            "server RSS at the end: {:.1} MB\n",
            self.server_rss_mb
        ));
        if !self.reads_by_source.is_empty() {
            let by: Vec<String> = self
                .reads_by_source
                .iter()
                .map(|(s, n)| format!("{s} {n}"))
                .collect();
            out.push_str(&format!("proof reads by source: {}\n", by.join(", ")));
        }
        out
    }
}

/// Runs the benchmark: scratch database, server, fill, phases; drops the database unless
/// `keep_db`.
pub async fn run(opts: &ReadOptions) -> anyhow::Result<ReadReport> {
    let db_name = crate::scratch_db_name();
    let db_url = crate::url_on_same_server(&opts.database_url, &db_name)?;
    let mut admin = PgConnection::connect(&opts.database_url).await?;
    admin
        .execute(format!("CREATE DATABASE {db_name}").as_str())
        .await?;
    let result = run_on(opts, &db_url).await;
    if !opts.keep_db {
        let _ = admin
            .execute(format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)").as_str())
            .await;
    } else {
        eprintln!("kept database {db_name}");
    }
    result
}

async fn run_on(opts: &ReadOptions, db_url: &str) -> anyhow::Result<ReadReport> {
    let ancora = opts.ancora.as_path();
    let (tenant, key) = create_tenant(ancora, db_url, "read", true).await?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = Command::new(ancora)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", db_url)
        .env("ANCORA_LOG", "warn")
        .envs(opts.server_env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let http = reqwest::Client::builder().build()?;
    wait_ready(&http, &base).await?;
    let pid = server.id().context("server pid")?;

    let ids = fill_proved(&http, &base, &key, db_url, opts.events).await?;

    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let ids = Arc::new(ids);
    let secs = Duration::from_secs_f64(opts.seconds);
    let conns = opts.connections.max(1);
    let keys = Arc::new(read_keys(ancora, db_url, &tenant, key).await?);
    let random_proof = Target::RandomProof {
        ids: ids.clone(),
        keys: keys.clone(),
    };
    let mut phases = Vec::new();
    // Warm-up (not reported): connections, the server's caches and pools at their steady state.
    let addr = &[addr][..];
    let warm = opts.warm_seconds.map_or(secs / 2, Duration::from_secs_f64);
    closed(addr, "warm-up", random_proof.clone(), conns, warm).await?;
    phases.push(closed(addr, "healthz", Target::Healthz, conns, secs).await?);
    phases.push(closed(addr, "proof (random id)", random_proof.clone(), conns, secs).await?);
    let one = Target::OneProof {
        id: ids[ids.len() / 2].clone(),
        keys,
    };
    phases.push(closed(addr, "proof (one id)", one, conns, secs).await?);
    for &rate in &opts.rates {
        phases.push(open(addr, "healthz", Target::Healthz, conns * 2, rate, secs).await?);
        phases.push(
            open(
                addr,
                "proof (random id)",
                random_proof.clone(),
                conns * 2,
                rate,
                secs,
            )
            .await?,
        );
    }
    let (proofs, flood) = flooded(addr, random_proof, conns, secs).await?;
    phases.push(proofs);
    phases.push(flood);

    let server_rss_mb = rss_mb(pid).await.unwrap_or(f64::NAN);
    let reads_by_source = reads_by_source(&http, &base).await.unwrap_or_default();
    stop(&mut server).await;
    let rate_of = |name: &str| {
        phases
            .iter()
            .find(|p| p.name == name && p.offered.is_none())
            .map_or(f64::NAN, |p| p.rate)
    };
    let ratio = rate_of("proof (random id)") / rate_of("healthz");
    Ok(ReadReport {
        events: ids.len(),
        phases,
        ratio,
        server_rss_mb,
        reads_by_source,
    })
}

/// Keys the proof reads spread over: the enterprise plan limits each key to 10 000
/// requests/s (burst 20 000), more than one key's share of what a server here answers but
/// less than all of it; [`READ_KEYS`] of them (the fill's and more of the tenant's) keep the
/// limiter from deciding the result, as a server read by many clients sees it.
pub(crate) async fn read_keys(
    ancora: &std::path::Path,
    db_url: &str,
    tenant: &str,
    first: String,
) -> anyhow::Result<Vec<String>> {
    let mut keys = vec![first];
    for _ in 1..READ_KEYS {
        keys.push(crate::create_api_key(ancora, db_url, tenant).await?);
    }
    Ok(keys)
}

/// How many keys the proof reads use ([`read_keys`]).
pub(crate) const READ_KEYS: usize = 8;

/// The server's count of proof reads by source, from its `/metrics`.
async fn reads_by_source(http: &reqwest::Client, base: &str) -> anyhow::Result<Vec<(String, u64)>> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let prefix = "ancora_proof_read_duration_seconds_count{source=\"";
    Ok(text
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(prefix)?;
            let (source, n) = rest.split_once("\"} ")?;
            Some((source.to_owned(), n.trim().parse::<f64>().ok()? as u64))
        })
        .collect())
}

/// Posts `events` events (1 000 a request, 4 clients), waiting `Retry-After` on a 429; the
/// ids posted.
pub(crate) async fn fill(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    events: usize,
) -> anyhow::Result<Vec<String>> {
    const CLIENTS: usize = 4;
    const PER: usize = 1000;
    let mut tasks = tokio::task::JoinSet::new();
    let mut ids = Vec::with_capacity(events);
    for c in 0..CLIENTS {
        let n = events / CLIENTS + usize::from(c < events % CLIENTS);
        ids.extend((0..n).map(|i| event_id(c, i)));
        let (http, url, auth) = (
            http.clone(),
            format!("{base}/v1/events"),
            format!("Bearer {key}"),
        );
        tasks.spawn(async move {
            let mut first = 0;
            while first < n {
                let per = PER.min(n - first);
                let body = request_body(c, first, per);
                let r = http
                    .post(&url)
                    .header("authorization", &auth)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await?;
                match r.status().as_u16() {
                    202 => first += per,
                    429 | 503 => {
                        let secs = r
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse::<u64>().ok())
                            .unwrap_or(1);
                        tokio::time::sleep(Duration::from_secs(secs)).await;
                    }
                    s => bail!("POST /v1/events answered {s}: {}", r.text().await?),
                }
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(ids)
}

/// [`fill`]s through the server at `base`, then waits until every event in the database is
/// proved: the ids posted.
pub(crate) async fn fill_proved(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    db_url: &str,
    events: usize,
) -> anyhow::Result<Vec<String>> {
    let started = Instant::now();
    let ids = fill(http, base, key, events).await?;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(db_url)
        .await?;
    wait_all_proved(&pool, events).await?;
    pool.close().await;
    eprintln!(
        "filled and proved {} events in {:.1} s",
        ids.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(ids)
}

/// Waits until every event is proved: first until `events` events are in proved batches (a
/// cheap sum over batches while the pipeline works), then until no event is outside one (the
/// tenant's audit events, counted above too, may still wait for their last batch).
async fn wait_all_proved(pool: &sqlx::PgPool, events: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let proved: i64 = sqlx::query_scalar(
            "SELECT COALESCE(sum(size), 0)::bigint FROM batches WHERE state = 'proved'",
        )
        .fetch_one(pool)
        .await?;
        // every event stored, counted (a scan) once the sum is there
        let mut all = None;
        if usize::try_from(proved)? >= events {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
                .fetch_one(pool)
                .await?;
            if n == proved {
                return Ok(());
            }
            all = Some(n);
        }
        if Instant::now() > deadline {
            let of = all.unwrap_or_else(|| i64::try_from(events).unwrap_or(i64::MAX));
            bail!("only {proved} of {of} events were proved after 600 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(crate) async fn rss_mb(pid: u32) -> Option<f64> {
    let status = tokio::fs::read_to_string(format!("/proc/{pid}/status"))
        .await
        .ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// What a connection asks for.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    /// `GET /healthz`, expecting 200.
    Healthz,
    /// `GET /v1/events/{random id}/proof` with one of the keys (at random), expecting 200.
    RandomProof {
        ids: Arc<Vec<String>>,
        keys: Arc<Vec<String>>,
    },
    /// `GET /v1/events/{id}/proof` with one of the keys (at random), expecting 200.
    OneProof { id: String, keys: Arc<Vec<String>> },
    /// `GET /v1/events/{random id}/proof` with a random well-formed key, expecting 401.
    RandomKey { ids: Arc<Vec<String>> },
}

impl Target {
    /// Writes the next request into `out`; the status it should get.
    fn request(&self, rng: &mut Rng, out: &mut Vec<u8>) -> u16 {
        use std::io::Write as _;
        out.clear();
        match self {
            Target::Healthz => {
                out.extend_from_slice(b"GET /healthz HTTP/1.1\r\nhost: bench\r\n\r\n");
                200
            }
            Target::RandomProof { ids, keys } => {
                let id = &ids[rng.below(ids.len())];
                let key = &keys[rng.below(keys.len())];
                let _ = write!(
                    out,
                    "GET /v1/events/{id}/proof HTTP/1.1\r\nhost: bench\r\nauthorization: Bearer {key}\r\n\r\n"
                );
                200
            }
            Target::OneProof { id, keys } => {
                let key = &keys[rng.below(keys.len())];
                let _ = write!(
                    out,
                    "GET /v1/events/{id}/proof HTTP/1.1\r\nhost: bench\r\nauthorization: Bearer {key}\r\n\r\n"
                );
                200
            }
            Target::RandomKey { ids } => {
                let id = &ids[rng.below(ids.len())];
                let _ = write!(
                    out,
                    "GET /v1/events/{id}/proof HTTP/1.1\r\nhost: bench\r\nauthorization: Bearer {}\r\n\r\n",
                    rng.key()
                );
                401
            }
        }
    }
}

/// xorshift64*: enough randomness for picking ids, no dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// A random string with the shape of an API key (`ak_<8>_<43>`), almost surely unknown.
    fn key(&mut self) -> String {
        const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut k = String::with_capacity(55);
        k.push_str("ak_");
        for _ in 0..8 {
            k.push(char::from(LOWER[self.below(LOWER.len())]));
        }
        k.push('_');
        for _ in 0..43 {
            k.push(char::from(B64[self.below(B64.len())]));
        }
        k
    }
}

/// One keep-alive HTTP/1.1 connection, reconnected after a failure or a `Connection: close`.
struct Conn {
    addr: std::net::SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Conn {
    fn new(addr: std::net::SocketAddr) -> Self {
        Conn {
            addr,
            stream: None,
            buf: Vec::with_capacity(16 * 1024),
        }
    }

    /// Sends `req` and reads the whole answer; its status.
    async fn exchange(&mut self, req: &[u8]) -> std::io::Result<u16> {
        let result = self.try_exchange(req).await;
        if !matches!(result, Ok((_, true))) {
            self.stream = None;
        }
        result.map(|(status, _)| status)
    }

    async fn try_exchange(&mut self, req: &[u8]) -> std::io::Result<(u16, bool)> {
        if self.stream.is_none() {
            let s = TcpStream::connect(self.addr).await?;
            s.set_nodelay(true)?;
            self.stream = Some(s);
        }
        let stream = self.stream.as_mut().ok_or_else(|| bad("no stream"))?;
        stream.write_all(req).await?;
        self.buf.clear();
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            read_more(stream, &mut self.buf).await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).map_err(|_| bad("head"))?;
        let status: u16 = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("status line"))?;
        let mut length = None;
        let mut chunked = false;
        let mut keep = true;
        for line in head.split("\r\n").skip(1) {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse::<usize>().map_err(|_| bad("content-length"))?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                keep = !value.eq_ignore_ascii_case("close");
            }
        }
        if chunked {
            let mut at = head_end;
            loop {
                let line_end = loop {
                    if let Some(i) = find(&self.buf[at..], b"\r\n") {
                        break at + i;
                    }
                    read_more(stream, &mut self.buf).await?;
                };
                let size_text =
                    std::str::from_utf8(&self.buf[at..line_end]).map_err(|_| bad("chunk size"))?;
                let size =
                    usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                        .map_err(|_| bad("chunk size"))?;
                let need = line_end + 2 + size + 2;
                while self.buf.len() < need {
                    read_more(stream, &mut self.buf).await?;
                }
                at = need;
                if size == 0 {
                    break;
                }
            }
        } else if status != 304 && status != 204 {
            let need = head_end + length.ok_or_else(|| bad("no content-length"))?;
            while self.buf.len() < need {
                read_more(stream, &mut self.buf).await?;
            }
        }
        Ok((status, keep))
    }
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("bad answer: {what}"),
    )
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let mut chunk = [0u8; 8192];
    let n = stream.read(&mut chunk).await?;
    if n == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

#[derive(Default)]
struct Tally {
    latencies: Vec<f64>,
    ok: u64,
    errors: u64,
}

impl Tally {
    fn record(&mut self, latency: f64, got: std::io::Result<u16>, want: u16) {
        self.latencies.push(latency);
        match got {
            Ok(s) if s == want => self.ok += 1,
            _ => self.errors += 1,
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.ok += other.ok;
        self.errors += other.errors;
    }

    fn phase(mut self, name: &str, offered: Option<u64>, elapsed: Duration) -> Phase {
        self.latencies.sort_by(f64::total_cmp);
        Phase {
            name: name.to_owned(),
            offered,
            // Answers of the expected status only: a 429 or an error is not throughput.
            rate: self.ok as f64 / elapsed.as_secs_f64(),
            p50: pct(&self.latencies, 0.50),
            p95: pct(&self.latencies, 0.95),
            p99: pct(&self.latencies, 0.99),
            ok: self.ok,
            errors: self.errors,
        }
    }
}

fn seed(i: usize) -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    t ^ ((i as u64 + 1) << 32)
}

/// `conns` connections, each sending as soon as its previous answer is read, for `secs`;
/// connection `i` goes to `addrs[i % addrs.len()]`.
pub(crate) async fn closed(
    addrs: &[std::net::SocketAddr],
    name: &str,
    target: Target,
    conns: usize,
    secs: Duration,
) -> anyhow::Result<Phase> {
    let started = Instant::now();
    let deadline = started + secs;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..conns {
        let target = target.clone();
        let addr = addrs[i % addrs.len()];
        tasks.spawn(async move {
            let mut conn = Conn::new(addr);
            let mut rng = Rng::new(seed(i));
            let mut req = Vec::with_capacity(256);
            let mut tally = Tally::default();
            while Instant::now() < deadline {
                let want = target.request(&mut rng, &mut req);
                let t = Instant::now();
                let got = conn.exchange(&req).await;
                tally.record(t.elapsed().as_secs_f64(), got, want);
            }
            tally
        });
    }
    let mut all = Tally::default();
    while let Some(t) = tasks.join_next().await {
        all.merge(t?);
    }
    let phase = all.phase(name, None, started.elapsed());
    eprintln!("{name}: closed loop done ({:.0} req/s)", phase.rate);
    Ok(phase)
}

/// Requests due at `start + i / rate` for `secs`, sent on `conns` connections (each takes the
/// next due request when free; connection `i` goes to `addrs[i % addrs.len()]`); latency
/// counts from the due time.
pub(crate) async fn open(
    addrs: &[std::net::SocketAddr],
    name: &str,
    target: Target,
    conns: usize,
    rate: u64,
    secs: Duration,
) -> anyhow::Result<Phase> {
    let started = Instant::now();
    let total = (rate as f64 * secs.as_secs_f64()).round() as u64;
    let interval = 1.0 / rate.max(1) as f64;
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..conns {
        let (target, next) = (target.clone(), next.clone());
        let addr = addrs[i % addrs.len()];
        tasks.spawn(async move {
            let mut conn = Conn::new(addr);
            let mut rng = Rng::new(seed(i));
            let mut req = Vec::with_capacity(256);
            let mut tally = Tally::default();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    break;
                }
                let due = started + Duration::from_secs_f64(n as f64 * interval);
                tokio::time::sleep_until(due.into()).await;
                let want = target.request(&mut rng, &mut req);
                let got = conn.exchange(&req).await;
                tally.record(due.elapsed().as_secs_f64(), got, want);
            }
            tally
        });
    }
    let mut all = Tally::default();
    while let Some(t) = tasks.join_next().await {
        all.merge(t?);
    }
    let phase = all.phase(name, Some(rate), started.elapsed());
    eprintln!(
        "{name}: open loop at {rate}/s done ({:.0} req/s)",
        phase.rate
    );
    Ok(phase)
}

/// Random proof reads on `conns` connections while as many connections send random keys.
async fn flooded(
    addr: &[std::net::SocketAddr],
    proofs: Target,
    conns: usize,
    secs: Duration,
) -> anyhow::Result<(Phase, Phase)> {
    let Target::RandomProof { ids, .. } = &proofs else {
        bail!("the flood phase reads random proofs");
    };
    let flood = Target::RandomKey { ids: ids.clone() };
    let (a, b) = tokio::join!(
        closed(
            addr,
            "proof (random id) in flood",
            proofs.clone(),
            conns,
            secs
        ),
        closed(addr, "flood of random keys (401)", flood, conns, secs)
    );
    Ok((a?, b?))
}
