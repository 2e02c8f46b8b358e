//! The offline commands of the real `ancora` binary: `verify`, `spv verify`,
//! `chainweb header-hash`. Exit codes 0 (holds), 1 (a check fails), 2 (usage or unreadable
//! input); errors are one line on stderr, never a backtrace.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ancora_proof::HashAlgorithm;
use ancora_proof::bundle::{Bundle, BundleInput, TrustPoint};
use ancora_proof::chainweb::{BlockHeader, Payload};
use ancora_proof::event::EventLeaf;
use ancora_proof::merkle::{Leaf, MerkleTree};
use ancora_proof::spv::build_output_proof;
use ancora_proof::tlog::{Checkpoint, LogSigner, MemoryLog, sign_checkpoint};

const ORIGIN: &str = "cli.ancora.test/log";
const A: HashAlgorithm = HashAlgorithm::Sha512_256;

fn ancora(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ancora"))
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .expect("the ancora binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../proof/tests/vectors")
}

fn tmp() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ancora-cli-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn signer() -> LogSigner {
    LogSigner::from_seed(ORIGIN, [3; 32]).expect("valid origin")
}

/// A real bundle: event 2 of a 4-event batch, the batch alone in its anchor, the anchor leaf 1
/// of a 3-leaf log with a signed checkpoint.
fn bundle() -> Bundle {
    let events: Vec<EventLeaf> = (0..4)
        .map(|i| EventLeaf {
            tenant_id: [9; 16],
            event_id: format!("cli-{i}"),
            digest: ancora_proof::event::ContentDigest::sha256_of(format!("doc {i}").as_bytes()),
            submitter: "ak_test".into(),
            received_at_micros: 1_764_000_000_000_000 + i,
        })
        .collect();
    let encoded: Vec<Vec<u8>> = events
        .iter()
        .map(|e| e.encode().expect("encodes"))
        .collect();
    let leaves: Vec<Leaf<'_>> = encoded.iter().map(|e| Leaf::Input(e)).collect();
    let batch = MerkleTree::build(A, &leaves);
    let anchor = MerkleTree::build(A, &[Leaf::Tree(batch.root())]);
    let mut log = MemoryLog::new();
    log.append(A.digest(&[b"earlier anchor"])).expect("append");
    log.append(anchor.root()).expect("append");
    log.append(A.digest(&[b"later anchor"])).expect("append");
    let checkpoint = sign_checkpoint(
        &signer(),
        &Checkpoint {
            origin: ORIGIN.into(),
            size: 3,
            root: log.root().expect("root"),
        },
    )
    .expect("signs");
    Bundle::build(BundleInput {
        event: &events[2],
        batch_id: Some("b-1".into()),
        batch_proof: &batch.proof(2).expect("proof"),
        batch_root: batch.root(),
        anchor_id: "a-1".into(),
        anchor_proof: &anchor.proof(0).expect("proof"),
        anchor_root: anchor.root(),
        version: 1,
        trust_points: vec![TrustPoint::tlog(
            ORIGIN,
            1,
            3,
            &log.inclusion_proof(1, 3).expect("proof"),
            &checkpoint,
        )],
    })
    .expect("bundle builds")
}

#[test]
fn verify_accepts_a_good_bundle_with_the_log_key_and_exits_zero() {
    let dir = tmp();
    let path = dir.join("bundle.json");
    std::fs::write(&path, bundle().to_json_pretty()).expect("write");
    let key = signer().verifier().to_key_text();

    let out = ancora(&["verify", path.to_str().expect("utf8"), "--log-key", &key]);

    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
}

#[test]
fn verify_reads_the_key_from_a_file_and_prints_a_json_report() {
    let dir = tmp();
    let path = dir.join("bundle.json");
    std::fs::write(&path, bundle().to_json_pretty()).expect("write");
    let key_file = dir.join("log.key");
    std::fs::write(
        &key_file,
        format!("{}\n", signer().verifier().to_key_text()),
    )
    .expect("write");

    let out = ancora(&[
        "verify",
        path.to_str().expect("utf8"),
        "--log-key",
        key_file.to_str().expect("utf8"),
        "--json",
    ]);

    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON report");
    assert_eq!(report["verdict"], "verified");
    assert!(report["steps"].as_array().is_some_and(|s| s.len() >= 5));
}

#[test]
fn verify_without_the_log_key_fails_and_says_a_key_is_needed() {
    let dir = tmp();
    let path = dir.join("bundle.json");
    std::fs::write(&path, bundle().to_json_pretty()).expect("write");

    let out = ancora(&["verify", path.to_str().expect("utf8")]);

    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--log-key"),
        "stderr: {}",
        stderr(&out)
    );
}

#[test]
fn verify_names_the_failing_step_of_a_tampered_bundle() {
    let dir = tmp();
    let path = dir.join("bundle.json");
    let mut v = serde_json::to_value(bundle()).expect("serializes");
    v["event"]["event_id"] = "cli-9".into();
    std::fs::write(&path, v.to_string()).expect("write");
    let key = signer().verifier().to_key_text();

    let out = ancora(&["verify", path.to_str().expect("utf8"), "--log-key", &key]);

    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("event leaf"),
        "stderr: {}",
        stderr(&out)
    );
}

