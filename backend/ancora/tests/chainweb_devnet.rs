//! The Chainweb path as a user runs it, with real processes: `chainweb-devnet` (the node
//! double on a development network, mining every 200 ms, the first write failing out of gas)
//! and `ancora serve` on the `chainweb` backend with the default admission limit. A steady load
//! is acknowledged with no 429; every event has a fast proof within seconds; every event ends
//! `final`; sampled bundles verify with `ancora verify --chainweb-node` alone (no log key), a
//! tampered one fails, an unreachable node is a one-line exit 2; the failed first write ended
//! final after its retry.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::process::{Server, ancora_bin, database_url_of, http, tempdir, tenant_and_key};

/// `chainweb-devnet` beside the `ancora` binary under test (built by the workspace's test
/// build; built here when missing).
fn devnet_bin() -> PathBuf {
    let dir = Path::new(ancora_bin())
        .parent()
        .expect("target dir")
        .to_owned();
    let bin = dir.join("chainweb-devnet");
    if !bin.exists() {
        let status = std::process::Command::new(env!("CARGO"))
            .args([
                "build",
                "-q",
                "-p",
                "ancora-chainweb",
                "--features",
                "testkit",
                "--bin",
                "chainweb-devnet",
            ])
            .status()
            .expect("cargo build chainweb-devnet");
        assert!(status.success(), "building chainweb-devnet failed");
    }
    bin
}

/// A running devnet and its base URL; killed on drop.
struct Devnet {
    _child: Child,
    url: String,
}

async fn start_devnet(args: &[&str]) -> Devnet {
    let mut child = Command::new(devnet_bin())
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn chainweb-devnet");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("devnet prints its address")
        .expect("read")
        .expect("a line");
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("the address")
        .to_owned();
    assert!(first.contains("network=development"), "{first}");
    Devnet { _child: child, url }
}

async fn get_json(port: u16, path: &str, key: &str) -> (u16, Value) {
    let (status, body) = http(port, "GET", path, Some(key), None)
        .await
        .expect("request");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn verify_cli(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(ancora_bin())
        .arg("verify")
        .args(args)
        .output()
        .await
        .expect("run ancora verify");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_chainweb_path_gives_fast_proofs_then_final_ones_that_verify_against_a_node(
    pool: PgPool,
) {
    // Arrange: the devnet, then `ancora serve` on it with the defaults (admission included).
    let devnet = start_devnet(&["--block-time-ms", "200", "--gas-error-first", "1"]).await;
    let dir = tempdir("chainweb-devnet");
    let key_hex = hex::encode([7u8; 32]);
    let env = [
        ("DATABASE_URL", database_url_of(&pool)),
        ("ANCORA_ANCHOR_BACKEND", "chainweb".to_owned()),
        ("ANCORA_CHAINWEB_NODES", devnet.url.clone()),
        ("ANCORA_CHAINWEB_NETWORK", "development".to_owned()),
        ("ANCORA_CHAINWEB_CHAINS", "0,1,2,3,4,5,6,7,8,9".to_owned()),
        ("ANCORA_CHAINWEB_KEY", key_hex),
        ("ANCORA_CHAINWEB_CONFIRMATIONS", "3".to_owned()),
        ("ANCORA_CHAINWEB_POLL_MS", "200".to_owned()),
        ("ANCORA_BATCH_WINDOW_MS", "200".to_owned()),
    ];
    let server = Server::start(&env, &dir.join("serve.log"), Duration::from_secs(60)).await;
    let (_, key) = tenant_and_key(&pool).await;

    // Act 1: a steady load, 20 requests of 25 events, one every 100 ms.
    let mut ids = Vec::new();
    for r in 0..20 {
        let events: Vec<Value> = (0..25)
            .map(|i| {
                let id = format!("dn-{r}-{i}");
                ids.push(id.clone());
                json!({ "id": id, "digest": format!("sha256:{:064x}", r * 100 + i + 1) })
            })
            .collect();
        let (status, body) = http(
            server.port,
            "POST",
            "/v1/events",
            Some(&key),
            Some(&json!({ "events": events })),
        )
        .await
        .expect("post");
        assert_eq!(
            status,
            202,
            "request {r}: {}",
            String::from_utf8_lossy(&body)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let acknowledged = Instant::now();

    // Assert 1: every event has a fast proof within seconds.
    let deadline = acknowledged + Duration::from_secs(15);
    for id in &ids {
        loop {
            let (status, _) = get_json(server.port, &format!("/v1/events/{id}/proof"), &key).await;
            if status == 200 {
                break;
            }
            assert!(Instant::now() < deadline, "no fast proof for {id} in 15 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let fast_within = acknowledged.elapsed();

    // Assert 2: every event ends final (Chainweb trust point in its bundle).
    let deadline = Instant::now() + Duration::from_secs(90);
    for id in &ids {
        loop {
            let (_, event) = get_json(server.port, &format!("/v1/events/{id}"), &key).await;
            if event["finality"] == "final" {
                break;
            }
            assert!(Instant::now() < deadline, "{id} not final in time: {event}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // Assert 3: sampled bundles verify with a node alone; a tampered one fails.
    for id in ids.iter().step_by(97) {
        let (_, bundle) = get_json(server.port, &format!("/v1/events/{id}/proof"), &key).await;
        assert_eq!(bundle["version"], 2, "{bundle}");
        let file = dir.join(format!("{id}.json"));
        std::fs::write(&file, bundle.to_string()).expect("write bundle");
        let (code, text) = verify_cli(&[
            file.to_str().expect("utf-8"),
            "--chainweb-node",
            &devnet.url,
        ])
        .await;
        assert_eq!(code, Some(0), "{id}: {text}");
        let mut tampered = bundle.clone();
        tampered["event"]["digest"] = json!(format!("sha256:{:064x}", 999_999));
        let bad = dir.join(format!("{id}-tampered.json"));
        std::fs::write(&bad, tampered.to_string()).expect("write bundle");
        let (code, text) =
            verify_cli(&[bad.to_str().expect("utf-8"), "--chainweb-node", &devnet.url]).await;
        assert_eq!(code, Some(1), "a tampered bundle must fail: {text}");
    }
    // An unreachable node: exit 2, one line.
    let sample = dir.join(format!("{}.json", ids[0]));
    let (code, text) = verify_cli(&[
        sample.to_str().expect("utf-8"),
        "--chainweb-node",
        "http://127.0.0.1:9",
    ])
    .await;
    assert_eq!(code, Some(2), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{text}"
    );

    // Assert 4: the gas error on the first write was retried and that anchor is final.
    let retried: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM anchors WHERE backend = 'chainweb' AND state = 'final' \
         AND (details->>'failures')::int >= 1",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert!(retried >= 1, "the anchor whose first write failed is final");
    let (_, metrics) = http(server.port, "GET", "/metrics", None, None)
        .await
        .expect("metrics");
    let metrics = String::from_utf8_lossy(&metrics).to_string();
    assert!(
        metrics.contains("ancora_anchor_retries_total 1"),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("anchor"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    println!(
        "fast proofs for all {} events within {fast_within:?}",
        ids.len()
    );
    server.stop().await;
}
