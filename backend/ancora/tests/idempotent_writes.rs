//! `Idempotency-Key` on every POST that creates something: a replay answers the first status
//! and body and changes nothing, another body with the same key is 422, concurrent replays
//! make one effect, a key is kept 24 hours, a failed answer is not kept, and a key that cannot
//! be one is a clear problem+json.

use ancora::domain::{Role, TenantId};
use ancora_chainweb::testkit::TestNode;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;
use futures_util::future::join_all;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::helpers::{TestApp, assert_problem, digest_of};

type Answer = (StatusCode, HeaderMap, Value);

async fn post(app: &TestApp, uri: &str, key: &str, idem: Option<&str>, body: &Value) -> Answer {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(k) = idem {
        req = req.header("Idempotency-Key", k);
    }
    app.send(req.body(Body::from(body.to_string())).expect("request"))
        .await
}

fn replayed(a: &Answer) -> bool {
    a.1.get("idempotent-replayed").and_then(|v| v.to_str().ok()) == Some("true")
}

async fn count(app: &TestApp, sql: &str, tenant: TenantId) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .bind(tenant.0)
        .fetch_one(app.state.db.pool())
        .await
        .expect("count")
}

const EVENTS: &str = "SELECT count(*) FROM events WHERE tenant_id = $1 AND submitter <> 'audit'";
const SUBMITTER_KEYS: &str = "SELECT count(*) FROM submitter_keys WHERE tenant_id = $1";
const SPV_REQUESTS: &str = "SELECT coalesce(sum(count), 0)::bigint FROM usage_counters \
                            WHERE tenant_id = $1 AND metric = 'spv_requests'";

/// One creating endpoint: where, who may call it, two different bodies, and what counts its
/// effect.
struct Write {
    uri: &'static str,
    role: Role,
    created: StatusCode,
    effect: &'static str,
}

/// Events without ids: a retry that ran again would store new events with new ids.
fn event_body(uri: &str, tag: &str) -> Value {
    let events =
        json!([{ "digest": digest_of(tag) }, { "digest": digest_of(&format!("{tag}-2")) }]);
    match uri {
        "/v1/audit/batch" => json!({ "events": events, "policy": "realtime" }),
        "/v1/events/batch" => json!({ "events": events, "batchSize": 2 }),
        _ => json!({ "events": events }),
    }
}

fn key_body(tag: &str) -> Value {
    let sk = SigningKey::from_bytes(&<[u8; 32]>::try_from(&sha(tag)[..]).expect("32"));
    let name: String = tag
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    json!({ "name": format!("dev{name}"), "publicKey": STANDARD.encode(sk.verifying_key().as_bytes()) })
}

fn sha(text: &str) -> Vec<u8> {
    <sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()).to_vec()
}

fn writes() -> Vec<Write> {
    vec![
        Write {
            uri: "/v1/events",
            role: Role::Submitter,
            created: StatusCode::ACCEPTED,
            effect: EVENTS,
        },
        Write {
            uri: "/v1/events/batch",
            role: Role::Submitter,
            created: StatusCode::ACCEPTED,
            effect: EVENTS,
        },
        Write {
            uri: "/v1/audit/batch",
            role: Role::Submitter,
            created: StatusCode::ACCEPTED,
            effect: EVENTS,
        },
        Write {
            uri: "/v1/submitter-keys",
            role: Role::Owner,
            created: StatusCode::CREATED,
            effect: SUBMITTER_KEYS,
        },
        Write {
            uri: "/v1/webhooks",
            role: Role::Owner,
            created: StatusCode::CREATED,
            effect: WEBHOOKS,
        },
    ]
}

const WEBHOOKS: &str = "SELECT count(*) FROM webhook_endpoints WHERE tenant_id = $1";

fn body_for(w: &Write, tag: &str) -> Value {
    match w.uri {
        "/v1/submitter-keys" => key_body(tag),
        "/v1/webhooks" => {
            // A port per tag: another body is another request.
            let port = 1024 + sha(tag)[0] as u16 * 100 + sha(tag)[1] as u16 % 100;
            json!({ "url": format!("http://127.0.0.1:{port}/hook"), "events": ["event.proved"] })
        }
        _ => event_body(w.uri, tag),
    }
}

