//! Proof bundles: build, JSON round trip, schema, verify, tamper, snapshots.

use ancora_proof::bundle::{
    BUNDLE_VERSION_V1, Bundle, BundleInput, ChainwebTrustPoint, Status, Trust, TrustPoint, Verdict,
    steps, verify_bundle,
};
use ancora_proof::chainweb::{BlockHeader, Payload};
use ancora_proof::event::EventLeaf;
use ancora_proof::hash::{Hash, HashAlgorithm, b64url_encode};
use ancora_proof::merkle::{Leaf, MerkleTree};
use ancora_proof::spv::build_output_proof;
use ancora_proof::tlog::{Checkpoint, LogSigner, MemoryLog, sign_checkpoint};
use serde_json::{Value, json};

use crate::common;

const A: HashAlgorithm = HashAlgorithm::Sha512_256;
const ORIGIN: &str = "log.ancora.test/v1";

fn event(i: usize) -> EventLeaf {
    EventLeaf {
        tenant_id: [
            0x01, 0x8f, 0x3c, 0x2a, 0x7b, 0x10, 0x7c, 0x00, 0x80, 0x00, 0x12, 0x34, 0x56, 0x78,
            0x9a, 0xbc,
        ],
        event_id: format!("inv-2026-{i:04}"),
        digest: ancora_proof::event::ContentDigest::sha256_of(format!("invoice {i}").as_bytes()),
        submitter: "ak_live_ab12".into(),
        received_at_micros: 1_767_225_600_000_000 + i as i64,
    }
}

pub fn signer() -> LogSigner {
    LogSigner::from_seed(ORIGIN, [7; 32]).expect("valid name")
}

fn trust() -> Trust {
    Trust {
        log_keys: vec![signer().verifier()],
        chainweb_headers: vec![],
    }
}

/// The prover's view: event 3 of a 5-event batch, that batch 1 of a 3-batch anchor, that
/// anchor leaf 6 of a 10-leaf log. Everything deterministic.
pub struct World {
    pub event: EventLeaf,
    pub batch: MerkleTree,
    pub anchor: MerkleTree,
    pub log: MemoryLog,
}

pub fn world() -> World {
    let events: Vec<Vec<u8>> = (0..5)
        .map(|i| event(i).encode().expect("encodes"))
        .collect();
    let leaves: Vec<Leaf<'_>> = events.iter().map(|e| Leaf::Input(e)).collect();
    let batch = MerkleTree::build(A, &leaves);
    let other = |s: &str| Leaf::Tree(A.digest(&[s.as_bytes()]));
    let anchor = MerkleTree::build(
        A,
        &[other("batch 0"), Leaf::Tree(batch.root()), other("batch 2")],
    );
    let mut log = MemoryLog::new();
    for i in 0..10u8 {
        let leaf = if i == 6 {
            anchor.root()
        } else {
            A.digest(&[b"anchor", &[i]])
        };
        log.append(leaf).expect("append");
    }
    World {
        event: event(3),
        batch,
        anchor,
        log,
    }
}

pub fn good_bundle() -> Bundle {
    let w = world();
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size: 10,
        root: w.log.root().expect("root"),
    };
    let checkpoint = sign_checkpoint(&signer(), &cp).expect("signs");
    let log_proof = w.log.inclusion_proof(6, 10).expect("proof");
    Bundle::build(BundleInput {
        event: &w.event,
        batch_id: Some("0190a1b2-0000-7000-8000-000000000042".into()),
        batch_proof: &w.batch.proof(3).expect("proof"),
        batch_root: w.batch.root(),
        anchor_id: "0190a1b2-0000-7000-8000-0000000000a7".into(),
        anchor_proof: &w.anchor.proof(1).expect("proof"),
        anchor_root: w.anchor.root(),
        version: BUNDLE_VERSION_V1,
        trust_points: vec![TrustPoint::tlog(ORIGIN, 6, 10, &log_proof, &checkpoint)],
    })
    .expect("the bundle builds")
}

