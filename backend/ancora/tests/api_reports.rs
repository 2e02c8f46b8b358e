//! Verification reports by API key: `GET /v1/events/{id}/report.{pdf,json}`,
//! `GET /v1/batches/{id}/report.{pdf,json}` and `GET /v1/reports/range`, the portal's documents,
//! for owner, admin and auditor keys only; unknown or foreign ids are 404 problem+json.

use std::process::Command;

use ancora::domain::Role;
use ancora::workers;
use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, assert_problem, digest_of};

/// A tenant with `ids` submitted and proved, and a key of `role` for it.
async fn proved(app: &TestApp, ids: &[&str], role: Role) -> (ancora::domain::TenantId, String) {
    let (tenant, submitter) = app.tenant_with_key(Role::Submitter).await;
    let events: Vec<Value> = ids
        .iter()
        .map(|id| json!({ "id": id, "digest": digest_of(id) }))
        .collect();
    let (status, body) = app.post_events(&submitter, json!(events)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    workers::run_all_jobs_now(&app.state).await.expect("jobs");
    (tenant, app.key(tenant, role).await)
}

/// GETs `path` with `key`: status, headers and the raw body.
async fn download(
    app: &TestApp,
    path: &str,
    key: &str,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let req = axum::http::Request::builder()
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(axum::body::Body::empty())
        .expect("request");
    app.send_raw(req).await
}

/// The text a reader sees in a PDF (poppler's pdftotext).
fn pdf_text(pdf: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("ancora-api-report-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("report.pdf");
    std::fs::write(&path, pdf).expect("write");
    let out = Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is installed by the test command");
    assert!(out.status.success(), "pdftotext failed");
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_auditor_key_downloads_the_pdf_report_that_names_the_event(pool: PgPool) {
    let app = TestApp::new(pool);
    let (tenant, key) = proved(&app, &["invoice-2026-0042"], Role::Auditor).await;

    let (status, headers, pdf) =
        download(&app, "/v1/events/invoice-2026-0042/report.pdf", &key).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/pdf");
    assert!(
        headers[header::CONTENT_DISPOSITION]
            .to_str()
            .expect("ascii")
            .contains("invoice-2026-0042.report.pdf")
    );
    let text = pdf_text(&pdf);
    assert!(text.contains("invoice-2026-0042"), "{text}");
    assert!(text.to_lowercase().contains("verified"), "{text}");
    assert!(
        app.audit_actions(tenant)
            .await
            .contains(&"report.downloaded".to_owned())
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn owner_and_admin_keys_get_the_json_reports_of_an_event_a_batch_and_a_range(pool: PgPool) {
    let app = TestApp::new(pool);
    let (tenant, owner) = proved(&app, &["r-1", "r-2"], Role::Owner).await;
    let admin = app.key(tenant, Role::Admin).await;

    let (s1, _, event) = app
        .request(
            Method::GET,
            "/v1/events/r-1/report.json",
            Some(&owner),
            None,
        )
        .await;
    let batch = {
        let mut tx = app.state.db.tenant_tx(tenant).await.expect("tx");
        ancora::db::batches::batches_of_events(&mut tx, tenant, &["r-1".to_owned()])
            .await
            .expect("batch")[0]
    };
    let (s2, _, batch_report) = app
        .request(
            Method::GET,
            &format!("/v1/batches/{batch}/report.json"),
            Some(&admin),
            None,
        )
        .await;
    let (s3, _, range) = app
        .request(
            Method::GET,
            "/v1/reports/range?from=2000-01-01&to=2100-01-01",
            Some(&admin),
            None,
        )
        .await;
    let (s4, h4, range_pdf) = download(
        &app,
        "/v1/reports/range?from=2000-01-01&to=2100-01-01&format=pdf",
        &owner,
    )
    .await;

    assert_eq!(s1, StatusCode::OK, "{event}");
    assert_eq!(event["subject"]["event_id"], "r-1");
    assert_eq!(event["verdict"], "verified", "{event}");
    assert_eq!(s2, StatusCode::OK, "{batch_report}");
    let ids: Vec<&str> = batch_report["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event_id"].as_str())
        .filter(|id| !id.starts_with("audit-"))
        .collect();
    assert_eq!(
        ids,
        ["r-1", "r-2"],
        "the batch's events (and the tenant's audit events)"
    );
    assert_eq!(batch_report["summary"]["verdict"], "verified");
    assert_eq!(s3, StatusCode::OK, "{range}");
    assert!(range["events"].as_array().expect("events").len() >= 2);
    assert_eq!(s4, StatusCode::OK);
    assert_eq!(h4[header::CONTENT_TYPE], "application/pdf");
    assert!(range_pdf.starts_with(b"%PDF"));
}

#[sqlx::test(migrations = "../../migrations")]
async fn submitter_and_billing_keys_may_not_download_reports(pool: PgPool) {
    let app = TestApp::new(pool);
    let (tenant, submitter) = proved(&app, &["s-1"], Role::Submitter).await;
    let billing = app.key(tenant, Role::Billing).await;

    for key in [&submitter, &billing] {
        for path in [
            "/v1/events/s-1/report.pdf",
            "/v1/events/s-1/report.json",
            "/v1/reports/range?from=2000-01-01&to=2100-01-01",
        ] {
            let got = app.request(Method::GET, path, Some(key), None).await;
            assert_problem(&got, StatusCode::FORBIDDEN, "auditor");
        }
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_unknown_or_foreign_event_or_batch_is_a_404_problem(pool: PgPool) {
    let app = TestApp::new(pool);
    let (tenant_a, _) = proved(&app, &["mine-1"], Role::Auditor).await;
    let (_, other) = proved(&app, &["theirs-1"], Role::Auditor).await;
    let batch_a = {
        let mut tx = app.state.db.tenant_tx(tenant_a).await.expect("tx");
        ancora::db::batches::batches_of_events(&mut tx, tenant_a, &["mine-1".to_owned()])
            .await
            .expect("batch")[0]
    };

    for path in [
        "/v1/events/mine-1/report.pdf".to_owned(),
        "/v1/events/mine-1/report.json".to_owned(),
        "/v1/events/nope/report.json".to_owned(),
        format!("/v1/batches/{batch_a}/report.json"),
        format!("/v1/batches/{batch_a}/report.pdf"),
        format!("/v1/batches/{}/report.pdf", uuid::Uuid::now_v7()),
        "/v1/batches/not-a-uuid/report.json".to_owned(),
    ] {
        let got = app.request(Method::GET, &path, Some(&other), None).await;
        assert_problem(&got, StatusCode::NOT_FOUND, "");
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_range_report_without_a_readable_range_or_format_is_a_400_problem(pool: PgPool) {
    let app = TestApp::new(pool);
    let (_, key) = proved(&app, &["g-1"], Role::Auditor).await;

    for (path, needle) in [
        ("/v1/reports/range", "start and an end"),
        (
            "/v1/reports/range?from=yesterday&to=2100-01-01",
            "start and an end",
        ),
        (
            "/v1/reports/range?from=2100-01-01&to=2000-01-01",
            "after its start",
        ),
        (
            "/v1/reports/range?from=2000-01-01&to=2100-01-01&format=docx",
            "pdf or json",
        ),
        ("/v1/reports/range?frm=2000-01-01", "frm"),
    ] {
        let got = app.request(Method::GET, path, Some(&key), None).await;
        assert_problem(&got, StatusCode::BAD_REQUEST, needle);
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_range_report_that_starts_inside_a_batch_verifies_every_event_of_each_batch(
    pool: PgPool,
) {
    // Arrange: batches of at most 3 events, so two requests of 5 events make four batches
    // (3, 3, 3, 1); the range starts at the second request, r-5, the last event of a batch
    // whose first events are outside the range. Each batch's leaves come once, on its first
    // row in the range, and its other rows use the tree built from them.
    let app = TestApp::with_config(pool, |c| {
        c.settings.batching.window = std::time::Duration::ZERO;
        c.settings.batching.max_events = 3;
    });
    let (tenant, submitter) = app.tenant_with_key(Role::Submitter).await;
    let auditor = app.key(tenant, Role::Auditor).await;
    workers::run_all_jobs_now(&app.state).await.expect("jobs");
    let ids: Vec<String> = (0..10).map(|i| format!("r-{i}")).collect();
    for part in ids.chunks(5) {
        let events: Vec<Value> = part
            .iter()
            .map(|id| json!({ "id": id, "digest": digest_of(id) }))
            .collect();
        let (status, body) = app.post_events(&submitter, json!(events)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    workers::run_all_jobs_now(&app.state).await.expect("jobs");
    let (from, batches) = {
        let mut tx = app.state.db.tenant_tx(tenant).await.expect("tx");
        let from: time::OffsetDateTime = sqlx::query_scalar(
            "SELECT received_at FROM events WHERE tenant_id = $1 AND id = 'r-5'",
        )
        .bind(tenant.0)
        .fetch_one(&mut *tx)
        .await
        .expect("received");
        let mut batches = Vec::new();
        for id in ["r-3", "r-5", "r-6", "r-9"] {
            batches.push(
                ancora::db::batches::batches_of_events(&mut tx, tenant, &[id.to_owned()])
                    .await
                    .expect("batch")[0],
            );
        }
        tx.commit().await.expect("commit");
        (from, batches)
    };
    let from = from
        .format(&time::format_description::well_known::Rfc3339)
        .expect("rfc3339");

    // Act
    let (status, _, range) = app
        .request(
            Method::GET,
            &format!("/v1/reports/range?from={from}&to=2100-01-01"),
            Some(&auditor),
            None,
        )
        .await;

    // Assert
    assert_eq!(batches[0], batches[1], "r-3 and r-5 share a batch");
    assert_ne!(batches[1], batches[2], "r-6 starts the next one");
    assert_ne!(batches[2], batches[3], "r-9 is in the last one");
    assert_eq!(status, StatusCode::OK, "{range}");
    let entries: Vec<&Value> = range["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| !e["event_id"].as_str().unwrap_or("").starts_with("audit-"))
        .collect();
    let got: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["event_id"].as_str())
        .collect();
    assert_eq!(got, ["r-5", "r-6", "r-7", "r-8", "r-9"], "{range}");
    for e in &entries {
        assert_eq!(e["status"], "proved", "{e}");
        assert_eq!(e["verdict"], "verified", "{e}");
    }
    // (the range also holds the audit event of this download, not proved yet)
    assert_eq!(range["summary"]["verified"], 5);
    assert_eq!(range["summary"]["failed"], 0);
}
