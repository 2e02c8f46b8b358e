//! `ancora admin …` run as the real binary against a fresh database, and first start.

use std::process::{Command, Output};

use ancora::domain::{Role, TenantId};
use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{TestApp, digest_of};

/// The URL of the test's own database (DATABASE_URL with the database name replaced).
fn url_of(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL is set for sqlx tests");
    let db = pool
        .connect_options()
        .get_database()
        .expect("test database name")
        .to_owned();
    let (server, _) = base.rsplit_once('/').expect("a URL with a database");
    format!("{server}/{db}")
}

fn ancora(pool: &PgPool, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ancora"));
    cmd.env("DATABASE_URL", url_of(pool))
        .env("ANCORA_LOG", "warn")
        .env_remove("ANCORA_ADMIN_PASSWORD")
        .arg("admin")
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run ancora")
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}, stderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).expect("utf-8")
}

#[sqlx::test(migrations = "../../migrations")]
async fn create_tenant_prints_its_id_and_create_api_key_prints_a_key_that_works(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool.clone());

    // Act
    let tenant_out = stdout(&ancora(&pool, &["create-tenant", "Acme"], &[]));
    let tenant = tenant_out.trim().to_owned();
    let key_out = stdout(&ancora(
        &pool,
        &[
            "create-api-key",
            "--tenant",
            &tenant,
            "--role",
            "submitter",
            "--name",
            "ci",
        ],
        &[],
    ));

    // Assert
    let id: TenantId = tenant.parse().expect("stdout is the tenant id alone");
    assert_eq!(tenant_out, format!("{tenant}\n"));
    let key = key_out.trim();
    assert_eq!(key_out, format!("{key}\n"), "stdout is the key alone");
    assert!(ancora::db::api_keys::has_key_shape(key), "{key}");
    let (status, _, body) = app
        .request(
            Method::POST,
            "/v1/events",
            Some(key),
            Some(json!({ "events": [{ "id": "cli-1", "digest": digest_of("cli") }] })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let actions = app.audit_actions(id).await;
    assert_eq!(actions, ["tenant.created", "api_key.created"]);
}

#[sqlx::test(migrations = "../../migrations")]
async fn create_api_key_for_an_unknown_tenant_or_role_fails_without_printing_a_key(pool: PgPool) {
    // Arrange
    let unknown = TenantId::new().to_string();

    // Act
    let no_tenant = ancora(
        &pool,
        &["create-api-key", "--tenant", &unknown, "--role", "owner"],
        &[],
    );
    let bad_role = ancora(
        &pool,
        &["create-api-key", "--tenant", &unknown, "--role", "root"],
        &[],
    );

    // Assert
    assert!(!no_tenant.status.success());
    assert!(no_tenant.stdout.is_empty());
    assert!(String::from_utf8_lossy(&no_tenant.stderr).contains("no tenant"));
    assert!(!bad_role.status.success());
    assert!(String::from_utf8_lossy(&bad_role.stderr).contains("unknown role"));
}

#[sqlx::test(migrations = "../../migrations")]
async fn create_user_stores_an_argon2id_hash_of_the_given_or_generated_password(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool.clone());
    let tenant = app.tenant().await.to_string();

    // Act
    let given = stdout(&ancora(
        &pool,
        &[
            "create-user",
            "--email",
            "a@example.com",
            "--tenant",
            &tenant,
            "--role",
            "auditor",
        ],
        &[("ANCORA_ADMIN_PASSWORD", "correct horse battery staple")],
    ));
    let generated = stdout(&ancora(
        &pool,
        &[
            "create-user",
            "--email",
            "b@example.com",
            "--tenant",
            &tenant,
            "--role",
            "owner",
        ],
        &[],
    ));
    let duplicate = ancora(
        &pool,
        &[
            "create-user",
            "--email",
            "A@example.com",
            "--tenant",
            &tenant,
            "--role",
            "owner",
        ],
        &[],
    );

    // Assert
    assert_eq!(
        given.lines().count(),
        1,
        "no password printed when given: {given}"
    );
    let lines: Vec<&str> = generated.lines().collect();
    assert_eq!(lines.len(), 2, "{generated}");
    let password = lines[1].strip_prefix("password: ").expect("password line");
    assert!(password.len() >= 20);
    let hash = sqlx::query_scalar!("SELECT password_hash FROM users WHERE email = 'b@example.com'")
        .fetch_one(&pool)
        .await
        .expect("user")
        .expect("hash");
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    use argon2::PasswordVerifier as _;
    let parsed = argon2::PasswordHash::new(&hash).expect("phc");
    assert!(
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    );
    assert!(
        !duplicate.status.success(),
        "emails are unique, case-insensitively"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn status_prints_the_tenants_counts(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool.clone());
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;
    app.request(
        Method::POST,
        "/v1/events",
        Some(&key),
        Some(json!({ "events": [{ "digest": digest_of("1") }, { "digest": digest_of("2") }] })),
    )
    .await;

    // Act
    let out = stdout(&ancora(
        &pool,
        &["status", "--tenant", &tenant.to_string()],
        &[],
    ));

    // Assert
    assert!(out.contains("events: 2\n"), "{out}");
    assert!(out.contains("pending: 2\n"), "{out}");
    assert!(out.contains("batches: 0\n"), "{out}");
    assert!(out.contains("last anchor: never\n"), "{out}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn first_start_creates_the_operator_demo_tenant_and_a_working_curl_line_once(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool.clone());

    // Act
    let text = ancora::bootstrap::bootstrap_demo(&app.state.db, &app.state.settings.public_url)
        .await
        .expect("bootstrap")
        .expect("first start on an empty database");
    let second = ancora::bootstrap::bootstrap_demo(&app.state.db, &app.state.settings.public_url)
        .await
        .expect("bootstrap again");

    // Assert
    assert!(second.is_none(), "first start runs once");
    assert!(text.contains("email:    admin@localhost"), "{text}");
    assert!(
        text.contains("curl -sS -X POST http://127.0.0.1:8080/v1/events"),
        "{text}"
    );
    let key = text
        .split_whitespace()
        .find(|w| ancora::db::api_keys::has_key_shape(w.trim_matches('\'')))
        .map(|w| w.trim_matches('\'').to_owned())
        .expect("the key is in the text");
    let (status, _, body) = app
        .request(
            Method::POST,
            "/v1/events",
            Some(&key),
            Some(json!({ "events": [{ "id": "hello-1", "digest": digest_of("hello, ancora") }] })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let operator =
        sqlx::query_scalar!("SELECT is_operator FROM users WHERE email = 'admin@localhost'")
            .fetch_one(&pool)
            .await
            .expect("operator");
    assert!(operator);
}
