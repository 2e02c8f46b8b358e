//! Chainweb SPV proofs: the real cross-chain `/pact/spv` response, the Keccak payload proof,
//! real positive proofs built from the chain-1 genesis block, and their tampered twins.

use ancora_proof::Error;
use ancora_proof::chainweb::{BlockHeader, Payload, Tag, tagged};
use ancora_proof::hash::{Hash, HashAlgorithm, b64url_decode, b64url_encode};
use ancora_proof::merkle::{MerkleProof, Side};
use ancora_proof::spv::{
    HeaderLink, PayloadProof, RootType, Subject, TransactionOutputProof, build_output_proof,
    header_hash_from_json, header_link_proof, verify_against_header, verify_spv_text,
};
use proptest::prelude::*;
use serde_json::Value;

use crate::chainweb::{chain1_payload, genesis_header, genesis_header_values};
use crate::common::load;

fn crosschain() -> Value {
    load("spv-txout-proof-crosschain.json")
}

fn crosschain_proof() -> TransactionOutputProof {
    TransactionOutputProof::decode_response(crosschain()["responseBody"].as_str().expect("string"))
        .expect("the real response decodes")
}

/// A real, checkable proof: output `i` of the chain-1 genesis block up to its header.
fn genesis_proof(i: usize) -> TransactionOutputProof {
    build_output_proof(&chain1_payload(), i, &genesis_header(1)).expect("builds")
}

fn verify_response(response: &str) -> Result<ancora_proof::spv::SpvVerification, Error> {
    let proof = TransactionOutputProof::decode_response(response)?;
    verify_against_header(&proof, 1, &genesis_header(1))
}

/// Re-encodes a proof after changing the decoded proof JSON.
fn with_json(proof: &TransactionOutputProof, edit: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(&proof.to_json()).expect("json");
    edit(&mut v);
    b64url_encode(v.to_string().as_bytes())
}

// ----- the real cross-chain response -----

#[test]
fn the_cross_chain_response_decodes_into_sixteen_steps_with_the_recorded_side_bits() {
    let v = crosschain();
    let proof = crosschain_proof();
    assert_eq!(proof.chain, 1);
    assert_eq!(proof.algorithm, HashAlgorithm::Sha512_256);
    assert_eq!(proof.object.position, v["decoded"]["subjectPosition"]);
    let steps = v["decoded"]["steps"].as_array().expect("steps");
    assert_eq!(proof.object.steps.len(), 16);
    assert_eq!(steps.len(), 16);
    for (got, want) in proof.object.steps.iter().zip(steps) {
        assert_eq!(
            u64::from(got.side.byte()),
            want["side"],
            "step {}",
            want["i"]
        );
        assert_eq!(
            got.sibling.to_b64url(),
            want["sibling"],
            "step {}",
            want["i"]
        );
    }
}

#[test]
fn the_cross_chain_proof_runs_to_the_recorded_root() {
    let root = crosschain_proof().run();
    assert_eq!(root.to_b64url(), crosschain()["recomputed"]["root"]);
}

#[test]
fn the_cross_chain_subject_is_a_tagged_command_result_equal_to_the_decoded_json() {
    let v = crosschain();
    let proof = crosschain_proof();
    let Subject::Input(bytes) = &proof.subject else {
        panic!("an input subject");
    };
    assert_eq!(&bytes[..2], &[0x00, 0x14]);
    let result = proof.command_result().expect("a CommandResult");
    assert_eq!(result.json(), &v["decoded"]["subjectJson"]);
    assert_eq!(result.req_key(), v["request"]["requestKey"].as_str());
    assert_eq!(
        result.request_key().map(|h| h.to_b64url()).as_deref(),
        v["request"]["requestKey"].as_str()
    );
    assert_eq!(result.status(), Some("success"));
    assert!(result.is_success());
    assert_eq!(
        result.data(),
        Some(&v["decoded"]["subjectJson"]["result"]["data"])
    );
}

#[test]
fn re_encoding_the_cross_chain_proof_reproduces_the_response_byte_for_byte() {
    let v = crosschain();
    let proof = crosschain_proof();
    assert_eq!(proof.encode_response(), v["responseBody"]);
    let decoded: Value = serde_json::from_str(&proof.to_json()).expect("json");
    assert_eq!(decoded, v["decodedProof"]);
}

