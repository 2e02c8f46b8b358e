//! End to end with the embedded defaults: `ancora serve` with no configuration at all (its
//! own Postgres cluster in the data directory, the `tlog` anchor), 1000 events submitted
//! through the API, every bundle downloaded and checked with `ancora verify`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::process::Command;

use crate::helpers::process::{Server, ancora_bin, cli_verify_all, http, tempdir};

/// Runs `ancora admin …` against the embedded cluster of `data_dir`; returns its stdout.
async fn admin(data_dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(ancora_bin())
        .arg("admin")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("DATABASE_URL")
        .env("ANCORA_LOG", "warn")
        .output()
        .await
        .expect("run ancora admin");
    assert!(
        out.status.success(),
        "ancora admin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_events_through_the_embedded_server_all_get_bundles_that_ancora_verify_accepts()
{
    // Arrange: the server with nothing configured but where to keep its data.
    let dir = tempdir("e2e");
    let data = dir.join("data");
    let env = vec![("ANCORA_DATA_DIR", data.display().to_string())];
    let server = Server::start(&env, &dir.join("server.log"), Duration::from_secs(60)).await;
    let tenant = admin(&data, &["create-tenant", "e2e"]).await;
    let key = admin(
        &data,
        &["create-api-key", "--tenant", &tenant, "--role", "submitter"],
    )
    .await;

    // Act: 1000 events in 10 requests, then wait for every proof.
    let started = Instant::now();
    let ids: Vec<String> = (0..1000).map(|i| format!("e2e-{i:04}")).collect();
    for chunk in ids.chunks(100) {
        let events: Vec<Value> = chunk
            .iter()
            .map(|id| json!({ "id": id, "digest": format!("sha256:{:0>64}", hex::encode(id)) }))
            .collect();
        let (status, body) = http(
            server.port,
            "POST",
            "/v1/events",
            Some(&key),
            Some(&json!({ "events": events })),
        )
        .await
        .expect("submit");
        assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
    }
    let mut bundles = Vec::with_capacity(ids.len());
    for id in &ids {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, body) = http(
                server.port,
                "GET",
                &format!("/v1/events/{id}/proof"),
                Some(&key),
                None,
            )
            .await
            .expect("proof");
            if status == 200 {
                bundles.push(body);
                break;
            }
            assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
            assert!(Instant::now() < deadline, "no proof for {id}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let all_proved = started.elapsed();
    let (_, log_key) = http(server.port, "GET", "/v1/log/key", None, None)
        .await
        .expect("log key");
    let log_key = String::from_utf8(log_key).expect("text").trim().to_owned();
    server.stop().await;

    // Assert: ancora verify accepts every downloaded bundle.
    let files: Vec<_> = bundles
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let f = dir.join(format!("bundle-{i:04}.json"));
            std::fs::write(&f, b).expect("write bundle");
            f
        })
        .collect();
    let failures = cli_verify_all(&files, &log_key).await;
    assert!(
        failures.is_empty(),
        "ancora verify refused {} bundles, e.g. {:?}",
        failures.len(),
        failures.first()
    );
    eprintln!(
        "1000 events proved {:.1}s after the first was submitted",
        all_proved.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
