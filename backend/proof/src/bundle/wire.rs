//! The JSON shapes of the two bundle formats, apart from the in-memory [`Bundle`].
//!
//! * [`v1`]: snake_case, one `trust_point`. Its event, batch and anchor sections are the
//!   in-memory [`EventSection`], [`BatchStep`] and [`AnchorStep`] (whose serde form is
//!   version 1's); only the chainweb trust point has a shape of its own, without
//!   `header_source`.
//! * [`v2`]: camelCase, `trustPoints`. Every object has its own struct here.
//!
//! Every struct rejects unknown fields. Writing goes through `from_bundle` (which checks the
//! trust points fit the version); reading through `into_*` conversions called by `parse`.

use serde::{Deserialize, Serialize};

use super::{
    AnchorStep, BatchStep, Bundle as Memory, Bytes, ChainwebTrustPoint, EventSection, HeaderSource,
    TlogTrustPoint, TrustPoint, check_trust_points,
};
use crate::Error;
use crate::event::ContentDigest;
use crate::hash::{Hash, HashAlgorithm};

pub(super) mod v1 {
    use super::*;

    /// A version-1 bundle, as written.
    #[derive(Serialize)]
    pub(in crate::bundle) struct Bundle<'a> {
        version: u32,
        event: &'a EventSection,
        batch: &'a BatchStep,
        anchor: &'a AnchorStep,
        trust_point: TrustPoint,
    }

    impl<'a> Bundle<'a> {
        pub(in crate::bundle) fn from_bundle(b: &'a Memory) -> Result<Self, Error> {
            check_trust_points(b.version, &b.trust_points)?;
            let trust_point = match b.trust_points.first() {
                Some(super::TrustPoint::Tlog(t)) => TrustPoint::Tlog(t.clone()),
                Some(super::TrustPoint::Chainweb(c)) => TrustPoint::Chainweb(Chainweb::from(c)),
                None => return Err(Error::Invalid("no trust point".into())),
            };
            Ok(Bundle {
                version: b.version,
                event: &b.event,
                batch: &b.batch,
                anchor: &b.anchor,
                trust_point,
            })
        }
    }

    /// A version-1 `trust_point`.
    #[derive(Serialize, Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    pub(in crate::bundle) enum TrustPoint {
        Tlog(TlogTrustPoint),
        Chainweb(Chainweb),
    }

    impl From<TrustPoint> for super::TrustPoint {
        fn from(t: TrustPoint) -> Self {
            match t {
                TrustPoint::Tlog(t) => super::TrustPoint::Tlog(t),
                TrustPoint::Chainweb(c) => super::TrustPoint::Chainweb(ChainwebTrustPoint {
                    network: c.network,
                    chain_id: c.chain_id,
                    block_height: c.block_height,
                    block_hash: c.block_hash,
                    spv_proof: c.spv_proof,
                    header: c.header,
                    anchor_root_location: c.anchor_root_location,
                    request_key: c.request_key,
                    header_source: None,
                }),
            }
        }
    }

    /// A version-1 chainweb trust point: the in-memory one without `header_source`.
    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(in crate::bundle) struct Chainweb {
        network: String,
        chain_id: u32,
        block_height: u64,
        block_hash: Hash,
        spv_proof: String,
        header: serde_json::Value,
        anchor_root_location: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_key: Option<String>,
    }

    impl From<&ChainwebTrustPoint> for Chainweb {
        fn from(c: &ChainwebTrustPoint) -> Self {
            Chainweb {
                network: c.network.clone(),
                chain_id: c.chain_id,
                block_height: c.block_height,
                block_hash: c.block_hash,
                spv_proof: c.spv_proof.clone(),
                header: c.header.clone(),
                anchor_root_location: c.anchor_root_location.clone(),
                request_key: c.request_key.clone(),
            }
        }
    }
}

pub(super) mod v2 {
    use super::*;

