//! The cold archive: contents encrypted at rest, retention, the archiving pass, cold reads,
//! crypto-shredding, and the S3 store against a real S3-protocol server (s3s-fs, SigV4
//! enforced) started on 127.0.0.1 by the tests; Object Lock against moto's server; the archive's
//! disk filling up mid-pass on a real tmpfs.

mod cli;
mod faults;
mod local;
mod object_lock;
mod rebuild;
mod s3;

use std::path::{Path, PathBuf};

use ancora::config::Config;
use ancora::domain::{Role, TenantId};
use ancora::services::archive::{ArchiveConfig, MasterKey};
use ancora::workers;
use ancora_proof::bundle::{Bundle, verify_bundle};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine as _;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::TestApp;
use crate::helpers::process::tempdir;

/// An app whose archive is the local directory `dir`, with `key` as master key.
pub fn app_with_archive(pool: PgPool, archive: ArchiveConfig) -> TestApp {
    TestApp::with_config(pool, |c: &mut Config| c.settings.archive = archive)
}

/// A local archive in a fresh temp dir with a fresh master key.
pub fn local_archive(tag: &str) -> (ArchiveConfig, PathBuf) {
    let dir = tempdir(tag).join("archive");
    (
        ArchiveConfig::local(dir.clone(), MasterKey::generate()),
        dir,
    )
}

/// Posts events with inline contents `(id, content)`; asserts 202.
pub async fn post_contents(app: &TestApp, key: &str, items: &[(&str, &str)]) {
    let events: Vec<Value> = items
        .iter()
        .map(|(id, c)| {
            json!({ "id": id, "content": base64::engine::general_purpose::STANDARD.encode(c) })
        })
        .collect();
    let (s, b) = app.post_events(key, Value::Array(events)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
}

/// `GET /v1/events/{id}/content`: status, the content source header and the raw body.
pub async fn get_content(
    app: &TestApp,
    key: &str,
    id: &str,
) -> (StatusCode, String, Vec<u8>, Value) {
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;
    let req = Request::builder()
        .method(Method::GET)
        .uri(format!("/v1/events/{id}/content"))
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Body::empty())
        .expect("request");
    let resp = ancora::http::router(app.state.clone())
        .oneshot(req)
        .await
        .expect("infallible");
    let status = resp.status();
    let source = resp
        .headers()
        .get("x-ancora-content-source")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let retry = resp
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = resp
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let json = match retry {
        Some(r) => json!({ "problem": json, "retryAfter": r }),
        None => json!({ "problem": json }),
    };
    (status, source, bytes, json)
}

/// Runs the pipeline until every event is proved.
pub async fn prove_all(app: &TestApp) {
    workers::run_all_jobs_now(&app.state).await.expect("jobs");
}

/// The tenant's retention, set through the API with an owner key.
pub async fn set_retention(app: &TestApp, owner: &str, body: Value) -> (StatusCode, Value) {
    let (s, _, b) = app
        .request(Method::PUT, "/v1/retention", Some(owner), Some(body))
        .await;
    (s, b)
}

/// Asserts that `id`'s bundle is served and verifies against this server's trust.
pub async fn assert_proof_verifies(app: &TestApp, key: &str, id: &str) -> Value {
    let (s, _, b) = app
        .request(
            Method::GET,
            &format!("/v1/events/{id}/proof"),
            Some(key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{id}: {b}");
    let bundle = Bundle::from_json(b.to_string().as_bytes()).expect("a bundle");
    let trust = ancora::services::proofs::server_trust(&app.state, None)
        .await
        .expect("trust")
        .trust;
    let report = verify_bundle(&bundle, &trust);
    assert!(
        report.is_verified(),
        "{:?}",
        report.failures().collect::<Vec<_>>()
    );
    b
}

/// Every file under `dir`, with its bytes.
pub fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}

/// True when `needle` occurs in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A tenant with an owner key and an auditor key.
pub async fn tenant_keys(app: &TestApp) -> (TenantId, String, String) {
    let (t, owner) = app.tenant_with_key(Role::Owner).await;
    let auditor = app.key(t, Role::Auditor).await;
    (t, owner, auditor)
}

/// The raw hot rows of the tenant's contents, `(event id, bytes, encrypted)`.
pub async fn hot_rows(app: &TestApp, tenant: TenantId) -> Vec<(String, Vec<u8>, bool)> {
    let mut tx = app.state.db.tenant_tx(tenant).await.expect("tx");
    let rows = sqlx::query!(
        "SELECT event_id, content, encrypted FROM event_contents WHERE tenant_id = $1 ORDER BY event_id",
        tenant.0
    )
    .fetch_all(&mut *tx)
    .await
    .expect("rows");
    rows.into_iter()
        .map(|r| (r.event_id, r.content, r.encrypted))
        .collect()
}
