//! A worker process (`ancora worker --ops-listen ADDR`) serves its health and its metrics —
//! the job and log-monitor counters live in the worker, not in the API processes — and no API.

use std::process::Stdio;
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::helpers::process::*;

#[sqlx::test(migrations = "../../migrations")]
async fn a_worker_serves_healthz_readyz_and_its_metrics_on_the_ops_address_and_no_api(
    pool: PgPool,
) {
    // Arrange
    let dir = tempdir("worker-ops");
    let port = free_port();
    let mut child = tokio::process::Command::new(ancora_bin())
        .args(["worker", "--ops-listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", database_url_of(&pool))
        .env("ANCORA_DATA_DIR", dir.join("data"))
        .env("ANCORA_LOG", "warn")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn ancora worker");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !matches!(http(port, "GET", "/readyz", None, None).await, Ok((200, _))) {
        assert!(
            Instant::now() < deadline,
            "the worker's /readyz never answered 200"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Act
    let health = http(port, "GET", "/healthz", None, None)
        .await
        .expect("healthz");
    let deadline = Instant::now() + Duration::from_secs(10);
    let metrics = loop {
        let (_, body) = http(port, "GET", "/metrics", None, None)
            .await
            .expect("metrics");
        let text = String::from_utf8_lossy(&body).into_owned();
        // The monitor runs as soon as the worker starts; its gauge is then set.
        if text.contains("ancora_log_monitor_checked_size 0") || Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let api = http(port, "GET", "/v1/log/key", None, None)
        .await
        .expect("api");
    let pid = child.id().expect("pid").to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("exits")
        .expect("status");

    // Assert
    assert_eq!(health.0, 200);
    assert!(
        metrics.contains("# TYPE ancora_log_monitor_alerts counter"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ancora_log_monitor_checked_size 0"),
        "{metrics}"
    );
    assert_eq!(api.0, 404, "a worker serves no API");
    assert!(status.success(), "{status}");
}
