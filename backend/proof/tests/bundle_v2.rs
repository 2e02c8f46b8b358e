//! Bundle version 2: several trust points, camelCase JSON, `unchecked` trust steps.
//! The builders here are shared with the cross-language fixtures (`fixtures.rs`).

use ancora_proof::bundle::{
    BUNDLE_VERSION, BUNDLE_VERSION_V1, BUNDLE_VERSION_V2, Bundle, BundleInput, ChainwebTrustPoint,
    HeaderSource, Status, Trust, TrustPoint, TrustPointStatus, TrustSummary, Verdict, steps,
    verify_bundle,
};
use ancora_proof::chainweb::{BlockHeader, Payload};
use ancora_proof::hash::{Hash, HashAlgorithm, b64url_encode};
use ancora_proof::spv::{TransactionOutputProof, build_output_proof};
use ancora_proof::tlog::{Checkpoint, LogSigner, sign_checkpoint};
use serde_json::{Value, json};

use crate::bundle::{schema_file, signer, validate, world};
use crate::common;

const A: HashAlgorithm = HashAlgorithm::Sha512_256;
/// The log's origin (as in `bundle.rs`).
pub const ORIGIN: &str = "log.ancora.test/v1";
/// Where the service says it fetched the Chainweb header (informational).
pub const NODE: &str = "https://api.chainweb.com";
/// When it fetched it.
pub const FETCHED_AT: &str = "2026-01-01T00:05:00Z";
/// The height of the synthetic anchoring block.
pub const HEIGHT: u64 = 5_000_000;

/// The anchor root of the shared world (`bundle::world`).
pub fn anchor_root() -> Hash {
    world().anchor.root()
}

/// The tlog trust point of the shared world (the anchor root is leaf 6 of a 10-leaf log),
/// its checkpoint signed by `by`.
pub fn tlog_point(by: &LogSigner) -> TrustPoint {
    let w = world();
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size: 10,
        root: w.log.root().expect("root"),
    };
    let checkpoint = sign_checkpoint(by, &cp).expect("signs");
    let proof = w.log.inclusion_proof(6, 10).expect("proof");
    TrustPoint::tlog(ORIGIN, 6, 10, &proof, &checkpoint)
}

