//! `ancora-load`'s parts: what the ingest benchmark (the binary's default mode) and the read
//! benchmark ([`read`], `ancora-load --read`) share: a scratch database, the `ancora` CLI,
//! starting and stopping `ancora serve`, request bodies and percentiles.
#![forbid(unsafe_code)]

pub mod read;
pub mod read_shared;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::process::{Child, Command};

/// A scratch database name that two runs started in the same second do not share.
pub fn scratch_db_name() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "ancora_load_{}_{}_{}",
        now.unix_timestamp(),
        std::process::id(),
        now.nanosecond() % 1_000_000
    )
}

/// Splits `postgres://…/db` into the server part and makes the URL of `db_name` on it.
pub fn url_on_same_server(database_url: &str, db_name: &str) -> anyhow::Result<String> {
    let (server_url, _) = database_url
        .rsplit_once('/')
        .context("DATABASE_URL must end in /<database>")?;
    Ok(format!("{server_url}/{db_name}"))
}

/// Runs `ancora <cli>` against `db_url`; its trimmed stdout.
pub async fn ancora_cli(ancora: &Path, db_url: &str, cli: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(ancora)
        .args(cli)
        .env("DATABASE_URL", db_url)
        .env("ANCORA_LOG", "warn")
        .output()
        .await
        .with_context(|| format!("running {}", ancora.display()))?;
    if !out.status.success() {
        bail!(
            "ancora {cli:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

/// Migrates the database and makes the benchmark's tenant `name` and a submitter key; with
/// `enterprise`, puts the tenant on plan enterprise (nothing is refused). The tenant id and
/// the key.
pub async fn create_tenant(
    ancora: &Path,
    db_url: &str,
    name: &str,
    enterprise: bool,
) -> anyhow::Result<(String, String)> {
    ancora_cli(ancora, db_url, &["migrate"]).await?;
    let tenant = ancora_cli(ancora, db_url, &["admin", "create-tenant", name]).await?;
    let key = create_api_key(ancora, db_url, &tenant).await?;
    if enterprise {
        let plan = [
            "admin",
            "plan",
            "set",
            "--tenant",
            &tenant,
            "--plan",
            "enterprise",
        ];
        ancora_cli(ancora, db_url, &plan).await?;
    }
    Ok((tenant, key))
}

/// Another submitter key of `tenant`.
pub async fn create_api_key(ancora: &Path, db_url: &str, tenant: &str) -> anyhow::Result<String> {
    let args = [
        "admin",
        "create-api-key",
        "--tenant",
        tenant,
        "--role",
        "submitter",
    ];
    ancora_cli(ancora, db_url, &args).await
}

/// Waits (at most 60 s) until `GET {base}/readyz` answers 2xx.
pub async fn wait_ready(http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the server did not become ready");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Stops a server with SIGTERM (a clean shutdown) and waits at most 20 s.
pub async fn stop(server: &mut Child) {
    if let Some(pid) = server.id() {
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(20), server.wait()).await;
}

/// The id of event `i` of client `c`.
pub fn event_id(c: usize, i: usize) -> String {
    format!("c{c}-{i}")
}

/// `{"events":[{"id":"c<c>-<i>","digest":"sha256:<hex of SHA-256(id)>"}, …]}` for ids
/// `first..first + per` of client `c`, written straight to bytes (no JSON tree).
pub fn request_body(c: usize, first: usize, per: usize) -> Vec<u8> {
    use std::io::Write as _;
    let mut body = Vec::with_capacity(16 + per * 112);
    body.extend_from_slice(b"{\"events\":[");
    let mut id = String::with_capacity(24);
    for i in first..first + per {
        if i > first {
            body.push(b',');
        }
        id.clear();
        let _ = std::fmt::Write::write_fmt(&mut id, format_args!("c{c}-{i}"));
        let digest = <sha2::Sha256 as sha2::Digest>::digest(id.as_bytes());
        let _ = write!(
            body,
            "{{\"id\":\"{id}\",\"digest\":\"sha256:{}\"}}",
            hex::encode(digest)
        );
    }
    body.extend_from_slice(b"]}");
    body
}

/// The `q` quantile of sorted values (nearest rank); NaN when empty.
pub fn pct(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
