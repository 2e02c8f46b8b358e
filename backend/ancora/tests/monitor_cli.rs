//! `ancora monitor` against the real binary: it follows a growing log, catches a fork when the
//! log behind the same key is rebuilt with another history, refuses a checkpoint altered in
//! transit, and says in one line (exit 2) that a service is unreachable.

use std::path::Path;
use std::time::{Duration, Instant};

use ancora_proof::tlog::{LogSigner, checkpoint::parse_checkpoint_unverified};
use serde_json::json;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::process::*;

/// Runs `ancora monitor ARGS`: exit code, stdout, stderr.
async fn monitor(args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(ancora_bin())
        .arg("monitor")
        .args(args)
        .output()
        .await
        .expect("run ancora monitor");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn serve_env(dir: &Path, url: String, signing_key: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", url),
        ("ANCORA_DATA_DIR", dir.join("data").display().to_string()),
        ("ANCORA_LOG_SIGNING_KEY", signing_key.to_owned()),
        ("ANCORA_BATCH_WINDOW_MS", "50".to_owned()),
        ("ANCORA_ANCHOR_INTERVAL_MS", "50".to_owned()),
        ("ANCORA_DB_POOL", "4".to_owned()),
    ]
}

/// Submits one event and waits until the log has grown past `size`; returns its new size.
async fn grow(port: u16, key: &str, id: &str, size: u64) -> u64 {
    let body = json!({ "events": [{ "id": id, "content": "aGVsbG8=" }] });
    let (status, _) = http(port, "POST", "/v1/events", Some(key), Some(&body))
        .await
        .expect("submit");
    assert_eq!(status, 202);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, note) = http(port, "GET", "/v1/log/checkpoint", None, None)
            .await
            .expect("checkpoint");
        let cp = parse_checkpoint_unverified(&String::from_utf8_lossy(&note)).expect("note");
        if cp.size > size {
            return cp.size;
        }
        assert!(
            Instant::now() < deadline,
            "the log did not grow past {size}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn one_line(s: &str) -> &str {
    assert_eq!(s.trim_end().lines().count(), 1, "one line: {s:?}");
    s.trim_end()
}

#[sqlx::test(migrations = "../../migrations")]
async fn ancora_monitor_follows_a_growing_log_and_catches_a_fork_when_the_log_is_rebuilt(
    pool: PgPool,
) {
    // Arrange: a service whose log key is known (so a second database can reuse it).
    let dir = tempdir("monitor");
    let log = dir.join("server.log");
    let signer = LogSigner::from_seed("monitor.test/log", [5; 32]).expect("signer");
    let verifier = signer.verifier().to_key_text();
    let state = dir.join("monitor.json");
    let state_arg = state.display().to_string();
    let server = Server::start(
        &serve_env(&dir, database_url_of(&pool), &signer.to_key_text()),
        &log,
        Duration::from_secs(30),
    )
    .await;
    let url = format!("http://127.0.0.1:{}", server.port);
    let (_, key) = tenant_and_key(&pool).await;

    // Act + Assert: the first run trusts the published key and remembers the checkpoint.
    let first = grow(server.port, &key, "a-1", 0).await;
    let (code, out, err) = monitor(&["--url", &url, "--state", &state_arg]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        one_line(&out).starts_with("ok: monitor.test/log size"),
        "{out}"
    );

    // The log grows: the next run proves the new checkpoint extends the remembered one.
    let next = grow(server.port, &key, "a-2", first).await;
    grow(server.port, &key, "a-3", next).await;
    let (code, out, err) =
        monitor(&["--url", &url, "--state", &state_arg, "--log-key", &verifier]).await;
    assert_eq!(code, 0, "{err}");
    assert!(one_line(&out).contains("is consistent with size "), "{out}");
    server.stop().await;
    let remembered = std::fs::read_to_string(&state).expect("state");
    let seen: serde_json::Value = serde_json::from_str(&remembered).expect("json");
    let seen = parse_checkpoint_unverified(seen["checkpoint"].as_str().expect("checkpoint"))
        .expect("checkpoint")
        .size;
    assert!(seen > first, "the second run remembered the grown log");

    // The operator rebuilds the log on a fresh database with the same key: another history,
    // longer than the one the monitor saw.
    let other_db = format!("ancora_fork_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(&format!("CREATE DATABASE \"{other_db}\""))
        .execute(&pool)
        .await
        .expect("create the second database");
    let base = database_url_of(&pool);
    let other_url = format!("{}/{other_db}", base.rsplit_once('/').expect("url").0);
    let forked = Server::start(
        &serve_env(&dir, other_url.clone(), &signer.to_key_text()),
        &log,
        Duration::from_secs(30),
    )
    .await;
    let other_pool = PgPool::connect(&other_url).await.expect("second pool");
    let (_, other_key) = tenant_and_key(&other_pool).await;
    let mut size = 0;
    while size <= seen {
        size = grow(forked.port, &other_key, &format!("b-{size}"), size).await;
    }
    let forked_url = format!("http://127.0.0.1:{}", forked.port);
    let (code, out, err) = monitor(&["--url", &forked_url, "--state", &state_arg]).await;
    forked.stop().await;
    other_pool.close().await;
    let _ = sqlx::query(&format!("DROP DATABASE \"{other_db}\" WITH (FORCE)"))
        .execute(&pool)
        .await;

    assert_eq!(code, 1, "stdout {out} stderr {err}");
    let line = one_line(&err);
    assert!(line.starts_with("fork: "), "{line}");
    assert!(
        line.contains(&format!("does not extend size {seen}")),
        "{line}"
    );
    assert_eq!(
        std::fs::read_to_string(&state).expect("state"),
        remembered,
        "a fork is never remembered as the new truth"
    );
}

