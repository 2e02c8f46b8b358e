//! The seed's metrics (issue 14, item 2): what `/metrics` exports after events went through
//! the whole pipeline, the gauges the workers sample from the database, `ANCORA_METRICS=off`,
//! `ancora admin status`, and the Grafana dashboard checked against the code.

use std::process::Command;

use ancora::domain::Role;
use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::process::{ancora_bin, database_url_of};
use crate::helpers::{TestApp, digest_of};

fn kinds() -> Vec<&'static str> {
    ancora::workers::JOBS.iter().map(|j| j.kind()).collect()
}

async fn scrape(app: &TestApp) -> String {
    let (status, _, body) = app.request(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    body.as_str().expect("text").to_owned()
}

/// The value of the series `line_start` (a name with its labels), if exported.
fn value(metrics: &str, line_start: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        l.strip_prefix(line_start)
            .filter(|rest| rest.starts_with(' '))
            .and_then(|rest| rest.trim().parse().ok())
    })
}

fn events(prefix: &str, n: usize) -> serde_json::Value {
    json!((0..n)
        .map(|i| json!({"id": format!("{prefix}-{i}"), "digest": digest_of(&format!("{prefix}{i}"))}))
        .collect::<Vec<_>>())
}

#[sqlx::test(migrations = "../../migrations")]
async fn metrics_follow_events_from_ingest_to_proof_reads(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let (_, key) = app.tenant_with_key(Role::Submitter).await;

    // Before any worker sampled, the sampled gauges are left out, not reported as zeros.
    let before = scrape(&app).await;
    assert!(!before.contains("ancora_pending_events"), "{before}");
    assert!(
        value(&before, "ancora_db_pool_max_connections") >= Some(1.0),
        "{before}"
    );

    let (s, _) = app.post_events(&key, events("m", 5)).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    // Every stored event: the five, and the audit log's own (its entries are anchored too).
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert!(stored >= 5);
    let stored = stored as f64;
    ancora::services::health::sample(&app.state, &kinds())
        .await
        .expect("sample");
    let pending = scrape(&app).await;
    assert_eq!(
        value(&pending, "ancora_pending_events"),
        Some(stored),
        "{pending}"
    );
    assert!(value(&pending, r#"ancora_job_queue_depth{kind="batch"}"#) >= Some(1.0));
    assert_eq!(
        value(&pending, r#"ancora_job_queue_depth{kind="prove"}"#),
        Some(0.0)
    );
    assert_eq!(value(&pending, "ancora_events_ingested_total"), Some(5.0));

    ancora::workers::run_all_jobs_now(&app.state)
        .await
        .expect("jobs");
    ancora::services::health::sample(&app.state, &kinds())
        .await
        .expect("sample");
    // m-0 from its row (which loads its batch beside the read), m-0 again from the rendered
    // bundles, then m-1 from the batch held in memory.
    for (i, source) in [(0, "database"), (0, "cache"), (1, "batch")] {
        let (s, _, _) = app
            .request(
                Method::GET,
                &format!("/v1/events/m-{i}/proof"),
                Some(&key),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "read {i} (from {source})");
        app.batch_loads_done().await;
    }
    let m = scrape(&app).await;
    assert_eq!(value(&m, "ancora_pending_events"), Some(0.0), "{m}");
    assert_eq!(value(&m, "ancora_unproved_batches"), Some(0.0));
    assert_eq!(
        value(&m, r#"ancora_job_queue_depth{kind="batch"}"#),
        Some(0.0)
    );
    assert!(
        value(&m, "ancora_batch_size_events_count") >= Some(1.0),
        "{m}"
    );
    assert_eq!(value(&m, "ancora_batch_size_events_sum"), Some(stored));
    assert_eq!(
        value(&m, "ancora_time_to_proof_seconds_count"),
        Some(stored)
    );
    let anchors = value(&m, "ancora_anchors_final_total").expect("anchors final");
    assert!(anchors >= 1.0);
    // Every final anchor's latency is recorded, labelled with its backend and chain.
    let latencies: f64 = m
        .lines()
        .filter(|l| l.starts_with(r#"ancora_anchor_latency_seconds_count{backend="tlog",chain=""#))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(latencies, anchors, "{m}");
    assert_eq!(
        value(
            &m,
            r#"ancora_proof_read_duration_seconds_count{source="database"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &m,
            r#"ancora_proof_read_duration_seconds_count{source="batch"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &m,
            r#"ancora_proof_read_duration_seconds_count{source="cache"}"#
        ),
        Some(1.0)
    );
    let in_use = value(&m, r#"ancora_db_pool_connections{state="in_use"}"#).expect("in use");
    let idle = value(&m, r#"ancora_db_pool_connections{state="idle"}"#).expect("idle");
    assert!(
        in_use + idle >= 1.0 && in_use + idle <= 8.0,
        "{in_use} + {idle}"
    );
    assert!(m.trim_end().ends_with("# EOF"));
    assert_eq!(m.matches("# EOF").count(), 1);

    // The archive's API: what the archiver reports shows up.
    app.state
        .metrics
        .observe_archive(std::time::Duration::from_millis(30));
    app.state
        .metrics
        .observe_cold_read(std::time::Duration::from_millis(4));
    let m = scrape(&app).await;
    assert_eq!(
        value(&m, "ancora_archive_duration_seconds_count"),
        Some(1.0)
    );
    assert_eq!(
        value(&m, "ancora_cold_read_duration_seconds_count"),
        Some(1.0)
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_oldest_due_job_and_open_anchors_are_sampled(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    sqlx::query(
        "INSERT INTO jobs (kind, payload, run_at, dedupe_key) \
         VALUES ('anchor', '{\"chain\": 3}', now() - interval '90 seconds', 'anchor:3')",
    )
    .execute(&pool)
    .await
    .expect("job");
    let h = ancora::services::health::sample(&app.state, &kinds())
        .await
        .expect("sample");
    assert!(
        (89.0..120.0).contains(&h.sampled.oldest_due_job_age),
        "{h:?}"
    );
    let m = scrape(&app).await;
    let age = value(&m, "ancora_job_oldest_due_age_seconds").expect("age");
    assert!(age >= 89.0, "{age}");
    assert_eq!(
        value(&m, r#"ancora_open_anchors{backend="chainweb"}"#),
        Some(0.0)
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn with_metrics_off_the_endpoint_answers_404_and_nothing_is_timed(pool: PgPool) {
    let app = TestApp::with_config(pool, |c| c.settings.metrics = false);
    let (status, _, body) = app.request(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body.to_string().contains("ANCORA_METRICS=off"), "{body}");
    let (status, _, _) = app.request(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(app.state.metrics.render().is_empty());
}

fn admin_status(db_url: &str) -> (i32, String) {
    let out = Command::new(ancora_bin())
        .args(["admin", "status"])
        .env("DATABASE_URL", db_url)
        .env("ANCORA_LOG", "warn")
        .output()
        .expect("run ancora admin status");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[sqlx::test(migrations = "../../migrations")]
async fn admin_status_shows_the_health_at_a_glance_and_says_when_it_needs_attention(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let (_, key) = app.tenant_with_key(Role::Submitter).await;
    let (s, _) = app.post_events(&key, events("st", 3)).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let url = database_url_of(&pool);
    let (code, out) = tokio::task::spawn_blocking({
        let url = url.clone();
        move || admin_status(&url)
    })
    .await
    .expect("join");
    assert_eq!(code, 0, "{out}");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert!(
        out.contains(&format!("pending events: {stored}\n")),
        "{out}"
    );
    assert!(out.contains("job queue (waiting): batch "), "{out}");
    assert!(out.contains("health: ok"), "{out}");

    // A job due for two minutes that no worker took: the status says so and exits 1.
    sqlx::query("UPDATE jobs SET run_at = now() - interval '2 minutes'")
        .execute(&pool)
        .await
        .expect("age the job");
    let (code, out) = tokio::task::spawn_blocking(move || admin_status(&url))
        .await
        .expect("join");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("health: needs attention: a job has been due"),
        "{out}"
    );
}

#[test]
fn the_grafana_dashboard_queries_only_metrics_the_code_exports_and_the_readme_lists_them_all() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = Command::new("python3")
        .arg(format!("{root}/infra/scripts/check_infra.py"))
        .args([
            "--ancora",
            "-",
            "--devnet",
            "-",
            "--pg",
            "-",
            "--only-grafana",
        ])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
