//! One naming style: every `/v1` route's JSON answers (successes and problems alike) use
//! camelCase keys. What a tenant or a third party wrote is theirs and is not walked: an
//! event's `metadata`, a Chainweb block `header` and a transaction's `subject` (the node's
//! own format). Proof bundles (format version 2) are camelCase themselves and are walked.
//! Snake_case request fields are refused with a 422 that names the camelCase field. The
//! OpenAPI document (`/v1/openapi.json`) is in the OpenAPI format's own keys.

use std::collections::BTreeSet;

use ancora::domain::Role;
use ancora::workers;
use ancora_chainweb::testkit::TestNode;
use axum::http::{HeaderMap, Method, StatusCode, header};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::helpers::routes::api_routes;
use super::helpers::{TestApp, assert_problem, digest_of};

/// Routes whose JSON answer is a document of its own format, not an API body: the OpenAPI
/// document (OpenAPI's keys) and verification reports (`report_format`, `report_version`:
/// a versioned file format, like proof bundles).
const DOCUMENTS: [&str; 4] = [
    "/v1/openapi.json",
    "/v1/events/{id}/report.json",
    "/v1/batches/{batchId}/report.json",
    "/v1/reports/range",
];

/// Keys whose values are not the API's own naming.
const FOREIGN: [&str; 3] = ["metadata", "header", "subject"];

/// Every object key under `v` that is not camelCase, with its path.
fn snake_keys(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                let path = format!("{at}.{k}");
                if k.contains('_') || k.contains('-') || k.starts_with(|c: char| c.is_uppercase()) {
                    out.push(path.clone());
                }
                if !FOREIGN.contains(&k.as_str()) {
                    snake_keys(child, &path, out);
                }
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                snake_keys(child, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn is_json(h: &HeaderMap) -> bool {
    h.get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.starts_with("application/json") || t.starts_with("application/problem+json")
        })
}