    /// A version-2 bundle, as written (reading goes section by section in `parse`).
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    pub(in crate::bundle) struct Bundle {
        version: u32,
        event: Event,
        batch: Batch,
        anchor: Anchor,
        trust_points: Vec<TrustPoint>,
    }

    impl Bundle {
        pub(in crate::bundle) fn from_bundle(b: &Memory) -> Result<Self, Error> {
            check_trust_points(b.version, &b.trust_points)?;
            Ok(Bundle {
                version: b.version,
                event: Event::from(&b.event),
                batch: Batch::from(&b.batch),
                anchor: Anchor::from(&b.anchor),
                trust_points: b.trust_points.iter().map(TrustPoint::from).collect(),
            })
        }
    }

    /// `event`.
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub(in crate::bundle) struct Event {
        #[serde(with = "uuid_lower")]
        tenant_id: [u8; 16],
        event_id: String,
        digest: ContentDigest,
        submitter: String,
        received_at_micros: i64,
        leaf: Bytes,
    }

    impl From<&EventSection> for Event {
        fn from(e: &EventSection) -> Self {
            Event {
                tenant_id: e.tenant_id,
                event_id: e.event_id.clone(),
                digest: e.digest,
                submitter: e.submitter.clone(),
                received_at_micros: e.received_at_micros,
                leaf: e.leaf.clone(),
            }
        }
    }

    impl From<Event> for EventSection {
        fn from(e: Event) -> Self {
            EventSection {
                tenant_id: e.tenant_id,
                event_id: e.event_id,
                digest: e.digest,
                submitter: e.submitter,
                received_at_micros: e.received_at_micros,
                leaf: e.leaf,
            }
        }
    }

    /// `batch`.
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub(in crate::bundle) struct Batch {
        algorithm: HashAlgorithm,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        batch_id: Option<String>,
        leaf_index: u64,
        proof: Bytes,
        root: Hash,
    }

    impl From<&BatchStep> for Batch {
        fn from(b: &BatchStep) -> Self {
            Batch {
                algorithm: b.algorithm,
                batch_id: b.batch_id.clone(),
                leaf_index: b.leaf_index,
                proof: b.proof.clone(),
                root: b.root,
            }
        }
    }

    impl From<Batch> for BatchStep {
        fn from(b: Batch) -> Self {
            BatchStep {
                algorithm: b.algorithm,
                batch_id: b.batch_id,
                leaf_index: b.leaf_index,
                proof: b.proof,
                root: b.root,
            }
        }
    }

    /// `anchor`.
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub(in crate::bundle) struct Anchor {
        algorithm: HashAlgorithm,
        anchor_id: String,
        leaf_index: u64,
        proof: Bytes,
        root: Hash,
    }

    impl From<&AnchorStep> for Anchor {
        fn from(a: &AnchorStep) -> Self {
            Anchor {
                algorithm: a.algorithm,
                anchor_id: a.anchor_id.clone(),
                leaf_index: a.leaf_index,
                proof: a.proof.clone(),
                root: a.root,
            }
        }
    }

    impl From<Anchor> for AnchorStep {
        fn from(a: Anchor) -> Self {
            AnchorStep {
                algorithm: a.algorithm,
                anchor_id: a.anchor_id,
                leaf_index: a.leaf_index,
                proof: a.proof,
                root: a.root,
            }
        }
    }

