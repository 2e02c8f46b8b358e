//! Every failure mode gives a typed error, never a panic: 5xx fail-over, timeouts, reorgs,
//! expired TTLs, gas errors, rejected commands, garbage answers, malformed proofs, bad
//! request keys and forged headers.

use std::time::Duration;

use ancora_chainweb::testkit::TestNode;
use ancora_chainweb::{ChainId, Error, NodeClient, PactCommand, RequestKey, Signer};
use ancora_proof::hash::b64url_encode;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use super::common::{anchor_cmd, config, key, node_and_client};

const C: ChainId = ChainId(0);

/// A URL where nothing listens.
async fn dead_url() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    url
}

#[tokio::test]
async fn server_errors_are_retried_then_the_next_node_answers() {
    let (node, client) = node_and_client().await;
    node.fail_next(2, 503);
    assert!(
        client.cut().await.is_ok(),
        "third try on the same node succeeds"
    );

    node.fail_next(3, 500);
    let err = client.cut().await.unwrap_err();
    match &err {
        Error::AllNodesFailed {
            nodes: 1,
            attempts: 3,
            last,
        } => {
            assert!(
                matches!(**last, Error::ServerError { status: 500, .. }),
                "{last}"
            )
        }
        other => panic!("{other}"),
    }
    assert!(!err.to_string().contains('\n'));

    let broken = TestNode::start().await.unwrap();
    broken.fail_next(100, 502);
    let failover = NodeClient::new(config(vec![
        dead_url().await,
        broken.base_url(),
        node.base_url(),
    ]))
    .unwrap();
    let cut = failover.cut().await.unwrap();
    assert_eq!(cut.instance, "mainnet01");
}

