//! Chainweb headers and payloads against the real mainnet genesis data and the binary golden
//! header: every hash recomputed from fields, every encoding round-tripped.

use ancora_proof::Error;
use ancora_proof::chainweb::header::genesis_parent_hash;
use ancora_proof::chainweb::tags::{Tag, tagged, untag};
use ancora_proof::chainweb::version::MAINNET01;
use ancora_proof::chainweb::{BlockHeader, Payload, payload_hash};
use ancora_proof::hash::{Hash, b64url_decode};
use serde_json::Value;

use crate::common::load;

fn hash(v: &Value) -> Hash {
    Hash::from_b64url(v.as_str().expect("a hash string")).expect("a base64url hash")
}

/// The ten real mainnet01 genesis headers as JSON values.
pub fn genesis_header_values() -> Vec<Value> {
    load("mainnet01-genesis-headers.json")["headers"]
        .as_array()
        .expect("headers array")
        .clone()
}

/// The real mainnet01 genesis header of `chain`.
pub fn genesis_header(chain: u32) -> BlockHeader {
    let v = genesis_header_values()
        .into_iter()
        .find(|h| h["chainId"] == chain)
        .expect("a genesis header for the chain");
    BlockHeader::from_json_value(&v).expect("the genesis header parses")
}

/// The real mainnet01 chain-1 genesis payload.
pub fn chain1_payload() -> Payload {
    Payload::from_json_value(&load("genesis-payload-mainnet01-chain1.json"))
        .expect("the chain-1 genesis payload parses")
}

#[test]
fn every_genesis_payload_hash_is_the_node_of_its_transactions_and_outputs_hashes() {
    let v = load("genesis-payload-hashes.json");
    let payloads = v["payloads"].as_array().expect("payloads array");
    assert_eq!(payloads.len(), 20);
    for p in payloads {
        let computed = payload_hash(
            hash(&p["recomputedTransactionsHash"]),
            hash(&p["recomputedOutputsHash"]),
        );
        assert_eq!(computed, hash(&p["expectedPayloadHash"]), "{}", p["file"]);
        assert_eq!(computed, hash(&p["recomputedPayloadHash"]), "{}", p["file"]);
    }
}

#[test]
fn the_chain_1_genesis_payload_recomputes_from_its_raw_transactions_and_outputs() {
    let v = load("genesis-payload-mainnet01-chain1.json");
    let payload = chain1_payload();
    assert_eq!(payload.transactions.len(), 6);
    let h = payload.hashes();
    assert_eq!(
        h.transactions_hash,
        hash(&v["recomputed"]["transactionsHash"])
    );
    assert_eq!(h.outputs_hash, hash(&v["recomputed"]["outputsHash"]));
    assert_eq!(h.payload_hash, hash(&v["recomputed"]["payloadHash"]));
    assert_eq!(h.payload_hash, hash(&v["expected"]["payloadHash"]));
    assert_eq!(h.payload_hash, genesis_header(1).payload_hash);
}

#[test]
fn a_payload_survives_its_own_json_and_a_wrong_claimed_hash_is_rejected() {
    let payload = chain1_payload();
    let json = payload.to_json_value();
    assert_eq!(Payload::from_json_value(&json), Ok(payload.clone()));

    let mut forged = json.clone();
    forged["transactions"][0][1] = Value::String("e30".to_owned()); // "{}"
    let err = Payload::from_json_value(&forged).expect_err("claimed hashes no longer match");
    assert!(err.to_string().contains("payload claims"), "{err}");

    let mut bad = json;
    bad["coinbase"] = Value::String("!!".to_owned());
    let err = Payload::from_json_value(&bad).expect_err("bad base64");
    assert!(matches!(err, Error::BadEncoding(_)), "{err}");
    assert!(err.to_string().contains("coinbase"), "{err}");
}

#[test]
fn all_ten_mainnet_genesis_headers_hash_to_their_block_hash() {
    let values = genesis_header_values();
    assert_eq!(values.len(), 10);
    for v in &values {
        let header = BlockHeader::from_json_value(v).expect("parses");
        assert_eq!(header.version, MAINNET01);
        assert_eq!(
            header.compute_hash(),
            hash(&v["hash"]),
            "chain {}",
            header.chain_id
        );
        assert_eq!(header.check_hash(), Ok(hash(&v["hash"])));
    }
}

