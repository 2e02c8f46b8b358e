//! The proof bundle: one JSON document carrying every step from an event to one or more trust
//! points, enough to verify offline with [`verify_bundle`].
//!
//! ```text
//! event ──(event→batch proof)──▶ batch root ──(batch→anchor proof)──▶ anchor root ──▶ trust point(s)
//! ```
//!
//! A trust point is either Ancora's own log ([`TlogTrustPoint`]: an inclusion proof of the
//! anchor root and a signed checkpoint) or a Chainweb block ([`ChainwebTrustPoint`]: a
//! `/pact/spv` proof of the anchoring transaction's output and the block header).
//!
//! Two formats are read and written ([`Bundle::version`] says which one a bundle is in):
//!
//! * **Version 1** (`schema/bundle-v1.schema.json`): snake_case, exactly one `trust_point`.
//! * **Version 2** (`schema/bundle-v2.schema.json`): camelCase, `trustPoints` holding one or
//!   two trust points, at most one of each type, the tlog one first. The service anchors
//!   every root on its log at once (the fast path) and, with the Chainweb backend, later on
//!   Chainweb too (the final path, added with [`Bundle::with_trust_point`]). A chainweb
//!   trust point may say where the service fetched the header it checked (`headerSource`).
//!
//! In memory both are one [`Bundle`] holding `trust_points`; serialization writes the format
//! of `bundle.version` (the JSON shapes live in the private `wire` module).
//!
//! Encodings (both versions): hashes, proof objects and leaf bytes are base64url without
//! padding; proof objects are Chainweb's binary Merkle proof object ([`MerkleProof::encode`]).
//! Every object rejects unknown fields: a verifier must not silently ignore something it does
//! not understand. A later format gets a new `version`.

mod parse;
mod verify;
mod wire;

pub use verify::{
    BundleIdentity, Report, Status, StepVerdict, Trust, TrustPointStatus, TrustPointVerdict,
    TrustSummary, Verdict, steps, verify_bundle,
};

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::event::{ContentDigest, EventLeaf};
use crate::hash::{Hash, HashAlgorithm, b64url_decode, b64url_encode};
use crate::merkle::{Leaf, MerkleProof};
use crate::tlog;

/// Bundle format version 1: snake_case, exactly one `trust_point`.
pub const BUNDLE_VERSION_V1: u32 = 1;

/// Bundle format version 2: camelCase, `trustPoints` (one tlog and/or one chainweb point).
pub const BUNDLE_VERSION_V2: u32 = 2;

/// The bundle format version the service writes now.
pub const BUNDLE_VERSION: u32 = BUNDLE_VERSION_V2;

/// Every bundle format version this crate reads and writes.
pub const SUPPORTED_BUNDLE_VERSIONS: [u32; 2] = [BUNDLE_VERSION_V1, BUNDLE_VERSION_V2];

/// Where a Chainweb anchoring transaction puts the anchor root (the only place in versions 1
/// and 2).
pub const ANCHOR_ROOT_LOCATION: &str = "result.data";

/// A proof bundle (version 1 or 2; see the module documentation).
///
/// Its JSON form is the format of [`version`](Self::version): serializing a bundle whose
/// trust points do not fit that format (see [`check_trust_points`]) is an error, and
/// deserializing goes through [`Bundle::from_json`]'s checks.
#[derive(Clone, Debug, PartialEq)]
pub struct Bundle {
    /// [`BUNDLE_VERSION_V1`] or [`BUNDLE_VERSION_V2`].
    pub version: u32,
    /// The event and its encoded leaf.
    pub event: EventSection,
    /// Step 1: the event leaf's inclusion in its batch tree.
    pub batch: BatchStep,
    /// Step 2: the batch root's inclusion in the anchor tree.
    pub anchor: AnchorStep,
    /// Step 3: what binds the anchor root to something the verifier trusts. Version 1:
    /// exactly one. Version 2: one or two, at most one of each type, tlog first.
    pub trust_points: Vec<TrustPoint>,
}