#[test]
fn the_response_is_accepted_as_a_json_string_with_whitespace_or_as_decoded_json() {
    let body = crosschain()["responseBody"]
        .as_str()
        .expect("string")
        .to_owned();
    let expected = crosschain_proof();
    for text in [
        format!("\"{body}\""),
        format!("  \"{body}\"\n"),
        format!("{body}\n"),
    ] {
        assert_eq!(
            TransactionOutputProof::decode_response(&text),
            Ok(expected.clone())
        );
    }
    let json = crosschain()["decodedProof"].to_string();
    assert_eq!(TransactionOutputProof::decode_response(&json), Ok(expected));
}

#[test]
fn the_cross_chain_proof_is_rejected_against_a_header_it_does_not_lead_to() {
    let proof = crosschain_proof();
    let err = verify_against_header(&proof, 1, &genesis_header(1)).expect_err("another block");
    assert!(
        matches!(err, Error::RootMismatch { root, .. } if root == proof.run()),
        "{err}"
    );
    let err = verify_against_header(&proof, 0, &genesis_header(0)).expect_err("wrong chain");
    assert_eq!(
        err,
        Error::WrongChain {
            expected: 0,
            actual: 1
        }
    );
    let err = verify_against_header(&proof, 1, &genesis_header(0)).expect_err("header chain");
    assert_eq!(
        err,
        Error::HeaderChainMismatch {
            header: 0,
            proof: 1
        }
    );
    for e in [
        err,
        Error::RootMismatch {
            what: "x",
            root: Hash::default(),
            expected: Hash::default(),
        },
    ] {
        assert!(!e.to_string().contains('\n'));
    }
}

#[test]
fn a_proof_built_across_three_chain_hops_has_the_shape_of_chainwebs_own() {
    // Same layout as the real proof: a 1-transaction block on chain 0, then headers on
    // chains 10, 11 and 1 whose adjacent parents (sorted) put the previous chain at index
    // 0, 1 and 1. The siblings differ (other data); every side bit must agree.
    let source = synthetic_header(0, [2, 3, 5], None);
    let payload = one_tx_payload();
    let source = BlockHeader {
        payload_hash: payload.hashes().payload_hash,
        ..source
    };
    let mut proof = build_output_proof(&payload, 0, &source).expect("builds");
    let mut prev = source;
    for (chain, adjacents, from) in [
        (10, [0, 15, 19], 0),
        (11, [1, 10, 12], 10),
        (1, [6, 11, 16], 11),
    ] {
        let next = synthetic_header(chain, adjacents, Some((from, prev.compute_hash())));
        proof
            .extend(&next, HeaderLink::Adjacent(from))
            .expect("links");
        assert_eq!(proof.run(), next.compute_hash());
        prev = next;
    }
    assert_eq!(proof.chain, 1);
    assert_eq!(proof.object.position, 1);
    let real = crosschain_proof();
    let sides =
        |p: &TransactionOutputProof| p.object.steps.iter().map(|s| s.side).collect::<Vec<_>>();
    assert_eq!(sides(&proof), sides(&real));
    let v = verify_against_header(&proof, 1, &prev).expect("verifies against the last header");
    assert_eq!(v.header_hash, prev.compute_hash());
}

// ----- the Keccak payload proof -----

#[test]
fn the_keccak_event_proof_runs_to_its_recorded_root() {
    let v = load("keccak-event-proof.json");
    let proof = PayloadProof::from_json_value(&v["proof"]).expect("decodes");
    assert_eq!(proof.algorithm, HashAlgorithm::Keccak256);
    assert_eq!(proof.root_type, RootType::BlockEvents);
    assert!(proof.object.steps.is_empty());
    assert_eq!(proof.run().to_b64url(), v["expected"]["root"]);
    assert_eq!(proof.to_json_value(), v["proof"]);
    let events = proof
        .subject
        .untag(Tag::OutputEvents)
        .expect("an OutputEvents leaf");
    assert_eq!(b64url_encode(&events[4..36]), v["expected"]["requestKey"]);
    assert_eq!(events[36..40], 4u32.to_le_bytes());
}

#[test]
fn a_legacy_spv_proof_may_not_use_keccak() {
    let proof = genesis_proof(0);
    let response = with_json(&proof, |v| v["algorithm"] = "Keccak_256".into());
    let err = TransactionOutputProof::decode_response(&response).expect_err("keccak");
    assert!(err.to_string().contains("SHA512t_256"), "{err}");
    let response = with_json(&proof, |v| v["algorithm"] = "MD5".into());
    assert!(matches!(
        TransactionOutputProof::decode_response(&response),
        Err(Error::UnknownAlgorithm(_))
    ));
}