#[test]
fn genesis_parents_and_adjacents_are_the_genesis_parent_hashes_of_their_chains() {
    for v in genesis_header_values() {
        let header = BlockHeader::from_json_value(&v).expect("parses");
        assert_eq!(
            header.parent,
            genesis_parent_hash(MAINNET01, header.chain_id)
        );
        assert_eq!(header.adjacents.len(), 3);
        for (chain, adjacent) in &header.adjacents {
            assert_eq!(*adjacent, genesis_parent_hash(MAINNET01, *chain));
        }
    }
}

#[test]
fn a_genesis_header_survives_its_json_and_binary_encodings() {
    for v in genesis_header_values() {
        let header = BlockHeader::from_json_value(&v).expect("parses");
        assert_eq!(header.to_json_value(), v);
        let text = serde_json::to_string(&header).expect("serializes");
        assert_eq!(
            serde_json::from_str::<BlockHeader>(&text).expect("deserializes"),
            header
        );
        let bytes = header.encode();
        assert_eq!(bytes.len(), 318);
        assert_eq!(BlockHeader::decode(&bytes), Ok(header.clone()));
        let as_string = Value::String(header.to_b64url());
        assert_eq!(BlockHeader::from_json_value(&as_string), Ok(header));
    }
}

#[test]
fn the_binary_golden_header_decodes_rehashes_and_reencodes_byte_for_byte() {
    let v = load("binary-header-golden.json");
    let bytes = b64url_decode(v["headerBase64Url"].as_str().expect("string")).expect("b64url");
    assert_eq!(bytes.len(), 318);
    let header = BlockHeader::decode(&bytes).expect("decodes");
    assert_eq!(header.version, 0x8000_000e);
    assert_eq!(header.compute_hash(), hash(&v["expectedHash"]));
    assert_eq!(header.check_hash(), Ok(hash(&v["expectedHash"])));
    assert_eq!(header.encode(), bytes);
}

#[test]
fn the_binary_golden_header_agrees_with_its_decoded_json() {
    let v = load("binary-header-golden.json");
    let header =
        BlockHeader::from_b64url(v["headerBase64Url"].as_str().expect("string")).expect("decodes");
    // The vector names the fork state `forkState`; the node's JSON names it `featureFlags`.
    let mut expected = v["decoded"].clone();
    let obj = expected.as_object_mut().expect("object");
    let fork_state = obj.remove("forkState").expect("forkState");
    obj.insert("featureFlags".to_owned(), fork_state);
    assert_eq!(header.to_json_value(), expected);
    let from_json = BlockHeader::from_json_value(&expected).expect("parses");
    assert_eq!(from_json, header);
    assert_eq!(from_json.to_b64url(), v["headerBase64Url"]);
}

#[test]
fn the_binary_golden_header_commits_to_the_fast_timed_cpm_genesis_payload() {
    let header = BlockHeader::from_b64url(
        load("binary-header-golden.json")["headerBase64Url"]
            .as_str()
            .expect("string"),
    )
    .expect("decodes");
    let payloads = load("genesis-payload-hashes.json");
    let fast = payloads["payloads"]
        .as_array()
        .expect("array")
        .iter()
        .find(|p| {
            p["file"]
                .as_str()
                .is_some_and(|f| f.ends_with("FastTimedCPM0Payload.hs"))
        })
        .expect("the FastTimedCPM0 payload");
    assert_eq!(header.payload_hash, hash(&fast["expectedPayloadHash"]));
}