    /// One entry of `trustPoints`, as written. (Read entry by entry in `parse`, through
    /// [`Tlog`] and [`Chainweb`], so that an error names the entry.)
    #[derive(Serialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    pub(in crate::bundle) enum TrustPoint {
        Tlog(Tlog),
        Chainweb(Chainweb),
    }

    impl From<&super::TrustPoint> for TrustPoint {
        fn from(t: &super::TrustPoint) -> Self {
            match t {
                super::TrustPoint::Tlog(t) => TrustPoint::Tlog(Tlog::from(t)),
                super::TrustPoint::Chainweb(c) => TrustPoint::Chainweb(Chainweb::from(c)),
            }
        }
    }

    /// A tlog entry of `trustPoints`, without its `type`.
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub(in crate::bundle) struct Tlog {
        origin: String,
        leaf_index: u64,
        log_size: u64,
        proof: Bytes,
        checkpoint: String,
    }

    impl From<&TlogTrustPoint> for Tlog {
        fn from(t: &TlogTrustPoint) -> Self {
            Tlog {
                origin: t.origin.clone(),
                leaf_index: t.leaf_index,
                log_size: t.log_size,
                proof: t.proof.clone(),
                checkpoint: t.checkpoint.clone(),
            }
        }
    }

    impl From<Tlog> for super::TrustPoint {
        fn from(t: Tlog) -> Self {
            super::TrustPoint::Tlog(TlogTrustPoint {
                origin: t.origin,
                leaf_index: t.leaf_index,
                log_size: t.log_size,
                proof: t.proof,
                checkpoint: t.checkpoint,
            })
        }
    }

    /// A chainweb entry of `trustPoints`, without its `type`.
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub(in crate::bundle) struct Chainweb {
        network: String,
        chain_id: u32,
        block_height: u64,
        block_hash: Hash,
        spv_proof: String,
        #[serde(deserialize_with = "json_object")]
        header: serde_json::Value,
        anchor_root_location: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_key: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header_source: Option<Source>,
    }

    /// `headerSource`.
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub(in crate::bundle) struct Source {
        node: String,
        fetched_at: String,
    }

    impl From<&ChainwebTrustPoint> for Chainweb {
        fn from(c: &ChainwebTrustPoint) -> Self {
            Chainweb {
                network: c.network.clone(),
                chain_id: c.chain_id,
                block_height: c.block_height,
                block_hash: c.block_hash,
                spv_proof: c.spv_proof.clone(),
                header: c.header.clone(),
                anchor_root_location: c.anchor_root_location.clone(),
                request_key: c.request_key.clone(),
                header_source: c.header_source.as_ref().map(|s| Source {
                    node: s.node.clone(),
                    fetched_at: s.fetched_at.clone(),
                }),
            }
        }
    }

    impl From<Chainweb> for super::TrustPoint {
        fn from(c: Chainweb) -> Self {
            super::TrustPoint::Chainweb(ChainwebTrustPoint {
                network: c.network,
                chain_id: c.chain_id,
                block_height: c.block_height,
                block_hash: c.block_hash,
                spv_proof: c.spv_proof,
                header: c.header,
                anchor_root_location: c.anchor_root_location,
                request_key: c.request_key,
                header_source: c.header_source.map(|s| HeaderSource {
                    node: s.node,
                    fetched_at: s.fetched_at,
                }),
            })
        }
    }

    /// `header` must be a JSON object (the node's object encoding).
    fn json_object<'de, D: serde::Deserializer<'de>>(d: D) -> Result<serde_json::Value, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        if v.is_object() {
            Ok(v)
        } else {
            Err(serde::de::Error::custom(
                "header must be a JSON object (the node's object encoding of the block header)",
            ))
        }
    }

    /// `tenantId`: a UUID, hyphenated, lowercase; nothing else.
    mod uuid_lower {
        use serde::Deserialize as _;

        pub fn serialize<S: serde::Serializer>(v: &[u8; 16], s: S) -> Result<S::Ok, S::Error> {
            crate::bundle::uuid_text::serialize(v, s)
        }

        pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<[u8; 16], D::Error> {
            let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            let err = || {
                serde::de::Error::custom(
                    "tenantId must be a UUID, hyphenated and lowercase (8-4-4-4-12 hex digits)",
                )
            };
            let shape_ok = s.len() == 36
                && s.char_indices().all(|(i, c)| match i {
                    8 | 13 | 18 | 23 => c == '-',
                    _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
                });
            if !shape_ok {
                return Err(err());
            }
            let raw = hex::decode(s.replace('-', "")).map_err(|_| err())?;
            <[u8; 16]>::try_from(raw.as_slice()).map_err(|_| err())
        }
    }
}