// ----- real positive proofs from the chain-1 genesis block -----

#[test]
fn every_chain_1_genesis_output_proves_into_the_real_genesis_block_hash() {
    let payload = chain1_payload();
    let header = genesis_header(1);
    let block_hash = header.hash.expect("the real hash");
    for (i, (_, output)) in payload.transactions.iter().enumerate() {
        let response = build_output_proof(&payload, i, &header)
            .expect("builds")
            .encode_response();
        let proof = TransactionOutputProof::decode_response(&response).expect("decodes");
        assert_eq!(proof.object.position, i as u64 + 1);
        let v = verify_against_header(&proof, 1, &header).expect("verifies");
        assert_eq!(v.root, block_hash, "tx {i}");
        assert_eq!(v.header_hash, block_hash);
        assert_eq!(v.chain, 1);
        assert_eq!(v.header_height, 0);
        let expected: Value = serde_json::from_slice(output).expect("output JSON");
        assert_eq!(v.subject_json(), &expected, "tx {i}");
        assert!(v.output.is_success(), "tx {i}");
    }
}

#[test]
fn the_text_entry_points_verify_a_real_proof_against_a_json_or_binary_header() {
    let response = genesis_proof(3).encode_response();
    let header_json = genesis_header_values()[1].to_string();
    let v = verify_spv_text(&format!("\"{response}\""), &header_json, None).expect("verifies");
    assert_eq!(Some(v.header_hash), genesis_header(1).hash);
    let binary = format!("\"{}\"", genesis_header(1).to_b64url());
    assert!(verify_spv_text(&response, &binary, Some(1)).is_ok());
    assert_eq!(
        verify_spv_text(&response, &header_json, Some(0)),
        Err(Error::WrongChain {
            expected: 0,
            actual: 1
        })
    );
    let (computed, claimed) = header_hash_from_json(&header_json).expect("hashes");
    assert_eq!(Some(computed), claimed);
}

#[test]
fn building_a_proof_for_a_missing_transaction_or_a_foreign_payload_fails() {
    let payload = chain1_payload();
    assert_eq!(
        build_output_proof(&payload, 6, &genesis_header(1)),
        Err(Error::IndexOutOfRange { index: 6, len: 6 })
    );
    assert!(matches!(
        build_output_proof(&payload, 0, &genesis_header(2)),
        Err(Error::RootMismatch { .. })
    ));
    let mut forged = genesis_header(1);
    forged.nonce = 1;
    assert!(matches!(
        build_output_proof(&payload, 0, &forged),
        Err(Error::HeaderHashMismatch { .. })
    ));
}

#[test]
fn a_proof_extends_through_a_child_on_the_same_chain_and_a_neighbour() {
    let genesis = genesis_header(1);
    let mut proof = genesis_proof(0);
    let child = BlockHeader {
        parent: genesis.compute_hash(),
        height: 1,
        hash: None,
        ..genesis.clone()
    };
    proof
        .extend(&child, HeaderLink::Parent)
        .expect("parent link");
    assert_eq!(proof.run(), child.compute_hash());
    let mut neighbour = genesis_header(3);
    neighbour.adjacents.insert(1, child.compute_hash());
    neighbour.height = 2;
    neighbour.hash = None;
    proof
        .extend(&neighbour, HeaderLink::Adjacent(1))
        .expect("adjacent link");
    assert_eq!(proof.chain, 3);
    let v = verify_against_header(&proof, 3, &neighbour).expect("verifies");
    assert_eq!(v.header_height, 2);
    assert_eq!(
        header_link_proof(&neighbour, HeaderLink::Adjacent(1))
            .expect("a link")
            .run(
                HashAlgorithm::Sha512_256,
                ancora_proof::Leaf::Tree(child.compute_hash())
            ),
        neighbour.compute_hash()
    );
}

#[test]
fn a_proof_does_not_extend_through_a_header_that_does_not_name_its_root() {
    let mut proof = genesis_proof(0);
    let before = proof.clone();
    let stranger = genesis_header(3); // its parent is a genesis parent, not block 1's hash
    assert!(matches!(
        proof.extend(&stranger, HeaderLink::Parent),
        Err(Error::RootMismatch { .. })
    ));
    let err = proof
        .extend(&stranger, HeaderLink::Adjacent(9))
        .expect_err("chain 3 has no adjacent on chain 9");
    assert!(
        err.to_string().contains("no adjacent parent on chain 9"),
        "{err}"
    );
    assert_eq!(proof, before);
}