/// A named change to a header's fields.
type Forgery = (&'static str, fn(&mut BlockHeader));

#[test]
fn changing_any_header_field_changes_the_hash_and_is_caught_as_forgery() {
    let genuine = genesis_header(1);
    let forgeries: Vec<Forgery> = vec![
        ("fork state", |h| h.fork_state += 1),
        ("creation time", |h| h.creation_time += 1),
        ("parent", |h| h.parent.0[0] ^= 1),
        ("target", |h| h.target[31] ^= 1),
        ("payload hash", |h| h.payload_hash.0[5] ^= 1),
        ("chain id", |h| h.chain_id = 7),
        ("weight", |h| h.weight[0] = 1),
        ("height", |h| h.height = 1),
        ("version", |h| h.version = 7),
        ("epoch start", |h| h.epoch_start += 1),
        ("nonce", |h| h.nonce = 42),
        ("adjacent", |h| {
            h.adjacents.insert(3, Hash([9; 32]));
        }),
    ];
    for (what, forge) in forgeries {
        let mut h = genuine.clone();
        forge(&mut h);
        let err = h.check_hash().expect_err(what);
        assert!(
            matches!(err, Error::HeaderHashMismatch { claimed, .. } if Some(claimed) == genuine.hash),
            "{what}: {err}"
        );
    }
}

#[test]
fn a_header_without_a_claimed_hash_cannot_be_checked_but_still_hashes() {
    let mut h = genesis_header(0);
    let claimed = h.hash.take().expect("has a hash");
    assert!(matches!(h.check_hash(), Err(Error::Invalid(_))));
    assert_eq!(h.verified_hash(), Ok(claimed));
    assert_eq!(h.to_json_value().get("hash"), None);
    assert_eq!(
        BlockHeader::decode(&h.encode()).expect("decodes").hash,
        Some(claimed)
    );
}

#[test]
fn malformed_binary_headers_are_rejected_with_their_length() {
    let bytes = genesis_header(2).encode();
    for len in [0, 10, 49, 50, 317] {
        let err = BlockHeader::decode(&bytes[..len]).expect_err("too short");
        assert!(
            matches!(err, Error::BadLength { actual, .. } if actual == len),
            "{err}"
        );
    }
    let mut long = bytes.clone();
    long.push(0);
    assert!(matches!(
        BlockHeader::decode(&long),
        Err(Error::BadLength {
            expected: 318,
            actual: 319,
            ..
        })
    ));
    let mut unsorted = bytes;
    unsorted[50..54].copy_from_slice(&99u32.to_le_bytes());
    assert!(matches!(
        BlockHeader::decode(&unsorted),
        Err(Error::Invalid(_))
    ));
}

#[test]
fn malformed_json_headers_are_rejected_with_the_field_at_fault() {
    let good = genesis_header_values().remove(0);
    let cases: Vec<(&str, Value)> = vec![
        ("nonce", serde_json::json!("12x")),
        ("nonce", serde_json::json!("")),
        ("chainwebVersion", serde_json::json!("mainnet02")),
        ("parent", serde_json::json!("AAAA")),
        ("target", serde_json::json!("AAAA")),
        ("height", serde_json::json!(-1)),
        (
            "adjacents",
            serde_json::json!({"x": "wJ6fVF6_vrzfemqQsWB6nCzfrMwznbZscn53-0DpAcI"}),
        ),
    ];
    for (field, bad) in cases {
        let mut v = good.clone();
        v[field] = bad;
        let err = BlockHeader::from_json_value(&v).expect_err(field);
        let msg = err.to_string();
        assert!(!msg.contains('\n'), "{field}: one line: {msg}");
        assert!(
            msg.starts_with("bad JSON: block header") || msg.starts_with("block header"),
            "{field}: {msg}"
        );
        assert!(
            msg.contains(field),
            "{field}: the message names the field: {msg}"
        );
    }
    let mut numeric_nonce = good.clone();
    numeric_nonce["nonce"] = serde_json::json!(0);
    assert!(BlockHeader::from_json_value(&numeric_nonce).is_ok());
    let mut missing = good.clone();
    missing.as_object_mut().expect("object").remove("target");
    let err = BlockHeader::from_json_value(&missing).expect_err("missing target");
    assert_eq!(
        err.to_string(),
        "bad JSON: block header: missing field `target`"
    );
    assert!(BlockHeader::from_json("not json").is_err());
    assert!(BlockHeader::from_json("[1]").is_err());
    assert!(BlockHeader::from_json("\"!!\"").is_err());
}

#[test]
fn a_tagged_leaf_is_its_big_endian_tag_followed_by_the_value() {
    assert_eq!(Tag::TransactionOutput.code(), 0x0014);
    assert_eq!(Tag::MinerData.prefix(), [0x00, 0x17]);
    let leaf = tagged(Tag::Nonce, &7u64.to_le_bytes());
    assert_eq!(&leaf[..2], &[0x00, 0x20]);
    assert_eq!(untag(Tag::Nonce, &leaf), Ok(&7u64.to_le_bytes()[..]));
    assert_eq!(
        untag(Tag::ChainId, &leaf),
        Err(Error::WrongTag {
            expected: 0x0002,
            actual: 0x0020
        })
    );
}
