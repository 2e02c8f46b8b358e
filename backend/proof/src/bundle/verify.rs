//! `verify_bundle`: every step of a bundle checked on its own, with a verdict per step.
//!
//! Steps run independently where they can, so a report shows every fault at once, not just
//! the first. The steps are always, in this order: event leaf, event→batch, batch→anchor, then
//! each trust point's steps in bundle order (tlog: checkpoint signature, anchor→log; chainweb:
//! anchor→transaction output, transaction output→block, trusted block header).
//!
//! * Version 1: the verdict is `verified` only when every step is `ok`.
//! * Version 2: a trust point's *trust* step (the checkpoint signature, the trusted block
//!   header) is `unchecked` when the verifier supplied nothing of that kind at all (no log
//!   key, no Chainweb header); its other steps still run against the bundle's own checkpoint
//!   or header. The verdict is `verified` when no step is `failed` or `skipped` and at least
//!   one trust point has every one of its steps `ok`.

use serde::{Deserialize, Serialize};

use super::{
    ANCHOR_ROOT_LOCATION, BUNDLE_VERSION_V1, BUNDLE_VERSION_V2, Bundle, ChainwebTrustPoint,
    TlogTrustPoint, TrustPoint, check_trust_points,
};
use crate::chainweb::{BlockHeader, version};
use crate::hash::{Hash, HashAlgorithm};
use crate::merkle::{Leaf, MerkleProof, leaf_hash};
use crate::spv::{TransactionOutputProof, verify_against_header};
use crate::tlog::checkpoint::{Checkpoint, parse_checkpoint_unverified};
use crate::tlog::note::{NoteVerifier, open_note};
use crate::tlog::{TLOG_ALG, verify_inclusion};

/// The names of the steps, as they appear in reports.
pub mod steps {
    /// The event fields encode to the leaf bytes.
    pub const EVENT_LEAF: &str = "event leaf";
    /// The event leaf is in the batch tree.
    pub const EVENT_TO_BATCH: &str = "event→batch";
    /// The batch root is in the anchor tree.
    pub const BATCH_TO_ANCHOR: &str = "batch→anchor";
    /// The checkpoint is signed by a trusted log key.
    pub const CHECKPOINT: &str = "checkpoint signature";
    /// The anchor root is in the log at the checkpoint's size.
    pub const ANCHOR_TO_LOG: &str = "anchor→log";
    /// The transaction output carries the anchor root.
    pub const ANCHOR_TO_OUTPUT: &str = "anchor→transaction output";
    /// The SPV proof leads from the output to the block hash of the bundle's header.
    pub const OUTPUT_TO_BLOCK: &str = "transaction output→block";
    /// The bundle's header is one the verifier trusts.
    pub const TRUSTED_HEADER: &str = "trusted block header";
}

/// What the verifier trusts: the logs' keys and Chainweb block headers it obtained itself.
#[derive(Clone, Debug, Default)]
pub struct Trust {
    /// Verifier keys of transparency logs (C2SP signed-note verifier keys).
    pub log_keys: Vec<NoteVerifier>,
    /// Block headers the verifier fetched from a Chainweb node it chooses.
    pub chainweb_headers: Vec<BlockHeader>,
}

/// How one step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The step holds.
    Ok,
    /// The step does not hold; `detail` says why.
    Failed,
    /// The step could not run because its input is unreadable; `detail` says which.
    Skipped,
    /// Version 2 only: a trust step the verifier gave nothing to check against (no log key,
    /// no Chainweb header); `detail` says what to pass.
    Unchecked,
}

/// The verdict of one step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepVerdict {
    /// The step's name (see [`steps`]).
    pub step: String,
    /// How it ended.
    pub status: Status,
    /// What was checked, or why it failed, in a sentence.
    pub detail: String,
    /// The value computed by the verifier (a hash, base64url), when the step compares one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computed: Option<String>,
    /// The value the step must match, when the step compares one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
}

impl StepVerdict {
    fn new(step: &str, status: Status, detail: impl Into<String>) -> Self {
        StepVerdict {
            step: step.to_owned(),
            status,
            detail: detail.into(),
            computed: None,
            expected: None,
        }
    }

    fn compare(mut self, computed: &Hash, expected: &Hash) -> Self {
        self.computed = Some(computed.to_b64url());
        self.expected = Some(expected.to_b64url());
        self
    }
}

