//! API keys and roles: who may call what, and what gets audited.

use ancora::domain::Role;
use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{TestApp, assert_problem, digest_of};

fn one_event() -> serde_json::Value {
    json!({ "events": [{ "id": "a-1", "digest": digest_of("a") }] })
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_request_without_a_usable_key_is_401_problem_json(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);
    let (_, key) = app.tenant_with_key(Role::Submitter).await;
    let mut unknown = key.clone();
    unknown.replace_range(12..14, if &key[12..14] == "AA" { "BB" } else { "AA" });
    let cases: [(Option<&str>, &str); 3] = [
        (None, "missing API key"),
        (Some("not-a-key"), "malformed API key"),
        (Some(&unknown), "unknown API key"),
    ];

    for (k, needle) in cases {
        // Act
        let got = app
            .request(Method::POST, "/v1/events", k, Some(one_event()))
            .await;

        // Assert
        assert_problem(&got, StatusCode::UNAUTHORIZED, needle);
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_revoked_key_is_401(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;
    let mut tx = app.state.db.tenant_tx(tenant).await.expect("tx");
    sqlx::query!(
        "UPDATE api_keys SET revoked_at = now() WHERE tenant_id = $1",
        tenant.0
    )
    .execute(&mut *tx)
    .await
    .expect("revoke");
    tx.commit().await.expect("commit");

    // Act
    let got = app
        .request(Method::GET, "/v1/events/a-1", Some(&key), None)
        .await;

    // Assert
    assert_problem(&got, StatusCode::UNAUTHORIZED, "revoked");
}

#[sqlx::test(migrations = "../../migrations")]
async fn each_role_gets_exactly_the_actions_the_table_grants(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);
    let tenant = app.tenant().await;
    // (role, may submit, may read, may manage submitter keys)
    let table = [
        (Role::Owner, true, true, true),
        (Role::Admin, true, true, true),
        (Role::Auditor, false, true, false),
        (Role::Submitter, true, true, false),
        (Role::Billing, false, false, false),
    ];

    for (role, submit, read, manage) in table {
        let key = app.key(tenant, role).await;

        // Act
        let (s_submit, _, _) = app
            .request(Method::POST, "/v1/events", Some(&key), Some(one_event()))
            .await;
        let (s_read, _, _) = app
            .request(Method::GET, "/v1/events/a-1", Some(&key), None)
            .await;
        let (s_manage, _, _) = app
            .request(
                Method::PUT,
                "/v1/submitter-keys/policy",
                Some(&key),
                Some(json!({ "requireSignatures": false })),
            )
            .await;

        // Assert
        let expect = |ok: bool, good: StatusCode| if ok { good } else { StatusCode::FORBIDDEN };
        assert_eq!(
            s_submit,
            expect(submit, StatusCode::ACCEPTED),
            "{role} submit"
        );
        assert_eq!(s_read, expect(read, StatusCode::OK), "{role} read");
        assert_eq!(s_manage, expect(manage, StatusCode::OK), "{role} manage");
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_forbidden_action_names_the_roles_that_may(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);
    let (_, key) = app.tenant_with_key(Role::Billing).await;

    // Act
    let got = app
        .request(Method::POST, "/v1/events", Some(&key), Some(one_event()))
        .await;

    // Assert
    assert_problem(&got, StatusCode::FORBIDDEN, "owner, admin, submitter");
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_first_use_of_a_key_records_last_used_at(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;

    // Act
    app.request(Method::GET, "/v1/events/none", Some(&key), None)
        .await;

    // Assert: written in the background, soon.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let mut tx = app.state.db.tenant_tx(tenant).await.expect("tx");
        let used = sqlx::query_scalar!(
            "SELECT last_used_at FROM api_keys WHERE tenant_id = $1",
            tenant.0
        )
        .fetch_one(&mut *tx)
        .await
        .expect("key");
        if used.is_some() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "last_used_at not written within 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn submitter_keys_are_registered_listed_revoked_and_audited(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);
    let (tenant, owner) = app.tenant_with_key(Role::Admin).await;
    let public = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
    let body = json!({ "name": "gate-1", "publicKey": hex::encode(public.as_bytes()) });

    // Act
    let (created, _, key) = app
        .request(
            Method::POST,
            "/v1/submitter-keys",
            Some(&owner),
            Some(body.clone()),
        )
        .await;
    let again = app
        .request(Method::POST, "/v1/submitter-keys", Some(&owner), Some(body))
        .await;
    let id = key["id"].as_str().expect("id");
    let (revoked, _, revoked_key) = app
        .request(
            Method::POST,
            &format!("/v1/submitter-keys/{id}/revoke"),
            Some(&owner),
            None,
        )
        .await;
    let (_, _, list) = app
        .request(Method::GET, "/v1/submitter-keys", Some(&owner), None)
        .await;

    // Assert
    assert_eq!(created, StatusCode::CREATED, "{key}");
    assert_problem(&again, StatusCode::CONFLICT, "already exists");
    assert_eq!(revoked, StatusCode::OK);
    assert!(revoked_key["revokedAt"].is_string());
    assert_eq!(list["requireSignatures"], false);
    assert_eq!(list["keys"][0]["name"], "gate-1");
    let actions = app.audit_actions(tenant).await;
    assert!(
        actions.contains(&"submitter_key.created".to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"submitter_key.revoked".to_owned()),
        "{actions:?}"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn bad_submitter_keys_and_other_tenants_key_ids_are_refused(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);
    let (_, mine) = app.tenant_with_key(Role::Owner).await;
    let (_, theirs) = app.tenant_with_key(Role::Owner).await;
    let public = ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key();
    let (_, _, key) = app
        .request(
            Method::POST,
            "/v1/submitter-keys",
            Some(&mine),
            Some(json!({ "name": "k", "publicKey": hex::encode(public.as_bytes()) })),
        )
        .await;
    let id = key["id"].as_str().expect("id");

    // Act
    let short = app
        .request(
            Method::POST,
            "/v1/submitter-keys",
            Some(&mine),
            Some(json!({ "name": "s", "publicKey": "AAAA" })),
        )
        .await;
    let bad_name = app
        .request(
            Method::POST,
            "/v1/submitter-keys",
            Some(&mine),
            Some(json!({ "name": "a b", "publicKey": hex::encode(public.as_bytes()) })),
        )
        .await;
    let foreign = app
        .request(
            Method::POST,
            &format!("/v1/submitter-keys/{id}/revoke"),
            Some(&theirs),
            None,
        )
        .await;

    // Assert
    assert_problem(&short, StatusCode::UNPROCESSABLE_ENTITY, "32 bytes");
    assert_problem(&bad_name, StatusCode::UNPROCESSABLE_ENTITY, "name");
    assert_problem(&foreign, StatusCode::NOT_FOUND, "no submitter key");
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_unknown_route_is_a_404_problem(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);

    // Act
    let got = app
        .request(Method::GET, "/v1/nothing-here", None, None)
        .await;

    // Assert
    assert_problem(&got, StatusCode::NOT_FOUND, "no such endpoint");
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_unknown_path_or_method_is_answered_with_problem_json(pool: PgPool) {
    let app = TestApp::new(pool);
    let (_, key) = app.tenant_with_key(Role::Submitter).await;

    let unknown = app
        .request(Method::GET, "/v1/nothing-here", Some(&key), None)
        .await;
    let wrong_method = app
        .request(Method::DELETE, "/v1/events", Some(&key), None)
        .await;

    assert_problem(&unknown, StatusCode::NOT_FOUND, "no such endpoint");
    assert_problem(&wrong_method, StatusCode::METHOD_NOT_ALLOWED, "method");
}