fn to_value(b: &Bundle) -> Value {
    serde_json::to_value(b).expect("serializes")
}

fn from_value(v: &Value) -> Bundle {
    Bundle::from_json(v.to_string().as_bytes()).expect("parses")
}

#[test]
fn a_bundle_round_trips_through_json() {
    let b = good_bundle();
    let text = b.to_json_pretty();
    assert_eq!(Bundle::from_json(text.as_bytes()).expect("parses"), b);
    let v = to_value(&b);
    assert_eq!(v["version"], 1);
    assert_eq!(v["trust_point"]["type"], "tlog");
    assert_eq!(
        v["event"]["tenant_id"],
        "018f3c2a-7b10-7c00-8000-123456789abc"
    );
}

#[test]
fn a_good_tlog_bundle_verifies_step_by_step() {
    let report = verify_bundle(&good_bundle(), &trust());
    assert_eq!(
        report.verdict,
        Verdict::Verified,
        "{}",
        report.to_json_pretty()
    );
    let names: Vec<&str> = report.steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(
        names,
        [
            steps::EVENT_LEAF,
            steps::EVENT_TO_BATCH,
            steps::BATCH_TO_ANCHOR,
            steps::CHECKPOINT,
            steps::ANCHOR_TO_LOG
        ]
    );
    assert!(report.steps.iter().all(|s| s.status == Status::Ok));
}

#[test]
fn without_a_log_key_the_checkpoint_step_says_to_pass_one() {
    let report = verify_bundle(&good_bundle(), &Trust::default());
    assert_eq!(report.verdict, Verdict::Failed);
    let failed: Vec<_> = report.failures().collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].step, steps::CHECKPOINT);
    assert!(
        failed[0]
            .detail
            .starts_with("no log key given: pass --log-key"),
        "{}",
        failed[0].detail
    );
}

#[test]
fn a_checkpoint_signed_by_another_key_fails_the_checkpoint_step() {
    let other = LogSigner::from_seed(ORIGIN, [9; 32]).expect("signer");
    let report = verify_bundle(
        &good_bundle(),
        &Trust {
            log_keys: vec![other.verifier()],
            chainweb_headers: vec![],
        },
    );
    let failed: Vec<_> = report.failures().map(|s| s.step.as_str()).collect();
    assert_eq!(failed, [steps::CHECKPOINT]);
}

/// Flips one character of a base64url string (keeping it base64url).
fn flip_b64(s: &str, at: usize) -> String {
    let mut c: Vec<char> = s.chars().collect();
    c[at] = if c[at] == 'A' { 'B' } else { 'A' };
    c.into_iter().collect()
}

fn mutate(v: &mut Value, path: &str, f: impl FnOnce(&mut Value)) {
    f(v.pointer_mut(path).unwrap_or_else(|| panic!("no {path}")));
}