#[test]
fn verify_with_another_logs_key_fails() {
    let dir = tmp();
    let path = dir.join("bundle.json");
    std::fs::write(&path, bundle().to_json_pretty()).expect("write");
    let other = LogSigner::from_seed(ORIGIN, [4; 32]).expect("signer");

    let out = ancora(&[
        "verify",
        path.to_str().expect("utf8"),
        "--log-key",
        &other.verifier().to_key_text(),
    ]);

    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn verify_of_unreadable_or_malformed_input_exits_two_with_one_line() {
    let dir = tmp();
    let missing = ancora(&["verify", dir.join("nope.json").to_str().expect("utf8")]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(
        stderr(&missing).trim().lines().count(),
        1,
        "{}",
        stderr(&missing)
    );

    let junk = dir.join("junk.json");
    std::fs::write(&junk, b"{not json").expect("write");
    let bad = ancora(&["verify", junk.to_str().expect("utf8")]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(!stderr(&bad).contains("panicked"));

    let key = ancora(&[
        "verify",
        junk.to_str().expect("utf8"),
        "--log-key",
        "not+a+key",
    ]);
    assert_eq!(key.status.code(), Some(2));
}

/// A real SPV proof: the chain-1 genesis transaction 0's output through the outputs tree, the
/// payload tree and the real mainnet01 chain-1 genesis header.
fn real_spv(dir: &Path) -> (PathBuf, PathBuf, String) {
    let payload_json =
        std::fs::read_to_string(vectors().join("genesis-payload-mainnet01-chain1.json"))
            .expect("payload vector");
    let payload = Payload::from_json(&payload_json).expect("payload parses");
    let headers: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(vectors().join("mainnet01-genesis-headers.json"))
            .expect("headers vector"),
    )
    .expect("JSON");
    let header_json = headers["headers"][1].clone();
    let header = BlockHeader::from_json_value(&header_json).expect("header parses");
    let proof = build_output_proof(&payload, 0, &header).expect("proof builds");
    let proof_path = dir.join("proof.txt");
    std::fs::write(&proof_path, proof.encode_response()).expect("write");
    let header_path = dir.join("header.json");
    std::fs::write(&header_path, header_json.to_string()).expect("write");
    (
        proof_path,
        header_path,
        header_json["hash"].as_str().expect("hash").to_owned(),
    )
}

#[test]
fn spv_verify_accepts_a_real_genesis_output_proof_and_prints_the_subject() {
    let dir = tmp();
    let (proof, header, _) = real_spv(&dir);

    let out = ancora(&[
        "spv",
        "verify",
        "--proof",
        proof.to_str().expect("utf8"),
        "--header",
        header.to_str().expect("utf8"),
    ]);

    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(stdout(&out).contains("reqKey"), "stdout: {}", stdout(&out));
}

#[test]
fn spv_verify_rejects_a_proof_for_another_chain_or_a_tampered_proof() {
    let dir = tmp();
    let (proof, header, _) = real_spv(&dir);
    let wrong_chain = ancora(&[
        "spv",
        "verify",
        "--proof",
        proof.to_str().expect("utf8"),
        "--header",
        header.to_str().expect("utf8"),
        "--chain",
        "2",
    ]);
    assert_eq!(
        wrong_chain.status.code(),
        Some(1),
        "{}",
        stderr(&wrong_chain)
    );

    let text = std::fs::read_to_string(&proof).expect("read");
    let mut bytes = ancora_proof::hash::b64url_decode(&text).expect("b64");
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON proof");
    let object = v["object"].as_str().expect("object").to_owned();
    let mut raw = ancora_proof::hash::b64url_decode(&object).expect("b64");
    let last = raw.len() - 1;
    raw[last] ^= 1;
    v["object"] = ancora_proof::hash::b64url_encode(&raw).into();
    bytes = v.to_string().into_bytes();
    let tampered = dir.join("tampered.txt");
    std::fs::write(&tampered, ancora_proof::hash::b64url_encode(&bytes)).expect("write");
    let out = ancora(&[
        "spv",
        "verify",
        "--proof",
        tampered.to_str().expect("utf8"),
        "--header",
        header.to_str().expect("utf8"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn spv_verify_of_garbage_exits_two_without_a_backtrace() {
    let dir = tmp();
    let (_, header, _) = real_spv(&dir);
    let junk = dir.join("junk.txt");
    std::fs::write(&junk, "%%% not base64 %%%").expect("write");

    let out = ancora(&[
        "spv",
        "verify",
        "--proof",
        junk.to_str().expect("utf8"),
        "--header",
        header.to_str().expect("utf8"),
    ]);

    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
}

#[test]
fn header_hash_prints_the_real_genesis_hash_and_check_catches_a_forged_hash() {
    let dir = tmp();
    let (_, header, expected) = real_spv(&dir);

    let out = ancora(&["chainweb", "header-hash", header.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), expected);

    let ok = ancora(&[
        "chainweb",
        "header-hash",
        header.to_str().expect("utf8"),
        "--check",
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));

    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&header).expect("read")).expect("JSON");
    v["hash"] = "SNAMXHBvZtAbeS19x12bZV2p5d1E4BaxrggceNdUxbw".into();
    let forged = dir.join("forged.json");
    std::fs::write(&forged, v.to_string()).expect("write");
    let bad = ancora(&[
        "chainweb",
        "header-hash",
        forged.to_str().expect("utf8"),
        "--check",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    let plain = ancora(&["chainweb", "header-hash", forged.to_str().expect("utf8")]);
    assert_eq!(
        plain.status.code(),
        Some(0),
        "a hash field is ignored without --check"
    );
    assert_eq!(stdout(&plain).trim(), expected);
}
