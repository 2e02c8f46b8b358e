//! Disaster recovery: a catalog rebuilt from the archive into an empty database answers the
//! same bundles.

use std::process::Command;

use ancora::db::Db;
use ancora::domain::Role;
use ancora::services::archive::archiver::run_pass;
use ancora_proof::tlog::LogSigner;
use axum::http::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::Value;
use sqlx::PgPool;

use super::*;
use crate::helpers::TestApp;

/// A new, migrated database on the test server: its handle, URL and name.
async fn fresh_database() -> (Db, String, String) {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let (server, _) = base.rsplit_once('/').expect("a database URL");
    let name = format!("ancora_rebuild_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&base).await.expect("connect");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("create database");
    admin.close().await;
    let url = format!("{server}/{name}");
    let db = Db::connect(&url, 4).await.expect("connect");
    db.migrate().await.expect("migrate");
    (db, url, name)
}

async fn drop_database(name: &str) {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let admin = sqlx::PgPool::connect(&base).await.expect("connect");
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await;
    admin.close().await;
}

async fn proof_of(app: &TestApp, key: &str, id: &str) -> Value {
    let (s, _, b) = app
        .request(
            Method::GET,
            &format!("/v1/events/{id}/proof"),
            Some(key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{id}: {b}");
    b
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_catalog_rebuilt_from_the_archive_into_an_empty_database_answers_the_same_bundles(
    pool: PgPool,
) {
    // Arrange: two tenants' events proved and archived, with a configured log key.
    let log_key = LogSigner::from_seed("ancora.test/log", [7; 32])
        .expect("signer")
        .to_key_text();
    let hex: String = (0..32).map(|i| format!("{:02x}", 200 - i)).collect();
    let dir = tempdir("archive-rebuild");
    let key_file = dir.join("master.key");
    std::fs::write(&key_file, &hex).expect("key file");
    let archive = ArchiveConfig::local(dir.join("archive"), MasterKey::parse(&hex).expect("key"));
    let tune = |c: &mut Config| {
        c.settings.archive = archive.clone();
        c.settings.log.signing_key = Some(SecretString::from(log_key.clone()));
        c.settings.batching.max_events = 3;
    };
    let app = TestApp::with_config(pool, tune);
    let (a, a_owner, _) = tenant_keys(&app).await;
    let (b, b_owner, _) = tenant_keys(&app).await;
    let a_items: Vec<(String, String)> = (0..7)
        .map(|i| (format!("a-{i}"), format!("alpha {i}")))
        .collect();
    for (id, c) in &a_items {
        post_contents(&app, &a_owner, &[(id, c)]).await;
    }
    post_contents(&app, &b_owner, &[("b-0", "beta 0"), ("b-1", "beta 1")]).await;
    prove_all(&app).await;
    run_pass(&app.state).await.expect("pass");
    let mut before = Vec::new();
    for id in a_items.iter().map(|(id, _)| id.as_str()) {
        before.push((id.to_owned(), proof_of(&app, &a_owner, id).await));
    }
    let b_before = proof_of(&app, &b_owner, "b-1").await;

    // Act: the database is lost; a new one is filled from the archive by the CLI.
    let (db2, url2, name2) = fresh_database().await;
    let out = Command::new(env!("CARGO_BIN_EXE_ancora"))
        .env("DATABASE_URL", &url2)
        .env("ANCORA_LOG", "warn")
        .env("ANCORA_DATA_DIR", &dir)
        .env("ANCORA_MASTER_KEY_FILE", &key_file)
        .env("ANCORA_LOG_SIGNING_KEY", &log_key)
        .env("ANCORA_LOG_ORIGIN", "ancora.test/log")
        .env("ANCORA_DEFAULT_PLAN", "enterprise")
        .args(["admin", "rebuild-catalog", "--from-archive"])
        .arg(format!("file://{}", dir.join("archive").display()))
        .output()
        .expect("run ancora");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("restored 2 tenants"), "{stdout}");
    assert!(stdout.contains("bundles verified"), "{stdout}");

    // Assert: the same bundles, contents readable (cold), the log answers the same checkpoint.
    let app2 = TestApp::from_db(db2, tune);
    let a_key = app2.key(a, Role::Auditor).await;
    for (id, bundle) in &before {
        assert_eq!(&proof_of(&app2, &a_key, id).await, bundle, "{id}");
    }
    let b_key = app2.key(b, Role::Owner).await;
    assert_eq!(proof_of(&app2, &b_key, "b-1").await, b_before);
    let (s, source, body, p) = get_content(&app2, &a_key, "a-3").await;
    assert_eq!((s, source.as_str()), (StatusCode::OK, "cold"), "{p}");
    assert_eq!(body, b"alpha 3");
    let (_, _, cp1) = app
        .request(Method::GET, "/v1/log/checkpoint", None, None)
        .await;
    let (_, _, cp2) = app2
        .request(Method::GET, "/v1/log/checkpoint", None, None)
        .await;
    assert_eq!(cp1, cp2);
    // New events continue where the restored ones end.
    let (s, body) = app2
        .post_events(
            &b_key,
            serde_json::json!([{ "id": "b-2", "digest": crate::helpers::digest_of("b-2") }]),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    prove_all(&app2).await;
    assert_proof_verifies(&app2, &b_key, "b-2").await;

    // A second rebuild into a database that is not empty is refused.
    let again = Command::new(env!("CARGO_BIN_EXE_ancora"))
        .env("DATABASE_URL", &url2)
        .env("ANCORA_LOG", "warn")
        .env("ANCORA_DATA_DIR", &dir)
        .env("ANCORA_MASTER_KEY_FILE", &key_file)
        .args(["admin", "rebuild-catalog", "--from-archive"])
        .arg(format!("file://{}", dir.join("archive").display()))
        .output()
        .expect("run ancora");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
    app2.state.db.pool().close().await;
    drop_database(&name2).await;
}