#[test]
fn tampering_with_each_field_fails_the_step_that_depends_on_it() {
    type Tamper = fn(&mut Value);
    let cases: Vec<(&str, Tamper, &[&str])> = vec![
        (
            "event id",
            |v| mutate(v, "/event/event_id", |x| *x = json!("inv-2026-9999")),
            &[steps::EVENT_LEAF],
        ),
        (
            "digest",
            |v| {
                mutate(v, "/event/digest", |x| {
                    *x = json!(format!("sha256:{}", "ab".repeat(32)))
                })
            },
            &[steps::EVENT_LEAF],
        ),
        (
            "submitter",
            |v| mutate(v, "/event/submitter", |x| *x = json!("someone else")),
            &[steps::EVENT_LEAF],
        ),
        (
            "received time",
            |v| mutate(v, "/event/received_at_micros", |x| *x = json!(1)),
            &[steps::EVENT_LEAF],
        ),
        (
            "tenant",
            |v| {
                mutate(v, "/event/tenant_id", |x| {
                    *x = json!("00000000-0000-0000-0000-000000000000")
                })
            },
            &[steps::EVENT_LEAF],
        ),
        (
            "leaf bytes",
            |v| {
                mutate(v, "/event/leaf", |x| {
                    *x = json!(flip_b64(x.as_str().unwrap_or_default(), 30))
                })
            },
            &[steps::EVENT_LEAF, steps::EVENT_TO_BATCH],
        ),
        (
            "batch proof",
            |v| {
                mutate(v, "/batch/proof", |x| {
                    *x = json!(flip_b64(x.as_str().unwrap_or_default(), 20))
                })
            },
            &[steps::EVENT_TO_BATCH],
        ),
        (
            "batch leaf index",
            |v| mutate(v, "/batch/leaf_index", |x| *x = json!(2)),
            &[steps::EVENT_TO_BATCH],
        ),
        (
            "batch root",
            |v| {
                mutate(v, "/batch/root", |x| {
                    *x = json!(flip_b64(x.as_str().unwrap_or_default(), 5))
                })
            },
            &[steps::EVENT_TO_BATCH, steps::BATCH_TO_ANCHOR],
        ),
        (
            "anchor proof",
            |v| {
                mutate(v, "/anchor/proof", |x| {
                    *x = json!(flip_b64(x.as_str().unwrap_or_default(), 20))
                })
            },
            &[steps::BATCH_TO_ANCHOR],
        ),
        (
            "anchor root",
            |v| {
                mutate(v, "/anchor/root", |x| {
                    *x = json!(flip_b64(x.as_str().unwrap_or_default(), 5))
                })
            },
            &[steps::BATCH_TO_ANCHOR, steps::ANCHOR_TO_LOG],
        ),
        (
            "log proof",
            |v| {
                mutate(v, "/trust_point/proof", |x| {
                    *x = json!(flip_b64(x.as_str().unwrap_or_default(), 20))
                })
            },
            &[steps::ANCHOR_TO_LOG],
        ),
        (
            "log leaf index",
            |v| mutate(v, "/trust_point/leaf_index", |x| *x = json!(7)),
            &[steps::ANCHOR_TO_LOG],
        ),
        (
            "log size",
            |v| mutate(v, "/trust_point/log_size", |x| *x = json!(11)),
            &[steps::CHECKPOINT],
        ),
        (
            "log size, other shape",
            |v| mutate(v, "/trust_point/log_size", |x| *x = json!(7)),
            &[steps::CHECKPOINT, steps::ANCHOR_TO_LOG],
        ),
        (
            "origin",
            |v| mutate(v, "/trust_point/origin", |x| *x = json!("other.log/v1")),
            &[steps::CHECKPOINT],
        ),
        (
            "checkpoint root",
            |v| {
                mutate(v, "/trust_point/checkpoint", |x| {
                    let s = x.as_str().unwrap_or_default().to_owned();
                    let lines: Vec<&str> = s.split('\n').collect();
                    let root = lines[2].replace(
                        &lines[2][..2],
                        if lines[2].starts_with("AA") {
                            "BB"
                        } else {
                            "AA"
                        },
                    );
                    *x = json!(s.replacen(lines[2], &root, 1));
                })
            },
            &[steps::CHECKPOINT, steps::ANCHOR_TO_LOG],
        ),
        (
            "checkpoint signature",
            |v| {
                mutate(v, "/trust_point/checkpoint", |x| {
                    let s = x.as_str().unwrap_or_default();
                    let at = s.len() - 10;
                    let mut b = s.as_bytes().to_vec();
                    b[at] = if b[at] == b'A' { b'B' } else { b'A' };
                    *x = json!(String::from_utf8(b).unwrap_or_default());
                })
            },
            &[steps::CHECKPOINT],
        ),
    ];
    let good = to_value(&good_bundle());
    for (what, tamper, expected) in cases {
        let mut v = good.clone();
        tamper(&mut v);
        let report = verify_bundle(&from_value(&v), &trust());
        let failed: Vec<&str> = report.failures().map(|s| s.step.as_str()).collect();
        assert_eq!(
            failed,
            expected,
            "tampered {what}: {}",
            report.to_json_pretty()
        );
        assert_eq!(report.verdict, Verdict::Failed, "tampered {what}");
    }
}