/// A chainweb trust point whose anchoring transaction's `result.data` is `data_root`, in a
/// block on mainnet01 chain 0 (the real genesis header's fields, moved to height
/// [`HEIGHT`] with another parent and creation time, and its payload swapped for one holding
/// the transaction), with the header. Real Chainweb hashing throughout: the SPV proof is
/// built by this crate's builder and the block hash is computed from the header's fields.
pub fn chainweb_point(data_root: Hash) -> (ChainwebTrustPoint, BlockHeader) {
    let headers = common::load("mainnet01-genesis-headers.json");
    let mut header =
        BlockHeader::from_json_value(&headers["headers"][0]).expect("the vector header parses");
    let request_key = b64url_encode(&[3; 32]);
    let output = json!({
        "reqKey": request_key,
        "result": { "status": "success", "data": data_root.to_b64url() },
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
    header.height = HEIGHT;
    header.parent = A.digest(&[b"the parent block"]);
    header.creation_time = 1_767_225_900_000_000;
    header.payload_hash = payload.hashes().payload_hash;
    header.hash = None;
    header.hash = Some(header.compute_hash());
    let proof = build_output_proof(&payload, 1, &header).expect("proof builds");
    let point = ChainwebTrustPoint {
        network: "mainnet01".into(),
        chain_id: 0,
        block_height: header.height,
        block_hash: header.compute_hash(),
        spv_proof: proof.encode_response(),
        header: header.to_json_value(),
        anchor_root_location: "result.data".into(),
        request_key: Some(request_key),
        header_source: Some(HeaderSource {
            node: NODE.into(),
            fetched_at: FETCHED_AT.into(),
        }),
    };
    (point, header)
}

/// The shared world's event 3 as a bundle of `version` with `trust_points`.
pub fn build(version: u32, trust_points: Vec<TrustPoint>) -> Bundle {
    let w = world();
    Bundle::build(BundleInput {
        version,
        event: &w.event,
        batch_id: Some("0190a1b2-0000-7000-8000-000000000042".into()),
        batch_proof: &w.batch.proof(3).expect("proof"),
        batch_root: w.batch.root(),
        anchor_id: "0190a1b2-0000-7000-8000-0000000000a7".into(),
        anchor_proof: &w.anchor.proof(1).expect("proof"),
        anchor_root: w.anchor.root(),
        trust_points,
    })
    .expect("the bundle builds")
}

/// A version-2 bundle with both trust points, and the chainweb header.
pub fn both() -> (Bundle, BlockHeader) {
    let (cw, header) = chainweb_point(anchor_root());
    let b = build(
        BUNDLE_VERSION_V2,
        vec![tlog_point(&signer()), TrustPoint::Chainweb(cw)],
    );
    (b, header)
}

fn full_trust(header: &BlockHeader) -> Trust {
    Trust {
        log_keys: vec![signer().verifier()],
        chainweb_headers: vec![header.clone()],
    }
}

fn statuses(b: &Bundle, trust: &Trust) -> Vec<(String, Status)> {
    verify_bundle(b, trust)
        .steps
        .into_iter()
        .map(|s| (s.step, s.status))
        .collect()
}

fn schema_errors_v2(v: &Value) -> Vec<String> {
    let root = schema_file("bundle-v2.schema.json");
    let mut errs = Vec::new();
    validate(&root, &root, v, "", &mut errs);
    errs
}

fn to_value(b: &Bundle) -> Value {
    serde_json::to_value(b).expect("serializes")
}

fn parse_err(v: &Value) -> String {
    Bundle::from_json(v.to_string().as_bytes())
        .expect_err("rejected")
        .to_string()
}

#[test]
fn the_service_writes_version_2() {
    assert_eq!(BUNDLE_VERSION, BUNDLE_VERSION_V2);
    assert_eq!((BUNDLE_VERSION_V1, BUNDLE_VERSION_V2), (1, 2));
}

#[test]
fn a_version_2_bundle_is_camel_case_and_round_trips() {
    let (b, _) = both();
    let text = b.to_json_pretty();
    assert_eq!(Bundle::from_json(text.as_bytes()).expect("parses"), b);
    let v = to_value(&b);
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().expect("an object").keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&v),
        ["anchor", "batch", "event", "trustPoints", "version"]
    );
    assert_eq!(v["version"], 2);
    assert_eq!(
        keys(&v["event"]),
        [
            "digest",
            "eventId",
            "leaf",
            "receivedAtMicros",
            "submitter",
            "tenantId"
        ]
    );
    assert_eq!(
        keys(&v["batch"]),
        ["algorithm", "batchId", "leafIndex", "proof", "root"]
    );
    assert_eq!(
        keys(&v["anchor"]),
        ["algorithm", "anchorId", "leafIndex", "proof", "root"]
    );
    assert_eq!(
        keys(&v["trustPoints"][0]),
        [
            "checkpoint",
            "leafIndex",
            "logSize",
            "origin",
            "proof",
            "type"
        ]
    );
    assert_eq!(
        keys(&v["trustPoints"][1]),
        [
            "anchorRootLocation",
            "blockHash",
            "blockHeight",
            "chainId",
            "header",
            "headerSource",
            "network",
            "requestKey",
            "spvProof",
            "type"
        ]
    );
    assert_eq!(v["trustPoints"][0]["type"], "tlog");
    assert_eq!(v["trustPoints"][1]["type"], "chainweb");
    assert_eq!(
        v["trustPoints"][1]["headerSource"],
        json!({"node": NODE, "fetchedAt": FETCHED_AT})
    );
    assert_eq!(
        v["event"]["tenantId"],
        "018f3c2a-7b10-7c00-8000-123456789abc"
    );
    // The service's field order: version, event, batch, anchor, trustPoints.
    let order: Vec<usize> = [
        "\"version\"",
        "\"event\"",
        "\"batch\"",
        "\"anchor\"",
        "\"trustPoints\"",
    ]
    .iter()
    .map(|k| text.find(k).expect("present"))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
}

