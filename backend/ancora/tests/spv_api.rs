//! SPV-as-a-Service against the Chainweb node double: fetch, verify, store and cache a proof;
//! read it back; verify any proof string; and every bad input answered as problem+json.

use std::time::Duration;

use ancora::config::ChainwebConfig;
use ancora::domain::Role;
use ancora_chainweb::testkit::TestNode;
use ancora_chainweb::{
    ChainId, NodeClient, NodeClientConfig, PactCommand, RequestKey, SecretKey, Signer,
};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::helpers::{TestApp, assert_problem};

pub(crate) fn app(pool: PgPool, node: Option<&TestNode>) -> TestApp {
    let nodes = node.map(|n| vec![n.base_url()]).unwrap_or_default();
    TestApp::with_config(pool, move |c| {
        let mut cw = ChainwebConfig::unconfigured();
        cw.nodes = nodes;
        cw.request_timeout = Duration::from_millis(1_500);
        cw.attempts_per_node = 1;
        cw.backoff = Duration::from_millis(10);
        c.settings.chainweb = cw;
    })
}

/// A transaction mined on `chain` whose result is `"hello"`; its request key.
pub(crate) async fn mined_tx(node: &TestNode, chain: u32) -> RequestKey {
    let key = SecretKey::from_bytes(&[5; 32]);
    let cmd = PactCommand::exec("\"hello\"")
        .network("mainnet01")
        .chain(ChainId(chain))
        .sender(format!("k:{}", key.public_key_hex()))
        .creation_time(node.now_secs())
        .nonce(uuid::Uuid::new_v4().to_string())
        .signer(Signer::of(&key))
        .sign(&[&key])
        .expect("signs");
    let client =
        NodeClient::new(NodeClientConfig::new(vec![node.base_url()], "mainnet01")).expect("client");
    let rk = client.send(ChainId(chain), &[cmd]).await.expect("sent")[0];
    node.mine(1);
    rk
}

async fn spv_requests(app: &TestApp, tenant: ancora::domain::TenantId) -> i64 {
    let mut tx = app.state.db.tenant_tx(tenant).await.expect("tx");
    let n = sqlx::query_scalar!(
        r#"SELECT sum(count)::bigint AS "n" FROM usage_counters
           WHERE tenant_id = $1 AND metric = 'spv_requests'"#,
        tenant.0
    )
    .fetch_one(&mut *tx)
    .await
    .expect("usage");
    tx.commit().await.expect("commit");
    n.unwrap_or(0)
}