#[tokio::test]
async fn a_slow_node_times_out_and_is_retried() {
    let (node, client) = node_and_client().await;
    node.delay_next(1, Duration::from_secs(3));
    assert!(client.cut().await.is_ok(), "the retry is not delayed");

    node.delay_next(3, Duration::from_secs(3));
    let err = client.cut().await.unwrap_err();
    assert!(
        matches!(
            err.last(),
            Error::Timeout {
                timeout_ms: 1_500,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_reorg_that_drops_the_transaction_loses_its_result_and_proof() {
    let (node, client) = node_and_client().await;
    let key = client
        .send(C, &[anchor_cmd(&node, 0, "reorged", "root")])
        .await
        .unwrap()[0];
    node.mine(2);
    let before = client.poll(C, &[key], None).await.unwrap()[&key]
        .meta_data
        .clone()
        .unwrap();
    client.spv(C, key, C).await.unwrap();

    node.reorg(0, 2);
    assert!(
        client.poll(C, &[key], None).await.unwrap().is_empty(),
        "the transaction is gone"
    );
    let err = client.spv(C, key, C).await.unwrap_err();
    assert!(matches!(err, Error::Rejected { status: 400, .. }), "{err}");
    // The orphaned header is still known by hash, but the canonical one at its height differs.
    let orphan = client.header(C, &before.block_hash).await.unwrap();
    let canonical = client
        .headers(C, orphan.height, orphan.height)
        .await
        .unwrap()
        .remove(0);
    assert_ne!(canonical.hash, orphan.hash);
    assert_eq!(node.height(), 2);
}

#[tokio::test]
async fn expired_commands_are_rejected_at_send_and_dropped_before_mining() {
    let (node, client) = node_and_client().await;
    let k = key();
    let stale = PactCommand::exec("\"old\"")
        .network("mainnet01")
        .chain(C)
        .ttl(600)
        .creation_time(node.now_secs() - 1_000)
        .signer(Signer::of(&k))
        .sign(&[&k])
        .unwrap();
    let err = client.send(C, &[stale]).await.unwrap_err();
    match &err {
        Error::Rejected {
            status: 400, body, ..
        } => assert!(body.contains("time-to-live"), "{body}"),
        other => panic!("{other}"),
    }

    let short = PactCommand::exec("\"soon stale\"")
        .network("mainnet01")
        .chain(C)
        .ttl(60)
        .creation_time(node.now_secs())
        .signer(Signer::of(&k))
        .sign(&[&k])
        .unwrap();
    let key = client.send(C, &[short]).await.unwrap()[0];
    node.advance_time(120);
    node.mine(1);
    assert!(client.poll(C, &[key], None).await.unwrap().is_empty());
}

#[tokio::test]
async fn gas_errors_come_back_as_failed_results() {
    let (node, client) = node_and_client().await;
    node.gas_error_next(1);
    let forced = client
        .send(C, &[anchor_cmd(&node, 0, "gas-1", "r")])
        .await
        .unwrap()[0];
    let k = key();
    let starved = PactCommand::exec("(ancora-anchor.record-anchor \"gas-2\" \"r\")")
        .network("mainnet01")
        .chain(C)
        .gas_limit(10)
        .creation_time(node.now_secs())
        .signer(Signer::of(&k))
        .sign(&[&k])
        .unwrap();
    let starved = client.send(C, &[starved]).await.unwrap()[0];
    node.mine(1);
    let r = client.poll(C, &[forced, starved], None).await.unwrap();
    for key in [forced, starved] {
        let msg = r[&key].result.error_message().unwrap();
        assert!(msg.starts_with("Gas limit ("), "{msg}");
        assert!(!r[&key].is_success());
    }
    assert_eq!(r[&starved].gas, 10);
}

#[tokio::test]
async fn the_node_rejects_bad_signatures_wrong_chains_and_wrong_networks_with_400() {
    let (node, client) = node_and_client().await;
    let mut bad_sig = anchor_cmd(&node, 0, "s", "r");
    bad_sig.sigs[0].sig = "00".repeat(64);
    let wrong_chain = anchor_cmd(&node, 1, "s", "r");
    let k = key();
    let wrong_net = PactCommand::exec("\"x\"")
        .network("testnet04")
        .chain(C)
        .creation_time(node.now_secs())
        .signer(Signer::of(&k))
        .sign(&[&k])
        .unwrap();
    for (what, cmd, needle) in [
        ("sig", bad_sig, "Invalid transaction sigs"),
        ("chain", wrong_chain, "conflicts with this endpoint"),
        ("network", wrong_net, "conflicts with this endpoint"),
    ] {
        match client.send(C, &[cmd]).await {
            Err(Error::Rejected {
                status: 400, body, ..
            }) => assert!(body.contains(needle), "{what}: {body}"),
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn garbage_answers_are_malformed_errors() {
    let (node, client) = node_and_client().await;
    let cmd = anchor_cmd(&node, 0, "g", "r");
    let key = cmd.request_key();
    let other = RequestKey([9; 32]);
    let cases: Vec<(&str, String)> = vec![
        ("html", "<html>502 Bad Gateway</html>".into()),
        ("wrong shape", json!({ "requestKeys": 5 }).to_string()),
        ("short key", json!({ "requestKeys": ["AAAA"] }).to_string()),
        (
            "other key",
            json!({ "requestKeys": [other.to_string()] }).to_string(),
        ),
        ("empty", String::new()),
    ];
    for (what, body) in cases {
        node.respond_next(200, body);
        let err = client
            .send(C, std::slice::from_ref(&cmd))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err.last(),
                Error::Malformed {
                    what: "send response",
                    ..
                }
            ),
            "{what}: {err}"
        );
    }
    let polls = [
        json!([1, 2]),
        json!({ "AAAA": {} }),
        json!({ key.to_string(): { "reqKey": key.to_string(), "result": { "status": "maybe" } } }),
        json!({ key.to_string(): { "reqKey": other.to_string(), "result": { "status": "success" } } }),
        json!({ other.to_string(): { "reqKey": other.to_string(), "result": { "status": "success" } } }),
        json!({ key.to_string(): { "reqKey": key.to_string(), "result": { "status": "success" }, "metaData": { "blockHash": "x" } } }),
        json!({ key.to_string(): { "reqKey": key.to_string(), "result": { "status": "success" }, "gas": -1 } }),
    ];
    for body in polls {
        node.respond_next(200, body.to_string());
        let err = client.poll(C, &[key], None).await.unwrap_err();
        assert!(
            matches!(
                err.last(),
                Error::Malformed {
                    what: "poll response",
                    ..
                }
            ),
            "{body}: {err}"
        );
    }
    node.respond_next(200, "{\"reqKey\": 1}");
    assert!(matches!(
        client.listen(C, key).await.unwrap_err().last(),
        Error::Malformed { .. }
    ));
    node.respond_next(200, "{\"hashes\": []}");
    assert!(matches!(
        client.cut().await.unwrap_err().last(),
        Error::Malformed { what: "cut", .. }
    ));
    node.respond_next(200, "{\"items\": [{\"height\": 1}]}");
    assert!(matches!(
        client.headers(C, 0, 1).await.unwrap_err().last(),
        Error::Malformed { .. }
    ));
}

#[tokio::test]
async fn random_bytes_from_a_node_never_panic_the_client() {
    let (node, client) = node_and_client().await;
    let mut rng = StdRng::seed_from_u64(42);
    let key = RequestKey([1; 32]);
    for i in 0..40 {
        let len = rng.gen_range(0..200);
        let bytes: Vec<u8> = (0..len).map(|_| rng.r#gen()).collect();
        let body = String::from_utf8_lossy(&bytes).into_owned();
        node.respond_next(200, body);
        let result = match i % 5 {
            0 => client.poll(C, &[key], None).await.map(|_| ()),
            1 => client.spv(C, key, C).await.map(|_| ()),
            2 => client
                .header(C, &ancora_proof::Hash([2; 32]))
                .await
                .map(|_| ()),
            3 => client.cut().await.map(|_| ()),
            _ => client.listen(C, key).await.map(|_| ()),
        };
        assert!(result.is_err(), "case {i}");
    }
}

#[tokio::test]
async fn malformed_proof_strings_are_rejected() {
    let (node, client) = node_and_client().await;
    let key = client
        .send(C, &[anchor_cmd(&node, 0, "p", "r")])
        .await
        .unwrap()[0];
    node.mine(1);
    let good = client.spv(C, key, C).await.unwrap();
    let json_proof = good.proof.to_json();
    let wrong_alg = json_proof.replace("SHA512t_256", "Keccak_256");
    let wrong_chain = json_proof.replacen("\"chain\":0", "\"chain\":5", 1);
    let mut truncated = good.proof.clone();
    truncated.object.steps.pop();
    let truncated_object = {
        let mut v: serde_json::Value = serde_json::from_str(&json_proof).unwrap();
        let obj = ancora_proof::hash::b64url_decode(v["object"].as_str().unwrap()).unwrap();
        v["object"] = b64url_encode(&obj[..obj.len() - 5]).into();
        v.to_string()
    };
    let cases = [
        ("not a string", "42".to_owned()),
        ("not base64", "\"***\"".to_owned()),
        (
            "not JSON inside",
            format!("\"{}\"", b64url_encode(b"hello")),
        ),
        (
            "algorithm",
            format!("\"{}\"", b64url_encode(wrong_alg.as_bytes())),
        ),
        (
            "chain",
            format!("\"{}\"", b64url_encode(wrong_chain.as_bytes())),
        ),
        (
            "object length",
            format!("\"{}\"", b64url_encode(truncated_object.as_bytes())),
        ),
    ];
    for (what, body) in cases {
        node.respond_next(200, body);
        let err = client.spv(C, key, C).await.unwrap_err();
        assert!(
            matches!(
                err.last(),
                Error::Malformed {
                    what: "SPV proof",
                    ..
                }
            ),
            "{what}: {err}"
        );
    }
    // A proof that decodes but lost a step leads nowhere: the header it names does not exist.
    node.respond_next(200, format!("\"{}\"", truncated.encode_response()));
    let cut_short = client.spv(C, key, C).await.unwrap();
    let err = client.header(C, &cut_short.proof.run()).await.unwrap_err();
    assert!(matches!(err, Error::Rejected { status: 404, .. }), "{err}");
}

#[test]
fn request_keys_must_be_32_bytes_of_unpadded_base64url() {
    let good = RequestKey([5; 32]).to_string();
    assert_eq!(RequestKey::parse(&good).unwrap(), RequestKey([5; 32]));
    for bad in [
        "",
        "AAAA",
        &b64url_encode(&[0; 31]),
        &b64url_encode(&[0; 33]),
        &format!("{good}="),
        "pMohh9G2NT1jQn4byK1iwvoLopbnU86NeNPSUq8I0i+",
        "not a key at all!",
    ] {
        let err = RequestKey::parse(bad).unwrap_err();
        assert!(matches!(err, Error::RequestKey(_)), "{bad}");
    }
    assert!(
        "7".parse::<ChainId>().is_ok()
            && "-1".parse::<ChainId>().is_err()
            && "".parse::<ChainId>().is_err()
    );
}

#[tokio::test]
async fn headers_whose_fields_do_not_hash_to_their_claimed_hash_are_proof_errors() {
    let (node, client) = node_and_client().await;
    node.mine(1);
    let real = node.header(0, 1).unwrap();
    let hash = real.hash.unwrap();

    let mut forged = real.to_json_value();
    forged["nonce"] = "12345".into();
    node.respond_next(200, forged.to_string());
    let err = client.header(C, &hash).await.unwrap_err();
    assert!(
        matches!(
            err.last(),
            Error::Proof(ancora_proof::Error::HeaderHashMismatch { .. })
        ),
        "{err}"
    );

    let other = node.header(0, 0).unwrap().to_json_value();
    node.respond_next(200, other.to_string());
    let err = client.header(C, &hash).await.unwrap_err();
    assert!(
        matches!(
            err.last(),
            Error::Proof(ancora_proof::Error::RootMismatch { .. })
        ),
        "{err}"
    );

    node.respond_next(200, json!({ "items": [forged], "next": null }).to_string());
    let err = client.headers(C, 1, 1).await.unwrap_err();
    assert!(
        matches!(
            err.last(),
            Error::Proof(ancora_proof::Error::HeaderHashMismatch { .. })
        ),
        "{err}"
    );

    let on_chain_1 = node.header(1, 1).unwrap().to_json_value();
    node.respond_next(200, on_chain_1.to_string());
    assert!(matches!(
        client.header(C, &hash).await.unwrap_err().last(),
        Error::Malformed { .. }
    ));

    // A forged node first, an honest one second: the client fails over and gets the truth.
    let liar = TestNode::start().await.unwrap();
    liar.respond_next(200, forged.to_string());
    let both = NodeClient::new(config(vec![liar.base_url(), node.base_url()])).unwrap();
    assert_eq!(both.header(C, &hash).await.unwrap(), real);

    let err = client
        .header(C, &ancora_proof::Hash([3; 32]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Rejected { status: 404, .. }), "{err}");
}

#[test]
fn a_client_needs_nodes_a_scheme_and_a_network() {
    assert!(matches!(
        NodeClient::new(config(vec![])),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        NodeClient::new(config(vec!["ftp://x".into()])),
        Err(Error::Config(_))
    ));
    let mut cfg = config(vec!["http://127.0.0.1:1".into()]);
    cfg.network = "main/net".into();
    assert!(matches!(NodeClient::new(cfg), Err(Error::Config(_))));
}
