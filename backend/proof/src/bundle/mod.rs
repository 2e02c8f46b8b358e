//! The proof bundle, version 1: one JSON document carrying every step from an event to a
//! trust point, enough to verify offline with [`verify_bundle`].
//!
//! ```text
//! event ──(event→batch proof)──▶ batch root ──(batch→anchor proof)──▶ anchor root ──▶ trust point
//! ```
//!
//! The trust point is either Ancora's own log ([`TlogTrustPoint`]: an inclusion proof of the
//! anchor root and a signed checkpoint) or a Chainweb block ([`ChainwebTrustPoint`]: a
//! `/pact/spv` proof of the anchoring transaction's output and the block header).
//!
//! Encodings: hashes, proof objects and leaf bytes are base64url without padding; proof
//! objects are Chainweb's binary Merkle proof object ([`MerkleProof::encode`]). Every object
//! rejects unknown fields: a version-1 verifier must not silently ignore something it does
//! not understand. A later format gets a new `version`.
//!
//! The JSON Schema is `schema/bundle-v1.schema.json` in this crate.

mod parse;
mod verify;

pub use verify::{
    BundleIdentity, Report, Status, StepVerdict, Trust, TrustSummary, Verdict, steps, verify_bundle,
};

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::event::{ContentDigest, EventLeaf};
use crate::hash::{Hash, HashAlgorithm, b64url_decode, b64url_encode};
use crate::merkle::{Leaf, MerkleProof};
use crate::tlog;

/// The bundle format version this crate writes and reads.
pub const BUNDLE_VERSION: u32 = 1;

/// Where a Chainweb anchoring transaction puts the anchor root (the only place in version 1).
pub const ANCHOR_ROOT_LOCATION: &str = "result.data";

/// A proof bundle, version 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// Always 1.
    pub version: u32,
    /// The event and its encoded leaf.
    pub event: EventSection,
    /// Step 1: the event leaf's inclusion in its batch tree.
    pub batch: BatchStep,
    /// Step 2: the batch root's inclusion in the anchor tree.
    pub anchor: AnchorStep,
    /// Step 3: what binds the anchor root to something the verifier trusts.
    pub trust_point: TrustPoint,
}

/// The event: its fields and the version-1 leaf bytes that stand for it in the batch tree.
/// The verifier re-encodes the fields and checks they give exactly `leaf`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSection {
    /// The tenant's UUID, hyphenated lowercase (`"0707…-…"`); 32 bare hex digits are accepted.
    #[serde(with = "uuid_text")]
    pub tenant_id: [u8; 16],
    /// The event id, unique per tenant.
    pub event_id: String,
    /// Digest of the content the tenant keeps, `"sha256:<hex>"` or `"sha512_256:<hex>"`.
    pub digest: ContentDigest,
    /// Who submitted the event (API key prefix or device id).
    pub submitter: String,
    /// When Ancora received it, microseconds since the Unix epoch.
    pub received_at_micros: i64,
    /// The event leaf bytes ([`EventLeaf::encode`]), base64url.
    pub leaf: Bytes,
}

impl EventSection {
    /// The section for `event`; fails when the event cannot be encoded.
    pub fn new(event: &EventLeaf) -> Result<Self, Error> {
        Ok(EventSection {
            tenant_id: event.tenant_id,
            event_id: event.event_id.clone(),
            digest: event.digest,
            submitter: event.submitter.clone(),
            received_at_micros: event.received_at_micros,
            leaf: Bytes(event.encode()?),
        })
    }

    /// The event leaf described by the fields (not by `leaf`).
    pub fn fields(&self) -> EventLeaf {
        EventLeaf {
            tenant_id: self.tenant_id,
            event_id: self.event_id.clone(),
            digest: self.digest,
            submitter: self.submitter.clone(),
            received_at_micros: self.received_at_micros,
        }
    }
}