#[test]
fn version_2_bundles_conform_to_the_published_schema() {
    let (cw, _) = chainweb_point(anchor_root());
    let mut bare = cw.clone();
    bare.request_key = None;
    bare.header_source = None;
    let mut no_batch_id = build(BUNDLE_VERSION_V2, vec![tlog_point(&signer())]);
    no_batch_id.batch.batch_id = None;
    for b in [
        both().0,
        build(BUNDLE_VERSION_V2, vec![tlog_point(&signer())]),
        build(BUNDLE_VERSION_V2, vec![TrustPoint::Chainweb(cw)]),
        build(BUNDLE_VERSION_V2, vec![TrustPoint::Chainweb(bare)]),
        no_batch_id,
    ] {
        assert_eq!(schema_errors_v2(&to_value(&b)), Vec::<String>::new());
    }
    // A version-1 bundle is not a version-2 one.
    let v1 = build(BUNDLE_VERSION_V1, vec![tlog_point(&signer())]);
    assert!(!schema_errors_v2(&to_value(&v1)).is_empty());
}

#[test]
fn the_v2_schema_rejects_what_the_parser_rejects() {
    let good = to_value(&both().0);
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "no trustPoints",
            Box::new(|v| drop(v.as_object_mut().map(|o| o.remove("trustPoints")))),
        ),
        (
            "empty trustPoints",
            Box::new(|v| v["trustPoints"] = json!([])),
        ),
        (
            "two tlog points",
            Box::new(|v| v["trustPoints"][1] = v["trustPoints"][0].clone()),
        ),
        (
            "chainweb first",
            Box::new(|v| {
                let tps = v["trustPoints"].as_array_mut().expect("array");
                tps.reverse();
            }),
        ),
        (
            "three points",
            Box::new(|v| {
                let first = v["trustPoints"][0].clone();
                v["trustPoints"].as_array_mut().expect("array").push(first);
            }),
        ),
        (
            "unknown top-level field",
            Box::new(|v| v["note"] = json!("x")),
        ),
        (
            "unknown event field",
            Box::new(|v| v["event"]["note"] = json!("x")),
        ),
        (
            "unknown batch field",
            Box::new(|v| v["batch"]["note"] = json!("x")),
        ),
        (
            "unknown anchor field",
            Box::new(|v| v["anchor"]["note"] = json!("x")),
        ),
        (
            "unknown tlog field",
            Box::new(|v| v["trustPoints"][0]["note"] = json!("x")),
        ),
        (
            "unknown chainweb field",
            Box::new(|v| v["trustPoints"][1]["note"] = json!("x")),
        ),
        (
            "unknown headerSource field",
            Box::new(|v| v["trustPoints"][1]["headerSource"]["note"] = json!("x")),
        ),
        (
            "headerSource without fetchedAt",
            Box::new(|v| {
                drop(
                    v["trustPoints"][1]["headerSource"]
                        .as_object_mut()
                        .map(|o| o.remove("fetchedAt")),
                )
            }),
        ),
        (
            "snake_case field",
            Box::new(|v| {
                let e = v["event"].as_object_mut().expect("object");
                let id = e.remove("eventId").expect("eventId");
                e.insert("event_id".into(), id);
            }),
        ),
        (
            "missing checkpoint",
            Box::new(|v| {
                drop(
                    v["trustPoints"][0]
                        .as_object_mut()
                        .map(|o| o.remove("checkpoint")),
                )
            }),
        ),
        (
            "missing leaf",
            Box::new(|v| drop(v["event"].as_object_mut().map(|o| o.remove("leaf")))),
        ),
        ("version 1", Box::new(|v| v["version"] = json!(1))),
        (
            "unknown type",
            Box::new(|v| v["trustPoints"][0]["type"] = json!("pigeon")),
        ),
    ];
    assert_eq!(schema_errors_v2(&good), Vec::<String>::new());
    for (what, f) in cases {
        let mut v = good.clone();
        f(&mut v);
        assert!(
            !schema_errors_v2(&v).is_empty(),
            "the schema accepts a bundle with {what}"
        );
        assert!(
            Bundle::from_json(v.to_string().as_bytes()).is_err(),
            "the parser accepts a bundle with {what}"
        );
    }
}

