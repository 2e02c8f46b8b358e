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
    let (_, key) = app.tenant_with_key(Role::Submitter).await;
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
    for f in [
        "chainId",
        "blockHeight",
        "blockHash",
        "txHash",
        "retentionPolicy",
    ] {
        assert!(after[f].is_null(), "{f} under tlog: {after}");
    }
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