// ----- tampered twins -----

#[test]
fn a_flipped_sibling_bit_is_rejected() {
    let mut proof = genesis_proof(2);
    proof.object.steps[1].sibling.0[7] ^= 0x10;
    let err = verify_response(&proof.encode_response()).expect_err("tampered");
    assert!(matches!(err, Error::RootMismatch { .. }), "{err}");
}

#[test]
fn a_flipped_subject_bit_is_rejected() {
    let mut proof = genesis_proof(2);
    let Subject::Input(bytes) = &mut proof.subject else {
        panic!("an input subject");
    };
    let last = bytes.len() - 2;
    bytes[last] ^= 0x01;
    let err = verify_response(&proof.encode_response()).expect_err("tampered");
    assert!(matches!(err, Error::RootMismatch { .. }), "{err}");
}

#[test]
fn a_bad_side_byte_is_rejected() {
    let proof = genesis_proof(2);
    let mut object = proof.object.encode();
    object[12] = 2;
    let response = with_json(&proof, |v| v["object"] = b64url_encode(&object).into());
    assert_eq!(verify_response(&response), Err(Error::BadSide(2)));
}

#[test]
fn a_swapped_side_is_rejected() {
    let mut proof = genesis_proof(2);
    proof.object.steps[0].side = match proof.object.steps[0].side {
        Side::Left => Side::Right,
        Side::Right => Side::Left,
    };
    assert!(matches!(
        verify_response(&proof.encode_response()),
        Err(Error::RootMismatch { .. })
    ));
}

#[test]
fn a_proof_for_another_chain_is_rejected() {
    let mut proof = genesis_proof(2);
    proof.chain = 2;
    assert_eq!(
        verify_response(&proof.encode_response()),
        Err(Error::WrongChain {
            expected: 1,
            actual: 2
        })
    );
}

#[test]
fn a_truncated_object_is_rejected() {
    let proof = genesis_proof(2);
    let object = proof.object.encode();
    for cut in [1, 32, object.len() - 11] {
        let short = &object[..object.len() - cut];
        let response = with_json(&proof, |v| v["object"] = b64url_encode(short).into());
        let err = verify_response(&response).expect_err("truncated");
        assert!(matches!(err, Error::BadLength { .. }), "{err}");
    }
}

#[test]
fn a_forged_header_is_rejected_whether_or_not_its_hash_was_recomputed() {
    let proof = genesis_proof(4);
    let mut forged = genesis_header(1);
    forged.creation_time += 1; // claimed hash kept
    assert!(matches!(
        verify_against_header(&proof, 1, &forged),
        Err(Error::HeaderHashMismatch { .. })
    ));
    forged.hash = Some(forged.compute_hash()); // consistent, but not the block proven
    assert!(matches!(
        verify_against_header(&proof, 1, &forged),
        Err(Error::RootMismatch { .. })
    ));
}

#[test]
fn bad_base64_and_bad_json_are_rejected_with_one_line_messages() {
    let response = genesis_proof(0).encode_response();
    let cases = [
        format!("{}*", &response[..response.len() - 1]),
        "\"unterminated".to_owned(),
        b64url_encode(b"not json"),
        b64url_encode(&[0xff, 0xfe]),
        b64url_encode(b"{\"chain\":1}"),
        String::new(),
    ];
    for text in cases {
        let err = TransactionOutputProof::decode_response(&text).expect_err(&text);
        let msg = err.to_string();
        assert!(!msg.is_empty() && !msg.contains('\n'), "{msg}");
    }
    let bad_object = with_json(&genesis_proof(0), |v| v["object"] = "A*".into());
    let err = verify_response(&bad_object).expect_err("bad object");
    assert!(
        matches!(err, Error::BadEncoding(ref m) if m.contains("object")),
        "{err}"
    );
    let bad_subject = with_json(&genesis_proof(0), |v| v["subject"]["input"] = "A*".into());
    let err = verify_response(&bad_subject).expect_err("bad subject");
    assert!(
        matches!(err, Error::BadEncoding(ref m) if m.contains("subject")),
        "{err}"
    );
}