/// The overall verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The event was anchored as the bundle says: every step holds (version 1), or no step
    /// failed and at least one trust point holds in full (version 2).
    Verified,
    /// A step failed or could not run, or (version 2) no trust point could be checked.
    Failed,
}

/// Which bundle a report is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleIdentity {
    /// The bundle's format version.
    pub bundle_version: u32,
    /// The tenant, hyphenated UUID.
    pub tenant_id: String,
    /// The event id.
    pub event_id: String,
    /// The content digest the event binds.
    pub digest: String,
    /// When Ancora received the event, microseconds since the Unix epoch.
    pub received_at_micros: i64,
    /// The node hash of the bundle's event leaf bytes.
    pub leaf_hash: Hash,
    /// The batch root.
    pub batch_root: Hash,
    /// The anchor root.
    pub anchor_root: Hash,
    /// The bundle's first trust point (its only one in version 1); `None` only for a bundle
    /// assembled in memory without any. Every trust point is in [`Report::trust_points`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_point: Option<TrustSummary>,
}

/// The trust point, summarised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TrustSummary {
    /// A transparency log.
    Tlog {
        /// The log's origin.
        origin: String,
        /// The anchor root's index in the log.
        leaf_index: u64,
        /// The log size.
        log_size: u64,
    },
    /// A Chainweb block.
    Chainweb {
        /// The network.
        network: String,
        /// The chain.
        chain_id: u32,
        /// The block height.
        block_height: u64,
        /// The block hash.
        block_hash: Hash,
    },
}

impl TrustSummary {
    /// The trust point's type name (`"tlog"` or `"chainweb"`).
    pub fn kind(&self) -> &'static str {
        match self {
            TrustSummary::Tlog { .. } => "tlog",
            TrustSummary::Chainweb { .. } => "chainweb",
        }
    }
}

/// How one trust point ended, judged on its own steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustPointStatus {
    /// Every step of this trust point is `ok`: it binds the anchor root.
    Verified,
    /// A step of this trust point failed or could not run.
    Failed,
    /// Its trust step is `unchecked` (nothing to check it against) and no step failed.
    Unchecked,
}

/// One trust point's verdict, judged on its own steps (the event, batch and anchor steps
/// are shared by all and judged in [`Report::verdict`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustPointVerdict {
    /// `"tlog"` or `"chainweb"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// How its steps ended.
    pub status: TrustPointStatus,
    /// What it is.
    pub summary: TrustSummary,
    /// Its steps' names, in report order (they are also in [`Report::steps`]).
    pub steps: Vec<String>,
    /// Why it is not verified (the first failed or unchecked step's detail), or what holds.
    pub detail: String,
}

/// The result of [`verify_bundle`]: which bundle, each step's verdict, the overall verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The report format version (1).
    pub report_version: u32,
    /// Which bundle.
    pub bundle: BundleIdentity,
    /// Every step, in proof order.
    pub steps: Vec<StepVerdict>,
    /// Version 1: `verified` when every step is `ok`. Version 2: `verified` when no step is
    /// `failed` or `skipped` and at least one trust point is verified.
    pub verdict: Verdict,
    /// Every trust point of the bundle, in bundle order, with its own verdict.
    #[serde(default)]
    pub trust_points: Vec<TrustPointVerdict>,
}

impl Report {
    /// True when the bundle verified.
    pub fn is_verified(&self) -> bool {
        self.verdict == Verdict::Verified
    }

    /// The steps that failed or could not run (not the `unchecked` ones). A version-2 report
    /// can have none and still not be verified (no trust point checked): the verdict is
    /// [`is_verified`](Self::is_verified).
    pub fn failures(&self) -> impl Iterator<Item = &StepVerdict> {
        self.steps
            .iter()
            .filter(|s| matches!(s.status, Status::Failed | Status::Skipped))
    }

    /// The steps left `unchecked` (version 2: nothing supplied to check them against).
    pub fn unchecked(&self) -> impl Iterator<Item = &StepVerdict> {
        self.steps.iter().filter(|s| s.status == Status::Unchecked)
    }

