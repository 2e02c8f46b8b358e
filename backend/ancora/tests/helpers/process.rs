//! The real-binary harness the process-level tests share: the `ancora` binary, starting and
//! killing `ancora serve`, a minimal HTTP/1.1 client (one request per connection, so the tests
//! need no HTTP client crate), the `#[sqlx::test]` database's URL, `ancora verify` over many
//! files, and temp dirs.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ancora::db::Db;
use ancora::domain::{Role, TenantId};
use serde_json::Value;
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
            // Tenants made by these tests are not limited by the free plan; a test about
            // billing passes its own ANCORA_DEFAULT_PLAN in `env`.
            .env("ANCORA_DEFAULT_PLAN", "enterprise")
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

    /// Sends SIGTERM and waits (at most `within`, then SIGKILL and a panic) for the exit:
    /// the exit status and how long the shutdown took.
    pub async fn terminate(mut self, within: Duration) -> (std::process::ExitStatus, Duration) {
        let started = Instant::now();
        let pid = self.child.id().expect("running");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill -TERM");
        assert!(sent.success());
        match tokio::time::timeout(within, self.child.wait()).await {
            Ok(status) => (status.expect("reap"), started.elapsed()),
            Err(_) => {
                self.child.start_kill().expect("SIGKILL");
                panic!("ancora serve did not exit within {within:?} of SIGTERM");
            }
        }
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

/// A fresh directory under the system temp dir.
pub fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ancora-{tag}-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}