#[test]
fn unreadable_bundles_are_rejected_with_a_clear_error() {
    let good = to_value(&good_bundle());
    let err = |bytes: &[u8]| Bundle::from_json(bytes).expect_err("rejected").to_string();
    assert!(err(b"not json").contains("not JSON"));
    assert!(err(b"[1]").contains("JSON object"));
    assert!(err(b"{}").contains("no \"version\""));
    let mut v = good.clone();
    v["version"] = json!(3);
    assert!(err(v.to_string().as_bytes()).contains("version 3 is not supported"));
    // Version 2 is read now, but a version-1 body under "version": 2 is not a version-2 bundle.
    let mut v = good.clone();
    v["version"] = json!(2);
    assert!(err(v.to_string().as_bytes()).contains("unknown field \"trust_point\""));
    let mut v = good.clone();
    v.as_object_mut().map(|o| o.remove("anchor"));
    assert!(err(v.to_string().as_bytes()).contains("missing field \"anchor\""));
    let mut v = good.clone();
    v["batch"].as_object_mut().map(|o| o.remove("root"));
    let e = err(v.to_string().as_bytes());
    assert!(e.contains("batch") && e.contains("root"), "{e}");
    let mut v = good.clone();
    v["batch"]["surprise"] = json!(1);
    assert!(err(v.to_string().as_bytes()).contains("surprise"));
    let mut v = good.clone();
    v["trust_point"]["surprise"] = json!(1);
    assert!(err(v.to_string().as_bytes()).contains("surprise"));
    let mut v = good.clone();
    v["extra"] = json!(1);
    assert!(err(v.to_string().as_bytes()).contains("extra"));
    let mut v = good;
    v["trust_point"]["type"] = json!("carrier-pigeon");
    assert!(err(v.to_string().as_bytes()).contains("trust_point"));
}

#[test]
fn a_bundle_whose_proofs_do_not_lead_to_the_roots_is_not_built() {
    let w = world();
    let log_proof = w.log.inclusion_proof(6, 10).expect("proof");
    let cp = sign_checkpoint(
        &signer(),
        &Checkpoint {
            origin: ORIGIN.into(),
            size: 10,
            root: w.log.root().expect("root"),
        },
    )
    .expect("signs");
    let input = BundleInput {
        event: &w.event,
        batch_id: None,
        batch_proof: &w.batch.proof(2).expect("proof"),
        batch_root: w.batch.root(),
        anchor_id: "a".into(),
        anchor_proof: &w.anchor.proof(1).expect("proof"),
        anchor_root: w.anchor.root(),
        version: BUNDLE_VERSION_V1,
        trust_points: vec![TrustPoint::tlog(ORIGIN, 6, 10, &log_proof, &cp)],
    };
    assert!(Bundle::build(input.clone()).is_err(), "wrong batch proof");
    let wrong_log = TrustPoint::tlog(
        ORIGIN,
        5,
        10,
        &w.log.inclusion_proof(5, 10).expect("p"),
        &cp,
    );
    let batch_proof = w.batch.proof(3).expect("proof");
    let input = BundleInput {
        batch_proof: &batch_proof,
        trust_points: vec![wrong_log],
        ..input
    };
    assert!(Bundle::build(input).is_err(), "wrong log leaf");
}

// ---- JSON Schema: a small validator for the keywords the schema uses ----

fn schema() -> Value {
    schema_file("bundle-v1.schema.json")
}

/// A schema of this crate's `schema/` folder.
pub fn schema_file(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schema")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).expect("schema readable"))
        .expect("schema is JSON")
}

fn resolve<'a>(root: &'a Value, s: &'a Value) -> &'a Value {
    match s.get("$ref").and_then(Value::as_str) {
        Some(r) => root
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling {r}")),
        None => s,
    }
}

