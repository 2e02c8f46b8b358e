//! Helpers: the vendored vectors, a node double with a fast client, anchor commands.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use ancora_chainweb::testkit::TestNode;
use ancora_chainweb::{
    ChainId, NodeClient, NodeClientConfig, PactCommand, SecretKey, SignedCommand, Signer,
};

/// The proof core's vendored vectors (exact copies of `shared/vectors`).
pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../proof/tests/vectors")
}

pub fn load(name: &str) -> serde_json::Value {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// A fixed test key (not the vector's, to keep the two apart).
pub fn key() -> SecretKey {
    SecretKey::from_bytes(&[7u8; 32])
}

/// Client settings for tests: short timeouts and backoffs.
pub fn config(nodes: Vec<String>) -> NodeClientConfig {
    let mut cfg = NodeClientConfig::new(nodes, "mainnet01");
    cfg.request_timeout = Duration::from_millis(1_500);
    cfg.listen_timeout = Duration::from_secs(10);
    cfg.attempts_per_node = 3;
    cfg.backoff = Duration::from_millis(10);
    cfg.max_backoff = Duration::from_millis(40);
    cfg
}

pub async fn node_and_client() -> (TestNode, NodeClient) {
    let node = TestNode::start().await.unwrap();
    let client = NodeClient::new(config(vec![node.base_url()])).unwrap();
    (node, client)
}

/// `(ancora-anchor.record-anchor id root)` on `chain`, created now by the node's clock.
pub fn anchor_cmd(node: &TestNode, chain: u32, id: &str, root: &str) -> SignedCommand {
    let k = key();
    PactCommand::exec(format!("(ancora-anchor.record-anchor \"{id}\" \"{root}\")"))
        .network(node.network())
        .chain(ChainId(chain))
        .sender(format!("k:{}", k.public_key_hex()))
        .gas_limit(1_000)
        .ttl(600)
        .creation_time(node.now_secs())
        .nonce(format!("anchor-{id}"))
        .signer(Signer::of(&k))
        .sign(&[&k])
        .unwrap()
}