#[test]
fn a_bundle_with_both_trust_points_verifies_both() {
    let (b, header) = both();
    let report = verify_bundle(&b, &full_trust(&header));
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
            steps::ANCHOR_TO_LOG,
            steps::ANCHOR_TO_OUTPUT,
            steps::OUTPUT_TO_BLOCK,
            steps::TRUSTED_HEADER,
        ]
    );
    assert!(report.steps.iter().all(|s| s.status == Status::Ok));
    let tps: Vec<(&str, TrustPointStatus)> = report
        .trust_points
        .iter()
        .map(|t| (t.kind.as_str(), t.status))
        .collect();
    assert_eq!(
        tps,
        [
            ("tlog", TrustPointStatus::Verified),
            ("chainweb", TrustPointStatus::Verified)
        ]
    );
    assert_eq!(
        report.trust_points[1].steps,
        [
            steps::ANCHOR_TO_OUTPUT,
            steps::OUTPUT_TO_BLOCK,
            steps::TRUSTED_HEADER
        ]
    );
    assert!(matches!(
        report.trust_points[1].summary,
        TrustSummary::Chainweb {
            block_height: HEIGHT,
            ..
        }
    ));
    // The identity keeps the first trust point, as in version 1.
    assert_eq!(
        report.bundle.trust_point.as_ref().map(TrustSummary::kind),
        Some("tlog")
    );
    assert_eq!(report.bundle.bundle_version, 2);
}

#[test]
fn without_headers_the_chainweb_point_is_unchecked_and_the_log_point_carries_the_verdict() {
    let (b, _) = both();
    let trust = Trust {
        log_keys: vec![signer().verifier()],
        chainweb_headers: vec![],
    };
    let report = verify_bundle(&b, &trust);
    assert_eq!(report.verdict, Verdict::Verified);
    let unchecked: Vec<_> = report.unchecked().collect();
    assert_eq!(unchecked.len(), 1);
    assert_eq!(unchecked[0].step, steps::TRUSTED_HEADER);
    assert!(
        unchecked[0]
            .detail
            .starts_with("no trusted block header supplied (--chainweb-header or --chainweb-node)"),
        "{}",
        unchecked[0].detail
    );
    assert_eq!(report.failures().count(), 0);
    // The chainweb point's other steps still ran against the bundle's own header.
    assert_eq!(
        report.steps[5..7]
            .iter()
            .map(|s| s.status)
            .collect::<Vec<_>>(),
        [Status::Ok, Status::Ok]
    );
    assert_eq!(report.trust_points[1].status, TrustPointStatus::Unchecked);
    assert_eq!(report.trust_points[0].status, TrustPointStatus::Verified);
    let json = serde_json::to_value(&report).expect("serializes");
    assert_eq!(json["steps"][7]["status"], "unchecked");
    assert_eq!(json["trust_points"][1]["status"], "unchecked");
    assert_eq!(json["trust_points"][1]["type"], "chainweb");
}

#[test]
fn without_log_keys_the_log_point_is_unchecked_and_the_chainweb_point_carries_the_verdict() {
    let (b, header) = both();
    let trust = Trust {
        log_keys: vec![],
        chainweb_headers: vec![header],
    };
    let report = verify_bundle(&b, &trust);
    assert_eq!(report.verdict, Verdict::Verified);
    let unchecked: Vec<_> = report.unchecked().collect();
    assert_eq!(unchecked.len(), 1);
    assert_eq!(unchecked[0].step, steps::CHECKPOINT);
    assert!(
        unchecked[0]
            .detail
            .starts_with("no log key supplied (--log-key)"),
        "{}",
        unchecked[0].detail
    );
    // anchor→log still ran, against the root the checkpoint claims.
    assert_eq!(report.steps[4].status, Status::Ok);
    assert!(report.steps[4].detail.contains("not verified"));
}

#[test]
fn with_no_trust_at_all_nothing_is_verified() {
    let (b, _) = both();
    let report = verify_bundle(&b, &Trust::default());
    assert_eq!(report.verdict, Verdict::Failed);
    assert_eq!(report.failures().count(), 0);
    assert_eq!(report.unchecked().count(), 2);
    assert!(
        report
            .trust_points
            .iter()
            .all(|t| t.status == TrustPointStatus::Unchecked)
    );
}

