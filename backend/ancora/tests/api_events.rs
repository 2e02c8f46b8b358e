//! `POST /v1/events`, `GET /v1/events/{id}`, `/proof`, `?digest=`, `POST /v1/proof/verify`,
//! in process against a fresh database per test.

use std::time::Duration;

use ancora::domain::Role;
use ancora_proof::event::EventLeaf;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, assert_problem, digest_of};

async fn post_events(app: &TestApp, key: &str, events: Value) -> (StatusCode, Value) {
    app.post_events(key, events).await
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_event_with_a_digest_is_acknowledged_with_a_receipt_once_committed(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;
    let digest = digest_of("invoice 1");

    // Act
    let (status, body) =
        post_events(&app, &key, json!([{ "id": "inv-1", "digest": digest }])).await;

    // Assert
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let r = &body["receipts"][0];
    assert_eq!(r["id"], "inv-1");
    assert_eq!(r["digest"], digest);
    assert_eq!(r["statusUrl"], "http://127.0.0.1:8080/v1/events/inv-1");
    let leaf = EventLeaf {
        tenant_id: tenant.bytes(),
        event_id: "inv-1".into(),
        digest: digest.parse().expect("digest"),
        submitter: key[..11].to_owned(),
        received_at_micros: r["receivedAtMicros"].as_i64().expect("micros"),
    };
    assert_eq!(
        r["leafHash"],
        leaf.leaf_hash().expect("leaf").to_b64url(),
        "the receipt's leaf hash is the event leaf's"
    );
    assert_eq!(app.event_count(tenant).await, 1);
    let mut tx = app.state.db.tenant_tx(tenant).await.expect("tx");
    let usage = sqlx::query_scalar!(
        r#"SELECT sum(count)::bigint AS "n!" FROM usage_counters
           WHERE tenant_id = $1 AND metric = 'events_ingested'"#,
        tenant.0
    )
    .fetch_one(&mut *tx)
    .await
    .expect("usage");
    assert_eq!(usage, 1);
    let jobs = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM jobs WHERE kind = 'batch' AND tenant_id = $1"#,
        tenant.0
    )
    .fetch_one(&mut *tx)
    .await
    .expect("jobs");
    assert_eq!(jobs, 1, "the batch job is enqueued with the events");
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_event_submitted_twice_with_one_digest_gets_the_first_receipt(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;
    let event = json!([{ "id": "e-1", "digest": digest_of("a") }]);
    let (_, first) = post_events(&app, &key, event.clone()).await;

    // Act
    let (status, second) = post_events(&app, &key, event).await;

    // Assert
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(first, second);
    assert_eq!(app.event_count(tenant).await, 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_id_reused_with_another_digest_is_a_conflict_and_nothing_of_the_request_is_stored(
    pool: PgPool,
) {
    // Arrange
    let app = TestApp::new(pool);
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;
    post_events(
        &app,
        &key,
        json!([{ "id": "e-1", "digest": digest_of("a") }]),
    )
    .await;

    // Act
    let got = app
        .request(
            Method::POST,
            "/v1/events",
            Some(&key),
            Some(json!({ "events": [
                { "id": "e-2", "digest": digest_of("new") },
                { "id": "e-1", "digest": digest_of("b") },
            ]})),
        )
        .await;

    // Assert
    assert_problem(&got, StatusCode::CONFLICT, "\"e-1\" already exists");
    assert_eq!(app.event_count(tenant).await, 1, "e-2 must not be stored");
}

#[sqlx::test(migrations = "../../migrations")]
async fn content_is_hashed_with_sha256_and_kept(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);
    let (tenant, key) = app.tenant_with_key(Role::Owner).await;

    // Act
    let (status, body) = post_events(
        &app,
        &key,
        json!([{ "id": "c-1", "content": STANDARD.encode("hello") }]),
    )
    .await;

    // Assert
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["receipts"][0]["digest"], digest_of("hello"));
    let mut tx = app.state.db.tenant_tx(tenant).await.expect("tx");
    let kept = sqlx::query_scalar!(
        "SELECT content FROM event_contents WHERE tenant_id = $1 AND event_id = 'c-1'",
        tenant.0
    )
    .fetch_one(&mut *tx)
    .await
    .expect("content");
    // Kept encrypted at rest (the tenant's data key), served decrypted.
    assert_ne!(kept, b"hello");
    assert!(!kept.windows(5).any(|w| w == b"hello"));
    let (s, _, served) = app
        .request(Method::GET, "/v1/events/c-1/content", Some(&key), None)
        .await;
    assert_eq!(
        (s, served),
        (StatusCode::OK, serde_json::Value::String("hello".into()))
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn events_without_an_id_get_a_generated_one(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);
    let (_, key) = app.tenant_with_key(Role::Submitter).await;

    // Act
    let (status, body) = post_events(&app, &key, json!([{ "digest": digest_of("x") }])).await;

    // Assert
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["receipts"][0]["id"].as_str().expect("id");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn invalid_events_are_refused_naming_the_field_and_nothing_is_stored(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;
    let good = json!({ "id": "ok", "digest": digest_of("ok") });
    let cases = [
        (
            json!({ "id": "x", "digest": "sha256:zz" }),
            "events[1].digest",
        ),
        (
            json!({ "id": "x", "digest": "sha256:abcd" }),
            "events[1].digest",
        ),
        (
            json!({ "id": "x", "digest": format!("md5:{}", "00".repeat(16)) }),
            "events[1].digest",
        ),
        (
            json!({ "id": "x", "content": "not base64!" }),
            "events[1].content",
        ),
        (
            json!({ "id": "x", "digest": digest_of("x"), "content": "aGk=" }),
            "not both",
        ),
        (json!({ "id": "x" }), "one of digest or content"),
        (
            json!({ "id": "", "digest": digest_of("x") }),
            "events[1].id",
        ),
        (
            json!({ "id": "x", "digest": digest_of("x"), "metadata": [1] }),
            "events[1].metadata",
        ),
        (
            json!({ "id": "x", "digest": digest_of("x"), "signature": "AAAA" }),
            "signature and key go together",
        ),
        (json!({ "id": "ok", "digest": digest_of("x") }), "repeats"),
    ];

    for (bad, needle) in cases {
        // Act
        let got = app
            .request(
                Method::POST,
                "/v1/events",
                Some(&key),
                Some(json!({ "events": [good, bad] })),
            )
            .await;

        // Assert
        assert_problem(&got, StatusCode::UNPROCESSABLE_ENTITY, needle);
    }
    assert_eq!(app.event_count(tenant).await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn bodies_of_the_wrong_shape_get_precise_problems(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;
    let raw = |content_type: &str, body: &str| {
        Request::builder()
            .method(Method::POST)
            .uri("/v1/events")
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body.to_owned()))
            .expect("request")
    };

    // Act
    let not_json = app.send(raw("application/json", "{\"events\": [")).await;
    let wrong_type = app.send(raw("text/plain", "{}")).await;
    let unknown_field = app
        .send(raw(
            "application/json",
            &json!({ "events": [{ "id": "a", "digest": digest_of("a"), "sig": "x" }] }).to_string(),
        ))
        .await;
    let wrong_types = app
        .send(raw("application/json", "{\"events\": [{\"id\": 7}]}"))
        .await;
    let empty = app.send(raw("application/json", "{\"events\": []}")).await;
    let one = |id: &str| json!({ "events": [{ "id": id, "digest": digest_of(id) }] }).to_string();
    let trailing = app
        .send(raw("application/json", &format!("{} x", one("t"))))
        .await;
    let with_charset = app
        .send(raw("Application/JSON; charset=utf-8", &one("c")))
        .await;
    let suffixed = app
        .send(raw("application/vnd.ancora+json", &one("s")))
        .await;

    // Assert
    assert_problem(&trailing, StatusCode::BAD_REQUEST, "not valid JSON");
    assert_eq!(
        with_charset.0,
        StatusCode::ACCEPTED,
        "a type parameter, any case"
    );
    assert_eq!(suffixed.0, StatusCode::ACCEPTED, "a +json type, as before");
    assert_problem(&not_json, StatusCode::BAD_REQUEST, "not valid JSON");
    assert_problem(
        &wrong_type,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "application/json",
    );
    assert_problem(
        &unknown_field,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown field `sig`",
    );
    assert_problem(
        &wrong_types,
        StatusCode::UNPROCESSABLE_ENTITY,
        "events[0].id",
    );
    assert_problem(&empty, StatusCode::UNPROCESSABLE_ENTITY, "at least one");
    assert_eq!(
        app.event_count(tenant).await,
        2,
        "only the two well-typed bodies"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn too_many_events_or_too_large_a_body_is_413(pool: PgPool) {
    // Arrange
    let app = TestApp::with_config(pool, |c| c.http.max_body_bytes = 2 * 1024 * 1024);
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;
    let d = digest_of("same");
    let many: Vec<Value> = (0..10_001).map(|_| json!({ "digest": d })).collect();
    let huge = json!([{ "id": "big", "content": "A".repeat(3 * 1024 * 1024) }]);

    // Act
    let too_many = app
        .request(
            Method::POST,
            "/v1/events",
            Some(&key),
            Some(json!({ "events": many })),
        )
        .await;
    let too_big = app
        .request(
            Method::POST,
            "/v1/events",
            Some(&key),
            Some(json!({ "events": huge })),
        )
        .await;

    // Assert
    assert_problem(
        &too_many,
        StatusCode::PAYLOAD_TOO_LARGE,
        "at most 10000 events",
    );
    assert_problem(&too_big, StatusCode::PAYLOAD_TOO_LARGE, "larger than");
    assert_eq!(app.event_count(tenant).await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn ten_thousand_events_in_one_request_are_all_stored(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;
    let events: Vec<Value> = (0..10_000)
        .map(|i| json!({ "id": format!("e-{i}"), "digest": digest_of(&i.to_string()) }))
        .collect();

    // Act
    let (status, body) = post_events(&app, &key, Value::Array(events)).await;

    // Assert
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body["receipts"].as_array().map(Vec::len), Some(10_000));
    assert_eq!(
        body["receipts"][9_999]["id"], "e-9999",
        "receipts keep input order"
    );
    assert_eq!(app.event_count(tenant).await, 10_000);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_retried_request_with_one_idempotency_key_gets_the_first_response(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;
    let req = |events: Value| {
        Request::builder()
            .method(Method::POST)
            .uri("/v1/events")
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", "retry-1")
            .body(Body::from(json!({ "events": events }).to_string()))
            .expect("request")
    };
    // No id: a non-idempotent retry would store a second event with a new id.
    let events = json!([{ "digest": digest_of("once") }]);
    let first = app.send(req(events.clone())).await;

    // Act
    let retry = app.send(req(events)).await;
    let other_body = app
        .send(req(json!([{ "digest": digest_of("other") }])))
        .await;

    // Assert
    assert_eq!(first.0, StatusCode::ACCEPTED);
    assert_eq!(retry.0, StatusCode::ACCEPTED);
    assert_eq!(first.2, retry.2);
    assert_eq!(app.event_count(tenant).await, 1);
    assert_problem(
        &other_body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "different request body",
    );
}

/// Registers an Ed25519 key named `name` for the tenant of `owner_key`.
async fn register(app: &TestApp, owner_key: &str, name: &str) -> (SigningKey, String) {
    let sk = SigningKey::from_bytes(&rand::random());
    let (status, _, body) = app
        .request(
            Method::POST,
            "/v1/submitter-keys",
            Some(owner_key),
            Some(json!({ "name": name, "publicKey": STANDARD.encode(sk.verifying_key().as_bytes()) })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (sk, body["id"].as_str().expect("id").to_owned())
}

fn signed(sk: &SigningKey, key: &str, id: &str, digest: &str) -> Value {
    let msg = format!("ancora-event-v1\n{id}\n{digest}");
    json!({
        "id": id,
        "digest": digest,
        "key": key,
        "signature": STANDARD.encode(sk.sign(msg.as_bytes()).to_bytes()),
    })
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_signed_event_is_stored_with_its_signer_bound_into_the_submitter(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);
    let (tenant, owner) = app.tenant_with_key(Role::Owner).await;
    let (sk, _) = register(&app, &owner, "sensor-7").await;
    let d = digest_of("reading");

    // Act
    let (status, body) =
        post_events(&app, &owner, json!([signed(&sk, "sensor-7", "r-1", &d)])).await;

    // Assert
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (_, _, event) = app
        .request(Method::GET, "/v1/events/r-1", Some(&owner), None)
        .await;
    assert_eq!(event["submitter"], format!("{}/sensor-7", &owner[..11]));
    assert_eq!(app.event_count(tenant).await, 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_request_with_one_bad_signature_is_refused_whole_with_the_reason(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);
    let (tenant, owner) = app.tenant_with_key(Role::Owner).await;
    let (sk, _) = register(&app, &owner, "sensor-7").await;
    let good = signed(&sk, "sensor-7", "r-1", &digest_of("one"));
    // Signed over another digest than the one sent.
    let mut forged = signed(&sk, "sensor-7", "r-2", &digest_of("two"));
    forged["digest"] = json!(digest_of("tampered"));

    // Act
    let got = app
        .request(
            Method::POST,
            "/v1/events",
            Some(&owner),
            Some(json!({ "events": [good, forged] })),
        )
        .await;

    // Assert
    assert_problem(
        &got,
        StatusCode::UNPROCESSABLE_ENTITY,
        "events[1].signature does not verify",
    );
    assert_eq!(app.event_count(tenant).await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_revoked_submitter_key_verifies_nothing(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);
    let (tenant, owner) = app.tenant_with_key(Role::Owner).await;
    let (sk, id) = register(&app, &owner, "old").await;
    let (status, _, _) = app
        .request(
            Method::POST,
            &format!("/v1/submitter-keys/{id}/revoke"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Act
    let got = app
        .request(
            Method::POST,
            "/v1/events",
            Some(&owner),
            Some(json!({ "events": [signed(&sk, "old", "r-1", &digest_of("x"))] })),
        )
        .await;

    // Assert
    assert_problem(
        &got,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no active submitter key named \"old\"",
    );
    assert_eq!(app.event_count(tenant).await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_tenant_that_requires_signatures_refuses_unsigned_events(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);
    let (tenant, owner) = app.tenant_with_key(Role::Owner).await;
    let (sk, _) = register(&app, &owner, "dev").await;
    let (status, _, _) = app
        .request(
            Method::PUT,
            "/v1/submitter-keys/policy",
            Some(&owner),
            Some(json!({ "requireSignatures": true })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Act
    let unsigned = app
        .request(
            Method::POST,
            "/v1/events",
            Some(&owner),
            Some(json!({ "events": [{ "id": "u", "digest": digest_of("u") }] })),
        )
        .await;
    let (signed_status, _) = post_events(
        &app,
        &owner,
        json!([signed(&sk, "dev", "s", &digest_of("s"))]),
    )
    .await;

    // Assert
    assert_problem(
        &unsigned,
        StatusCode::UNPROCESSABLE_ENTITY,
        "requires every event to be signed",
    );
    assert_eq!(signed_status, StatusCode::ACCEPTED);
    assert_eq!(app.event_count(tenant).await, 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_events_status_is_pending_and_its_proof_404_until_proved(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);
    let (_, key) = app.tenant_with_key(Role::Submitter).await;
    post_events(
        &app,
        &key,
        json!([{ "id": "p/1 x", "digest": digest_of("p") }]),
    )
    .await;

    // Act
    let (status, _, event) = app
        .request(Method::GET, "/v1/events/p%2F1%20x", Some(&key), None)
        .await;
    let proof = app
        .request(Method::GET, "/v1/events/p%2F1%20x/proof", Some(&key), None)
        .await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{event}");
    assert_eq!(event["id"], "p/1 x");
    assert_eq!(event["status"], "pending");
    assert!(event.get("bundle").is_none());
    assert_problem(
        &proof,
        StatusCode::NOT_FOUND,
        "no proof yet (status: pending)",
    );
    assert_eq!(
        proof.1.get(header::RETRY_AFTER).map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_proved_event_shows_its_bundle_which_the_server_verifies_and_a_tampered_one_fails(
    pool: PgPool,
) {
    // Arrange
    let app = TestApp::with_config(pool, |c| c.settings.batching.window = Duration::ZERO);
    let (_, key) = app.tenant_with_key(Role::Submitter).await;
    post_events(
        &app,
        &key,
        json!([{ "id": "v-1", "digest": digest_of("v") }]),
    )
    .await;
    ancora::workers::run_all_jobs_now(&app.state)
        .await
        .expect("jobs");

    // Act
    let (_, _, event) = app
        .request(Method::GET, "/v1/events/v-1", Some(&key), None)
        .await;
    let (proof_status, _, bundle) = app
        .request(Method::GET, "/v1/events/v-1/proof", Some(&key), None)
        .await;
    let (verify_status, _, report) = app
        .request(
            Method::POST,
            "/v1/proof/verify",
            Some(&key),
            Some(json!({ "bundle": bundle })),
        )
        .await;
    let mut tampered = bundle.clone();
    tampered["event"]["eventId"] = json!("v-2");
    let (_, _, tampered_report) = app
        .request(
            Method::POST,
            "/v1/proof/verify",
            Some(&key),
            Some(json!({ "bundle": tampered })),
        )
        .await;

    // Assert
    assert_eq!(event["status"], "proved", "{event}");
    assert_eq!(event["bundle"], bundle);
    assert_eq!(proof_status, StatusCode::OK);
    assert_eq!(verify_status, StatusCode::OK, "{report}");
    assert_eq!(report["report"]["verdict"], "verified", "{report}");
    assert_eq!(report["trust"]["logKeys"].as_array().map(Vec::len), Some(1));
    assert!(
        report["trust"]["chainwebHeaders"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
    assert_eq!(tampered_report["report"]["verdict"], "failed");
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_bundle_that_is_not_a_bundle_is_422(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);
    let (_, key) = app.tenant_with_key(Role::Auditor).await;

    // Act
    let got = app
        .request(
            Method::POST,
            "/v1/proof/verify",
            Some(&key),
            Some(json!({ "bundle": { "version": 1 } })),
        )
        .await;

    // Assert
    assert_problem(&got, StatusCode::UNPROCESSABLE_ENTITY, "bundle");
}

#[sqlx::test(migrations = "../../migrations")]
async fn events_are_found_by_digest_in_prefixed_hex_bare_hex_and_base64(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);
    let (_, key) = app.tenant_with_key(Role::Submitter).await;
    let d = digest_of("find me");
    post_events(
        &app,
        &key,
        json!([{ "id": "f-1", "digest": d }, { "id": "f-2", "digest": digest_of("not me") }]),
    )
    .await;
    let hex = d.trim_start_matches("sha256:").to_owned();
    let b64 =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hex::decode(&hex).expect("hex"));

    for q in [format!("sha256:{hex}"), hex.clone(), b64] {
        // Act
        let (status, _, body) = app
            .request(
                Method::GET,
                &format!("/v1/events?digest={q}"),
                Some(&key),
                None,
            )
            .await;

        // Assert
        assert_eq!(status, StatusCode::OK, "{q}: {body}");
        let ids: Vec<&str> = body["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter_map(|e| e["id"].as_str())
            .collect();
        assert_eq!(ids, ["f-1"], "{q}");
    }
    let bad = app
        .request(
            Method::GET,
            "/v1/events?digest=sha256:abcd",
            Some(&key),
            None,
        )
        .await;
    assert_problem(&bad, StatusCode::BAD_REQUEST, "digest");
}

#[sqlx::test(migrations = "../../migrations")]
async fn another_tenants_event_is_404_and_never_found_by_digest(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);
    let (_, mine) = app.tenant_with_key(Role::Submitter).await;
    let (_, theirs) = app.tenant_with_key(Role::Owner).await;
    let d = digest_of("secret");
    post_events(&app, &mine, json!([{ "id": "s-1", "digest": d }])).await;

    // Act
    let show = app
        .request(Method::GET, "/v1/events/s-1", Some(&theirs), None)
        .await;
    let proof = app
        .request(Method::GET, "/v1/events/s-1/proof", Some(&theirs), None)
        .await;
    let (_, _, found) = app
        .request(
            Method::GET,
            &format!("/v1/events?digest={d}"),
            Some(&theirs),
            None,
        )
        .await;
    let unknown = app
        .request(Method::GET, "/v1/events/nope", Some(&theirs), None)
        .await;

    // Assert
    assert_problem(&show, StatusCode::NOT_FOUND, "no event with id \"s-1\"");
    assert_problem(&proof, StatusCode::NOT_FOUND, "no event with id \"s-1\"");
    assert_eq!(
        show.2["detail"].as_str().map(|s| s.replace("s-1", "")),
        unknown.2["detail"].as_str().map(|s| s.replace("nope", "")),
        "same answer as an id that exists nowhere"
    );
    assert_eq!(found["events"], json!([]));
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_client_that_stalls_mid_body_gets_408_and_nothing_is_stored(pool: PgPool) {
    // Arrange
    let app = TestApp::with_config(pool, |c| {
        c.http.request_timeout = Duration::from_millis(200)
    });
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;
    let (mut sender, stalled) =
        http_body_util::channel::Channel::<axum::body::Bytes, std::io::Error>::new(1);
    sender
        .send_data("{\"events\": [".into())
        .await
        .expect("first chunk");
    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/events")
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::new(stalled))
        .expect("request");

    // Act
    let got = app.send(req).await;

    // Assert
    assert_problem(&got, StatusCode::REQUEST_TIMEOUT, "timed out");
    assert_eq!(app.event_count(tenant).await, 0);
    drop(sender);
}