/// Returns the errors of `v` against `s`: type, const, enum, required, properties,
/// additionalProperties, oneOf, $ref, minimum, minLength, minItems, maxItems, prefixItems,
/// items (`false` only), pattern (anchored classes only: checked loosely by length for
/// hashes).
pub fn validate(root: &Value, s: &Value, v: &Value, at: &str, errs: &mut Vec<String>) {
    let s = resolve(root, s);
    if let Some(t) = s.get("type").and_then(Value::as_str) {
        let ok = match t {
            "object" => v.is_object(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "array" => v.is_array(),
            _ => true,
        };
        if !ok {
            errs.push(format!("{at}: not {t}"));
            return;
        }
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        errs.push(format!("{at}: not {c}"));
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        errs.push(format!("{at}: not one of {e:?}"));
    }
    if let (Some(min), Some(n)) = (s.get("minimum").and_then(Value::as_i64), v.as_i64())
        && n < min
    {
        errs.push(format!("{at}: below {min}"));
    }
    if let (Some(min), Some(x)) = (s.get("minLength").and_then(Value::as_u64), v.as_str())
        && (x.chars().count() as u64) < min
    {
        errs.push(format!("{at}: shorter than {min}"));
    }
    if s.get("pattern").and_then(Value::as_str) == Some("^[A-Za-z0-9_-]{43}$")
        && v.as_str().is_some_and(|x| x.len() != 43)
    {
        errs.push(format!("{at}: not a base64url hash"));
    }
    if let Some(items) = v.as_array() {
        let n = items.len() as u64;
        if let Some(min) = s.get("minItems").and_then(Value::as_u64)
            && n < min
        {
            errs.push(format!("{at}: fewer than {min} items"));
        }
        if let Some(max) = s.get("maxItems").and_then(Value::as_u64)
            && n > max
        {
            errs.push(format!("{at}: more than {max} items"));
        }
        let prefix = s
            .get("prefixItems")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        for (i, item) in items.iter().enumerate() {
            match prefix.get(i) {
                Some(ps) => validate(root, ps, item, &format!("{at}/{i}"), errs),
                None if s.get("items") == Some(&json!(false)) => {
                    errs.push(format!("{at}: unexpected item {i}"));
                }
                None => {}
            }
        }
    }
    if let Some(one_of) = s.get("oneOf").and_then(Value::as_array) {
        let passing = one_of
            .iter()
            .filter(|alt| {
                let mut e = Vec::new();
                validate(root, alt, v, at, &mut e);
                e.is_empty()
            })
            .count();
        if passing != 1 {
            errs.push(format!("{at}: matches {passing} of oneOf"));
        }
    }
    if let Some(obj) = v.as_object() {
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = r.as_str().unwrap_or_default();
            if !obj.contains_key(key) {
                errs.push(format!("{at}: missing {key}"));
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, val) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => validate(root, ps, val, &format!("{at}/{k}"), errs),
                None if s.get("additionalProperties") == Some(&json!(false)) => {
                    errs.push(format!("{at}: unexpected {k}"));
                }
                None => {}
            }
        }
    }
}

fn schema_errors(v: &Value) -> Vec<String> {
    let root = schema();
    let mut errs = Vec::new();
    validate(&root, &root, v, "", &mut errs);
    errs
}

#[test]
fn a_generated_bundle_conforms_to_the_published_schema() {
    assert_eq!(
        schema_errors(&to_value(&good_bundle())),
        Vec::<String>::new()
    );
    assert_eq!(
        schema_errors(&to_value(&chainweb_bundle().0)),
        Vec::<String>::new()
    );
}