#[test]
fn a_valid_proof_of_a_transaction_instead_of_its_output_fails_on_the_tag() {
    // Prove the signed command (transactions tree, tag 0x0013) into the real header: the
    // root is right, the subject is not an output.
    let payload = chain1_payload();
    let header = genesis_header(1);
    let h = payload.hashes();
    let object = payload
        .transactions_tree()
        .proof(1)
        .expect("leaf")
        .then(
            &ancora_proof::chainweb::payload_tree(h.transactions_hash, h.outputs_hash)
                .proof(0)
                .expect("leaf"),
        )
        .then(&header.merkle_tree().proof(4).expect("leaf"));
    let proof = TransactionOutputProof {
        chain: 1,
        object,
        subject: Subject::Input(tagged(Tag::Transaction, &payload.transactions[0].0)),
        algorithm: HashAlgorithm::Sha512_256,
    };
    assert_eq!(proof.run(), header.compute_hash());
    assert_eq!(
        verify_against_header(&proof, 1, &header),
        Err(Error::WrongTag {
            expected: 0x0014,
            actual: 0x0013
        })
    );
}

#[test]
fn a_tree_subject_is_not_a_transaction_output() {
    let header = genesis_header(1);
    let proof = TransactionOutputProof {
        chain: 1,
        object: header.merkle_tree().proof(4).expect("leaf"),
        subject: Subject::Tree(header.payload_hash),
        algorithm: HashAlgorithm::Sha512_256,
    };
    let response = proof.encode_response();
    let decoded = TransactionOutputProof::decode_response(&response).expect("decodes");
    assert_eq!(decoded, proof);
    let err = verify_against_header(&decoded, 1, &header).expect_err("a tree subject");
    assert!(err.to_string().contains("tree root"), "{err}");
}

// ----- robustness -----

proptest! {
    #[test]
    fn decoding_any_string_as_an_spv_response_never_panics(s in ".{0,300}") {
        let _ = TransactionOutputProof::decode_response(&s);
        let _ = PayloadProof::from_json(&s);
        let _ = BlockHeader::from_json(&s);
        let _ = verify_spv_text(&s, &s, None);
    }

    #[test]
    fn decoding_any_bytes_as_proof_objects_responses_or_headers_never_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..700)
    ) {
        let _ = MerkleProof::decode(&bytes);
        let _ = BlockHeader::decode(&bytes);
        let _ = Payload::from_json(&String::from_utf8_lossy(&bytes));
        let _ = TransactionOutputProof::decode_response(&b64url_encode(&bytes));
        let _ = TransactionOutputProof::from_json(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn a_mutated_real_response_verifies_only_if_it_still_says_the_same_thing(
        index in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let original = genesis_proof(1);
        let mut raw = b64url_decode(&original.encode_response()).expect("b64");
        let i = index.index(raw.len());
        raw[i] ^= xor;
        let text = b64url_encode(&raw);
        if let Ok(v) = verify_response(&text) {
            let decoded = TransactionOutputProof::decode_response(&text).expect("decoded before");
            // Only the informational position may differ; everything verified must not.
            prop_assert_eq!(decoded.object.steps, original.object.steps.clone());
            prop_assert_eq!(decoded.subject, original.subject.clone());
            prop_assert_eq!(v.root, genesis_header(1).compute_hash());
        }
    }

    #[test]
    fn a_mutated_proof_object_never_panics_and_never_verifies_with_other_steps(
        index in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let original = genesis_proof(5);
        let mut object = original.object.encode();
        let i = index.index(object.len());
        object[i] ^= xor;
        if let Ok(decoded) = MerkleProof::decode(&object) {
            let proof = TransactionOutputProof { object: decoded.clone(), ..original.clone() };
            let ok = verify_against_header(&proof, 1, &genesis_header(1)).is_ok();
            prop_assert_eq!(ok, decoded.steps == original.object.steps);
        }
    }
}

// ----- helpers for synthetic headers -----

fn one_tx_payload() -> Payload {
    let subject = crosschain_proof();
    let Subject::Input(bytes) = &subject.subject else {
        panic!("an input subject");
    };
    Payload {
        miner_data: b"{}".to_vec(),
        coinbase: b"{}".to_vec(),
        transactions: vec![(b"{}".to_vec(), bytes[2..].to_vec())],
    }
}

fn synthetic_header(chain: u32, adjacents: [u32; 3], link: Option<(u32, Hash)>) -> BlockHeader {
    let mut h = genesis_header(0);
    h.chain_id = chain;
    h.height = 100;
    h.hash = None;
    h.adjacents = adjacents
        .iter()
        .map(|c| (*c, HashAlgorithm::Sha512_256.digest(&[&c.to_le_bytes()])))
        .collect();
    if let Some((from, hash)) = link {
        h.adjacents.insert(from, hash);
    }
    h
}