/// Step "event→batch": the event leaf (an input leaf) up to the batch root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchStep {
    /// The hash algorithm of the batch tree (`"SHA512t_256"`).
    pub algorithm: HashAlgorithm,
    /// The batch's id in Ancora, when known; informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<String>,
    /// The event's leaf index in the batch tree; must equal the proof object's position.
    pub leaf_index: u64,
    /// The binary proof object, base64url.
    pub proof: Bytes,
    /// The batch tree's root, base64url.
    pub root: Hash,
}

/// Step "batch→anchor": the batch root (a tree leaf) up to the anchor root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnchorStep {
    /// The hash algorithm of the anchor tree (`"SHA512t_256"`).
    pub algorithm: HashAlgorithm,
    /// The anchor's id in Ancora; informational.
    pub anchor_id: String,
    /// The batch root's leaf index in the anchor tree; must equal the proof object's position.
    pub leaf_index: u64,
    /// The binary proof object, base64url.
    pub proof: Bytes,
    /// The anchor tree's root, base64url.
    pub root: Hash,
}

/// The trust point, tagged by `"type"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TrustPoint {
    /// Ancora's signed transparency log.
    Tlog(TlogTrustPoint),
    /// A Chainweb block.
    Chainweb(ChainwebTrustPoint),
}

/// The anchor root as leaf `leaf_index` (a tree leaf) of the transparency log `origin` at
/// size `log_size`, whose root is signed in `checkpoint`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlogTrustPoint {
    /// The log's origin (the first line of its checkpoints and its key name).
    pub origin: String,
    /// The anchor root's leaf index in the log.
    pub leaf_index: u64,
    /// The log size the proof and the checkpoint are for.
    pub log_size: u64,
    /// The inclusion proof object (SHA512t_256), base64url.
    pub proof: Bytes,
    /// The signed checkpoint (C2SP tlog-checkpoint in a signed note), verbatim.
    pub checkpoint: String,
}

/// The anchor root in the output of a Pact transaction on a Chainweb chain, proven into a
/// block by a `/pact/spv` proof.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainwebTrustPoint {
    /// The Chainweb version name (`"mainnet01"`, `"testnet04"`, …).
    pub network: String,
    /// The chain the transaction ran on.
    pub chain_id: u32,
    /// The height of the block the SPV proof leads to.
    pub block_height: u64,
    /// The hash of that block, base64url.
    pub block_hash: Hash,
    /// The `/pact/spv` response: base64url of the JSON proof, verbatim.
    pub spv_proof: String,
    /// The block header, in the node's JSON object encoding.
    pub header: serde_json::Value,
    /// Where the anchor root sits in the CommandResult: `"result.data"`, as a base64url
    /// string.
    pub anchor_root_location: String,
    /// The anchoring transaction's request key, when known; informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_key: Option<String>,
}

/// Bytes that serialize as base64url without padding.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&b64url_encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        b64url_decode(&s)
            .map(Bytes)
            .map_err(serde::de::Error::custom)
    }
}

mod uuid_text {
    use serde::Deserialize as _;

    pub fn serialize<S: serde::Serializer>(v: &[u8; 16], s: S) -> Result<S::Ok, S::Error> {
        let h = hex::encode(v);
        s.serialize_str(&format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        ))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<[u8; 16], D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let bare = s.replace('-', "");
        let raw =
            hex::decode(&bare).map_err(|_| serde::de::Error::custom("tenant_id must be a UUID"))?;
        <[u8; 16]>::try_from(raw.as_slice())
            .map_err(|_| serde::de::Error::custom("tenant_id must be a UUID (16 bytes)"))
    }
}

impl TrustPoint {
    /// A transparency-log trust point.
    pub fn tlog(
        origin: &str,
        leaf_index: u64,
        log_size: u64,
        proof: &MerkleProof,
        checkpoint: &str,
    ) -> Self {
        TrustPoint::Tlog(TlogTrustPoint {
            origin: origin.to_owned(),
            leaf_index,
            log_size,
            proof: Bytes(proof.encode()),
            checkpoint: checkpoint.to_owned(),
        })
    }