#[test]
fn the_schema_rejects_what_the_parser_rejects() {
    let good = to_value(&good_bundle());
    for (path, key) in [
        ("", "event"),
        ("/batch", "root"),
        ("/trust_point", "checkpoint"),
        ("/event", "leaf"),
    ] {
        let mut v = good.clone();
        v.pointer_mut(path)
            .and_then(Value::as_object_mut)
            .map(|o| o.remove(key));
        assert!(
            !schema_errors(&v).is_empty(),
            "schema accepts a bundle without {path}/{key}"
        );
        assert!(
            Bundle::from_json(v.to_string().as_bytes()).is_err(),
            "parser accepts it"
        );
    }
    let mut v = good;
    v["anchor"]["extra"] = json!(true);
    assert!(!schema_errors(&v).is_empty());
}

// ---- Chainweb trust point, from real mainnet headers with a synthetic payload ----

/// A chainweb bundle whose anchoring transaction's output holds the anchor root, in a block
/// built on the real mainnet01 chain-0 genesis header (its payload swapped), and the header.
fn chainweb_bundle() -> (Bundle, BlockHeader) {
    let w = world();
    let headers = common::load("mainnet01-genesis-headers.json");
    let mut header =
        BlockHeader::from_json_value(&headers["headers"][0]).expect("the vector header parses");
    let output = json!({
        "reqKey": b64url_encode(&[3; 32]),
        "result": { "status": "success", "data": w.anchor.root().to_b64url() },
        "txId": 7, "logs": null, "metaData": null, "continuation": null, "gas": 400,
        "events": []
    });
    let payload = Payload {
        miner_data: br#"{"account":"miner","predicate":"keys-all","public-keys":[]}"#.to_vec(),
        coinbase: br#"{"result":{"status":"success","data":"Write succeeded"}}"#.to_vec(),
        transactions: vec![
            (
                br#"{"cmd":"other"}"#.to_vec(),
                br#"{"result":{"status":"success","data":1}}"#.to_vec(),
            ),
            (
                br#"{"cmd":"anchor"}"#.to_vec(),
                output.to_string().into_bytes(),
            ),
        ],
    };
    header.payload_hash = payload.hashes().payload_hash;
    header.hash = None;
    header.hash = Some(header.compute_hash());
    let proof = build_output_proof(&payload, 1, &header).expect("proof builds");
    let tp = TrustPoint::Chainweb(ChainwebTrustPoint {
        network: "mainnet01".into(),
        chain_id: 0,
        block_height: header.height,
        block_hash: header.compute_hash(),
        spv_proof: proof.encode_response(),
        header: header.to_json_value(),
        anchor_root_location: "result.data".into(),
        request_key: Some(b64url_encode(&[3; 32])),
        header_source: None,
    });
    let bundle = Bundle::build(BundleInput {
        event: &w.event,
        batch_id: None,
        batch_proof: &w.batch.proof(3).expect("proof"),
        batch_root: w.batch.root(),
        anchor_id: "anchor-cw".into(),
        anchor_proof: &w.anchor.proof(1).expect("proof"),
        anchor_root: w.anchor.root(),
        version: BUNDLE_VERSION_V1,
        trust_points: vec![tp],
    })
    .expect("builds");
    (bundle, header)
}

#[test]
fn a_chainweb_bundle_verifies_against_a_trusted_header() {
    let (bundle, header) = chainweb_bundle();
    assert_eq!(
        Bundle::from_json(bundle.to_json_pretty().as_bytes()).expect("parses"),
        bundle
    );
    let trust = Trust {
        log_keys: vec![],
        chainweb_headers: vec![header.clone()],
    };
    let report = verify_bundle(&bundle, &trust);
    assert_eq!(
        report.verdict,
        Verdict::Verified,
        "{}",
        report.to_json_pretty()
    );
    let names: Vec<&str> = report.steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(
        names[3..],
        [
            steps::ANCHOR_TO_OUTPUT,
            steps::OUTPUT_TO_BLOCK,
            steps::TRUSTED_HEADER
        ]
    );

    let untrusted = verify_bundle(&bundle, &Trust::default());
    let failed: Vec<_> = untrusted.failures().collect();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]
            .detail
            .starts_with("no trusted Chainweb header given: pass --chainweb-header")
    );

    // A trusted header of that chain and height that is another block.
    let mut other = header.clone();
    other.nonce ^= 1;
    let report = verify_bundle(
        &bundle,
        &Trust {
            log_keys: vec![],
            chainweb_headers: vec![other],
        },
    );
    let failed: Vec<&str> = report.failures().map(|s| s.step.as_str()).collect();
    assert_eq!(failed, [steps::TRUSTED_HEADER]);
}