    /// The report as pretty-printed JSON.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// Verifies every step of `bundle` against what the verifier trusts. Never panics and never
/// stops at the first fault: each step gets its verdict.
///
/// A bundle whose trust points do not fit its version (only possible for one assembled in
/// memory: parsing rejects it) or of an unknown version gets the verdict `failed`.
pub fn verify_bundle(bundle: &Bundle, trust: &Trust) -> Report {
    let v2 = bundle.version == BUNDLE_VERSION_V2;
    let mut steps = vec![
        check_event_leaf(bundle),
        check_event_to_batch(bundle),
        check_batch_to_anchor(bundle),
    ];
    let mut trust_points = Vec::with_capacity(bundle.trust_points.len());
    for tp in &bundle.trust_points {
        let first = steps.len();
        match tp {
            TrustPoint::Tlog(t) => check_tlog(t, &bundle.anchor.root, trust, v2, &mut steps),
            TrustPoint::Chainweb(c) => {
                check_chainweb(c, &bundle.anchor.root, trust, v2, &mut steps)
            }
        }
        trust_points.push(trust_point_verdict(tp, &steps[first..]));
    }
    let well_formed = check_trust_points(bundle.version, &bundle.trust_points).is_ok();
    let verified = well_formed
        && match bundle.version {
            BUNDLE_VERSION_V1 => steps.iter().all(|s| s.status == Status::Ok),
            BUNDLE_VERSION_V2 => {
                !steps
                    .iter()
                    .any(|s| matches!(s.status, Status::Failed | Status::Skipped))
                    && trust_points
                        .iter()
                        .any(|t| t.status == TrustPointStatus::Verified)
            }
            _ => false,
        };
    Report {
        report_version: 1,
        bundle: identity(bundle),
        steps,
        verdict: if verified {
            Verdict::Verified
        } else {
            Verdict::Failed
        },
        trust_points,
    }
}

fn trust_point_verdict(tp: &TrustPoint, own: &[StepVerdict]) -> TrustPointVerdict {
    let bad = own
        .iter()
        .find(|s| matches!(s.status, Status::Failed | Status::Skipped));
    let unchecked = own.iter().find(|s| s.status == Status::Unchecked);
    let (status, detail) = match (bad, unchecked) {
        (Some(s), _) => (
            TrustPointStatus::Failed,
            format!("{} {}: {}", s.step, status_word(s.status), s.detail),
        ),
        (None, Some(s)) => (
            TrustPointStatus::Unchecked,
            format!("{} not checked: {}", s.step, s.detail),
        ),
        (None, None) => (
            TrustPointStatus::Verified,
            format!(
                "every step holds: the anchor root is bound to this {}",
                match tp {
                    TrustPoint::Tlog(_) => "transparency log's signed checkpoint",
                    TrustPoint::Chainweb(_) => "Chainweb block",
                }
            ),
        ),
    };
    TrustPointVerdict {
        kind: tp.kind().to_owned(),
        status,
        summary: summary(tp),
        steps: own.iter().map(|s| s.step.clone()).collect(),
        detail,
    }
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
        Status::Unchecked => "unchecked",
    }
}

fn summary(tp: &TrustPoint) -> TrustSummary {
    match tp {
        TrustPoint::Tlog(t) => TrustSummary::Tlog {
            origin: t.origin.clone(),
            leaf_index: t.leaf_index,
            log_size: t.log_size,
        },
        TrustPoint::Chainweb(c) => TrustSummary::Chainweb {
            network: c.network.clone(),
            chain_id: c.chain_id,
            block_height: c.block_height,
            block_hash: c.block_hash,
        },
    }
}

fn identity(b: &Bundle) -> BundleIdentity {
    let e = &b.event;
    BundleIdentity {
        bundle_version: b.version,
        tenant_id: uuid(&e.tenant_id),
        event_id: e.event_id.clone(),
        digest: e.digest.to_string(),
        received_at_micros: e.received_at_micros,
        leaf_hash: leaf_hash(HashAlgorithm::Sha512_256, &e.leaf.0),
        batch_root: b.batch.root,
        anchor_root: b.anchor.root,
        trust_point: b.trust_points.first().map(summary),
    }
}