impl Serialize for Bundle {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error as _;
        match self.version {
            BUNDLE_VERSION_V1 => wire::v1::Bundle::from_bundle(self)
                .map_err(S::Error::custom)?
                .serialize(s),
            BUNDLE_VERSION_V2 => wire::v2::Bundle::from_bundle(self)
                .map_err(S::Error::custom)?
                .serialize(s),
            v => Err(S::Error::custom(format!(
                "bundle version {v} cannot be written: this crate writes versions 1 and 2"
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for Bundle {
    /// Reads either version, with the same checks (and messages) as [`Bundle::from_json`].
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        parse::from_value(value).map_err(serde::de::Error::custom)
    }
}

/// The event: its fields and the version-1 leaf bytes that stand for it in the batch tree.
/// The verifier re-encodes the fields and checks they give exactly `leaf`. (Its serde form is
/// version 1's snake_case section, as for [`BatchStep`] and [`AnchorStep`]; a version-2
/// bundle writes the same fields in camelCase.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSection {
    /// The tenant's UUID, hyphenated lowercase (`"0707…-…"`); version 1 also accepts 32 bare
    /// or uppercase hex digits, version 2 only the hyphenated lowercase form.
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

/// A trust point, tagged by `"type"`.
///
/// Its own serde form (used to store a trust point apart from a bundle) is the version-1
/// snake_case object, plus `header_source` on a chainweb point when set. Inside a bundle it
/// is written in the bundle's format.
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
    /// Where and when the service fetched the header it checked; informational, version 2
    /// only (a version-1 bundle cannot carry it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_source: Option<HeaderSource>,
}

/// Where the service fetched a block header, and when; informational (a verifier trusts the
/// header it obtains itself, not this).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderSource {
    /// The node's base URL.
    pub node: String,
    /// When, RFC 3339 (`"2026-01-01T00:00:00Z"`).
    pub fetched_at: String,
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

    /// The place of this type in a version-2 bundle's `trustPoints` (tlog first).
    fn rank(&self) -> u8 {
        match self {
            TrustPoint::Tlog(_) => 0,
            TrustPoint::Chainweb(_) => 1,
        }
    }

    /// Checks what the prover can check without trust: a tlog point's inclusion proof leads
    /// from `anchor_root` to the root its checkpoint claims, at the checkpoint's origin and
    /// size (the signature is the verifier's business). A chainweb point is not checked here.
    fn check_against(&self, anchor_root: Hash) -> Result<(), Error> {
        let TrustPoint::Tlog(t) = self else {
            return Ok(());
        };
        let cp = tlog::checkpoint::parse_checkpoint_unverified(&t.checkpoint)?;
        if cp.size != t.log_size || cp.origin != t.origin {
            return Err(Error::Invalid(format!(
                "the checkpoint is for {} at size {}, the trust point says {} at size {}",
                cp.origin, cp.size, t.origin, t.log_size
            )));
        }
        let proof = MerkleProof::decode(&t.proof.0)?;
        tlog::verify_inclusion(t.leaf_index, t.log_size, anchor_root, &proof, &cp.root)
    }
}

/// Checks that `trust_points` fit bundle format `version`: version 1 holds exactly one trust
/// point and no chainweb `header_source`; version 2 holds one or two, at most one of each
/// type, the tlog one first. [`Error::Invalid`] says what is wrong.
pub fn check_trust_points(version: u32, trust_points: &[TrustPoint]) -> Result<(), Error> {
    match version {
        BUNDLE_VERSION_V1 => {
            if trust_points.len() != 1 {
                return Err(Error::Invalid(format!(
                    "a version-1 bundle holds exactly one trust point, not {}",
                    trust_points.len()
                )));
            }
            if let Some(TrustPoint::Chainweb(c)) = trust_points.first()
                && c.header_source.is_some()
            {
                return Err(Error::Invalid(
                    "a version-1 bundle cannot carry a chainweb header_source (version 2 can)"
                        .into(),
                ));
            }
            Ok(())
        }
        BUNDLE_VERSION_V2 => match trust_points {
            [] => Err(Error::Invalid(
                "trustPoints is empty: a bundle needs at least one trust point".into(),
            )),
            [_] => Ok(()),
            [a, b] if a.rank() == b.rank() => Err(Error::Invalid(format!(
                "trustPoints holds two {:?} trust points: at most one of each type",
                a.kind()
            ))),
            [a, b] if a.rank() > b.rank() => Err(Error::Invalid(format!(
                "trustPoints lists the {:?} trust point before the {:?} one: the tlog trust point comes first",
                a.kind(),
                b.kind()
            ))),
            [_, _] => Ok(()),
            more => Err(Error::Invalid(format!(
                "trustPoints holds {} trust points: at most 2 (one tlog, one chainweb)",
                more.len()
            ))),
        },
        v => Err(Error::Invalid(format!(
            "bundle version {v} is not supported: this crate reads and writes versions 1 and 2"
        ))),
    }
}

/// Everything the prover holds for one event, to build its bundle with [`Bundle::build`].
#[derive(Clone, Debug)]
pub struct BundleInput<'a> {
    /// The format to build: [`BUNDLE_VERSION`] (2) for new bundles, [`BUNDLE_VERSION_V1`]
    /// for the old single-trust-point format.
    pub version: u32,
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
    /// The trust points (see [`TrustPoint::tlog`]), in any order: they are put in the
    /// format's order (tlog first). See [`check_trust_points`] for what each version holds.
    pub trust_points: Vec<TrustPoint>,
}

impl Bundle {
    /// Builds a bundle and checks that each proof leads where it should, so a prover bug
    /// yields an error ([`Error::RootMismatch`]) instead of a bundle that does not verify.
    /// For each tlog trust point the inclusion proof is checked against the checkpoint's root
    /// (its signature is the verifier's business). Trust points that do not fit the version
    /// are an [`Error::Invalid`] ([`check_trust_points`]).
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
        let mut trust_points = input.trust_points;
        trust_points.sort_by_key(TrustPoint::rank);
        check_trust_points(input.version, &trust_points)?;
        for tp in &trust_points {
            tp.check_against(input.anchor_root)?;
        }
        Ok(Bundle {
            version: input.version,
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
            trust_points,
        })
    }

