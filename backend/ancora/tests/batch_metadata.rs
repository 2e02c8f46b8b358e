//! Batch metadata (`batchId, merkleRoot, submitter, timestamp, chainId, blockHeight, blockHash,
//! txHash, proofUri, retentionPolicy`) through its three routes — `GET /v1/batches/{id}`, each
//! `/v1/audit/catalog` entry, `/v1/audit/proof/{id}`'s `batch` — on both anchor backends.

use ancora::domain::{Role, TenantId};
use ancora::workers;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{TestApp, assert_problem, digest_of};

const FIELDS: [&str; 10] = [
    "batchId",
    "merkleRoot",
    "submitter",
    "timestamp",
    "chainId",
    "blockHeight",
    "blockHash",
    "txHash",
    "proofUri",
    "retentionPolicy",
];

async fn get(app: &TestApp, path: &str, key: &str) -> (StatusCode, Value) {
    let (s, _, b) = app.request(Method::GET, path, Some(key), None).await;
    (s, b)
}

/// The metadata fields of `v` (every one present, `null` or not).
fn fields(v: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for f in FIELDS {
        assert!(v.get(f).is_some(), "{f} missing in {v}");
        out.insert(f.to_owned(), v[f].clone());
    }
    Value::Object(out)
}

/// The metadata as each of the three routes answers it; asserts they agree.
async fn metadata_everywhere(app: &TestApp, key: &str, batch: Uuid) -> Value {
    let (s, own) = get(app, &format!("/v1/batches/{batch}"), key).await;
    assert_eq!(s, StatusCode::OK, "{own}");
    let (_, page) = get(app, "/v1/audit/catalog?limit=1000", key).await;
    let entry = page["batches"]
        .as_array()
        .expect("batches")
        .iter()
        .find(|b| b["batchId"] == json!(batch.to_string()))
        .cloned()
        .expect("the batch is in the catalog");
    let (_, proof) = get(app, &format!("/v1/audit/proof/{batch}"), key).await;
    let m = fields(&own);
    assert_eq!(fields(&entry), m, "catalog entry");
    assert_eq!(fields(&proof["batch"]), m, "audit proof");
    m
}