#[sqlx::test(migrations = "../../migrations")]
async fn every_v1_json_answer_is_camel_case(pool: PgPool) {
    // Arrange: a proved event, a registered submitter key, a stored SPV proof.
    let node = TestNode::start().await.expect("node");
    let app = crate::spv_api::app(pool, Some(&node));
    let (_, owner) = app.tenant_with_key(Role::Owner).await;
    let digest = digest_of("casing");
    let events = json!([{ "id": "c-1", "digest": digest, "metadata": { "own_style": 1 } }]);
    let (status, _) = app.post_events(&owner, events).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let batch = app
        .request(
            Method::POST,
            "/v1/events/batch",
            Some(&owner),
            Some(json!({ "events": [{ "id": "c-2", "digest": digest_of("c-2") }] })),
        )
        .await;
    assert_eq!(batch.0, StatusCode::ACCEPTED, "{}", batch.2);
    let batch_id = batch.2["batchId"].as_str().expect("batchId").to_owned();
    workers::run_all_jobs_now(&app.state).await.expect("jobs");
    let (_, _, proved) = app
        .request(Method::GET, "/v1/events/c-1", Some(&owner), None)
        .await;
    assert_eq!(proved["status"], "proved", "{proved}");
    let bundle = proved["bundle"].clone();
    let rk = crate::spv_api::mined_tx(&node, 4).await.to_string();
    let (_, _, spv) = app
        .request(
            Method::POST,
            "/v1/spv",
            Some(&owner),
            Some(json!({ "chainId": 4, "requestKey": rk })),
        )
        .await;
    let spv_id = spv["id"].as_str().expect("spv id").to_owned();

    // Every route, with a request that works (and, for some, one that fails).
    let calls: Vec<(&str, &str, String, Option<Value>)> = vec![
        (
            "POST",
            "/v1/events",
            "/v1/events".into(),
            Some(json!({ "events": [{ "digest": digest }] })),
        ),
        (
            "POST",
            "/v1/events",
            "/v1/events".into(),
            Some(json!({ "events": [] })),
        ),
        (
            "GET",
            "/v1/events",
            format!("/v1/events?digest={digest}"),
            None,
        ),
        ("GET", "/v1/events/{id}", "/v1/events/c-1".into(), None),
        ("GET", "/v1/events/{id}", "/v1/events/nope".into(), None),
        (
            "GET",
            "/v1/events/{id}/proof",
            "/v1/events/c-1/proof".into(),
            None,
        ),
        (
            "POST",
            "/v1/events/batch",
            "/v1/events/batch".into(),
            Some(json!({ "events": [{ "digest": digest_of("b") }], "batchSize": 1 })),
        ),
        (
            "GET",
            "/v1/proof/{batchId}",
            format!("/v1/proof/{batch_id}"),
            None,
        ),
        (
            "POST",
            "/v1/proof/verify",
            "/v1/proof/verify".into(),
            Some(json!({ "bundle": bundle })),
        ),
        (
            "POST",
            "/v1/audit/batch",
            "/v1/audit/batch".into(),
            Some(json!({ "events": [{ "digest": digest_of("a") }], "policy": "realtime" })),
        ),
        (
            "GET",
            "/v1/audit/proof/{batchId}",
            format!("/v1/audit/proof/{batch_id}"),
            None,
        ),
        (
            "GET",
            "/v1/audit/catalog",
            "/v1/audit/catalog?limit=5".into(),
            None,
        ),
        (
            "POST",
            "/v1/submitter-keys",
            "/v1/submitter-keys".into(),
            Some(json!({ "name": "dev-1", "publicKey": "11".repeat(32) })),
        ),
        (
            "POST",
            "/v1/submitter-keys",
            "/v1/submitter-keys".into(),
            Some(
                json!({ "name": "dev-2", "publicKey": "2Y8G0ESXEbwf1uAFmW3s3nXPBPwFmoUP6Vf8qcJmaj4=" }),
            ),
        ),
        (
            "GET",
            "/v1/submitter-keys",
            "/v1/submitter-keys".into(),
            None,
        ),
        (
            "PUT",
            "/v1/submitter-keys/policy",
            "/v1/submitter-keys/policy".into(),
            Some(json!({ "requireSignatures": false })),
        ),
        (
            "POST",
            "/v1/submitter-keys/{id}/revoke",
            format!("/v1/submitter-keys/{}/revoke", uuid::Uuid::nil()),
            None,
        ),
        (
            "GET",
            "/v1/log/checkpoint",
            "/v1/log/checkpoint".into(),
            None,
        ),
        (
            "GET",
            "/v1/log/consistency",
            "/v1/log/consistency?from=0&to=1".into(),
            None,
        ),
        ("GET", "/v1/log/key", "/v1/log/key".into(), None),
        (
            "POST",
            "/v1/spv",
            "/v1/spv".into(),
            Some(json!({ "chainId": 4, "requestKey": rk })),
        ),
        ("GET", "/v1/spv/{id}", format!("/v1/spv/{spv_id}"), None),
        (
            "POST",
            "/v1/spv/verify",
            "/v1/spv/verify".into(),
            Some(json!({ "proof": spv["proof"], "header": spv["header"] })),
        ),
        ("GET", "/v1/usage", "/v1/usage".into(), None),
        (
            "POST",
            "/v1/billing/stripe/webhook",
            "/v1/billing/stripe/webhook".into(),
            Some(json!({})),
        ),
        (
            "GET",
            "/v1/batches/{batchId}",
            format!("/v1/batches/{batch_id}"),
            None,
        ),
        (
            "GET",
            "/v1/events/{id}/report.pdf",
            "/v1/events/c-1/report.pdf".into(),
            None,
        ),
        (
            "GET",
            "/v1/events/{id}/report.json",
            "/v1/events/c-1/report.json".into(),
            None,
        ),
        (
            "GET",
            "/v1/batches/{batchId}/report.pdf",
            format!("/v1/batches/{batch_id}/report.pdf"),
            None,
        ),
        (
            "GET",
            "/v1/batches/{batchId}/report.json",
            format!("/v1/batches/{batch_id}/report.json"),
            None,
        ),
        (
            "GET",
            "/v1/reports/range",
            "/v1/reports/range?from=2000-01-01&to=2100-01-01".into(),
            None,
        ),
        (
            "POST",
            "/v1/webhooks",
            "/v1/webhooks".into(),
            Some(json!({ "url": "ftp://example.invalid/hook", "events": ["event.proved"] })),
        ),
        ("GET", "/v1/webhooks", "/v1/webhooks".into(), None),
        (
            "GET",
            "/v1/webhooks/deliveries",
            "/v1/webhooks/deliveries?limit=5".into(),
            None,
        ),
        (
            "DELETE",
            "/v1/webhooks/{id}",
            format!("/v1/webhooks/{}", uuid::Uuid::nil()),
            None,
        ),
        (
            "GET",
            "/v1/events/{id}/content",
            "/v1/events/no-such-event/content".into(),
            None,
        ),
        ("GET", "/v1/retention", "/v1/retention".into(), None),
        (
            "PUT",
            "/v1/retention",
            "/v1/retention".into(),
            Some(json!({ "hot": "1000y" })),
        ),
        // The OpenAPI document's keys are the OpenAPI format's (paths, media types, schema
        // names): called, not walked.
        ("GET", "/v1/openapi.json", "/v1/openapi.json".into(), None),
    ];

    // Act
    let mut covered = BTreeSet::new();
    let mut offenders = Vec::new();
    let mut walked = 0;
    for (method, route, uri, body) in calls {
        let m = Method::from_bytes(method.as_bytes()).expect("method");
        let (status, headers, answer) = app.request(m, &uri, Some(&owner), body).await;
        assert!(
            !status.is_server_error(),
            "{method} {uri}: {status} {answer}"
        );
        covered.insert((method.to_owned(), route.to_owned()));
        if is_json(&headers) && !DOCUMENTS.contains(&route) {
            walked += 1;
            snake_keys(&answer, &format!("{method} {uri} →"), &mut offenders);
        }
    }

    // Assert
    assert!(
        offenders.is_empty(),
        "snake_case keys in /v1 answers: {offenders:#?}"
    );
    assert!(walked >= 20, "walked {walked} JSON answers");
    let missing: Vec<_> = api_routes().difference(&covered).cloned().collect();
    assert!(
        missing.is_empty(),
        "routes this test does not call (add a call for each): {missing:?}"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_snake_case_request_field_is_refused_naming_its_camel_case_name(pool: PgPool) {
    let app = TestApp::new(pool);
    let (_, owner) = app.tenant_with_key(Role::Owner).await;

    let key = app
        .request(
            Method::POST,
            "/v1/submitter-keys",
            Some(&owner),
            Some(json!({ "name": "k", "public_key": "11".repeat(32) })),
        )
        .await;
    let batch = app
        .request(
            Method::POST,
            "/v1/events/batch",
            Some(&owner),
            Some(json!({ "events": [{ "digest": digest_of("x") }], "batch_size": 1 })),
        )
        .await;

    assert_problem(
        &key,
        StatusCode::UNPROCESSABLE_ENTITY,
        "send `publicKey`, not `public_key`",
    );
    assert_problem(
        &batch,
        StatusCode::UNPROCESSABLE_ENTITY,
        "send `batchSize`, not `batch_size`",
    );
}

#[test]
fn the_walk_finds_snake_case_keys_but_not_in_tenant_data() {
    let mut out = Vec::new();
    snake_keys(
        &json!({ "okKey": { "leaf_hash": 1 }, "metadata": { "mine_ok": 2 }, "list": [{ "a_b": 3 }] }),
        "x",
        &mut out,
    );
    assert_eq!(
        out,
        vec!["x.list[0].a_b".to_owned(), "x.okKey.leaf_hash".to_owned()]
    );
}