/// A proxy in front of `port` that serves every answer as is, except the checkpoint, whose
/// root it replaces (its signature kept): a man in the middle.
async fn tampering_proxy(port: u16) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let proxy_port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut raw = Vec::new();
                let mut buf = [0u8; 4096];
                while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => raw.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&raw).into_owned();
                let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
                let Ok((status, mut body)) = http(port, "GET", &path, None, None).await else {
                    return;
                };
                if path == "/v1/log/checkpoint" {
                    let text = String::from_utf8_lossy(&body).into_owned();
                    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
                    lines[2] = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=".to_owned();
                    body = lines.join("\n").into_bytes();
                }
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes()).await;
                let _ = conn.write_all(&body).await;
            });
        }
    });
    proxy_port
}

#[sqlx::test(migrations = "../../migrations")]
async fn ancora_monitor_refuses_a_checkpoint_altered_in_transit(pool: PgPool) {
    // Arrange
    let dir = tempdir("monitor-mitm");
    let signer = LogSigner::from_seed("monitor.test/log", [6; 32]).expect("signer");
    let server = Server::start(
        &serve_env(&dir, database_url_of(&pool), &signer.to_key_text()),
        &dir.join("server.log"),
        Duration::from_secs(30),
    )
    .await;
    let (_, key) = tenant_and_key(&pool).await;
    grow(server.port, &key, "m-1", 0).await;
    let proxy = tampering_proxy(server.port).await;
    let state = dir.join("state.json");

    // Act
    let (code, out, err) = monitor(&[
        "--url",
        &format!("http://127.0.0.1:{proxy}"),
        "--log-key",
        &signer.verifier().to_key_text(),
        "--state",
        &state.display().to_string(),
    ])
    .await;
    server.stop().await;

    // Assert
    assert_eq!(code, 1, "stdout {out} stderr {err}");
    assert!(one_line(&err).starts_with("bad signature: "), "{err}");
    assert!(!state.exists(), "nothing remembered");
}

#[tokio::test]
async fn ancora_monitor_exits_2_with_one_line_when_the_service_is_unreachable() {
    let port = free_port();

    let (code, out, err) = monitor(&["--url", &format!("http://127.0.0.1:{port}")]).await;

    assert_eq!(code, 2, "stdout {out}");
    assert!(out.is_empty());
    assert!(one_line(&err).starts_with("unreachable: "), "{err}");
}

#[tokio::test]
async fn ancora_monitor_refuses_a_url_that_is_not_http_and_a_key_that_is_not_one() {
    let (code, _, err) = monitor(&["--url", "ftp://example.test"]).await;
    assert_eq!(code, 2);
    assert!(
        one_line(&err).contains("not an http:// or https:// URL"),
        "{err}"
    );

    let (code, _, err) = monitor(&[
        "--url",
        "http://127.0.0.1:1",
        "--log-key",
        "not-a-key-nor-a-file",
    ])
    .await;
    assert_eq!(code, 2);
    assert!(one_line(&err).contains("neither a verifier key"), "{err}");
}