#[test]
fn supplied_trust_that_matches_nothing_fails_as_in_version_1() {
    let (b, header) = both();
    let other = LogSigner::from_seed(ORIGIN, [9; 32]).expect("signer");
    let mut other_header = header.clone();
    other_header.height += 1;
    let report = verify_bundle(
        &b,
        &Trust {
            log_keys: vec![other.verifier()],
            chainweb_headers: vec![other_header],
        },
    );
    let failed: Vec<&str> = report.failures().map(|s| s.step.as_str()).collect();
    assert_eq!(failed, [steps::CHECKPOINT, steps::TRUSTED_HEADER]);
    assert_eq!(report.verdict, Verdict::Failed);
    // A failed log key fails the bundle even though the chainweb point holds.
    let report = verify_bundle(
        &b,
        &Trust {
            log_keys: vec![other.verifier()],
            chainweb_headers: vec![header],
        },
    );
    assert_eq!(report.trust_points[1].status, TrustPointStatus::Verified);
    assert_eq!(report.trust_points[0].status, TrustPointStatus::Failed);
    assert_eq!(report.verdict, Verdict::Failed);
}

#[test]
fn a_chainweb_only_bundle_needs_its_header() {
    let (cw, header) = chainweb_point(anchor_root());
    let b = build(BUNDLE_VERSION_V2, vec![TrustPoint::Chainweb(cw)]);
    let trust = Trust {
        log_keys: vec![],
        chainweb_headers: vec![header],
    };
    assert_eq!(verify_bundle(&b, &trust).verdict, Verdict::Verified);
    let report = verify_bundle(&b, &Trust::default());
    assert_eq!(report.verdict, Verdict::Failed);
    assert_eq!(
        statuses(&b, &Trust::default())[5],
        (steps::TRUSTED_HEADER.to_owned(), Status::Unchecked)
    );
}

#[test]
fn version_1_keeps_failing_without_trust_where_version_2_says_unchecked() {
    let (cw, header) = chainweb_point(anchor_root());
    let mut cw1 = cw;
    cw1.header_source = None;
    let v1 = build(BUNDLE_VERSION_V1, vec![TrustPoint::Chainweb(cw1)]);
    let s = statuses(&v1, &Trust::default());
    assert_eq!(s[5], (steps::TRUSTED_HEADER.to_owned(), Status::Failed));
    let trust = Trust {
        log_keys: vec![],
        chainweb_headers: vec![header],
    };
    assert_eq!(verify_bundle(&v1, &trust).verdict, Verdict::Verified);
    let v1_tlog = build(BUNDLE_VERSION_V1, vec![tlog_point(&signer())]);
    assert_eq!(
        statuses(&v1_tlog, &Trust::default())[3],
        (steps::CHECKPOINT.to_owned(), Status::Failed)
    );
}