fn uuid(b: &[u8; 16]) -> String {
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn check_event_leaf(b: &Bundle) -> StepVerdict {
    let name = steps::EVENT_LEAF;
    let leaf = &b.event.leaf.0;
    let expected = leaf_hash(HashAlgorithm::Sha512_256, leaf);
    match b.event.fields().encode() {
        Err(e) => StepVerdict::new(name, Status::Failed, format!("the event fields cannot be encoded: {e}")),
        Ok(bytes) if bytes == *leaf => StepVerdict::new(
            name,
            Status::Ok,
            "the event fields encode (event leaf v1) to exactly the bundle's leaf bytes",
        )
        .compare(&expected, &expected),
        Ok(bytes) => StepVerdict::new(
            name,
            Status::Failed,
            "the event fields encode to other bytes than the bundle's leaf: the event or its leaf was altered",
        )
        .compare(&leaf_hash(HashAlgorithm::Sha512_256, &bytes), &expected),
    }
}

/// Decodes a proof object or says why not.
fn decode(name: &str, bytes: &[u8]) -> Result<MerkleProof, StepVerdict> {
    MerkleProof::decode(bytes).map_err(|e| {
        StepVerdict::new(
            name,
            Status::Failed,
            format!("the proof object does not decode: {e}"),
        )
    })
}

fn run_step(
    name: &str,
    alg: HashAlgorithm,
    proof: &[u8],
    subject: Leaf<'_>,
    root: &Hash,
    what: &str,
    index: u64,
) -> StepVerdict {
    let proof = match decode(name, proof) {
        Ok(p) => p,
        Err(v) => return v,
    };
    if proof.position != index {
        return StepVerdict::new(
            name,
            Status::Failed,
            format!(
                "the proof object is for leaf {}, the bundle says leaf {index}",
                proof.position
            ),
        );
    }
    let computed = proof.run(alg, subject);
    if computed == *root {
        StepVerdict::new(
            name,
            Status::Ok,
            format!("{} {alg} steps lead to {what}", proof.steps.len()),
        )
        .compare(&computed, root)
    } else {
        StepVerdict::new(
            name,
            Status::Failed,
            format!("the proof leads to another root than {what}"),
        )
        .compare(&computed, root)
    }
}

fn check_event_to_batch(b: &Bundle) -> StepVerdict {
    run_step(
        steps::EVENT_TO_BATCH,
        b.batch.algorithm,
        &b.batch.proof.0,
        Leaf::Input(&b.event.leaf.0),
        &b.batch.root,
        "the batch root",
        b.batch.leaf_index,
    )
}

fn check_batch_to_anchor(b: &Bundle) -> StepVerdict {
    run_step(
        steps::BATCH_TO_ANCHOR,
        b.anchor.algorithm,
        &b.anchor.proof.0,
        Leaf::Tree(b.batch.root),
        &b.anchor.root,
        "the anchor root",
        b.anchor.leaf_index,
    )
}

fn check_tlog(
    t: &TlogTrustPoint,
    anchor_root: &Hash,
    trust: &Trust,
    v2: bool,
    out: &mut Vec<StepVerdict>,
) {
    // The signature first; the inclusion step then runs against the signed root, or against
    // the claimed root when the signature cannot be checked (the report says so).
    let signed = check_checkpoint(t, trust, v2);
    let (root, source) = match &signed {
        Ok(cp) => (Some(cp.root), "the signed checkpoint's root"),
        Err(_) => (
            parse_checkpoint_unverified(&t.checkpoint)
                .ok()
                .map(|c| c.root),
            "the root the checkpoint claims (its signature is not verified)",
        ),
    };
    out.push(match signed {
        Ok(cp) => StepVerdict::new(
            steps::CHECKPOINT,
            Status::Ok,
            format!(
                "checkpoint of log {} at size {} signed by a trusted key",
                cp.origin, cp.size
            ),
        ),
        Err(v) => v,
    });
    let name = steps::ANCHOR_TO_LOG;
    let Some(root) = root else {
        out.push(StepVerdict::new(
            name,
            Status::Skipped,
            "the checkpoint cannot be read, so there is no log root to check against",
        ));
        return;
    };
    let proof = match decode(name, &t.proof.0) {
        Ok(p) => p,
        Err(v) => {
            out.push(v);
            return;
        }
    };
    if proof.position != t.leaf_index {
        out.push(StepVerdict::new(
            name,
            Status::Failed,
            format!(
                "the proof object is for leaf {}, the bundle says leaf {}",
                proof.position, t.leaf_index
            ),
        ));
        return;
    }
    let computed = proof.root_from_hash(TLOG_ALG, *anchor_root);
    out.push(
        match verify_inclusion(t.leaf_index, t.log_size, *anchor_root, &proof, &root) {
            Ok(()) => StepVerdict::new(
                name,
                Status::Ok,
                format!(
                    "the anchor root is leaf {} of the log at size {}: the proof leads to {source}",
                    t.leaf_index, t.log_size
                ),
            ),
            Err(e) => StepVerdict::new(name, Status::Failed, format!("{e}")),
        }
        .compare(&computed, &root),
    );
}

fn check_checkpoint(
    t: &TlogTrustPoint,
    trust: &Trust,
    v2: bool,
) -> Result<Checkpoint, StepVerdict> {
    let fail = |msg: String| StepVerdict::new(steps::CHECKPOINT, Status::Failed, msg);
    if v2 && trust.log_keys.is_empty() {
        return Err(StepVerdict::new(
            steps::CHECKPOINT,
            Status::Unchecked,
            format!(
                "no log key supplied (--log-key): pass the verifier key of log {} (its text or a file holding it) to check the checkpoint's signature",
                t.origin
            ),
        ));
    }
    if trust.log_keys.is_empty() {
        return Err(fail(format!(
            "no log key given: pass --log-key KEY, the verifier key of log {} (its text or a file holding it)",
            t.origin
        )));
    }
    let note = open_note(&t.checkpoint, &trust.log_keys).map_err(|e| fail(e.to_string()))?;
    let cp = Checkpoint::parse_body(note.text).map_err(|e| fail(e.to_string()))?;
    if cp.origin != t.origin {
        return Err(fail(format!(
            "the checkpoint is for log {:?}, the bundle names log {:?}",
            cp.origin, t.origin
        )));
    }
    if cp.size != t.log_size {
        return Err(fail(format!(
            "the checkpoint has size {}, the bundle's proof is for size {}",
            cp.size, t.log_size
        )));
    }
    Ok(cp)
}

fn check_chainweb(
    c: &ChainwebTrustPoint,
    anchor_root: &Hash,
    trust: &Trust,
    v2: bool,
    out: &mut Vec<StepVerdict>,
) {
    let proof = TransactionOutputProof::decode_response(&c.spv_proof);
    // anchor → transaction output
    out.push(match &proof {
        Err(e) => StepVerdict::new(
            steps::ANCHOR_TO_OUTPUT,
            Status::Failed,
            format!("the SPV proof does not decode: {e}"),
        ),
        Ok(p) => check_output(p, c, anchor_root, v2),
    });
    // transaction output → block
    let header = BlockHeader::from_json_value(&c.header);
    out.push(match (&proof, &header) {
        (Err(_), _) => StepVerdict::new(
            steps::OUTPUT_TO_BLOCK,
            Status::Skipped,
            "the SPV proof does not decode",
        ),
        (_, Err(e)) => StepVerdict::new(
            steps::OUTPUT_TO_BLOCK,
            Status::Failed,
            format!("the bundle's block header does not parse: {e}"),
        ),
        (Ok(p), Ok(h)) => check_output_to_block(p, h, c),
    });
    // block → trusted header
    out.push(check_trusted_header(c, trust, v2));
}

fn check_output(
    p: &TransactionOutputProof,
    c: &ChainwebTrustPoint,
    anchor_root: &Hash,
    v2: bool,
) -> StepVerdict {
    let name = steps::ANCHOR_TO_OUTPUT;
    if c.anchor_root_location != ANCHOR_ROOT_LOCATION {
        let (field, version) = if v2 {
            ("anchorRootLocation", 2)
        } else {
            ("anchor_root_location", 1)
        };
        return StepVerdict::new(
            name,
            Status::Failed,
            format!(
                "{field} {:?} is not understood (version {version} knows {ANCHOR_ROOT_LOCATION:?})",
                c.anchor_root_location
            ),
        );
    }
    let output = match p.command_result() {
        Ok(o) => o,
        Err(e) => {
            return StepVerdict::new(
                name,
                Status::Failed,
                format!("the proof's subject is not a transaction output: {e}"),
            );
        }
    };
    if !output.is_success() {
        return StepVerdict::new(
            name,
            Status::Failed,
            format!(
                "the anchoring transaction did not succeed (result.status is {:?})",
                output.status().unwrap_or("missing")
            ),
        );
    }
    let data = output.data().and_then(|d| d.as_str());
    let expected = anchor_root.to_b64url();
    let mut v = match data {
        Some(d) if d == expected => StepVerdict::new(
            name,
            Status::Ok,
            "the transaction output's result.data is the anchor root",
        ),
        Some(_) => StepVerdict::new(
            name,
            Status::Failed,
            "the transaction output's result.data is not the anchor root",
        ),
        None => StepVerdict::new(
            name,
            Status::Failed,
            "the transaction output has no string result.data",
        ),
    };
    v.computed = data.map(str::to_owned);
    v.expected = Some(expected);
    v
}

fn check_output_to_block(
    p: &TransactionOutputProof,
    h: &BlockHeader,
    c: &ChainwebTrustPoint,
) -> StepVerdict {
    let name = steps::OUTPUT_TO_BLOCK;
    let fail = |msg: String| StepVerdict::new(name, Status::Failed, msg);
    match version::code_from_name(&c.network) {
        Ok(code) if code == h.version => {}
        Ok(_) => {
            return fail(format!(
                "the block header is not from network {}",
                c.network
            ));
        }
        Err(e) => return fail(e.to_string()),
    }
    if h.height != c.block_height {
        return fail(format!(
            "the block header has height {}, the bundle says {}",
            h.height, c.block_height
        ));
    }
    match verify_against_header(p, c.chain_id, h) {
        Err(e) => {
            let mut v = fail(e.to_string());
            v.computed = Some(p.run().to_b64url());
            v.expected = Some(c.block_hash.to_b64url());
            v
        }
        Ok(ok) if ok.header_hash != c.block_hash => fail(format!(
            "the block header hashes to {}, the bundle says block {}",
            ok.header_hash, c.block_hash
        ))
        .compare(&ok.header_hash, &c.block_hash),
        Ok(ok) => StepVerdict::new(
            name,
            Status::Ok,
            format!(
                "{} steps lead from the transaction output to block {} at height {} on chain {}",
                p.object.steps.len(),
                ok.header_hash,
                ok.header_height,
                ok.chain
            ),
        )
        .compare(&ok.root, &c.block_hash),
    }
}

fn check_trusted_header(c: &ChainwebTrustPoint, trust: &Trust, v2: bool) -> StepVerdict {
    let name = steps::TRUSTED_HEADER;
    if v2 && trust.chainweb_headers.is_empty() {
        return StepVerdict::new(
            name,
            Status::Unchecked,
            format!(
                "no trusted block header supplied (--chainweb-header or --chainweb-node): pass the header of chain {} at height {} from a node you trust to check that the block is on the chain",
                c.chain_id, c.block_height
            ),
        );
    }
    if trust.chainweb_headers.is_empty() {
        return StepVerdict::new(
            name,
            Status::Failed,
            format!(
                "no trusted Chainweb header given: pass --chainweb-header HEADER.json, the header of chain {} at height {} fetched from a node you trust",
                c.chain_id, c.block_height
            ),
        );
    }
    let same_place = trust
        .chainweb_headers
        .iter()
        .filter(|h| h.chain_id == c.chain_id && h.height == c.block_height);
    let mut seen = None;
    for h in same_place {
        let hash = h.compute_hash();
        if hash == c.block_hash {
            return StepVerdict::new(
                name,
                Status::Ok,
                format!(
                    "the block is the trusted header of chain {} at height {}",
                    c.chain_id, c.block_height
                ),
            )
            .compare(&hash, &c.block_hash);
        }
        seen = Some(hash);
    }
    match seen {
        Some(hash) => StepVerdict::new(name, Status::Failed, format!(
            "the trusted header of chain {} at height {} is another block: the bundle's block is not on the chain you trust",
            c.chain_id, c.block_height
        ))
        .compare(&hash, &c.block_hash),
        None => StepVerdict::new(name, Status::Failed, format!(
            "none of the trusted headers is of chain {} at height {}: pass that one with --chainweb-header",
            c.chain_id, c.block_height
        )),
    }
}