    /// This bundle with one more trust point (e.g. the chainweb point once the anchoring
    /// transaction is final), put in its place (tlog first). Only a version-2 bundle holds
    /// several; a bundle that already has a point of that type is an error, and a tlog
    /// point is checked against the anchor root as in [`Bundle::build`].
    pub fn with_trust_point(&self, trust_point: TrustPoint) -> Result<Bundle, Error> {
        if self.version != BUNDLE_VERSION_V2 {
            return Err(Error::Invalid(format!(
                "only a version-2 bundle holds several trust points; this one is version {}",
                self.version
            )));
        }
        if self
            .trust_points
            .iter()
            .any(|t| t.kind() == trust_point.kind())
        {
            return Err(Error::Invalid(format!(
                "the bundle already has a {:?} trust point",
                trust_point.kind()
            )));
        }
        trust_point.check_against(self.anchor.root)?;
        let mut out = self.clone();
        out.trust_points.push(trust_point);
        out.trust_points.sort_by_key(TrustPoint::rank);
        check_trust_points(out.version, &out.trust_points)?;
        Ok(out)
    }

    /// The tlog trust point, if the bundle has one.
    pub fn tlog(&self) -> Option<&TlogTrustPoint> {
        self.trust_points.iter().find_map(|t| match t {
            TrustPoint::Tlog(t) => Some(t),
            TrustPoint::Chainweb(_) => None,
        })
    }

    /// The chainweb trust point, if the bundle has one.
    pub fn chainweb(&self) -> Option<&ChainwebTrustPoint> {
        self.trust_points.iter().find_map(|t| match t {
            TrustPoint::Chainweb(c) => Some(c),
            TrustPoint::Tlog(_) => None,
        })
    }

    /// Parses a bundle (version 1 or 2) from JSON bytes. Errors say which: not JSON
    /// ([`Error::BadJson`]), not a bundle, a version this verifier does not read, or trust
    /// points that do not fit the version ([`Error::Invalid`]), a missing or malformed field
    /// ([`Error::BadJson`] naming the section).
    pub fn from_json(bytes: &[u8]) -> Result<Bundle, Error> {
        parse::parse(bytes)
    }

    /// The bundle as JSON in its version's format. Fails ([`Error::Invalid`]) only for a
    /// bundle assembled by hand whose trust points do not fit its version.
    pub fn to_json(&self) -> Result<String, Error> {
        serde_json::to_string(self).map_err(|e| Error::Invalid(e.to_string()))
    }

    /// The bundle as pretty-printed JSON in its version's format; empty for a bundle that
    /// cannot be written (see [`to_json`](Self::to_json)).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