fn rfc3339(v: &Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(
        v.as_str().unwrap_or_else(|| panic!("not a time: {v}")),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("RFC 3339")
}

async fn created_at(app: &TestApp, tenant: TenantId, batch: Uuid) -> time::OffsetDateTime {
    sqlx::query_scalar!(
        "SELECT created_at FROM batches WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        batch
    )
    .fetch_one(app.state.db.pool())
    .await
    .expect("batch")
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_retention_policy_follows_the_tenants_policy_its_hold_and_the_archive(pool: PgPool) {
    let (archive, dir) = crate::archive::local_archive("meta-retention");
    let app = crate::archive::app_with_archive(pool, archive);
    let (tenant, key) = app.tenant_with_key(Role::Admin).await;
    let (s, _, answer) = app
        .request(
            Method::POST,
            "/v1/events/batch",
            Some(&key),
            Some(json!({ "events": [{ "id": "r-1", "digest": digest_of("r-1") }] })),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{answer}");
    let batch: Uuid = answer["batchId"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    let created = created_at(&app, tenant, batch).await;

    // A new policy shows at once on every route.
    let (s, _, p) = app
        .request(
            Method::PUT,
            "/v1/retention",
            Some(&key),
            Some(json!({ "hot": "0s", "keep": "7y" })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let r = metadata_everywhere(&app, &key, batch).await["retentionPolicy"].clone();
    assert_eq!(
        (r["hot"].clone(), r["keep"].clone()),
        (json!("0s"), json!("7y")),
        "{r}"
    );
    assert_eq!(rfc3339(&r["hotUntil"]), created, "{r}");
    assert_eq!(
        rfc3339(&r["expiresAt"]) - created,
        time::Duration::days(7 * 365),
        "{r}"
    );

    // A legal hold: nothing expires, so no expiry date.
    let (s, _, p) = app
        .request(
            Method::PUT,
            "/v1/retention",
            Some(&key),
            Some(json!({ "legalHold": true })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let r = metadata_everywhere(&app, &key, batch).await["retentionPolicy"].clone();
    assert_eq!(r["legalHold"], json!(true), "{r}");
    assert!(r["expiresAt"].is_null(), "{r}");
    assert_eq!(r["keep"], json!("7y"), "the hold keeps the period: {r}");

    // Once proved and past its hot period, the archiver copies it: `archivedAt` says when.
    workers::run_all_jobs_now(&app.state).await.expect("jobs");
    let report = ancora::services::archive::archiver::run_pass(&app.state)
        .await
        .expect("archive pass");
    let r = metadata_everywhere(&app, &key, batch).await["retentionPolicy"].clone();
    let archived = rfc3339(&r["archivedAt"]);
    assert!(archived >= created, "{r} {report:?}");
    assert!(r["contentsExpiredAt"].is_null(), "{r}");

    // Another tenant's policy is not this batch's.
    let (_, other_key) = app.tenant_with_key(Role::Admin).await;
    let (s, _, _) = app
        .request(
            Method::PUT,
            "/v1/retention",
            Some(&other_key),
            Some(json!({ "keep": "1y" })),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let r = metadata_everywhere(&app, &key, batch).await["retentionPolicy"].clone();
    assert_eq!(r["keep"], json!("7y"), "{r}");
    let _ = std::fs::remove_dir_all(dir);
}

async fn batch_of(app: &TestApp, tenant: TenantId, event: &str) -> Uuid {
    let mut tx = app.state.db.tenant_tx(tenant).await.expect("tx");
    ancora::db::batches::batches_of_events(&mut tx, tenant, &[event.to_owned()])
        .await
        .expect("read")[0]
}

#[sqlx::test(migrations = "../../migrations")]
async fn under_tlog_the_metadata_names_root_submitter_time_and_proof_url_and_no_chain(
    pool: PgPool,
) {
    let app = TestApp::new(pool);
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;
    let (_, _, answer) = app
        .request(
            Method::POST,
            "/v1/events/batch",
            Some(&key),
            Some(json!({ "events": [
                { "id": "m-1", "digest": digest_of("m-1") },
                { "id": "m-2", "digest": digest_of("m-2") },
            ] })),
        )
        .await;
    let batch: Uuid = answer["batchId"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");

    let before = metadata_everywhere(&app, &key, batch).await;
    workers::run_all_jobs_now(&app.state).await.expect("jobs");
    let after = metadata_everywhere(&app, &key, batch).await;

    assert_eq!(before["batchId"], json!(batch.to_string()));
    assert_eq!(before["submitter"], json!(&key[..11]), "the key's prefix");
    assert!(before["timestamp"].is_null(), "not anchored yet: {before}");
    assert!(after["timestamp"].is_string(), "{after}");
    for f in ["chainId", "blockHeight", "blockHash", "txHash"] {
        assert!(after[f].is_null(), "{f} under tlog: {after}");
    }
    // No policy set: the defaults, 30 days hot and 10 years kept, from the batch's creation.
    let r = &after["retentionPolicy"];
    assert_eq!(r["hot"], json!("30d"), "{r}");
    assert_eq!(r["keep"], json!("10y"), "{r}");
    assert_eq!(r["hotSeconds"], json!(30 * 86_400), "{r}");
    assert_eq!(r["keepSeconds"], json!(10 * 365 * 86_400), "{r}");
    assert_eq!(r["legalHold"], json!(false), "{r}");
    assert!(
        r["archivedAt"].is_null() && r["contentsExpiredAt"].is_null(),
        "{r}"
    );
    let hot_until = rfc3339(&r["hotUntil"]);
    let expires = rfc3339(&r["expiresAt"]);
    assert_eq!(
        expires - hot_until,
        time::Duration::days(10 * 365 - 30),
        "{r}"
    );
    let created = created_at(&app, tenant, batch).await;
    assert_eq!(expires - created, time::Duration::days(10 * 365), "{r}");
    let uri = after["proofUri"].as_str().expect("proofUri");
    assert!(uri.ends_with(&format!("/v1/proof/{batch}")), "{uri}");
    // The proof URI answers the batch's proofs, and the root is theirs.
    let path = &uri[uri.find("/v1/").expect("path")..];
    let (s, proofs) = get(&app, path, &key).await;
    assert_eq!(s, StatusCode::OK, "{proofs}");
    assert_eq!(proofs["proofs"].as_array().expect("proofs").len(), 2);
    assert_eq!(
        proofs["proofs"][0]["bundle"]["batch"]["root"], after["merkleRoot"],
        "{proofs}"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn under_chainweb_the_metadata_gains_the_chain_and_request_key_then_the_final_block(
    pool: PgPool,
) {
    let (node, app, tenant, key) =
        crate::chainweb_anchor::chainweb_event_proved_on_the_log(pool, "cwm-1").await;
    let batch = batch_of(&app, tenant, "cwm-1").await;
    let anchor = || async {
        sqlx::query!(
            "SELECT tx_ref, block_hash, block_height, (details->>'chain')::integer AS chain \
             FROM anchors WHERE backend = 'chainweb'"
        )
        .fetch_one(app.state.db.pool())
        .await
        .expect("one chainweb anchor")
    };

    let sent = metadata_everywhere(&app, &key, batch).await;
    let row = anchor().await;
    node.mine(7);
    crate::chainweb_anchor::drive(&app.state)
        .await
        .expect("final");
    let fin = metadata_everywhere(&app, &key, batch).await;
    let row_final = anchor().await;

    assert_eq!(sent["chainId"], json!(row.chain), "{sent}");
    assert_eq!(sent["txHash"], json!(row.tx_ref), "{sent}");
    assert!(sent["txHash"].is_string());
    assert!(sent["timestamp"].is_string(), "proved on the log: {sent}");
    assert!(
        sent["blockHash"].is_null() && sent["blockHeight"].is_null(),
        "{sent}"
    );
    assert_eq!(fin["chainId"], json!(row_final.chain));
    assert_eq!(fin["txHash"], json!(row_final.tx_ref));
    assert!(fin["blockHash"].is_string(), "{fin}");
    assert_eq!(fin["blockHash"], json!(row_final.block_hash));
    assert_eq!(fin["blockHeight"], json!(row_final.block_height));
    // The audit proof's trusted root is now that block.
    let (_, proof) = get(&app, &format!("/v1/audit/proof/{batch}"), &key).await;
    assert_eq!(proof["blockHash"], fin["blockHash"], "{proof}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_unknown_or_foreign_batch_is_a_404_problem(pool: PgPool) {
    let app = TestApp::new(pool);
    let (_, key_a) = app.tenant_with_key(Role::Submitter).await;
    let (_, key_b) = app.tenant_with_key(Role::Auditor).await;
    let (_, _, answer) = app
        .request(
            Method::POST,
            "/v1/events/batch",
            Some(&key_a),
            Some(json!({ "events": [{ "id": "x-1", "digest": digest_of("x-1") }] })),
        )
        .await;
    let batch = answer["batchId"].as_str().expect("id");

    for path in [
        format!("/v1/batches/{batch}"),
        format!("/v1/batches/{}", Uuid::now_v7()),
        "/v1/batches/not-a-batch".to_owned(),
    ] {
        let got = app.request(Method::GET, &path, Some(&key_b), None).await;
        assert_problem(&got, StatusCode::NOT_FOUND, "no batch");
    }
}