    /// The trust point's type name (`"tlog"` or `"chainweb"`).
    pub fn kind(&self) -> &'static str {
        match self {
            TrustPoint::Tlog(_) => "tlog",
            TrustPoint::Chainweb(_) => "chainweb",
        }
    }
}

/// Everything the prover holds for one event, to build its bundle with [`Bundle::build`].
#[derive(Clone, Debug)]
pub struct BundleInput<'a> {
    /// The event.
    pub event: &'a EventLeaf,
    /// The batch's id, if it should be shown.
    pub batch_id: Option<String>,
    /// The event leaf's proof in the batch tree (its position is the leaf index).
    pub batch_proof: &'a MerkleProof,
    /// The batch root.
    pub batch_root: Hash,
    /// The anchor's id.
    pub anchor_id: String,
    /// The batch root's proof in the anchor tree.
    pub anchor_proof: &'a MerkleProof,
    /// The anchor root.
    pub anchor_root: Hash,
    /// The trust point (see [`TrustPoint::tlog`]).
    pub trust_point: TrustPoint,
}

impl Bundle {
    /// Builds a bundle and checks that each proof leads where it should, so a prover bug
    /// yields an error ([`Error::RootMismatch`]) instead of a bundle that does not verify.
    /// For a tlog trust point the inclusion proof is checked against the checkpoint's root
    /// (its signature is the verifier's business).
    pub fn build(input: BundleInput<'_>) -> Result<Bundle, Error> {
        const ALG: HashAlgorithm = HashAlgorithm::Sha512_256;
        let event = EventSection::new(input.event)?;
        let check = |what: &'static str, root: Hash, expected: Hash| {
            if root == expected {
                Ok(())
            } else {
                Err(Error::RootMismatch {
                    what,
                    root,
                    expected,
                })
            }
        };
        check(
            "the batch root",
            input.batch_proof.run(ALG, Leaf::Input(&event.leaf.0)),
            input.batch_root,
        )?;
        check(
            "the anchor root",
            input.anchor_proof.run(ALG, Leaf::Tree(input.batch_root)),
            input.anchor_root,
        )?;
        if let TrustPoint::Tlog(t) = &input.trust_point {
            let cp = tlog::checkpoint::parse_checkpoint_unverified(&t.checkpoint)?;
            if cp.size != t.log_size || cp.origin != t.origin {
                return Err(Error::Invalid(format!(
                    "the checkpoint is for {} at size {}, the trust point says {} at size {}",
                    cp.origin, cp.size, t.origin, t.log_size
                )));
            }
            let proof = MerkleProof::decode(&t.proof.0)?;
            tlog::verify_inclusion(
                t.leaf_index,
                t.log_size,
                input.anchor_root,
                &proof,
                &cp.root,
            )?;
        }
        Ok(Bundle {
            version: BUNDLE_VERSION,
            event,
            batch: BatchStep {
                algorithm: ALG,
                batch_id: input.batch_id,
                leaf_index: input.batch_proof.position,
                proof: Bytes(input.batch_proof.encode()),
                root: input.batch_root,
            },
            anchor: AnchorStep {
                algorithm: ALG,
                anchor_id: input.anchor_id,
                leaf_index: input.anchor_proof.position,
                proof: Bytes(input.anchor_proof.encode()),
                root: input.anchor_root,
            },
            trust_point: input.trust_point,
        })
    }

    /// Parses a bundle from JSON bytes. Errors say which: not JSON ([`Error::BadJson`]), not
    /// a bundle or a version this verifier does not read ([`Error::Invalid`]), a missing or
    /// malformed field ([`Error::BadJson`] naming the section).
    pub fn from_json(bytes: &[u8]) -> Result<Bundle, Error> {
        parse::parse(bytes)
    }

    /// The bundle as pretty-printed JSON.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
