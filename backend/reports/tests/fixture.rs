//! A deterministic tlog bundle: event `i` of a 5-event batch, in a 3-batch anchor, leaf 6 of
//! a 10-leaf log signed with a fixed key; and a version-2 bundle of event 3 with a chainweb
//! trust point too. Shared by the tests and the bench.
#![allow(dead_code)]

use ancora_proof::bundle::{
    BUNDLE_VERSION_V1, BUNDLE_VERSION_V2, Bundle, BundleInput, ChainwebTrustPoint, HeaderSource,
    Report, Trust, TrustPoint, verify_bundle,
};
use ancora_proof::chainweb::{BlockHeader, Payload, version};
use ancora_proof::event::{ContentDigest, EventLeaf};
use ancora_proof::hash::{HashAlgorithm, b64url_encode};
use ancora_proof::merkle::{Leaf, MerkleTree};
use ancora_proof::spv::build_output_proof;
use ancora_proof::tlog::{Checkpoint, LogSigner, MemoryLog, sign_checkpoint};

const A: HashAlgorithm = HashAlgorithm::Sha512_256;
pub const ORIGIN: &str = "log.ancora.test/v1";

pub fn event(i: usize) -> EventLeaf {
    EventLeaf {
        tenant_id: [
            0x01, 0x8f, 0x3c, 0x2a, 0x7b, 0x10, 0x7c, 0, 0x80, 0, 0x12, 0x34, 0x56, 0x78, 0x9a,
            0xbc,
        ],
        event_id: format!("inv-2026-{i:04}"),
        digest: ContentDigest::sha256_of(format!("invoice {i}").as_bytes()),
        submitter: "ak_live_ab12".into(),
        received_at_micros: 1_767_225_600_000_000 + i as i64,
    }
}

pub fn signer() -> LogSigner {
    LogSigner::from_seed(ORIGIN, [7; 32]).expect("valid name")
}

pub fn trust() -> Trust {
    Trust {
        log_keys: vec![signer().verifier()],
        chainweb_headers: vec![],
    }
}

/// The bundles of every event of a batch of `n` events.
pub fn bundles(n: usize) -> Vec<Bundle> {
    let events: Vec<EventLeaf> = (0..n).map(event).collect();
    let encoded: Vec<Vec<u8>> = events
        .iter()
        .map(|e| e.encode().expect("encodes"))
        .collect();
    let leaves: Vec<Leaf<'_>> = encoded.iter().map(|e| Leaf::Input(e)).collect();
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
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size: 10,
        root: log.root().expect("root"),
    };
    let checkpoint = sign_checkpoint(&signer(), &cp).expect("signs");
    let log_proof = log.inclusion_proof(6, 10).expect("proof");
    let anchor_proof = anchor.proof(1).expect("proof");
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            Bundle::build(BundleInput {
                event: e,
                batch_id: Some("0190a1b2-0000-7000-8000-000000000042".into()),
                batch_proof: &batch.proof(i).expect("proof"),
                batch_root: batch.root(),
                anchor_id: "0190a1b2-0000-7000-8000-0000000000a7".into(),
                anchor_proof: &anchor_proof,
                anchor_root: anchor.root(),
                version: BUNDLE_VERSION_V1,
                trust_points: vec![TrustPoint::tlog(ORIGIN, 6, 10, &log_proof, &checkpoint)],
            })
            .expect("the bundle builds")
        })
        .collect()
}

pub fn bundle() -> Bundle {
    bundles(5).swap_remove(3)
}

pub fn verified(b: &Bundle) -> Report {
    verify_bundle(b, &trust())
}

pub fn at(secs: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(secs).expect("valid time")
}

/// Where the service says it fetched the Chainweb header.
pub const NODE: &str = "https://api.chainweb.com";
/// When.
pub const FETCHED_AT: &str = "2026-01-01T00:05:00Z";

/// Event 3's bundle in version 2 with both trust points: the tlog point of [`bundles`] and a
/// chainweb point on mainnet01 chain 0 at height 5 000 000 whose anchoring transaction wrote
/// the anchor root (a synthetic header, hashed as Chainweb does; the SPV proof built by
/// ancora-proof). Returns the bundle and the block header.
pub fn v2_bundle() -> (Bundle, BlockHeader) {
    let v1 = bundle();
    let root = v1.anchor.root;
    let request_key = b64url_encode(&[3; 32]);
    let output = serde_json::json!({
        "reqKey": request_key,
        "result": { "status": "success", "data": root.to_b64url() },
        "txId": 7, "logs": null, "metaData": null, "continuation": null, "gas": 400,
        "events": []
    });
    let payload = Payload {
        miner_data: br#"{"account":"miner","predicate":"keys-all","public-keys":[]}"#.to_vec(),
        coinbase: br#"{"result":{"status":"success","data":"Write succeeded"}}"#.to_vec(),
        transactions: vec![(
            br#"{"cmd":"anchor"}"#.to_vec(),
            output.to_string().into_bytes(),
        )],
    };
    let h = |s: &str| A.digest(&[s.as_bytes()]);
    let mut header = BlockHeader {
        fork_state: 0,
        creation_time: 1_767_225_900_000_000,
        parent: h("parent"),
        adjacents: [
            (5, h("adjacent 5")),
            (10, h("adjacent 10")),
            (15, h("adjacent 15")),
        ]
        .into_iter()
        .collect(),
        target: [0xff; 32],
        payload_hash: payload.hashes().payload_hash,
        chain_id: 0,
        weight: [0; 32],
        height: 5_000_000,
        version: version::MAINNET01,
        epoch_start: 1_767_225_000_000_000,
        nonce: 42,
        hash: None,
    };
    header.hash = Some(header.compute_hash());
    let proof = build_output_proof(&payload, 0, &header).expect("proof builds");
    let point = TrustPoint::Chainweb(ChainwebTrustPoint {
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
    });
    let mut fast = v1;
    fast.version = BUNDLE_VERSION_V2;
    (fast.with_trust_point(point).expect("adds"), header)
}
