//! The process around the API: health, readiness and metrics; the embedded defaults' life
//! cycle (first start prints how to begin, the private cluster stops with the server, a second
//! start does not bootstrap again); and the one sentence a machine without Postgres gets.

use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use ancora::domain::Role;
use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::process::{Server, ancora_bin, tempdir};
use crate::helpers::{TestApp, digest_of};

#[sqlx::test(migrations = "../../migrations")]
async fn health_and_readiness_answer_once_migrations_are_applied(pool: PgPool) {
    let app = TestApp::new(pool);

    let health = app.request(Method::GET, "/healthz", None, None).await;
    let ready = app.request(Method::GET, "/readyz", None, None).await;

    assert_eq!(health.0, StatusCode::OK);
    assert_eq!(ready.0, StatusCode::OK);
    assert_eq!(ready.2, "ready");
}

#[sqlx::test(migrations = "../../migrations")]
async fn metrics_count_ingested_events_queue_depth_and_http_latency(pool: PgPool) {
    let app = TestApp::new(pool);
    let (_, key) = app.tenant_with_key(Role::Submitter).await;
    let body = json!({ "events": [
        { "id": "m-1", "digest": digest_of("one") },
        { "id": "m-2", "digest": digest_of("two") },
    ]});
    let posted = app
        .request(Method::POST, "/v1/events", Some(&key), Some(body))
        .await;
    assert_eq!(posted.0, StatusCode::ACCEPTED, "{}", posted.2);

    // The queue depth is sampled from the database by the workers (here: by hand).
    let kinds: Vec<&str> = ancora::workers::JOBS.iter().map(|j| j.kind()).collect();
    ancora::services::health::sample(&app.state, &kinds)
        .await
        .expect("sample");
    let (status, _, text) = app.request(Method::GET, "/metrics", None, None).await;

    assert_eq!(status, StatusCode::OK);
    let text = text.as_str().expect("text exposition").to_owned();
    assert!(text.contains("ancora_events_ingested_total 2"), "{text}");
    assert!(
        text.contains(r#"ancora_job_queue_depth{kind="batch"} 1"#),
        "{text}"
    );
    assert!(text.contains("ancora_time_to_proof_seconds"), "{text}");
    assert!(text.contains("ancora_batch_size_events"), "{text}");
    assert!(
        text.contains("ancora_http_request_duration_seconds_count{route=\"/v1/events\",method=\"POST\",status=\"2xx\"} 1"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_defaults_bootstrap_once_and_stop_their_cluster_on_shutdown() {
    // Arrange: nothing configured but where to keep data.
    let dir = tempdir("embedded-life");
    let data = dir.join("data");
    let env = vec![("ANCORA_DATA_DIR", data.display().to_string())];

    // Act: first start, clean stop (SIGTERM).
    let first_log = dir.join("first.log");
    let server = Server::start(&env, &first_log, Duration::from_secs(60)).await;
    server.stop().await;

    // Assert: it printed how to begin, kept it private, and stopped its cluster.
    let printed = std::fs::read_to_string(&first_log).expect("log");
    assert!(printed.contains("curl"), "no curl line in:\n{printed}");
    assert!(printed.contains("/v1/events"), "{printed}");
    let first_start = data.join("first-start.txt");
    let mode = std::fs::metadata(&first_start)
        .expect("first-start.txt written")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let cluster = match std::fs::read_to_string(data.join("pg-location")) {
        Ok(p) => std::path::PathBuf::from(p.trim()),
        Err(_) => data.join("pg"),
    };
    assert!(
        cluster.join("PG_VERSION").exists(),
        "cluster in {cluster:?}"
    );
    assert!(
        !cluster.join("postmaster.pid").exists(),
        "the private cluster still runs after a clean shutdown"
    );

    // Act again: a second start on the same data does not bootstrap a second demo tenant.
    let second_log = dir.join("second.log");
    let server = Server::start(&env, &second_log, Duration::from_secs(60)).await;
    server.stop().await;
    let printed = std::fs::read_to_string(&second_log).expect("log");
    assert!(!printed.contains("curl"), "bootstrapped twice:\n{printed}");
    // The embedded cluster's password is in its 0600 file and in no log.
    let password = std::fs::read_to_string(data.join(ancora::embedded_pg::PASSWORD_FILE))
        .expect("password file");
    let password = password.trim();
    assert!(password.len() >= 32);
    for log in [&first_log, &second_log] {
        let text = std::fs::read_to_string(log).expect("log");
        assert!(
            !text.contains(password),
            "the database password is in {}",
            log.display()
        );
    }
}

#[test]
fn without_postgres_binaries_or_a_database_url_ancora_says_what_to_install_in_one_line() {
    let dir = tempdir("no-postgres");

    let out = std::process::Command::new(ancora_bin())
        .args([
            "migrate",
            "--data-dir",
            dir.join("data").to_str().expect("utf8"),
        ])
        .env_remove("DATABASE_URL")
        .env("ANCORA_POSTGRES_BIN_DIR", dir.join("no-such-folder"))
        .output()
        .expect("runs");

    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("apt-get install postgresql"), "{stderr}");
    assert!(lines[0].contains("DATABASE_URL"), "{stderr}");
}