async fn stored_proofs(app: &TestApp) -> i64 {
    sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM spv_proofs"#)
        .fetch_one(app.state.db.pool())
        .await
        .expect("count")
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_proof_is_fetched_verified_stored_and_then_served_from_the_cache(pool: PgPool) {
    // Arrange
    let node = TestNode::start().await.expect("node");
    let app = app(pool, Some(&node));
    let (tenant, key) = app.tenant_with_key(Role::Auditor).await;
    let rk = mined_tx(&node, 2).await;
    let body = json!({ "chainId": 2, "requestKey": rk.to_string(), "targetChainId": "2" });

    // Act
    let (status, _, first) = app
        .request(Method::POST, "/v1/spv", Some(&key), Some(body.clone()))
        .await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["verified"], true);
    assert_eq!(first["cached"], false);
    assert_eq!(first["subject"]["reqKey"], rk.to_string());
    assert_eq!(first["subject"]["result"]["data"], "hello");
    let header = node.header(2, 1).expect("block 1");
    assert_eq!(first["blockHash"], header.hash.expect("hash").to_b64url());
    assert_eq!(first["blockHeight"], 1);
    assert_eq!(stored_proofs(&app).await, 1);

    // A second request needs no node: the node now fails every request.
    node.fail_next(100, 503);
    let (status, _, second) = app
        .request(Method::POST, "/v1/spv", Some(&key), Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["cached"], true);
    assert_eq!(second["id"], first["id"]);
    assert_eq!(second["proof"], first["proof"]);

    let id = first["id"].as_str().expect("id");
    let (status, _, read) = app
        .request(Method::GET, &format!("/v1/spv/{id}"), Some(&key), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["proof"], first["proof"]);
    assert_eq!(read["verified"], true);
    assert_eq!(spv_requests(&app, tenant).await, 2);
    assert_eq!(stored_proofs(&app).await, 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_cross_chain_proof_leads_to_a_block_of_the_target_chain(pool: PgPool) {
    let node = TestNode::start().await.expect("node");
    let app = app(pool, Some(&node));
    let (_, key) = app.tenant_with_key(Role::Submitter).await;
    let rk = mined_tx(&node, 0).await;
    node.mine(3);

    let (status, _, got) = app
        .request(
            Method::POST,
            "/v1/spv",
            Some(&key),
            Some(json!({ "chainId": 0, "requestKey": rk.to_string(), "targetChainId": 1 })),
        )
        .await;

    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["targetChainId"], 1);
    assert_eq!(got["header"]["chainId"], 1);
    assert_eq!(got["blockHeight"], 3);
}

#[sqlx::test(migrations = "../../migrations")]
async fn another_tenant_cannot_read_a_stored_proof(pool: PgPool) {
    let node = TestNode::start().await.expect("node");
    let app = app(pool, Some(&node));
    let (_, key) = app.tenant_with_key(Role::Auditor).await;
    let (_, other) = app.tenant_with_key(Role::Auditor).await;
    let rk = mined_tx(&node, 4).await;
    let (_, _, first) = app
        .request(
            Method::POST,
            "/v1/spv",
            Some(&key),
            Some(json!({ "chainId": 4, "requestKey": rk.to_string() })),
        )
        .await;
    let id = first["id"].as_str().expect("id");

    let got = app
        .request(Method::GET, &format!("/v1/spv/{id}"), Some(&other), None)
        .await;

    assert_problem(&got, StatusCode::NOT_FOUND, "no SPV proof");
    let got = app
        .request(Method::GET, "/v1/spv/not-a-uuid", Some(&key), None)
        .await;
    assert_problem(&got, StatusCode::NOT_FOUND, "UUID");
}

#[sqlx::test(migrations = "../../migrations")]
async fn bad_requests_are_problems_and_nothing_is_stored(pool: PgPool) {
    let node = TestNode::start().await.expect("node");
    let app = app(pool, Some(&node));
    let (_, key) = app.tenant_with_key(Role::Auditor).await;
    let rk = mined_tx(&node, 1).await.to_string();
    let unmined = RequestKey([9; 32]).to_string();
    let cases = [
        (
            json!({ "chainId": 1, "requestKey": "AAAA" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "requestKey",
        ),
        (
            json!({ "chainId": 1, "requestKey": format!("{rk}=") }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "32 bytes of base64url",
        ),
        (
            json!({ "chainId": 25, "requestKey": rk }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown chain id 25",
        ),
        (
            json!({ "chainId": "one", "requestKey": rk }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not a chain id",
        ),
        (
            json!({ "chainId": -1, "requestKey": rk }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not a chain id",
        ),
        (
            json!({ "chainId": 1, "requestKey": rk, "targetChainId": 99 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "targetChainId",
        ),
        (
            json!({ "chainId": 1, "requestKey": unmined }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "refused",
        ),
        (
            json!({ "chainId": 1 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "requestKey",
        ),
    ];
    for (body, status, needle) in cases {
        let got = app
            .request(Method::POST, "/v1/spv", Some(&key), Some(body.clone()))
            .await;
        assert_problem(&got, status, needle);
    }
    assert_eq!(stored_proofs(&app).await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_node_that_answers_garbage_or_a_proof_of_another_block_is_a_bad_gateway(pool: PgPool) {
    let node = TestNode::start().await.expect("node");
    let app = app(pool, Some(&node));
    let (_, key) = app.tenant_with_key(Role::Auditor).await;
    let rk = mined_tx(&node, 1).await.to_string();
    let body = json!({ "chainId": 1, "requestKey": rk });

    for garbage in ["<html>oops</html>", "42", "\"***\"", "{\"hashes\": []}"] {
        node.respond_next(200, garbage);
        let got = app
            .request(Method::POST, "/v1/spv", Some(&key), Some(body.clone()))
            .await;
        assert_problem(&got, StatusCode::BAD_GATEWAY, "malformed SPV proof");
    }
    // A proof that decodes but leads to no block the node knows.
    let forged = ancora_proof::hash::b64url_encode(
        br#"{"chain":1,"object":"AAAAAAAAAAAAAAAA","subject":{"input":"ABQ"},"algorithm":"SHA512t_256"}"#,
    );
    node.respond_next(200, format!("\"{forged}\""));
    let got = app
        .request(Method::POST, "/v1/spv", Some(&key), Some(body.clone()))
        .await;
    assert_problem(&got, StatusCode::BAD_GATEWAY, "does not know");
    // A forged header in place of the real one: its fields do not hash to its hash.
    let mut forged_header = node.header(1, 1).expect("header").to_json_value();
    forged_header["nonce"] = "12345".into();
    let real = app
        .request(Method::POST, "/v1/spv", Some(&key), Some(body.clone()))
        .await;
    assert_eq!(real.0, StatusCode::OK, "the real answer still verifies");
    assert_eq!(
        stored_proofs(&app).await,
        1,
        "only the verified proof is stored"
    );

    let (_, other_key) = app.tenant_with_key(Role::Auditor).await;
    node.respond_next(200, real.2["proof"].to_string());
    node.respond_next(200, forged_header.to_string());
    let got = app
        .request(Method::POST, "/v1/spv", Some(&other_key), Some(body))
        .await;
    assert_problem(&got, StatusCode::BAD_GATEWAY, "does not check out");
    assert_eq!(stored_proofs(&app).await, 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn without_configured_nodes_fetching_is_unavailable(pool: PgPool) {
    let app = app(pool, None);
    let (_, key) = app.tenant_with_key(Role::Auditor).await;
    let got = app
        .request(
            Method::POST,
            "/v1/spv",
            Some(&key),
            Some(json!({ "chainId": 0, "requestKey": RequestKey([1; 32]).to_string() })),
        )
        .await;
    assert_problem(
        &got,
        StatusCode::SERVICE_UNAVAILABLE,
        "ANCORA_CHAINWEB_NODES",
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn verify_checks_a_proof_against_a_given_header_or_one_fetched_from_a_node(pool: PgPool) {
    let node = TestNode::start().await.expect("node");
    let app = app(pool, Some(&node));
    let (tenant, key) = app.tenant_with_key(Role::Auditor).await;
    let rk = mined_tx(&node, 6).await;
    node.mine(1);
    let proof = client_spv(&node, 6, rk).await;
    let header = node.header(6, 1).expect("block 1").to_json_value();
    let other = node.header(6, 2).expect("block 2").to_json_value();
    let verify = |body: Value| {
        let app = &app;
        let key = key.clone();
        async move {
            app.request(Method::POST, "/v1/spv/verify", Some(&key), Some(body))
                .await
        }
    };

    let (status, _, given) = verify(json!({ "proof": proof, "header": header })).await;
    assert_eq!(status, StatusCode::OK, "{given}");
    assert_eq!(given["verified"], true);
    assert_eq!(given["headerSource"], "request");
    assert_eq!(given["subject"]["reqKey"], rk.to_string());

    let (_, _, fetched) = verify(json!({ "proof": proof })).await;
    assert_eq!(fetched["verified"], true, "{fetched}");
    assert_eq!(fetched["headerSource"], "node");

    let (_, _, wrong) = verify(json!({ "proof": proof, "header": other })).await;
    assert_eq!(wrong["verified"], false, "{wrong}");
    assert!(
        wrong["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("leads to"),
        "{wrong}"
    );

    let (_, _, wrong_chain) =
        verify(json!({ "proof": proof, "header": header, "chainId": 5 })).await;
    assert_eq!(wrong_chain["verified"], false, "{wrong_chain}");

    let mut forged = header.clone();
    forged["nonce"] = "12345".into();
    assert_problem(
        &verify(json!({ "proof": proof, "header": forged })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "header",
    );
    assert_problem(
        &verify(json!({ "proof": "***" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "not a /pact/spv proof",
    );
    assert_problem(
        &verify(json!({ "proof": ancora_proof::hash::b64url_encode(b"{}") })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "proof",
    );
    assert_problem(
        &verify(json!({ "proof": proof, "header": { "height": 1 } })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "header",
    );
    assert_problem(
        &verify(json!({ "proof": proof, "chainId": 20 })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown chain id 20",
    );

    node.respond_next(200, "<garbage>");
    assert_problem(
        &verify(json!({ "proof": proof })).await,
        StatusCode::BAD_GATEWAY,
        "malformed block header",
    );
    assert_eq!(
        spv_requests(&app, tenant).await,
        4,
        "each verification answered counts"
    );
    assert_eq!(stored_proofs(&app).await, 0, "verify stores nothing");
}

async fn client_spv(node: &TestNode, chain: u32, rk: RequestKey) -> String {
    let client =
        NodeClient::new(NodeClientConfig::new(vec![node.base_url()], "mainnet01")).expect("client");
    client
        .spv(ChainId(chain), rk, ChainId(chain))
        .await
        .expect("proof")
        .text
}