#[test]
fn a_chainweb_bundle_with_another_anchor_root_fails_at_the_transaction_output() {
    let (bundle, header) = chainweb_bundle();
    let trust = Trust {
        log_keys: vec![],
        chainweb_headers: vec![header],
    };
    let mut v = to_value(&bundle);
    // Another anchor root: the anchor proof and the output both disagree.
    mutate(&mut v, "/anchor/root", |x| {
        *x = json!(flip_b64(x.as_str().unwrap_or_default(), 3))
    });
    let failed: Vec<String> = verify_bundle(&from_value(&v), &trust)
        .failures()
        .map(|s| s.step.clone())
        .collect();
    assert_eq!(failed, [steps::BATCH_TO_ANCHOR, steps::ANCHOR_TO_OUTPUT]);
    // A header field altered: the header's hash no longer matches.
    let mut v = to_value(&bundle);
    mutate(&mut v, "/trust_point/header/nonce", |x| *x = json!("1"));
    let failed: Vec<String> = verify_bundle(&from_value(&v), &trust)
        .failures()
        .map(|s| s.step.clone())
        .collect();
    assert_eq!(failed, [steps::OUTPUT_TO_BLOCK]);
    // The SPV proof is garbage.
    let mut v = to_value(&bundle);
    mutate(&mut v, "/trust_point/spv_proof", |x| *x = json!("bm9wZQ"));
    let report = verify_bundle(&from_value(&v), &trust);
    let st: Vec<(String, Status)> = report
        .failures()
        .map(|s| (s.step.clone(), s.status))
        .collect();
    assert_eq!(
        st,
        [
            (steps::ANCHOR_TO_OUTPUT.to_owned(), Status::Failed),
            (steps::OUTPUT_TO_BLOCK.to_owned(), Status::Skipped)
        ]
    );
}

// ---- Snapshots ----

#[test]
fn the_bundle_and_report_formats_are_stable() {
    let bundle = good_bundle();
    insta::assert_json_snapshot!("tlog_bundle", bundle);
    insta::assert_json_snapshot!("tlog_report", verify_bundle(&bundle, &trust()));
    insta::assert_json_snapshot!(
        "tlog_report_without_key",
        verify_bundle(&bundle, &Trust::default())
    );
}

#[test]
fn hashes_in_reports_are_base64url() {
    let report = verify_bundle(&good_bundle(), &trust());
    for s in &report.steps {
        for h in s.computed.iter().chain(s.expected.iter()) {
            Hash::from_b64url(h).expect("a hash");
        }
    }
}

#[test]
fn no_single_byte_change_to_a_bundle_still_verifies() {
    let good = good_bundle();
    let text = good.to_json_pretty().into_bytes();
    for i in 0..text.len() {
        for byte in [b'A', b'B', b'0', b'7', b'"', b' ', b'-', b'_'] {
            let mut t = text.clone();
            if t[i] == byte {
                continue;
            }
            t[i] = byte;
            let Ok(b) = Bundle::from_json(&t) else {
                continue;
            };
            // The batch and anchor ids are informational; JSON white space is not content.
            if b == good
                || b.batch.batch_id != good.batch.batch_id
                || b.anchor.anchor_id != good.anchor.anchor_id
            {
                continue;
            }
            let report = verify_bundle(&b, &trust());
            assert!(
                !report.is_verified(),
                "byte {i} set to {byte}: {}",
                report.to_json_pretty()
            );
        }
    }
}