#[test]
fn tampering_with_a_v2_bundle_fails_the_step_that_depends_on_it() {
    let (b, header) = both();
    let trust = full_trust(&header);
    let good = to_value(&b);
    type Tamper = fn(&mut Value);
    let cases: Vec<(&str, Tamper, &[&str])> = vec![
        (
            "event id",
            |v| v["event"]["eventId"] = json!("inv-2026-9999"),
            &[steps::EVENT_LEAF],
        ),
        (
            "received time",
            |v| v["event"]["receivedAtMicros"] = json!(1),
            &[steps::EVENT_LEAF],
        ),
        (
            "batch leaf index",
            |v| v["batch"]["leafIndex"] = json!(2),
            &[steps::EVENT_TO_BATCH],
        ),
        (
            "anchor leaf index",
            |v| v["anchor"]["leafIndex"] = json!(0),
            &[steps::BATCH_TO_ANCHOR],
        ),
        (
            "log leaf index",
            |v| v["trustPoints"][0]["leafIndex"] = json!(7),
            &[steps::ANCHOR_TO_LOG],
        ),
        (
            "log size",
            |v| v["trustPoints"][0]["logSize"] = json!(11),
            &[steps::CHECKPOINT],
        ),
        (
            "block height",
            |v| v["trustPoints"][1]["blockHeight"] = json!(HEIGHT + 1),
            &[steps::OUTPUT_TO_BLOCK, steps::TRUSTED_HEADER],
        ),
        (
            "network",
            |v| v["trustPoints"][1]["network"] = json!("testnet04"),
            &[steps::OUTPUT_TO_BLOCK],
        ),
        (
            "anchor root location",
            |v| v["trustPoints"][1]["anchorRootLocation"] = json!("result.other"),
            &[steps::ANCHOR_TO_OUTPUT],
        ),
        (
            "spv proof",
            |v| v["trustPoints"][1]["spvProof"] = json!("bm9wZQ"),
            &[steps::ANCHOR_TO_OUTPUT, steps::OUTPUT_TO_BLOCK],
        ),
    ];
    for (what, tamper, expected) in cases {
        let mut v = good.clone();
        tamper(&mut v);
        let b = Bundle::from_json(v.to_string().as_bytes()).expect("parses");
        let report = verify_bundle(&b, &trust);
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
fn unreadable_v2_bundles_are_rejected_with_a_clear_error() {
    let good = to_value(&both().0);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        parse_err(&v)
    };
    let e = with(&|v| v["trustPoints"][1] = v["trustPoints"][0].clone());
    assert!(e.contains("two \"tlog\" trust points"), "{e}");
    let e = with(&|v| {
        v["trustPoints"]
            .as_array_mut()
            .map(|a| a.reverse())
            .unwrap_or_default()
    });
    assert!(e.contains("tlog trust point comes first"), "{e}");
    let e = with(&|v| v["trustPoints"] = json!([]));
    assert!(e.contains("trustPoints is empty"), "{e}");
    let e = with(&|v| {
        let first = v["trustPoints"][0].clone();
        if let Some(a) = v["trustPoints"].as_array_mut() {
            a.push(first);
        }
    });
    assert!(e.contains("at most 2"), "{e}");
    let e = with(&|v| v["trustPoints"] = json!({"type": "tlog"}));
    assert!(e.contains("must be an array"), "{e}");
    let e = with(&|v| v["trustPoints"][1]["type"] = json!("pigeon"));
    assert!(
        e.contains("trustPoints[1]") && e.contains("unknown trust point type \"pigeon\""),
        "{e}"
    );
    let e = with(&|v| {
        drop(
            v["trustPoints"][0]
                .as_object_mut()
                .map(|o| o.remove("type")),
        )
    });
    assert!(e.contains("trustPoints[0]: missing field \"type\""), "{e}");
    let e = with(&|v| v["trustPoints"][1]["blockTime"] = json!(1));
    assert!(
        e.contains("trustPoints[1] (chainweb)") && e.contains("blockTime"),
        "{e}"
    );
    let e = with(&|v| v["trustPoints"][1]["header"] = json!("AAAA"));
    assert!(e.contains("header must be a JSON object"), "{e}");
    let e = with(&|v| v["trustPoints"][1]["headerSource"] = json!({"node": NODE}));
    assert!(e.contains("fetchedAt"), "{e}");
    let e = with(&|v| v["event"]["surprise"] = json!(1));
    assert!(e.contains("event") && e.contains("surprise"), "{e}");
    let e = with(&|v| v["extra"] = json!(1));
    assert!(
        e.contains("unknown field \"extra\" in a version-2 bundle"),
        "{e}"
    );
    let e = with(&|v| v["trust_point"] = v["trustPoints"][0].clone());
    assert!(e.contains("trust_point"), "{e}");
    let e = with(&|v| v["version"] = json!(3));
    assert!(e.contains("version 3 is not supported"), "{e}");
    // tenantId: hyphenated lowercase only (version 1 also took bare or uppercase hex).
    for bad in [
        "018F3C2A-7B10-7C00-8000-123456789ABC",
        "018f3c2a7b107c008000123456789abc",
        "018f3c2a-7b10-7c00-8000-123456789ab",
    ] {
        let e = with(&|v| v["event"]["tenantId"] = json!(bad));
        assert!(e.contains("tenantId must be a UUID"), "{bad}: {e}");
    }
}

#[test]
fn the_prover_builds_any_allowed_set_of_trust_points_and_refuses_the_rest() {
    let w = world();
    let (cw, _) = chainweb_point(anchor_root());
    let batch_proof = w.batch.proof(3).expect("proof");
    let anchor_proof = w.anchor.proof(1).expect("proof");
    let input = |version, trust_points| BundleInput {
        version,
        event: &w.event,
        batch_id: None,
        batch_proof: &batch_proof,
        batch_root: w.batch.root(),
        anchor_id: "a".into(),
        anchor_proof: &anchor_proof,
        anchor_root: w.anchor.root(),
        trust_points,
    };
    let tl = tlog_point(&signer());
    let cwp = TrustPoint::Chainweb(cw.clone());
    // Given chainweb first, the bundle still lists tlog first.
    let b = Bundle::build(input(2, vec![cwp.clone(), tl.clone()])).expect("builds");
    assert_eq!(
        b.trust_points
            .iter()
            .map(TrustPoint::kind)
            .collect::<Vec<_>>(),
        ["tlog", "chainweb"]
    );
    assert!(b.tlog().is_some() && b.chainweb().is_some());
    for (what, version, tps) in [
        ("no trust point", 2, vec![]),
        ("two tlog points", 2, vec![tl.clone(), tl.clone()]),
        ("two chainweb points", 2, vec![cwp.clone(), cwp.clone()]),
        (
            "three points",
            2,
            vec![tl.clone(), cwp.clone(), cwp.clone()],
        ),
        ("two points in version 1", 1, vec![tl.clone(), cwp.clone()]),
        ("a header source in version 1", 1, vec![cwp.clone()]),
        ("version 3", 3, vec![tl.clone()]),
    ] {
        assert!(Bundle::build(input(version, tps)).is_err(), "{what}");
    }
    // A tlog point for another leaf is caught, in either version.
    let wrong = TrustPoint::tlog(
        ORIGIN,
        5,
        10,
        &w.log.inclusion_proof(5, 10).expect("p"),
        match &tl {
            TrustPoint::Tlog(t) => &t.checkpoint,
            TrustPoint::Chainweb(_) => unreachable!(),
        },
    );
    assert!(Bundle::build(input(2, vec![wrong.clone(), cwp.clone()])).is_err());
    assert!(Bundle::build(input(1, vec![wrong.clone()])).is_err());

    // The final path: the chainweb point added to the fast path's bundle.
    let fast = Bundle::build(input(2, vec![tl.clone()])).expect("builds");
    let full = fast.with_trust_point(cwp.clone()).expect("adds");
    assert_eq!(full, b);
    let again = Bundle::build(input(2, vec![cwp.clone()]))
        .expect("builds")
        .with_trust_point(tl.clone())
        .expect("adds");
    assert_eq!(again, b, "the tlog point goes first");
    assert!(
        full.with_trust_point(cwp.clone()).is_err(),
        "a second chainweb point"
    );
    assert!(
        fast.with_trust_point(wrong).is_err(),
        "a tlog point that does not hold"
    );
    let v1 = Bundle::build(input(1, vec![tl])).expect("builds");
    let mut cw_v1 = cw;
    cw_v1.header_source = None;
    assert!(
        v1.with_trust_point(TrustPoint::Chainweb(cw_v1)).is_err(),
        "version 1 holds one trust point"
    );
}

#[test]
fn a_bundle_assembled_by_hand_that_breaks_its_format_is_not_written_and_not_verified() {
    let (b, header) = both();
    let mut dup = b.clone();
    dup.trust_points.swap(0, 1);
    assert!(dup.to_json().is_err());
    assert_eq!(dup.to_json_pretty(), "");
    assert_eq!(
        verify_bundle(&dup, &full_trust(&header)).verdict,
        Verdict::Failed
    );
    let mut none = b.clone();
    none.trust_points.clear();
    assert!(none.to_json().is_err());
    let report = verify_bundle(&none, &full_trust(&header));
    assert_eq!(report.verdict, Verdict::Failed);
    assert_eq!(report.bundle.trust_point, None);
    let mut v1 = b.clone();
    v1.version = 1;
    assert!(v1.to_json().is_err(), "two points in version 1");
    let mut v7 = b;
    v7.version = 7;
    assert!(v7.to_json().is_err());
    assert_eq!(
        verify_bundle(&v7, &full_trust(&header)).verdict,
        Verdict::Failed
    );
}

#[test]
fn a_trust_point_stored_on_its_own_keeps_its_header_source() {
    let (cw, _) = chainweb_point(anchor_root());
    let tp = TrustPoint::Chainweb(cw);
    let text = serde_json::to_string(&tp).expect("serializes");
    assert!(text.contains("\"header_source\""), "{text}");
    let back: TrustPoint = serde_json::from_str(&text).expect("parses");
    assert_eq!(back, tp);
}

#[test]
fn serde_deserialize_reads_both_versions_with_the_parsers_checks() {
    let (b, _) = both();
    let v = to_value(&b);
    let back: Bundle = serde_json::from_value(v.clone()).expect("reads");
    assert_eq!(back, b);
    let v1 = crate::bundle::good_bundle();
    let back: Bundle = serde_json::from_value(to_value(&v1)).expect("reads");
    assert_eq!(back, v1);
    let mut bad = v;
    bad["trustPoints"][1] = bad["trustPoints"][0].clone();
    assert!(serde_json::from_value::<Bundle>(bad).is_err());
}

#[test]
fn no_single_byte_change_to_a_v2_bundle_still_verifies() {
    let (good, header) = both();
    let trust = full_trust(&header);
    let text = good.to_json_pretty().into_bytes();
    // The position field of the SPV proof object is not bound by any hash (Chainweb runs a
    // proof by its sides): a proof differing only there is the same proof.
    let spv_sans_position = |b: &Bundle| {
        b.chainweb().and_then(|c| {
            TransactionOutputProof::decode_response(&c.spv_proof)
                .ok()
                .map(|mut p| {
                    p.object.position = 0;
                    p
                })
        })
    };
    let good_spv = spv_sans_position(&good);
    for i in 0..text.len() {
        for byte in [b'B', b'0', b'"', b'-'] {
            let mut t = text.clone();
            if t[i] == byte {
                continue;
            }
            t[i] = byte;
            let Ok(mut b) = Bundle::from_json(&t) else {
                continue;
            };
            // Whatever parses is written back in its version's format and reads the same.
            assert_eq!(
                Bundle::from_json(b.to_json_pretty().as_bytes()).as_ref(),
                Ok(&b),
                "byte {i} set to {byte}"
            );
            if spv_sans_position(&b) == good_spv
                && let (Some(TrustPoint::Chainweb(c)), Some(g)) =
                    (b.trust_points.get_mut(1), good.chainweb())
            {
                c.spv_proof = g.spv_proof.clone();
            }
            // Nor are the chain ids of a header's adjacent parents (only their order is), and
            // its claimed hash is optional and the JSON reader skips unknown members: a header
            // that hashes to the same block (and claims no other hash) is the same block.
            let block = |h: &Value| {
                BlockHeader::from_json_value(h)
                    .ok()
                    .and_then(|h| h.verified_hash().ok())
            };
            if let (Some(TrustPoint::Chainweb(c)), Some(g)) =
                (b.trust_points.get_mut(1), good.chainweb())
                && block(&c.header).is_some()
                && block(&c.header) == block(&g.header)
            {
                c.header = g.header.clone();
            }
            // Informational fields; JSON white space is not content.
            let info = |b: &Bundle| {
                let cw = b
                    .chainweb()
                    .map(|c| (c.request_key.clone(), c.header_source.clone()));
                (b.batch.batch_id.clone(), b.anchor.anchor_id.clone(), cw)
            };
            if b == good || info(&b) != info(&good) {
                continue;
            }
            let report = verify_bundle(&b, &trust);
            assert!(
                !report.is_verified(),
                "byte {i} set to {byte}: …{}…",
                String::from_utf8_lossy(&t[i.saturating_sub(80)..(i + 20).min(t.len())])
            );
        }
    }
}