/// The app, with webhook receivers on 127.0.0.1 allowed.
fn app(pool: PgPool) -> TestApp {
    TestApp::with_config(pool, |c| c.settings.webhooks.allow_loopback = true)
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_replay_answers_the_first_status_and_body_and_changes_nothing(pool: PgPool) {
    let app = app(pool);
    for w in writes() {
        // Arrange
        let (tenant, key) = app.tenant_with_key(w.role).await;
        let body = body_for(&w, &format!("{}-a", w.uri));
        let first = post(&app, w.uri, &key, Some("k-1"), &body).await;
        assert_eq!(first.0, w.created, "{}: {}", w.uri, first.2);
        let effect = count(&app, w.effect, tenant).await;
        assert!(effect > 0, "{}: the first request did something", w.uri);

        // Act: the same request twice more, reformatted once (keys in another order).
        let again = post(&app, w.uri, &key, Some("k-1"), &body).await;
        let reformatted: Value = serde_json::from_str(&body.to_string()).expect("json");
        let third = post(&app, w.uri, &key, Some("k-1"), &reformatted).await;
        let other = post(&app, w.uri, &key, Some("k-1"), &body_for(&w, "other")).await;
        let unkeyed = post(&app, w.uri, &key, None, &body_for(&w, "fresh")).await;

        // Assert
        for replay in [&again, &third] {
            assert_eq!(replay.0, first.0, "{}", w.uri);
            assert_eq!(replay.2, first.2, "{}: the first body", w.uri);
            assert!(replayed(replay), "{}: marked as a replay", w.uri);
        }
        assert!(!replayed(&first));
        assert_problem(
            &other,
            StatusCode::UNPROCESSABLE_ENTITY,
            "different request body",
        );
        assert_eq!(unkeyed.0, w.created, "{}: {}", w.uri, unkeyed.2);
        assert!(
            count(&app, w.effect, tenant).await > effect,
            "{}: a request without a key runs",
            w.uri
        );
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn concurrent_requests_with_one_key_make_one_effect_and_get_one_answer(pool: PgPool) {
    let app = app(pool);
    for w in writes() {
        // Arrange
        let (tenant, key) = app.tenant_with_key(w.role).await;
        let body = body_for(&w, &format!("{}-c", w.uri));

        // Act
        let answers = join_all((0..8).map(|_| post(&app, w.uri, &key, Some("same"), &body))).await;

        // Assert
        let first = &answers[0];
        for a in &answers {
            assert_eq!(a.0, w.created, "{}: {}", w.uri, a.2);
            assert_eq!(a.2, first.2, "{}: one answer", w.uri);
        }
        assert_eq!(
            answers.iter().filter(|a| !replayed(a)).count(),
            1,
            "{}: exactly one request ran",
            w.uri
        );
        let effect = count(&app, w.effect, tenant).await;
        let expected = if w.effect == EVENTS { 2 } else { 1 };
        assert_eq!(effect, expected, "{}: one effect", w.uri);
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_key_is_kept_24_hours_then_runs_again(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;
    let body = event_body("/v1/events", "day");
    let first = post(&app, "/v1/events", &key, Some("daily"), &body).await;
    assert_eq!(first.0, StatusCode::ACCEPTED);
    sqlx::query("UPDATE idempotency_keys SET created_at = now() - interval '23 hours'")
        .execute(app.state.db.pool())
        .await
        .expect("age");
    let within = post(&app, "/v1/events", &key, Some("daily"), &body).await;
    sqlx::query("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
        .execute(app.state.db.pool())
        .await
        .expect("age");

    // Act
    let after = post(&app, "/v1/events", &key, Some("daily"), &body).await;

    // Assert
    assert!(replayed(&within));
    assert_eq!(within.2, first.2);
    assert_eq!(after.0, StatusCode::ACCEPTED);
    assert!(!replayed(&after), "an expired key runs again");
    assert_ne!(after.2, first.2, "new events, new receipts");
    assert_eq!(count(&app, EVENTS, tenant).await, 4);
}

#[sqlx::test(migrations = "../../migrations")]
async fn keys_that_cannot_be_keys_are_a_clear_problem_and_change_nothing(pool: PgPool) {
    // Arrange
    let app = TestApp::new(pool);
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;
    let body = event_body("/v1/events", "long");
    let long = "k".repeat(256);

    // Act
    let too_long = post(&app, "/v1/events", &key, Some(&long), &body).await;
    let spaced = post(&app, "/v1/events", &key, Some("a key"), &body).await;
    let longest = post(&app, "/v1/events", &key, Some(&"k".repeat(255)), &body).await;

    // Assert
    assert_problem(&too_long, StatusCode::BAD_REQUEST, "1 to 255 visible ASCII");
    assert_problem(&spaced, StatusCode::BAD_REQUEST, "Idempotency-Key");
    assert_eq!(longest.0, StatusCode::ACCEPTED, "{}", longest.2);
    assert_eq!(count(&app, EVENTS, tenant).await, 2);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_key_used_on_another_endpoint_is_refused(pool: PgPool) {
    let app = TestApp::new(pool);
    let (_, key) = app.tenant_with_key(Role::Submitter).await;
    let events = json!({ "events": [{ "id": "x-1", "digest": digest_of("x") }] });
    let first = post(&app, "/v1/events", &key, Some("shared"), &events).await;
    assert_eq!(first.0, StatusCode::ACCEPTED);

    let other = post(&app, "/v1/events/batch", &key, Some("shared"), &events).await;

    assert_problem(&other, StatusCode::UNPROCESSABLE_ENTITY, "another endpoint");
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_replay_is_answered_only_to_a_role_that_may_make_the_request(pool: PgPool) {
    let app = TestApp::new(pool);
    let (tenant, submitter) = app.tenant_with_key(Role::Submitter).await;
    let auditor = app.key(tenant, Role::Auditor).await;
    let body = event_body("/v1/events", "role");
    let first = post(&app, "/v1/events", &submitter, Some("r"), &body).await;
    assert_eq!(first.0, StatusCode::ACCEPTED);

    let replay = post(&app, "/v1/events", &auditor, Some("r"), &body).await;

    assert_eq!(replay.0, StatusCode::FORBIDDEN, "{}", replay.2);
}

#[sqlx::test(migrations = "../../migrations")]
async fn spv_requests_replay_without_counting_again_and_concurrently_count_once(pool: PgPool) {
    // Arrange
    let node = TestNode::start().await.expect("node");
    let app = crate::spv_api::app(pool, Some(&node));
    let (tenant, key) = app.tenant_with_key(Role::Auditor).await;
    let rk = crate::spv_api::mined_tx(&node, 3).await.to_string();
    let body = json!({ "chainId": 3, "requestKey": rk });

    // Act
    let answers = join_all((0..6).map(|_| post(&app, "/v1/spv", &key, Some("spv-1"), &body))).await;
    node.fail_next(100, 503);
    let later = post(&app, "/v1/spv", &key, Some("spv-1"), &body).await;

    // Assert
    for a in answers.iter().chain([&later]) {
        assert_eq!(a.0, StatusCode::OK, "{}", a.2);
        assert_eq!(a.2, answers[0].2, "one answer");
    }
    assert_eq!(answers[0].2["cached"], false);
    assert!(replayed(&later));
    assert_eq!(count(&app, SPV_REQUESTS, tenant).await, 1, "counted once");
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_error_answer_is_not_kept_so_a_retry_runs_again(pool: PgPool) {
    // Arrange: the node fails the first request (502), then works.
    let node = TestNode::start().await.expect("node");
    let app = crate::spv_api::app(pool, Some(&node));
    let (tenant, key) = app.tenant_with_key(Role::Auditor).await;
    let rk = crate::spv_api::mined_tx(&node, 1).await.to_string();
    let body = json!({ "chainId": 1, "requestKey": rk });
    node.fail_next(1, 503);
    let failed = post(&app, "/v1/spv", &key, Some("retry-me"), &body).await;

    // Act
    let retried = post(&app, "/v1/spv", &key, Some("retry-me"), &body).await;

    // Assert
    assert_eq!(failed.0, StatusCode::BAD_GATEWAY, "{}", failed.2);
    assert_eq!(retried.0, StatusCode::OK, "{}", retried.2);
    assert!(!replayed(&retried));
    assert_eq!(count(&app, SPV_REQUESTS, tenant).await, 1);
}
