//! The seed's endpoints, in-process: `/v1/audit/*`, `/v1/events/batch`, `/v1/proof/{id}`.

use ancora::domain::{Role, TenantId};
use ancora::workers;
use ancora_proof::bundle::{Bundle, verify_bundle};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::TestApp;
use crate::workers::trust;

/// Sends a request with the key (and a JSON body when given): status and JSON body.
async fn call(
    app: &TestApp,
    method: Method,
    uri: &str,
    key: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (status, _, json) = app.request(method, uri, Some(key), body).await;
    (status, json)
}

fn seed_events(prefix: &str, n: usize) -> Value {
    let events: Vec<Value> = (0..n)
        .map(|i| json!({ "id": format!("{prefix}-{i}"), "digest": format!("sha256:{:064x}", i + 1) }))
        .collect();
    json!(events)
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_audit_batch_answers_a_batch_holding_exactly_its_events_and_no_chain_under_tlog(
    pool: PgPool,
) {
    let app = TestApp::new(pool);
    let state = &app.state;
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;
    let body = json!({ "events": seed_events("a", 3), "policy": "realtime", "tenantId": tenant.to_string() });

    let (status, answer) = call(&app, Method::POST, "/v1/audit/batch", &key, Some(body)).await;

    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    // The `tlog` backend writes no chain and sends no transaction.
    assert!(answer["submittedToChain"].is_null(), "{answer}");
    assert!(answer["txHash"].is_null());
    let batch: uuid::Uuid = answer["batchId"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    let mut tx = state.db.tenant_tx(tenant).await.expect("tx");
    let b = ancora::db::batches::get(&mut tx, tenant, batch)
        .await
        .expect("read")
        .expect("batch");
    assert_eq!(
        (b.size, b.policy.as_str(), b.state.as_str()),
        (3, "realtime", "closed")
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_audit_batch_for_another_tenant_is_forbidden_and_stores_nothing(pool: PgPool) {
    let app = TestApp::new(pool);
    let state = &app.state;
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;
    let body = json!({ "events": seed_events("f", 1), "tenantId": TenantId::new().to_string() });

    let (status, answer) = call(&app, Method::POST, "/v1/audit/batch", &key, Some(body)).await;

    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    let mut tx = state.db.tenant_tx(tenant).await.expect("tx");
    let n =
        sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM events WHERE submitter <> 'audit'"#)
            .fetch_one(&mut *tx)
            .await
            .expect("count");
    assert_eq!(n, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_unknown_policy_is_unprocessable(pool: PgPool) {
    let app = TestApp::new(pool);
    let (_, key) = app.tenant_with_key(Role::Submitter).await;
    let body = json!({ "events": seed_events("u", 1), "policy": "sometimes" });

    let (status, _) = call(&app, Method::POST, "/v1/audit/batch", &key, Some(body)).await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_audit_proof_is_pending_until_proved_then_leads_to_the_signed_log_root(pool: PgPool) {
    let app = TestApp::new(pool);
    let state = &app.state;
    let (_, key) = app.tenant_with_key(Role::Submitter).await;
    // The tenant's own audit events (tenant and key created) are proved first, so the newest
    // checkpoint below is the one that anchors this batch.
    workers::run_all_jobs_now(state)
        .await
        .expect("audit events");
    let body = json!({ "events": seed_events("p", 4) });
    let (_, answer) = call(&app, Method::POST, "/v1/audit/batch", &key, Some(body)).await;
    let uri = format!(
        "/v1/audit/proof/{}",
        answer["batchId"].as_str().expect("id")
    );

    let (before, pending) = call(&app, Method::GET, &uri, &key, None).await;
    workers::run_all_jobs_now(state).await.expect("jobs");
    let (after, proof) = call(&app, Method::GET, &uri, &key, None).await;

    assert_eq!(before, StatusCode::ACCEPTED);
    assert!(pending["proof"].is_null());
    assert_eq!(after, StatusCode::OK, "{proof}");
    let mut tx = state.db.system_tx().await.expect("tx");
    let root = sqlx::query_scalar!("SELECT root FROM tlog_checkpoints ORDER BY size DESC LIMIT 1")
        .fetch_one(&mut *tx)
        .await
        .expect("checkpoint");
    assert_eq!(
        proof["blockHash"],
        json!(ancora_proof::hash::b64url_encode(&root))
    );
    assert_eq!(proof["proof"]["trustPoint"]["type"], json!("tlog"));
    assert!(proof["timestamp"].is_string());
    assert!(
        proof["verifierHints"]["logKeyUrl"]
            .as_str()
            .expect("url")
            .ends_with("/v1/log/key")
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn events_batch_answers_a_batch_id_whose_proofs_list_every_verifying_bundle(pool: PgPool) {
    let app = TestApp::new(pool);
    let state = &app.state;
    let (_, key) = app.tenant_with_key(Role::Submitter).await;
    let body = json!({ "events": seed_events("e", 5), "batchSize": 5 });
    let (status, answer) = call(&app, Method::POST, "/v1/events/batch", &key, Some(body)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let uri = format!("/v1/proof/{}", answer["batchId"].as_str().expect("id"));

    let (before, _) = call(&app, Method::GET, &uri, &key, None).await;
    workers::run_all_jobs_now(state).await.expect("jobs");
    let (after, proofs) = call(&app, Method::GET, &uri, &key, None).await;

    assert_eq!(before, StatusCode::ACCEPTED);
    assert_eq!(after, StatusCode::OK);
    let trust = trust(state).await;
    let list = proofs["proofs"].as_array().expect("proofs");
    assert_eq!(list.len(), 5);
    for (i, p) in list.iter().enumerate() {
        assert_eq!(p["eventId"], json!(format!("e-{i}")));
        let bundle = Bundle::from_json(p["bundle"].to_string().as_bytes()).expect("bundle");
        assert!(verify_bundle(&bundle, &trust).is_verified());
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_batch_size_that_disagrees_with_the_events_is_unprocessable(pool: PgPool) {
    let app = TestApp::new(pool);
    let (_, key) = app.tenant_with_key(Role::Submitter).await;
    let body = json!({ "events": seed_events("z", 2), "batchSize": 3 });

    let (status, _) = call(&app, Method::POST, "/v1/events/batch", &key, Some(body)).await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[sqlx::test(migrations = "../../migrations")]
async fn another_tenants_batch_is_not_found(pool: PgPool) {
    let app = TestApp::new(pool);
    let (_, key_a) = app.tenant_with_key(Role::Submitter).await;
    let (_, key_b) = app.tenant_with_key(Role::Submitter).await;
    let body = json!({ "events": seed_events("t", 1) });
    let (_, answer) = call(&app, Method::POST, "/v1/events/batch", &key_a, Some(body)).await;
    let id = answer["batchId"].as_str().expect("id");

    let (proof, _) = call(&app, Method::GET, &format!("/v1/proof/{id}"), &key_b, None).await;
    let (audit, _) = call(
        &app,
        Method::GET,
        &format!("/v1/audit/proof/{id}"),
        &key_b,
        None,
    )
    .await;

    assert_eq!(
        (proof, audit),
        (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND)
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_catalog_pages_every_batch_once_with_an_opaque_cursor_and_filters_by_status(
    pool: PgPool,
) {
    let app = TestApp::new(pool);
    let state = &app.state;
    let (_, key) = app.tenant_with_key(Role::Submitter).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let body = json!({ "events": seed_events(&format!("c{i}"), 1) });
        let (_, a) = call(&app, Method::POST, "/v1/events/batch", &key, Some(body)).await;
        ids.push(a["batchId"].as_str().expect("id").to_owned());
    }

    let mut seen = Vec::new();
    let mut uri = "/v1/audit/catalog?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let (status, page) = call(&app, Method::GET, &uri, &key, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        pages += 1;
        for b in page["batches"].as_array().expect("batches") {
            seen.push(b["batchId"].as_str().expect("id").to_owned());
            assert_eq!(b["status"], json!("closed"));
        }
        match page["nextCursor"].as_str() {
            Some(c) => uri = format!("/v1/audit/catalog?limit=2&cursor={c}"),
            None => break,
        }
    }
    workers::run_all_jobs_now(state).await.expect("jobs");
    let (_, closed) = call(
        &app,
        Method::GET,
        "/v1/audit/catalog?status=closed",
        &key,
        None,
    )
    .await;
    let (_, proved) = call(
        &app,
        Method::GET,
        "/v1/audit/catalog?status=proved",
        &key,
        None,
    )
    .await;
    let (bad, _) = call(
        &app,
        Method::GET,
        "/v1/audit/catalog?cursor=xyz",
        &key,
        None,
    )
    .await;

    // Six batches: the tenant's pending audit events (closed before the first request's own
    // batch) and the five requests'.
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 6);
    assert_eq!(
        seen.iter().collect::<std::collections::HashSet<_>>().len(),
        6,
        "every batch once"
    );
    assert_eq!(&seen[1..], &ids[..], "oldest first");
    assert!(closed["batches"].as_array().expect("list").is_empty());
    // Proved batches: these five, and the one holding the tenant's audit events.
    let proved_ids: Vec<&str> = proved["batches"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|b| b["batchId"].as_str())
        .filter(|id| ids.iter().any(|i| i == id))
        .collect();
    assert_eq!(proved_ids.len(), 5);
    assert_eq!(bad, StatusCode::BAD_REQUEST);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_ttl_under_the_tlog_backend_is_refused_not_ignored(pool: PgPool) {
    let app = TestApp::new(pool);
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;
    let body = json!({ "events": seed_events("t", 2), "ttl": 600 });

    let got = app
        .request(Method::POST, "/v1/events/batch", Some(&key), Some(body))
        .await;

    crate::helpers::assert_problem(
        &got,
        StatusCode::UNPROCESSABLE_ENTITY,
        "anchors on its transparency log only",
    );
    assert_eq!(app.event_count(tenant).await, 0, "nothing stored");
}
